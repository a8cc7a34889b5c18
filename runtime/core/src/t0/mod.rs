//! T0, the alert consumer: supply, filter per channel, shape, mux, combine, and
//! ingest datapoints, states, T2 tickets and stocks in batches.
//!
//! **Invariant:** an alert counts as processed only once its documents are written
//! (the stock, written last in each batch, records it in its journal); replaying an
//! alert changes nothing but meta and journal records.

mod config;
mod ingest;

pub use config::*;
pub use ingest::{T0Processor, T0Stats};

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
