//! The `main` of a generated instance binary: parse the runtime command line and
//! run it with the instance's registry. The builder generates a crate whose
//! `main` is one call to [`instance_main`].

use crate::args::RuntimeArgs;
use crate::cli::{run, RuntimeCommand};
use ampel_interface::{Registry, RegistryError};
use clap::{CommandFactory, FromArgMatches, Parser};

/// The runtime command line of an instance binary.
#[derive(Debug, Parser)]
#[command(name = "ampel", version)]
struct InstanceCli {
    #[command(flatten)]
    args: RuntimeArgs,
    #[command(subcommand)]
    command: RuntimeCommand,
}

/// Parse the command line, build the registry and run the command; errors go to
/// stderr as one message (exit code 1), a registry that cannot be built exits 2.
///
/// The binary knows only its units: the instance's name, version and configuration
/// come from the configuration file at run time, so a configuration change never
/// needs a new binary.
pub fn instance_main(registry: fn() -> Result<Registry, RegistryError>) -> std::process::ExitCode {
    let about = format!(
        "AMPEL instance runtime: the runtime commands with exactly the units of the \
         instance's manifest (`ampel units list`).\n\nIn the image, the instance \
         configuration is {} (`ampel instance show`); `ampel instance run --inputs DIR \
         --out DIR` reprocesses archives with it.",
        ampel_core::instance::INSTANCE_PATH
    );
    let cmd = InstanceCli::command().about(about);
    let cli = match InstanceCli::from_arg_matches(&cmd.get_matches()) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let registry = match registry() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match run(&registry, &cli.args, &cli.command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            crate::output::print_error(cli.args.json, &e.to_string(), 1);
            std::process::ExitCode::FAILURE
        }
    }
}
