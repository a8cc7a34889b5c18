//! T2, the worker: claim tickets with a lease, load inputs, resolve dependencies,
//! run the unit, store the result with provenance, journal it on the stock.
//!
//! **Invariants:** a ticket is claimed by one worker at a time (the store's lease);
//! a worker that lost its lease cannot store a result; a failing unit never stops
//! the worker (the ticket gets a code and a trouble record); a ticket waiting for a
//! dependency is put back with a jittered `retry_after`, so waiting is neither a
//! deadlock nor a busy loop.

mod inputs;
mod outdated;
mod run;

pub use outdated::{outdated, Outdated};
pub use run::{T2Stats, T2Worker, T2WorkerConfig};

/// Why a T2 run stopped.
#[derive(Debug, thiserror::Error)]
pub enum T2Error {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] ampel_store::StoreError),
}
