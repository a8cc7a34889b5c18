//! T0, the alert consumer: supply, filter per channel, shape, mux, combine, and
//! ingest datapoints, states, T2 tickets and stocks in batches.
//!
//! **Invariant:** an alert counts as processed only once its documents are written:
//! a batch (documents, logs, trouble records, and the run's event with its
//! checkpoint) is written whole or not at all on the embedded store, and a rerun of
//! the same config over the same inputs takes over a run whose process died at
//! its checkpoint (see `run`), so its documents are those of an uninterrupted run.

mod config;
mod directive;
mod drive;
mod ingest;
pub mod refusals;
mod run;

pub use config::*;
pub use drive::{drive_archive, DriveOptions, Driven};
pub use ingest::T0Processor;
pub use run::{inputs_key, Checkpoint, Opened, T0Stats};

use ampel_store::StoreError;

/// Why a T0 run stopped early.
#[derive(Debug, thiserror::Error)]
pub enum T0Error {
    /// Units failed too often.
    #[error("stopped after {errors} unit errors (error_max = {max}); see the trouble records")]
    TooManyErrors {
        /// Errors counted.
        errors: usize,
        /// The limit.
        max: usize,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A unit could not be loaded.
    #[error("{0}")]
    Config(String),
}
