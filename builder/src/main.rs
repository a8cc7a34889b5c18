//! `ampel`, the host binary: the development runtime with every unit of `units/`,
//! and (as the builder issues land) the instance builder and the image runner.
//!
//! Runtime commands come from `ampel-commands`, shared with the instance binaries the
//! builder generates; only the unit registry differs (see `units.rs`).

mod units;

// mimalloc: the JSON trees built per alert are allocation-heavy; measured 1.4x on T0
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use ampel_commands::{RuntimeArgs, RuntimeCommand};
use clap::Parser;

/// AMPEL in Rust: alert processing in four tiers, shipped as reproducible images.
///
/// The store defaults to the embedded file `ampel.db` in the working directory
/// (`--db sqlite:PATH` or AMPEL_DB to choose another).
///
/// Examples:
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
    command: RuntimeCommand,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let registry = match units::registry() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match ampel_commands::run(&registry, &cli.args, &cli.command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {:#}", anyhow::Error::from(e));
            std::process::ExitCode::FAILURE
        }
    }
}
