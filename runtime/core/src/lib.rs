//! Tiers and processors of AMPEL-rs.
//!
//! - [`loader`]: builds units from the registry, registering their config hashes and
//!   trace ids in the store (provenance) before anything they produce is written;
//! - [`clock`]: where "now" comes from: the wall clock live, the data in archive mode;
//! - [`t0`]: the alert consumer (filter per channel, shape, mux, combine, ingest);
//! - [`t2`]: the worker (leased claims, dependencies, retries, provenance);
//! - [`t3`]: selection, channel projection, T3 units, stock updates, T3 documents;
//! - [`serve`]: scheduled processes (interval or cron), no overlap, graceful stop;
//! - [`live`]: live T0 from an alert stream (Kafka): batches flushed, then committed;
//! - [`job`]: archival reprocessing (tasks in order, fresh store, data clock);
//! - [`runs`]: who runs a run, whether its process died, taking over dead runs;
//! - [`digest`]: the results digest over a canonical dump of the output documents;
//! - [`progress`]: progress of long steps, shown by the caller;
//! - [`resources`]: where the files unit configs name are, checked by digest;
//! - [`instance`]: the resolved configuration an instance image carries, checked
//!   against the binary, and its archival job.

pub mod clock;
pub mod digest;
pub mod instance;
pub mod job;
pub mod live;
pub mod loader;
pub mod progress;
pub mod resources;
pub mod runs;
pub mod serve;
pub mod t0;
pub mod t2;
pub mod t3;

pub use clock::{Clock, ClockMode};
pub use loader::{check_units, CoreError, Loaded, UnitLoader, UnitRequest};
pub use progress::{Progress, Silent};
