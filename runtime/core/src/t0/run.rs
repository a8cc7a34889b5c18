//! A T0 run: its id, its batches with their checkpoints, and taking over a run
//! whose process died.
//!
//! Each batch (datapoints, states, tickets, stocks, logs, trouble records) is
//! written with the run's event, whose checkpoint says how many input items
//! (alerts and damaged inputs) the store now holds the effects of. The embedded
//! store writes a batch in one transaction, so after `kill -9` at any point the
//! store holds whole batches only, and the checkpoint says where they end.
//!
//! Rerun with the same config and the same inputs ([`inputs_key`]), a T0 run
//! takes over the dead run (same run id), skips the items its checkpoint covers,
//! restores its clock and counts, and goes on: the documents are those of an
//! uninterrupted run. If a finished run already ingested the same inputs with
//! the same config, the rerun has nothing to do ([`Opened::AlreadyDone`]).
//! A T0 run holds the store's ingestion lock from start to end, so T0 runs
//! started together take turns and write what they would have one after the
//! other.

use super::config::T0Config;
use super::T0Error;
use crate::clock::Clock;
use crate::runs::{current_owner, open_run};
use ampel_interface::*;
use ampel_store::*;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Counts of a T0 run.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct T0Stats {
    /// Alerts read (decoded and supplied).
    pub alerts: usize,
    /// Alerts accepted by at least one channel whose documents were all written.
    pub ingested: usize,
    /// Accepted alerts per channel.
    pub accepted: BTreeMap<String, usize>,
    /// Rejected alerts per channel.
    pub rejected: BTreeMap<String, usize>,
    /// Damaged inputs and unusable alerts, as `origin (alert i): reason`.
    pub damaged: Vec<String>,
    /// Unit errors (filters, shaper, combiners).
    pub errors: usize,
    /// Datapoints written.
    pub datapoints: UpsertCount,
    /// States written.
    pub states: UpsertCount,
    /// T2 tickets written.
    pub tickets: UpsertCount,
    /// Stocks written.
    pub stocks: UpsertCount,
}

/// Where a T0 run stands in its inputs: what its last batch covered.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// Input items (alerts and damaged inputs) whose effects are all stored.
    pub items: usize,
    /// The clock then (an archive clock: the latest data time seen).
    pub clock: UnixTime,
    /// [`inputs_key`] of the run's config and sources; empty for a run that
    /// cannot be resumed (a live stream, whose offsets are its checkpoint).
    pub inputs: String,
    /// Bytes of the rejected-alert register written by then.
    pub rejected_bytes: u64,
}

/// A T0 event's `ret`: the counts and the checkpoint.
#[derive(serde::Serialize, serde::Deserialize)]
struct Ret {
    #[serde(flatten)]
    stats: T0Stats,
    #[serde(default)]
    checkpoint: Option<Checkpoint>,
}

fn ret_of(e: &Event) -> Option<Ret> {
    serde_json::from_value(e.ret.clone()?).ok()
}

/// What a rerun would read: SHA-256 over the T0 config and, for each source, its
/// absolute path and the name, size and modification time of every file under
/// it. A run is resumed, or known to be done, only under the same key.
pub fn inputs_key(cfg: &T0Config, sources: &[PathBuf]) -> String {
    let mut h = Sha256::new();
    h.update(serde_json::to_string(cfg).unwrap_or_default().as_bytes());
    fn list(p: &Path, h: &mut Sha256, depth: usize) {
        let Ok(meta) = std::fs::metadata(p) else {
            h.update(b"\0missing\0");
            return;
        };
        if meta.is_dir() && depth < 64 {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
                .unwrap_or_default();
            entries.sort();
            for e in entries {
                h.update(e.file_name().unwrap_or_default().as_encoded_bytes());
                h.update(b"/");
                list(&e, h, depth + 1);
            }
        } else {
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            h.update(format!("{}:{mtime};", meta.len()).as_bytes());
        }
    }
    for s in sources {
        let abs = std::fs::canonicalize(s).unwrap_or_else(|_| s.clone());
        h.update(abs.as_os_str().as_encoded_bytes());
        h.update(b"\0");
        list(&abs, &mut h, 0);
    }
    format!("sha256:{:x}", h.finalize())
}

/// How a T0 run was opened.
#[derive(Debug, Clone, PartialEq)]
pub enum Opened {
    /// A new run.
    New,
    /// A run whose process died, taken over: this many input items are stored.
    Resumed {
        /// Items its last checkpoint covers (skipped by the processor).
        items: usize,
    },
    /// A finished run already ingested these inputs with this config.
    AlreadyDone {
        /// That run.
        run: RunId,
    },
}

/// The documents waiting for the next batch.
#[derive(Default)]
pub(super) struct Buffer {
    pub(super) dps: Vec<DataPoint>,
    pub(super) states: Vec<T1Document>,
    pub(super) tickets: Vec<T2Request>,
    pub(super) stocks: Vec<StockUpsert>,
    pub(super) logs: Vec<LogRecord>,
    pub(super) troubles: Vec<TroubleRecord>,
    /// Alerts whose documents are in this buffer: they count as ingested once
    /// the batch is written.
    pub(super) alerts: usize,
}

/// A run in progress.
pub(super) struct Run<'a> {
    store: &'a dyn Store,
    pub(super) id: RunId,
    process: String,
    start: UnixTime,
    owner: RunOwner,
    inputs: String,
    _lock: Option<IngestLock>,
    pub(super) opened: Opened,
    /// Items processed or skipped so far.
    pub(super) items: usize,
    /// Items still to skip (stored by the run taken over).
    pub(super) skip: usize,
    /// Register bytes at the last checkpoint.
    pub(super) rejected_bytes: u64,
}

impl<'a> Run<'a> {
    /// Take the ingestion lock (unless `waiting` is `None`: a live run), then take
    /// over a dead run of `process` with the key `inputs` (restoring `clock` and
    /// returning its counts), or start a run.
    pub(super) fn open(
        store: &'a dyn Store,
        process: &str,
        clock: &Clock,
        inputs: Option<String>,
        waiting: Option<&mut dyn FnMut()>,
    ) -> Result<(Self, T0Stats), T0Error> {
        let lock = match waiting {
            Some(w) => store.lock_ingest(w)?,
            None => None,
        };
        let owner = current_owner(format!("t0-{}", std::process::id()));
        let key = inputs.unwrap_or_default();
        let mut run = Run {
            store,
            id: 0,
            process: process.to_string(),
            start: clock.now(),
            owner,
            inputs: key.clone(),
            _lock: lock,
            opened: Opened::New,
            items: 0,
            skip: 0,
            rejected_bytes: 0,
        };
        if !key.is_empty() {
            // the same inputs ingested by a finished run: nothing to do
            let done = store.events(&EventQuery {
                process: Some(process.to_string()),
                code: Some(vec![EventCode::OK]),
                ..Default::default()
            })?;
            let same = |e: &Event| {
                ret_of(e)
                    .and_then(|r| r.checkpoint)
                    .is_some_and(|c| c.inputs == key)
            };
            if let Some(e) = done.iter().rev().find(|e| e.tier == Tier::T0 && same(e)) {
                run.opened = Opened::AlreadyDone { run: e.run };
                run.id = e.run;
                let ret = ret_of(e);
                // what comes next (a job's T3) sees the time that run ended at
                if let Some(c) = ret.as_ref().and_then(|r| r.checkpoint.as_ref()) {
                    clock.observe(c.clock);
                }
                return Ok((run, ret.map(|r| r.stats).unwrap_or_default()));
            }
        }
        let fresh = run.event(EventCode::RUNNING, &T0Stats::default(), None, clock.now());
        let opened = open_run(store, &fresh, |dead| {
            let ck = ret_of(dead)?.checkpoint?;
            (!key.is_empty() && ck.inputs == key).then(|| Event {
                run: dead.run,
                start: dead.start,
                ret: dead.ret.clone(),
                ..fresh.clone()
            })
        })?;
        run.id = opened.run;
        let Some(dead) = opened.resumed else {
            return Ok((run, T0Stats::default()));
        };
        let Ret { stats, checkpoint } = ret_of(&dead).unwrap_or(Ret {
            stats: T0Stats::default(),
            checkpoint: None,
        });
        let ck = checkpoint.unwrap_or_default();
        clock.observe(ck.clock);
        run.start = dead.start;
        run.skip = ck.items;
        run.rejected_bytes = ck.rejected_bytes;
        run.opened = Opened::Resumed { items: ck.items };
        Ok((run, stats))
    }

    fn event(&self, code: EventCode, stats: &T0Stats, duration: Option<f64>, now: f64) -> Event {
        let ret = Ret {
            stats: stats.clone(),
            checkpoint: Some(Checkpoint {
                items: self.items,
                clock: now,
                inputs: self.inputs.clone(),
                rejected_bytes: self.rejected_bytes,
            }),
        };
        Event {
            run: self.id,
            process: self.process.clone(),
            tier: Tier::T0,
            code,
            start: self.start,
            duration,
            jobid: None,
            ret: serde_json::to_value(&ret).ok(),
            owner: Some(self.owner.clone()),
        }
    }

    /// Write `b` with the run's event (`code`, checkpoint at the items processed
    /// so far and `clock`), then count what was written into `stats`.
    pub(super) fn write(
        &mut self,
        b: Buffer,
        stats: &mut T0Stats,
        clock: &Clock,
        rejected_bytes: u64,
        code: EventCode,
        duration: Option<f64>,
    ) -> Result<(), T0Error> {
        let mut after = stats.clone();
        after.ingested += b.alerts;
        self.rejected_bytes = rejected_bytes;
        let now = clock.now();
        let counts = self.store.write_t0_batch(&T0Batch {
            datapoints: b.dps,
            states: b.states,
            tickets: b.tickets,
            stocks: b.stocks,
            logs: b.logs,
            troubles: b.troubles,
            event: Some(self.event(code, &after, duration, now)),
        })?;
        after.datapoints += counts.datapoints;
        after.states += counts.states;
        after.tickets += counts.tickets;
        after.stocks += counts.stocks;
        *stats = after;
        if code != EventCode::RUNNING {
            // the final counts (the batch's event could not know them yet)
            self.store
                .record_event(&self.event(code, stats, duration, now))?;
        }
        Ok(())
    }
}
