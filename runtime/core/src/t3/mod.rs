//! T3: select stocks, load their documents, project them onto each unit's channel,
//! run the units, apply their stock updates and store their documents.
//!
//! **Invariant:** a unit configured for channel A sees only documents (datapoints,
//! states, T2 results, journal entries, times) that belong to channel A, and stocks
//! that are in channel A; a failing unit is recorded and the others still run.

use crate::clock::Clock;
use crate::loader::UnitLoader;
use ampel_interface::*;
use ampel_store::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeSet;

mod project;
mod t2match;
pub use project::project;
pub use t2match::{filter_by_t2, Operator, T2Match};

/// Which stocks a T3 run looks at.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Select {
    /// In any of these channels.
    pub channel_any: Vec<String>,
    /// In all of these channels.
    pub channel_all: Vec<String>,
    /// With all of these tags.
    pub tag_with: Vec<String>,
    /// With none of these tags.
    pub tag_without: Vec<String>,
    /// Created no more than this many days before now.
    pub created_within_days: Option<f64>,
    /// Updated no more than this many days before now.
    pub updated_within_days: Option<f64>,
    /// Created at or after this Unix time.
    pub created_after: Option<f64>,
    /// Updated at or after this Unix time.
    pub updated_after: Option<f64>,
    /// Updated after the start of the last successful run of this process (times
    /// by the clock rule: data time in archive mode, see `clock`).
    pub since_last_run_of: Option<String>,
    /// Whose latest T2 results (of the selected channels) satisfy every condition.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub t2: Vec<T2Match>,
    /// At most this many stocks.
    pub limit: Option<usize>,
}

/// Which states to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum T1Load {
    /// None.
    None,
    /// The latest state only.
    #[default]
    Latest,
    /// Every state.
    All,
}

/// Which documents to load per stock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Load {
    /// Datapoints.
    pub t0: bool,
    /// States.
    pub t1: T1Load,
    /// T2 results of these units (all if absent).
    pub t2: Option<Vec<String>>,
}

impl Default for Load {
    fn default() -> Self {
        Load {
            t0: true,
            t1: T1Load::Latest,
            t2: None,
        }
    }
}

/// A T3 unit to run, on one channel's projection (or unprojected).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct T3UnitModel {
    /// Unit name.
    pub unit: String,
    /// Raw config.
    #[serde(default)]
    pub config: Body,
    /// The channel whose data the unit sees.
    #[serde(default)]
    pub channel: Option<String>,
}

/// A T3 process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct T3Config {
    /// Process name.
    pub process: String,
    /// Selection.
    #[serde(default)]
    pub select: Select,
    /// Loading.
    #[serde(default)]
    pub load: Load,
    /// Units, run in order.
    pub units: Vec<T3UnitModel>,
}

/// What a T3 run did.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct T3Report {
    /// Run id.
    pub run: RunId,
    /// Stocks selected.
    pub selected: usize,
    /// Documents made, by unit.
    pub documents: Vec<String>,
    /// Units that failed, with the message.
    pub failed: Vec<(String, String)>,
    /// Stock updates applied.
    pub updates: usize,
}

/// Why a T3 run could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum T3Error {
    /// A unit or the selection is unusable.
    #[error("{0}")]
    Config(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn selection(sel: &Select, store: &dyn Store, now: UnixTime) -> Result<StockSelection, T3Error> {
    let mut q = StockSelection {
        channel_any: sel.channel_any.clone(),
        channel_all: sel.channel_all.clone(),
        tag_with: sel.tag_with.clone(),
        tag_without: sel.tag_without.clone(),
        // conditions on T2 results apply before the limit
        limit: sel.limit.filter(|_| sel.t2.is_empty()),
        ..Default::default()
    };
    q.created.after = sel
        .created_after
        .or(sel.created_within_days.map(|d| now - d * 86_400.0));
    q.updated.after = sel
        .updated_after
        .or(sel.updated_within_days.map(|d| now - d * 86_400.0));
    if let Some(p) = &sel.since_last_run_of {
        let last = store.events(&EventQuery {
            process: Some(p.clone()),
            code: Some(vec![EventCode::OK]),
            last: Some(1),
            ..Default::default()
        })?;
        // never ran successfully: everything is new; else updated strictly after
        // that run's start (the selection's bound is inclusive: the next float up)
        if let Some(e) = last.first() {
            let after = next_up(e.start);
            q.updated.after = Some(q.updated.after.map_or(after, |a| a.max(after)));
        }
    }
    Ok(q)
}

/// The smallest float above `t` (a time, finite).
fn next_up(t: f64) -> f64 {
    if t == 0.0 {
        f64::from_bits(1)
    } else if t > 0.0 {
        f64::from_bits(t.to_bits() + 1)
    } else {
        f64::from_bits(t.to_bits() - 1)
    }
}

/// Run a T3 process once.
pub fn run_t3(
    cfg: &T3Config,
    registry: &Registry,
    store: &dyn Store,
    clock: &Clock,
    out_dir: &std::path::Path,
) -> Result<T3Report, T3Error> {
    let loader = UnitLoader::new(registry, store);
    let mut units = Vec::new();
    let mut problems = Vec::new();
    for (i, m) in cfg.units.iter().enumerate() {
        match loader.load(&m.unit, UnitKind::T3, &m.config) {
            Ok(l) => units.push((m, l)),
            Err(e) => problems.push(format!("units[{i}]: {e}")),
        }
    }
    // a channel no stock has ever been in is a typo, unless the store is still empty
    let any = store.select_stocks(&StockSelection {
        limit: Some(1),
        ..Default::default()
    })?;
    if !any.is_empty() {
        let named = cfg
            .units
            .iter()
            .filter_map(|m| m.channel.clone())
            .chain(cfg.select.channel_any.iter().cloned())
            .chain(cfg.select.channel_all.iter().cloned());
        for c in named.collect::<BTreeSet<_>>() {
            let q = StockSelection {
                channel_any: vec![c.clone()],
                limit: Some(1),
                ..Default::default()
            };
            if store.select_stocks(&q)?.is_empty() {
                problems.push(format!(
                    "unknown channel `{c}`: no stock in the store has ever been in it"
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(T3Error::Config(problems.join("\n")));
    }
    let now = clock.now();
    let started = std::time::Instant::now();
    let mut event = Event {
        run: 0,
        process: cfg.process.clone(),
        tier: Tier::T3,
        code: EventCode::RUNNING,
        start: now,
        duration: None,
        jobid: None,
        ret: None,
        owner: Some(crate::runs::current_owner(format!(
            "t3-{}",
            std::process::id()
        ))),
    };
    // a run of this process whose process died is run again under its id: its
    // T3 documents are replaced by the same ones and its journal entries are not
    // repeated, so the outcome is that of one uninterrupted run
    let run = crate::runs::open_run(store, &event, |_| Some(event.clone()))?.run;
    event.run = run;
    let query = selection(&cfg.select, store, now)?;
    let channels: Vec<String> = cfg
        .select
        .channel_any
        .iter()
        .chain(&cfg.select.channel_all)
        .cloned()
        .collect();
    let mut stocks = filter_by_t2(
        store,
        store.select_stocks(&query)?,
        &cfg.select.t2,
        &channels,
    )?;
    if let Some(n) = cfg.select.limit {
        stocks.truncate(n);
    }
    let mut report = T3Report {
        run,
        selected: stocks.len(),
        ..Default::default()
    };
    for (index, (m, loaded)) in units.into_iter().enumerate() {
        let UnitInstance::T3(unit) = &loaded.instance else {
            continue;
        };
        let mut views = Vec::new();
        for s in &stocks {
            if let Some(v) = project(store, *s, m.channel.as_deref(), &cfg.load)? {
                views.push(v);
            }
        }
        let ctx = T3Context {
            process: cfg.process.clone(),
            run,
            channel: m.channel.clone(),
            now,
            out_dir: out_dir.to_path_buf(),
        };
        let out = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            unit.process(&ctx, &views)
        })) {
            Ok(Ok(out)) => out,
            failed => {
                let message = match failed {
                    Ok(Err(e)) => e.message,
                    _ => "unit panicked".into(),
                };
                fail(store, cfg, run, now, &m.unit, message, &mut report)?;
                continue;
            }
        };
        let trace = loaded.checked.trace_id();
        let changes: Vec<StockChange> = out
            .updates
            .iter()
            .map(|u| StockChange {
                stock: u.stock,
                journal: vec![JournalRecord {
                    tier: Tier::T3,
                    ts: now,
                    run,
                    process: cfg.process.clone(),
                    channel: m.channel.iter().cloned().collect(),
                    unit: Some(m.unit.clone()),
                    doc: None,
                    action: JournalActionCode::T3_ADD_DOC,
                    code: u.journal.as_ref().and_then(|j| j.code),
                    tag: u
                        .journal
                        .as_ref()
                        .map(|j| j.tag.clone())
                        .unwrap_or_default(),
                    traceid: [("t3unit".to_string(), trace)].into(),
                    extra: u.journal.as_ref().and_then(|j| j.extra.clone()),
                }],
                add_tag: u.add_tag.clone(),
                remove_tag: u.remove_tag.clone(),
                add_name: u.add_name.clone(),
                bump_upd: None,
            })
            .collect();
        report.updates += store
            .update_stocks(&changes)?
            .into_iter()
            .filter(|x| *x)
            .count();
        if let Some(doc) = out.document {
            let code = doc.code.unwrap_or(DocumentCode::OK);
            let mut meta = MetaRecord::new(run, now, Tier::T3, code);
            meta.traceid.insert("t3unit".into(), trace);
            // the unit's position keeps two configurations of one unit apart
            let id = format!("{}-{}-{}-{}", cfg.process, run, index, m.unit);
            store.insert_t3(&T3Document {
                id: id.clone(),
                process: cfg.process.clone(),
                unit: m.unit.clone(),
                confid: Some(loaded.checked.hash),
                channel: m.channel.clone(),
                tag: doc.tag,
                code,
                meta,
                stock: views.iter().map(|v| v.id).collect(),
                datetime: now,
                body: doc.body.unwrap_or(json!(null)),
            })?;
            report.documents.push(id);
        }
    }
    event.code = if report.failed.is_empty() {
        EventCode::OK
    } else {
        EventCode::ERROR
    };
    event.duration = Some(started.elapsed().as_secs_f64());
    event.ret = serde_json::to_value(&report).ok();
    store.record_event(&event)?;
    Ok(report)
}

fn fail(
    store: &dyn Store,
    cfg: &T3Config,
    run: RunId,
    now: UnixTime,
    unit: &str,
    message: String,
    report: &mut T3Report,
) -> Result<(), StoreError> {
    store.insert_trouble(&TroubleRecord {
        ts: now,
        tier: Tier::T3,
        run,
        process: cfg.process.clone(),
        unit: Some(unit.to_string()),
        stock: None,
        doc: None,
        message: message.clone(),
        context: None,
    })?;
    report.failed.push((unit.to_string(), message));
    Ok(())
}
