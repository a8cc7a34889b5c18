//! `ampel`, the host binary: the development runtime with every unit of `units/`,
//! the instance builder, and the tools that inspect, verify, compare and run
//! instance images.
//!
//! Runtime commands come from `ampel-commands`, shared with the instance binaries the
//! builder generates; only the unit registry differs (see `units.rs`, the
//! development registry). Host-only commands (`manifest`, `image`, `reproduce`) are
//! in `cli/`, on the libraries `ampel-builder` (manifest to image),
//! `ampel-runner` (run and reproduce) and `ampel-distribution` (push and pull).

// mimalloc: the JSON trees built per alert are allocation-heavy; measured 1.4x on T0
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cli;
mod units;

use ampel_builder::known::HostUnits;
use ampel_commands::{RuntimeArgs, RuntimeCommand};
use clap::{Parser, Subcommand};

/// AMPEL in Rust: alert processing in four tiers, shipped as reproducible images.
///
/// The store defaults to the embedded file `ampel.db` in the working directory
/// (`--db sqlite:PATH` or AMPEL_DB to choose another).
///
/// Examples:
///   ampel image build manifests/ztf-demo.toml -o images/ztf-demo.tar
///   ampel image inspect images/ztf-demo.tar
///   ampel units list
///   ampel units check CriteriaFilter --config '{"criteria": [{"attribute": "rb", "operator": ">=", "value": 0.3}]}'
///   ampel db info --db sqlite:/tmp/run.db --json
///   ampel hash link 1135104880815015000 -1142509810815015147
#[derive(Debug, Parser)]
#[command(name = "ampel", version, verbatim_doc_comment)]
struct Cli {
    #[command(flatten)]
    args: RuntimeArgs,
    #[command(subcommand)]
    command: HostCommand,
}

#[derive(Debug, Subcommand)]
enum HostCommand {
    #[command(flatten)]
    Runtime(RuntimeCommand),
    /// Check instance manifests (the builder's input).
    #[command(subcommand)]
    Manifest(cli::ManifestCommand),
    /// Build, inspect, verify, compare and run instance images.
    #[command(subcommand)]
    Image(cli::ImageCommand),
    /// Rerun an archived instance on pinned inputs: verify the image, hash every
    /// input, run the instance's archival job, write a run record (run.json), and
    /// print REPRODUCED when the results digest equals the expected one.
    ///
    /// Example (the demo): ampel reproduce manifests/ztf-demo.toml --inputs tests/data/alerts/ztf/fink-2020-v3.3
    Reproduce(cli::ReproduceArgs),
    /// Scaffold a unit crate or a whole instance (manifest, real alerts, CI that
    /// compares each build's results with a committed run record).
    ///
    /// Example: ampel new instance my-survey --unit T2PeakMag --kind state-t2
    #[command(subcommand)]
    New(cli::NewCommand),
}

fn main() -> std::process::ExitCode {
    // cargo runs this binary as the rustc wrapper of instance builds
    if let Some(code) = ampel_builder::compose::rustc_wrapper_main() {
        return code;
    }
    let cli = Cli::parse();
    let registry = match units::registry() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let host = HostUnits {
        registry: &registry,
        crates: units::CRATES,
    };
    let result = match &cli.command {
        HostCommand::Runtime(cmd) => {
            ampel_commands::run(&registry, &cli.args, cmd).map_err(anyhow::Error::from)
        }
        HostCommand::Manifest(cmd) => cli::manifest(&host, &cli.args, cmd),
        HostCommand::Image(cmd) => cli::image(&host, &cli.args, cmd),
        HostCommand::Reproduce(r) => cli::reproduce(&host, &cli.args, r),
        HostCommand::New(cmd) => cli::new(cmd),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            match e.downcast_ref::<cli::Exit>() {
                Some(x) => std::process::ExitCode::from(x.code),
                None => std::process::ExitCode::FAILURE,
            }
        }
    }
}
