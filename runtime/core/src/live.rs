//! Live T0: alerts from a stream (Kafka) into the T0 processor, in batches. A batch
//! is polled (up to `batch_max` messages or `batch_wait`), decoded (schemas cached
//! across messages), ingested, **flushed to the store, and only then committed** to
//! the stream: an alert whose documents are not persisted is never acknowledged, so
//! nothing is lost; a graceful stop (SIGTERM) flushes and commits the batch in hand,
//! so nothing is ingested twice after a restart. A message that cannot be decoded is
//! a trouble record and is committed past; processing goes on.
//!
//! Memory stays bounded: one batch is in memory at a time, and the stream client
//! keeps a bounded prefetch queue.

use crate::t0::{T0Error, T0Processor};
use ampel_avro::{Item, MessageDecoder};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// One message of a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Where it came from, e.g. `kafka:ztf_20200101/0@1234`.
    pub origin: String,
    /// The bytes: an Avro container file or a Confluent-framed message.
    pub payload: Vec<u8>,
    /// When it was produced (milliseconds since 1970), if the stream says.
    pub timestamp_ms: Option<i64>,
}

/// A stream of alert messages with explicit acknowledgement.
pub trait AlertStream {
    /// The next message, waiting at most `timeout` (`Ok(None)`: nothing yet).
    /// Transient failures (a lost broker) are retried inside; `Err` means the stream
    /// cannot go on.
    ///
    /// Before the stream gives up messages it handed out (a consumer-group
    /// rebalance moves their partitions to another consumer), it calls `persist`,
    /// which must persist the documents of every message handed out so far, then
    /// commits them: the next owner starts after them, so a rebalance neither
    /// loses nor repeats an alert.
    fn poll(
        &mut self,
        timeout: Duration,
        persist: &mut dyn FnMut() -> Result<(), String>,
    ) -> Result<Option<Message>, String>;
    /// Acknowledge every message handed out so far: their documents are persisted.
    fn commit(&mut self) -> Result<(), String>;
    /// For messages: brokers, topics, group.
    fn describe(&self) -> String;
}

/// How the live loop batches.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// At most this many messages per batch (one flush and one commit).
    pub batch_max: usize,
    /// A batch closes after this long even if not full (bounds latency).
    pub batch_wait: Duration,
    /// Stop after this long without any message (`None`: run until stopped).
    pub idle_stop: Option<Duration>,
    /// Stop after this many messages (`None`: no limit).
    pub max_messages: Option<usize>,
    /// The clock rule of the T0 (live: wall time; archive: the alerts' times, for
    /// replaying a topic).
    pub clock: crate::ClockMode,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            batch_max: 500,
            batch_wait: Duration::from_millis(200),
            idle_stop: None,
            max_messages: None,
            clock: crate::ClockMode::Live,
        }
    }
}

/// What the live loop did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct LiveStats {
    /// Messages read.
    pub messages: usize,
    /// Batches flushed and committed.
    pub batches: usize,
    /// Messages that could not be decoded (trouble records).
    pub damaged: usize,
    /// Why the loop ended: `stopped`, `idle`, `max_messages`.
    pub ended: String,
}

/// Why the live loop failed (the batch in hand was not committed).
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The stream failed.
    #[error("alert stream {stream}: {detail}")]
    Stream {
        /// The stream.
        stream: String,
        /// What failed.
        detail: String,
    },
    /// Ingestion failed.
    #[error(transparent)]
    T0(#[from] T0Error),
}

/// A live T0 run to its end: [`run_live`] on an opened processor, then the run's
/// event ended, failed or not (as [`crate::t0::drive_archive`] does for archives).
/// The stream error, if any, comes back after the event was ended.
pub fn drive_live(
    mut t0: T0Processor<'_>,
    stream: &mut dyn AlertStream,
    opts: &LiveOptions,
    stop: &AtomicBool,
    on_batch: &mut dyn FnMut(&LiveStats),
) -> Result<(LiveStats, crate::t0::T0Stats), LiveError> {
    let started = Instant::now();
    let result = run_live(&mut t0, stream, opts, stop, on_batch);
    let seconds = started.elapsed().as_secs_f64();
    match result {
        Ok(live) => Ok((live, t0.finish(seconds, None)?)),
        Err(e) => {
            let _ = t0.finish(seconds, Some(&T0Error::Config(e.to_string())));
            Err(e)
        }
    }
}

/// Consume `stream` into `t0` until `stop` is set (or the options end it); each
/// committed batch is reported to `on_batch`.
pub fn run_live(
    t0: &mut T0Processor,
    stream: &mut dyn AlertStream,
    opts: &LiveOptions,
    stop: &AtomicBool,
    on_batch: &mut dyn FnMut(&LiveStats),
) -> Result<LiveStats, LiveError> {
    // decoded as the processor asks (projected filtering, as for archives)
    let mut decoder = MessageDecoder::new(t0.read_options(None));
    let mut stats = LiveStats::default();
    let mut last_message = Instant::now();
    let name = stream.describe();
    let fail = |detail: String| LiveError::Stream {
        stream: name.clone(),
        detail,
    };
    loop {
        let started = Instant::now();
        let mut in_batch = 0usize;
        while in_batch < opts.batch_max && !stop.load(Ordering::SeqCst) {
            let left = opts.batch_wait.saturating_sub(started.elapsed());
            if left.is_zero() && in_batch > 0 {
                break;
            }
            let wait = left.clamp(Duration::from_millis(10), Duration::from_millis(100));
            let mut persist = || t0.flush().map_err(|e| e.to_string());
            let Some(m) = stream.poll(wait, &mut persist).map_err(&fail)? else {
                if in_batch > 0 && started.elapsed() >= opts.batch_wait {
                    break;
                }
                if opts.idle_stop.is_some_and(|d| last_message.elapsed() >= d) {
                    break;
                }
                continue;
            };
            last_message = Instant::now();
            in_batch += 1;
            stats.messages += 1;
            let mut failed = None;
            decoder.decode(&m.origin, &m.payload, &mut |item| {
                if matches!(item, Item::Damaged(_)) {
                    stats.damaged += 1;
                }
                match t0.process(item) {
                    Ok(()) => true,
                    Err(e) => {
                        failed = Some(e);
                        false
                    }
                }
            });
            if let Some(e) = failed {
                return Err(e.into());
            }
            if opts.max_messages.is_some_and(|n| stats.messages >= n) {
                break;
            }
        }
        if in_batch > 0 {
            t0.flush()?;
            stream.commit().map_err(&fail)?;
            stats.batches += 1;
            on_batch(&stats);
        }
        if stop.load(Ordering::SeqCst) {
            stats.ended = "stopped".into();
            return Ok(stats);
        }
        if opts.max_messages.is_some_and(|n| stats.messages >= n) {
            stats.ended = "max_messages".into();
            return Ok(stats);
        }
        if in_batch == 0 && opts.idle_stop.is_some_and(|d| last_message.elapsed() >= d) {
            stats.ended = "idle".into();
            return Ok(stats);
        }
    }
}
