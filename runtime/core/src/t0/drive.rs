//! The one T0 drive loop over archive sources, shared by `ampel t0`, jobs and
//! instance runs: decode on a reader thread as the processor asks
//! ([`T0Processor::read_options`]: JSON for every alert, or Avro values plus the
//! projected JSON of the fields the filters name), process each item in the
//! deterministic order of the sources, stop at `iter_max` or at the first error,
//! and end the run with its event, failed or not. (Live T0 drives the same
//! processor from a stream, see `live`.)

use super::{T0Error, T0Processor, T0Stats};
use crate::Progress;
use ampel_avro::{read_inputs, Item};
use ampel_interface::RunId;
use std::path::PathBuf;
use std::time::Instant;

/// How a drive ended: the run's counts, and the error that stopped it early, if
/// any (the run's event then says ERROR).
#[derive(Debug)]
pub struct Driven {
    /// The run id.
    pub run: RunId,
    /// Its counts (what was stored).
    pub stats: T0Stats,
    /// Why it stopped before the end of its sources.
    pub stopped: Option<T0Error>,
}

/// Options of a drive.
#[derive(Debug, Clone, Default)]
pub struct DriveOptions {
    /// The progress step's name (`t0`, `task 1/3 (t0)`).
    pub step: String,
    /// The largest Avro block accepted, in bytes (`None`: the reader's default).
    pub max_block_bytes: Option<usize>,
    /// Record the run's wall-clock duration in its event (jobs leave it out).
    pub timed: bool,
}

/// Drive an opened processor over `sources` to the end of its run. A run that
/// already ingested these sources ([`Opened::AlreadyDone`](super::Opened)) reads
/// nothing; a resumed one skips what its checkpoint says is stored. Damaged inputs
/// are counted and named on `progress`, never fatal. The error of `Err` is the
/// store failing while the run's event was being ended.
pub fn drive_archive(
    mut t0: T0Processor<'_>,
    sources: &[PathBuf],
    opts: &DriveOptions,
    progress: &dyn Progress,
) -> Result<Driven, T0Error> {
    let started = Instant::now();
    let skip = matches!(t0.opened(), super::Opened::AlreadyDone { .. });
    let (mut rx, reader) = read_inputs(
        if skip { Vec::new() } else { sources.to_vec() },
        t0.read_options(opts.max_block_bytes),
    );
    progress.start(&opts.step, "alerts read", None);
    let mut stopped = None;
    for item in rx.by_ref() {
        if let Item::Damaged(d) = &item {
            progress.note(&format!("damaged input: {d}"));
        }
        if let Err(e) = t0.process(item) {
            stopped = Some(e);
            break;
        }
        progress.set(t0.stats.alerts as u64);
        if t0.done() {
            break;
        }
    }
    drop(rx);
    let _ = reader.join();
    progress.finish();
    let run = t0.run_id();
    let seconds = if opts.timed {
        started.elapsed().as_secs_f64()
    } else {
        0.0
    };
    let stats = t0.finish(seconds, stopped.as_ref())?;
    Ok(Driven {
        run,
        stats,
        stopped,
    })
}
