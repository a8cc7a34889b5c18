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
/// (`--db sqlite:PATH` or AMPEL_DB to choose another; a job's store is
/// OUT/ampel.db, e.g. `--db sqlite:ampel-out/ampel.db`).
///
/// Examples:
///   ampel job --manifest manifests/ztf-demo.toml --inputs tests/data/alerts/ztf
///   ampel --db sqlite:ampel-out/ampel.db view ZTF18aaudxok
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
    /// Example (the demo): ampel reproduce manifests/ztf-demo.toml --inputs tests/data/alerts/ztf
    Reproduce(cli::ReproduceArgs),
    /// Scaffold a unit crate or a whole instance (manifest, real alerts, CI that
    /// compares each build's results with a committed run record).
    ///
    /// Example: ampel new instance my-survey --unit T2PeakMag --kind state-t2
    #[command(subcommand)]
    New(cli::NewCommand),
    /// Export light curves or T2 results to CSV or Parquet, for pandas, astropy
    /// or TOPCAT: one row per datapoint (MJD, UTC date, band, AB magnitude, flux in
    /// nJy, errors, upper limits, data rights) or per T2 document.
    ///
    /// Example: ampel --db sqlite:ampel-out/ampel.db export lightcurves --channel DEMO_BRIGHT -o lc.parquet
    Export(cli::ExportArgs),
    /// A read-only web view of the store on 127.0.0.1: objects (filter by channel,
    /// tag and T2 result), object pages (plot, light curve, every T2 result, links),
    /// runs and trouble. Prints the address first; Ctrl-C stops it.
    ///
    /// Example: ampel --db sqlite:ampel-out/ampel.db ui   (then open http://127.0.0.1:8765/)
    Ui(cli::UiArgs),
    /// Print a shell completion script.
    ///
    /// Example: ampel completions bash > /etc/bash_completion.d/ampel
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Write manual pages (roff): ampel.1 and one per command (ampel-view.1, ...).
    ///
    /// Example: ampel man --dir /usr/local/share/man/man1 && man ampel-view
    Man {
        /// The directory to write them to.
        #[arg(long, default_value = ".")]
        dir: std::path::PathBuf,
    },
}

/// `ampel.1` and `ampel-COMMAND.1` (nested: `ampel-t2-run.1`) in `dir`.
fn man_pages(dir: &std::path::Path) -> anyhow::Result<()> {
    fn write(
        cmd: clap::Command,
        name: String,
        dir: &std::path::Path,
        n: &mut usize,
    ) -> anyhow::Result<()> {
        let cmd = cmd.name(name.clone());
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd.clone()).render(&mut page)?;
        let path = dir.join(format!("{name}.1"));
        std::fs::write(&path, page)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        *n += 1;
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            write(sub.clone(), format!("{name}-{}", sub.get_name()), dir, n)?;
        }
        Ok(())
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let mut n = 0;
    write(
        <Cli as clap::CommandFactory>::command(),
        "ampel".into(),
        dir,
        &mut n,
    )?;
    eprintln!("{n} manual pages written to {}", dir.display());
    Ok(())
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
        HostCommand::Completions { shell } => {
            // into a buffer: clap_complete panics on a failed write (a closed pipe)
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut cmd, "ampel", &mut script);
            use std::io::Write;
            match std::io::stdout().write_all(&script) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
                _ => Ok(()),
            }
        }
        HostCommand::Man { dir } => man_pages(dir),
        HostCommand::Export(a) => cli::export(&registry, &cli.args, a),
        HostCommand::Ui(a) => units::registry()
            .map_err(anyhow::Error::from)
            .and_then(|r| cli::ui(r, &cli.args, a)),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let code = e.downcast_ref::<cli::Exit>().map_or(1, |x| x.code);
            ampel_commands::print_error(cli.args.json, &format!("{e:#}"), code);
            std::process::ExitCode::from(code)
        }
    }
}
