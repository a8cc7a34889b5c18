//! Runtime commands shared by the host `ampel` binary and every generated instance
//! binary: the same command line, only the registry of units differs.
//!
//! A binary builds its [`ampel_interface::Registry`] and calls [`run`] with the parsed
//! [`RuntimeCommand`]. Output is a readable table by default and JSON with `--json`.

mod args;
mod cli;
mod db;
mod dump;
mod hash;
mod instance;
mod job;
#[cfg(feature = "kafka")]
mod kafka;
mod main_fn;
mod output;
pub mod progress;
mod provenance;
mod serve;
mod t0;
mod t2;
mod t3;
mod trouble;
mod units;
mod uri;
mod view;

pub use args::RuntimeArgs;
pub use cli::{run, RuntimeCommand};
pub use instance::{InstanceArgs, InstanceCommand};
pub use job::explore_command;
pub use main_fn::instance_main;
pub use output::{print_error, CommandError};
pub use uri::{
    open_existing_store, open_store, open_store_for_t2_workers, redact, resolve_secret, stores,
    DEFAULT_DB,
};

/// A flag set by SIGTERM or SIGINT: long-running commands (`serve`, `kafka
/// consume`, a polling `t2 run`) finish what they hold and stop cleanly.
pub(crate) fn stop_on_signals(
) -> Result<std::sync::Arc<std::sync::atomic::AtomicBool>, CommandError> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone()).map_err(CommandError::Io)?;
    }
    Ok(stop)
}
