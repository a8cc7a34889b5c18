//! The T2 worker loop and the processing of one ticket. See the module docs of `t2`.

use super::inputs::{load_inputs, Inputs, Prefetch};
use super::T2Error;
use crate::progress::Progress;
use ampel_interface::*;
use ampel_store::*;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How a worker runs.
#[derive(Debug, Clone, PartialEq)]
pub struct T2WorkerConfig {
    /// Process name (events, journal).
    pub process: String,
    /// Worker id (the lease owner); unique per worker.
    pub owner: String,
    /// Lease length [s]; the heartbeat renews it while a unit runs.
    pub lease_seconds: f64,
    /// Attempts before a ticket is given up as TOO_MANY_TRIALS.
    pub max_try: usize,
    /// Only these units (all if `None`).
    pub units: Option<Vec<String>>,
    /// Backoff base [s]: a retry waits a random time in `[0, base·2^n)`.
    pub backoff_base: f64,
    /// Tickets claimed per round trip.
    pub batch: usize,
    /// Stamp results with the ticket's ingestion time (archive mode: reruns give
    /// identical documents) instead of the wall clock.
    pub data_time: bool,
    /// Read datapoint bodies with only the fields the batch's units name (see
    /// `StateT2::fields`), when all of them name theirs.
    pub named_fields: bool,
}

impl Default for T2WorkerConfig {
    fn default() -> Self {
        T2WorkerConfig {
            process: "t2".into(),
            owner: format!("{}-{}", hostname(), std::process::id()),
            lease_seconds: 60.0,
            max_try: 5,
            units: None,
            backoff_base: 1.0,
            batch: 256,
            data_time: true,
            named_fields: true,
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "host".into())
}

/// Counts of a worker run.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct T2Stats {
    /// Tickets processed (any outcome).
    pub processed: usize,
    /// Results per unit.
    pub ok: BTreeMap<String, usize>,
    /// Failures per unit (exceptions, bad inputs, unknown configs).
    pub failed: BTreeMap<String, usize>,
    /// Tickets put back to wait for dependencies.
    pub waiting: usize,
    /// Tickets given up after `max_try` attempts.
    pub too_many_trials: usize,
    /// Results not stored because another worker took the ticket over.
    pub lease_lost: usize,
}

fn wall() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// What processing one ticket came to.
pub(super) enum Outcome {
    Done(Box<UnitResult>, TraceId),
    Wait,
    Fail {
        code: DocumentCode,
        message: String,
        retry: bool,
        trace: Option<TraceId>,
    },
}

pub(super) fn fail(code: DocumentCode, message: impl Into<String>) -> Outcome {
    Outcome::Fail {
        code,
        message: message.into(),
        retry: false,
        trace: None,
    }
}

/// Units built so far, by (name, config hash), or why they cannot be built.
type UnitCache = HashMap<(String, Option<ConfigHash>), Result<Loaded, (DocumentCode, String)>>;

struct Loaded {
    instance: UnitInstance,
    trace: TraceId,
}

/// Codes a worker claims: the usual ones, plus EXCEPTION for retries with backoff.
fn claim_codes() -> Vec<DocumentCode> {
    let mut c = DocumentCode::CLAIMABLE.to_vec();
    c.push(DocumentCode::EXCEPTION);
    c
}

const PENDING: [DocumentCode; 6] = [
    DocumentCode::NEW,
    DocumentCode::RERUN_REQUESTED,
    DocumentCode::T2_NEW_PRIO,
    DocumentCode::PENDING_DEPENDENCY,
    DocumentCode::RUNNING,
    DocumentCode::EXCEPTION,
];

/// A T2 worker.
pub struct T2Worker<'a> {
    cfg: T2WorkerConfig,
    registry: &'a Registry,
    store: &'a dyn Store,
    run: RunId,
    owner: RunOwner,
    units: UnitCache,
    started: Instant,
    progress: &'a dyn Progress,
    /// Counts so far.
    pub stats: T2Stats,
}

impl<'a> T2Worker<'a> {
    /// A worker; opens a run.
    pub fn new(
        cfg: T2WorkerConfig,
        registry: &'a Registry,
        store: &'a dyn Store,
    ) -> Result<Self, T2Error> {
        let owner = crate::runs::current_owner(cfg.owner.clone());
        let mut w = T2Worker {
            cfg,
            registry,
            store,
            run: 0,
            owner,
            units: HashMap::new(),
            started: Instant::now(),
            progress: &crate::progress::Silent,
            stats: T2Stats::default(),
        };
        // tickets leased to workers that died are claimable at once, in their
        // place in the queue; a dead run of this process is taken over, so its
        // results carry the run id an uninterrupted run would have given them
        let running = store.events(&EventQuery {
            code: Some(vec![EventCode::RUNNING]),
            ..Default::default()
        })?;
        for dead in running.iter().filter(|e| e.tier == Tier::T2) {
            if let Some(o) = dead.owner.as_ref().filter(|_| crate::runs::died(dead)) {
                store.expire_leases(&o.id)?;
            }
        }
        let fresh = w.event(EventCode::RUNNING);
        w.run = crate::runs::open_run(store, &fresh, |dead| {
            Some(Event {
                start: dead.start,
                ..fresh.clone()
            })
        })?
        .run;
        Ok(w)
    }

    /// Report the count of processed tickets to `progress` after each batch.
    pub fn set_progress(&mut self, progress: &'a dyn Progress) {
        self.progress = progress;
    }

    /// The run id.
    pub fn run_id(&self) -> RunId {
        self.run
    }

    fn event(&self, code: EventCode) -> Event {
        Event {
            run: self.run,
            process: self.cfg.process.clone(),
            tier: Tier::T2,
            code,
            start: wall() - self.started.elapsed().as_secs_f64(),
            duration: (code != EventCode::RUNNING).then(|| self.started.elapsed().as_secs_f64()),
            jobid: None,
            ret: serde_json::to_value(&self.stats).ok(),
            owner: Some(self.owner.clone()),
        }
    }

    /// Process tickets until none is claimable (`until_empty`) or `stop` is set.
    /// Without `until_empty` the worker polls, sleeping while the queue is empty.
    pub fn run(&mut self, until_empty: bool, stop: &AtomicBool) -> Result<(), T2Error> {
        let current: Mutex<Option<(Vec<String>, Instant)>> = Mutex::new(None);
        let done = AtomicBool::new(false);
        let (store, owner, lease) = (self.store, self.cfg.owner.clone(), self.cfg.lease_seconds);
        std::thread::scope(|s| {
            // heartbeat: renew the leases of the batch in hand while units run
            let heartbeat = s.spawn(|| {
                let period = Duration::from_secs_f64((lease / 3.0).max(0.05));
                while !done.load(Ordering::SeqCst) {
                    std::thread::park_timeout(period);
                    let held = current.lock().unwrap_or_else(|p| p.into_inner()).clone();
                    if let Some((ids, since)) = held {
                        if since.elapsed() >= period {
                            for id in ids {
                                let _ = store.renew_lease(&id, &owner, wall() + lease);
                            }
                        }
                    }
                }
            });
            let r = self.work(until_empty, stop, &current);
            done.store(true, Ordering::SeqCst);
            heartbeat.thread().unpark();
            r
        })
    }

    fn work(
        &mut self,
        until_empty: bool,
        stop: &AtomicBool,
        current: &Mutex<Option<(Vec<String>, Instant)>>,
    ) -> Result<(), T2Error> {
        let mut idle = Duration::from_millis(50);
        while !stop.load(Ordering::SeqCst) {
            let req = ClaimRequest {
                owner: self.cfg.owner.clone(),
                now: wall(),
                lease_seconds: self.cfg.lease_seconds,
                codes: claim_codes(),
                units: self.cfg.units.clone(),
            };
            let batch = self.store.claim_t2_many(&req, self.cfg.batch.max(1))?;
            if batch.is_empty() {
                if until_empty && !self.anything_left()? {
                    return Ok(());
                }
                // nothing claimable now: wait (bounded, growing) instead of spinning
                std::thread::sleep(idle);
                idle = (idle * 2).min(Duration::from_secs(1));
                continue;
            }
            idle = Duration::from_millis(50);
            *current.lock().unwrap_or_else(|p| p.into_inner()) =
                Some((batch.iter().map(|d| d.id.clone()).collect(), Instant::now()));
            self.process_batch(batch)?;
            self.progress.set(self.stats.processed as u64);
            *current.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
        Ok(())
    }

    /// Whether tickets remain that will become claimable (waiting, or held by
    /// other workers whose leases may expire).
    fn anything_left(&self) -> Result<bool, T2Error> {
        let filter = T2Filter {
            unit: self.cfg.units.clone(),
            code: Some(PENDING.to_vec()),
            ..Default::default()
        };
        // failed tickets come back after their backoff: retried, or given up as
        // TOO_MANY_TRIALS once out of attempts
        Ok(!self.store.find_t2(&filter)?.is_empty())
    }

    /// Tickets of tied units go last, after the others' results are written, so a
    /// dependency claimed in the same batch is already done when it is needed.
    fn process_batch(&mut self, batch: Vec<T2Document>) -> Result<(), T2Error> {
        let registry = self.registry;
        let tied = |d: &T2Document| {
            registry
                .get(&d.unit)
                .map(|u| {
                    matches!(
                        u.kind(),
                        UnitKind::TiedPointT2 | UnitKind::TiedStateT2 | UnitKind::TiedStockT2
                    )
                })
                .unwrap_or(false)
        };
        let (later, first): (Vec<T2Document>, Vec<T2Document>) =
            batch.into_iter().partition(|d| tied(d));
        self.process_group(first)?;
        self.process_group(later)
    }

    fn process_group(&mut self, batch: Vec<T2Document>) -> Result<(), T2Error> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut completions = Vec::with_capacity(batch.len());
        let mut journals = Vec::new();
        let fields = self.batch_fields(&batch);
        let mut prefetch = Prefetch::load(self.store, &batch, fields.as_ref());
        for doc in batch {
            let t = Instant::now();
            let outcome = if doc.trials() >= self.cfg.max_try {
                self.stats.too_many_trials += 1;
                fail(
                    DocumentCode::TOO_MANY_TRIALS,
                    format!("gave up after {} attempts", doc.trials()),
                )
            } else {
                self.compute(&doc, &mut prefetch)
            };
            let duration = t.elapsed().as_secs_f64();
            let (c, j) = self.finish_ticket(&doc, outcome, duration)?;
            completions.push((doc.id.clone(), c));
            journals.extend(j);
            self.stats.processed += 1;
        }
        // results and the stocks' journal entries are written together
        for r in self
            .store
            .complete_t2_journaled(&completions, &self.cfg.owner, &journals)?
        {
            if r.is_err() {
                self.stats.lease_lost += 1;
            }
        }
        Ok(())
    }

    fn now_for(&self, doc: &T2Document) -> UnixTime {
        if self.cfg.data_time {
            doc.meta.first().map(|m| m.ts).unwrap_or(0.0)
        } else {
            wall()
        }
    }

    fn backoff(&self, n: usize) -> f64 {
        let span = self.cfg.backoff_base * 2f64.powi(n.min(16) as i32);
        wall() + rand::random::<f64>() * span
    }

    /// Turn an outcome into the store update and the stock's journal entry.
    fn finish_ticket(
        &mut self,
        doc: &T2Document,
        outcome: Outcome,
        duration: f64,
    ) -> Result<(T2Outcome, Option<StockChange>), T2Error> {
        let ts = self.now_for(doc);
        let mut meta = MetaRecord::new(self.run, ts, Tier::T2, DocumentCode::OK);
        meta.duration = Some(duration);
        let journal = |code: DocumentCode,
                       trace: Option<TraceId>,
                       attrs: Option<&JournalAttributes>| StockChange {
            stock: doc.stock,
            journal: vec![JournalRecord {
                tier: Tier::T2,
                ts,
                run: self.run,
                process: self.cfg.process.clone(),
                channel: doc.channel.clone(),
                unit: Some(doc.unit.clone()),
                doc: Some(doc.id.clone()),
                action: JournalActionCode::T2_ADD_BODY | JournalActionCode::T2_SET_CODE,
                code: Some(code),
                tag: attrs.map(|a| a.tag.clone()).unwrap_or_default(),
                traceid: trace
                    .map(|t| BTreeMap::from([("t2unit".to_string(), t)]))
                    .unwrap_or_default(),
                extra: attrs.and_then(|a| a.extra.clone()),
            }],
            bump_upd: Some((doc.channel.clone(), ts)),
            ..Default::default()
        };
        Ok(match outcome {
            Outcome::Done(r, trace) => {
                let r = *r;
                let code = r.code.unwrap_or(DocumentCode::OK);
                *self.stats.ok.entry(doc.unit.clone()).or_default() += 1;
                meta.code = code;
                meta.traceid.insert("t2unit".into(), trace);
                let mut action = MetaActionCode::SET_CODE;
                if r.body.is_some() {
                    action |= MetaActionCode::ADD_BODY;
                }
                if !r.tag.is_empty() {
                    action |= MetaActionCode::ADD_UNIT_TAG;
                }
                meta.activity = vec![Activity {
                    action,
                    channel: doc.channel.clone(),
                    tag: r.tag.clone(),
                    code: Some(code),
                }];
                let j = journal(code, Some(trace), r.journal.as_ref());
                (
                    T2Outcome {
                        code,
                        meta,
                        body: r.body,
                        tag: r.tag,
                        retry_after: None,
                    },
                    Some(j),
                )
            }
            Outcome::Wait => {
                self.stats.waiting += 1;
                meta.code = DocumentCode::PENDING_DEPENDENCY;
                let retry = self.backoff(doc.waits()).min(wall() + 30.0);
                (
                    T2Outcome {
                        code: meta.code,
                        meta,
                        body: None,
                        tag: Default::default(),
                        retry_after: Some(retry),
                    },
                    None,
                )
            }
            Outcome::Fail {
                code,
                message,
                retry,
                trace,
            } => {
                *self.stats.failed.entry(doc.unit.clone()).or_default() += 1;
                meta.code = code;
                meta.extra = Some(json!({ "msg": message }));
                if let Some(t) = trace {
                    meta.traceid.insert("t2unit".into(), t);
                }
                self.store.insert_logs(&[LogRecord {
                    ts,
                    run: self.run,
                    flag: LogFlag::T2 | LogFlag::UNIT | LogFlag::ERROR,
                    stock: Some(doc.stock),
                    channel: doc.channel.iter().next().cloned(),
                    unit: Some(doc.unit.clone()),
                    msg: format!("{} on {}: {message}", code, doc.id),
                    extra: None,
                }])?;
                self.store.insert_trouble(&TroubleRecord {
                    ts,
                    tier: Tier::T2,
                    run: self.run,
                    process: self.cfg.process.clone(),
                    unit: Some(doc.unit.clone()),
                    stock: Some(doc.stock),
                    doc: Some(doc.id.clone()),
                    message,
                    context: Some(
                        json!({ "code": code, "link": doc.link, "attempt": doc.trials() + 1 }),
                    ),
                })?;
                let retry_after = retry.then(|| self.backoff(doc.trials()));
                let j = journal(code, trace, None);
                (
                    T2Outcome {
                        code,
                        meta,
                        body: None,
                        tag: Default::default(),
                        retry_after,
                    },
                    Some(j),
                )
            }
        })
    }

    /// The datapoint body fields the units of `batch` read, if every one names
    /// its fields (a unit that cannot be built counts as naming none: its tickets
    /// fail without reading datapoints).
    fn batch_fields(&mut self, batch: &[T2Document]) -> Option<BTreeSet<String>> {
        if !self.cfg.named_fields {
            return None;
        }
        let mut all = BTreeSet::new();
        let mut seen = BTreeSet::new();
        for doc in batch.iter().filter(|d| d.col != T2Kind::Stock) {
            if !seen.insert((doc.unit.as_str(), doc.config)) {
                continue; // one look per unit and config, not per ticket
            }
            if let Ok(loaded) = self.load(doc) {
                all.extend(loaded.instance.datapoint_fields()?);
            }
        }
        Some(all)
    }

    fn load(&mut self, doc: &T2Document) -> Result<&Loaded, (DocumentCode, String)> {
        let key = (doc.unit.clone(), doc.config);
        if !self.units.contains_key(&key) {
            let loaded = self.instantiate(doc);
            self.units.insert(key.clone(), loaded);
        }
        self.units[&key].as_ref().map_err(|e| e.clone())
    }

    fn instantiate(&self, doc: &T2Document) -> Result<Loaded, (DocumentCode, String)> {
        let store_err = |e: StoreError| (DocumentCode::INTERNAL_ERROR, e.to_string());
        let config = match doc.config {
            Some(h) => self
                .store
                .get_config(h)
                .map_err(store_err)?
                .ok_or_else(|| {
                    (
                        DocumentCode::UNKNOWN_CONFIG,
                        format!("config {h} of unit {} is not registered", doc.unit),
                    )
                })?,
            None => Body::Null,
        };
        let unit = self
            .registry
            .get(&doc.unit)
            .map_err(|e| (DocumentCode::UNKNOWN_CONFIG, e.to_string()))?;
        let (instance, checked) = unit.instantiate(&config).map_err(|e| {
            (
                DocumentCode::UNKNOWN_CONFIG,
                format!("the unit cannot be built from its stored config: {e}"),
            )
        })?;
        self.store
            .register_trace(&checked.trace)
            .map_err(store_err)?;
        Ok(Loaded {
            instance,
            trace: checked.trace.id,
        })
    }

    fn compute(&mut self, doc: &T2Document, prefetch: &mut Prefetch) -> Outcome {
        let store = self.store;
        let registry = self.registry;
        let loaded = match self.load(doc) {
            Ok(l) => l,
            Err((code, msg)) => return fail(code, msg),
        };
        let trace = loaded.trace;
        let kind = loaded.instance.kind();
        let expected = match kind {
            UnitKind::PointT2 | UnitKind::TiedPointT2 => T2Kind::Point,
            UnitKind::StateT2 | UnitKind::TiedStateT2 => T2Kind::State,
            UnitKind::StockT2 | UnitKind::TiedStockT2 => T2Kind::Stock,
            other => {
                return fail(
                    DocumentCode::UNKNOWN_CONFIG,
                    format!("unit {} is a {other} unit, not a T2", doc.unit),
                )
            }
        };
        if expected != doc.col {
            return fail(
                DocumentCode::UNKNOWN_CONFIG,
                format!(
                    "unit {} is a {kind} unit but the ticket is for a {}",
                    doc.unit,
                    doc.col.as_str()
                ),
            );
        }
        let inputs = match load_inputs(store, doc, prefetch) {
            Ok(i) => i,
            Err(o) => return o,
        };
        let deps = match dependencies(registry, store, &loaded.instance, doc, &inputs) {
            Ok(d) => d,
            Err(o) => return o,
        };
        let Inputs { state, dps, stock } = inputs;
        let run = || match &loaded.instance {
            UnitInstance::PointT2(u) => u.process(&dps[0]),
            UnitInstance::TiedPointT2(u) => u.process(&dps[0], &deps),
            UnitInstance::StateT2(u) => u.process(state.as_ref().expect("state loaded"), &dps),
            UnitInstance::TiedStateT2(u) => {
                u.process(state.as_ref().expect("state loaded"), &dps, &deps)
            }
            UnitInstance::StockT2(u) => u.process(stock.as_ref().expect("stock loaded")),
            UnitInstance::TiedStockT2(u) => u.process(stock.as_ref().expect("stock loaded"), &deps),
            _ => Err(UnitError::new("not a T2 unit")),
        };
        match catch_unwind(AssertUnwindSafe(run)) {
            Ok(Ok(r)) => Outcome::Done(Box::new(r), trace),
            // an unusable result is an ERROR (retrying will not help); a failure may pass
            Ok(Err(e)) => Outcome::Fail {
                code: if e.bad_result {
                    DocumentCode::ERROR
                } else {
                    DocumentCode::EXCEPTION
                },
                retry: !e.bad_result,
                message: e.message,
                trace: Some(trace),
            },
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".into());
                Outcome::Fail {
                    code: DocumentCode::EXCEPTION,
                    message: format!("unit panicked: {msg}"),
                    retry: true,
                    trace: Some(trace),
                }
            }
        }
    }

    /// Flush nothing (results are written per batch) and close the run's event.
    pub fn finish(self) -> Result<T2Stats, T2Error> {
        self.store.record_event(&self.event(EventCode::OK))?;
        Ok(self.stats)
    }
}

/// Resolve a tied unit's dependencies with AMPEL's link rules.
fn dependencies(
    registry: &Registry,
    store: &dyn Store,
    instance: &UnitInstance,
    doc: &T2Document,
    inputs: &Inputs,
) -> Result<Vec<T2View>, Outcome> {
    let declared = match instance {
        UnitInstance::TiedPointT2(u) => u.dependencies(),
        UnitInstance::TiedStateT2(u) => u.dependencies(),
        UnitInstance::TiedStockT2(u) => u.dependencies(),
        _ => return Ok(Vec::new()),
    };
    let mut views = Vec::new();
    for dep in declared {
        let checked = registry
            .get(&dep.unit)
            .map_err(|e| fail(DocumentCode::MISSING_DEPENDENCY, e.to_string()))?
            .check(&dep.config)
            .map_err(|e| fail(DocumentCode::MISSING_DEPENDENCY, e.to_string()))?;
        let links = match (dep.link, doc.col) {
            (DependencyLink::Same, _) => vec![doc.link],
            (DependencyLink::Stock, _) => vec![doc.stock],
            (DependencyLink::StatePoints, T2Kind::State) => inputs
                .state
                .as_ref()
                .map(|s| s.dps.clone())
                .unwrap_or_default(),
            (DependencyLink::StatePoints, other) => {
                return Err(fail(
                    DocumentCode::UNEXPECTED_DEPENDENCY,
                    format!("state→point dependency on a {} ticket", other.as_str()),
                ))
            }
        };
        let filter = T2Filter {
            stock: Some(doc.stock),
            unit: Some(vec![dep.unit.clone()]),
            config: Some(Some(checked.hash)),
            link: Some(links),
            ..Default::default()
        };
        let found = store
            .find_t2(&filter)
            .map_err(|e| fail(DocumentCode::INTERNAL_ERROR, e.to_string()))?;
        if found.is_empty() {
            return Err(fail(
                DocumentCode::MISSING_DEPENDENCY,
                format!(
                    "no {} ticket to depend on (request it in the channel)",
                    dep.unit
                ),
            ));
        }
        if found.iter().any(|d| PENDING.contains(&d.code)) {
            return Err(Outcome::Wait);
        }
        if let Some(bad) = found.iter().find(|d| d.current_result().is_none()) {
            return Err(fail(
                DocumentCode::FAILED_DEPENDENCY,
                format!(
                    "dependency {} {} has no result (code {})",
                    dep.unit, bad.id, bad.code
                ),
            ));
        }
        views.extend(found.iter().map(T2View::from));
    }
    Ok(views)
}
