//! `ampel digest`, `ampel explain`, `ampel event`, `ampel log`: the results digest,
//! where a document came from, the runs of processes and their log records.

use crate::args::RuntimeArgs;
use crate::output::{report, table, CommandError, Report};
use crate::uri::open_existing_store;
use ampel_core::digest::results_digest;
use ampel_interface::{
    Body, ConfigHash, DocumentCode, JournalActionCode, LinkId, RunId, StockId, Tier, TraceId,
    UnixTime,
};
use ampel_store::{EventQuery, Store};
use comfy_table::Table;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Print the results digest of the store.
pub fn digest(args: &RuntimeArgs) -> Result<(), CommandError> {
    let store = open_existing_store(&args.db)?;
    let d = results_digest(store.as_ref())?;
    report(args.json, &Digest(d))
}

/// Explain a T2 document: who made each version, with which unit version and
/// configuration, and every later journal entry about it.
pub fn explain(args: &RuntimeArgs, id: &str) -> Result<(), CommandError> {
    let store = open_existing_store(&args.db)?;
    let doc = store.get_t2(id)?.ok_or_else(|| {
        CommandError::Usage(format!(
            "no T2 document `{id}` (ids are shown by `ampel t2 show STOCK --json`)"
        ))
    })?;
    let config = match doc.config {
        Some(h) => store.get_config(h)?,
        None => None,
    };
    let events = store.events(&EventQuery::default())?;
    let mut history = Vec::new();
    for m in &doc.meta {
        let mut trace = BTreeMap::new();
        for (role, t) in &m.traceid {
            let rec = store.get_trace(*t)?;
            trace.insert(
                role.clone(),
                TraceShown {
                    id: *t,
                    unit: rec.as_ref().map(|r| r.unit.clone()),
                    version: rec.as_ref().map(|r| r.version.clone()),
                    digest: rec.as_ref().map(|r| r.digest.clone()),
                    config: rec.map(|r| r.config),
                },
            );
        }
        history.push(Made {
            run: m.run,
            tier: m.tier,
            code: m.code,
            ts: m.ts,
            process: events
                .iter()
                .find(|e| e.run == m.run)
                .map(|e| e.process.clone()),
            trace,
            body_index: m.body_index,
            extra: m.extra.clone(),
        });
    }
    let journal: Vec<Journal> = store
        .get_stock(doc.stock)?
        .map(|s| s.journal)
        .unwrap_or_default()
        .into_iter()
        .filter(|j| j.doc.as_deref() == Some(id))
        .map(|j| Journal {
            run: j.run,
            tier: j.tier,
            process: j.process,
            action: j.action,
            actions: crate::view::action_words(j.action),
            code: j.code,
            ts: j.ts,
        })
        .collect();
    let explained = Explained {
        id: doc.id.clone(),
        stock: doc.stock,
        unit: doc.unit.clone(),
        config_hash: doc.config,
        config,
        link: doc.link,
        kind: doc.col.as_str(),
        code: doc.code,
        channels: doc.channel.clone(),
        current_result: doc.current_result().cloned(),
        history,
        journal,
    };
    report(args.json, &explained)
}

/// A unit version as `explain` shows it.
#[derive(Serialize)]
struct TraceShown {
    id: TraceId,
    unit: Option<String>,
    version: Option<String>,
    digest: Option<String>,
    config: Option<Body>,
}

/// One version of a T2 document: the run that made it and with what.
#[derive(Serialize)]
struct Made {
    run: RunId,
    tier: Tier,
    code: DocumentCode,
    ts: UnixTime,
    process: Option<String>,
    trace: BTreeMap<String, TraceShown>,
    body_index: Option<usize>,
    extra: Option<Body>,
}

/// A journal entry about the document.
#[derive(Serialize)]
struct Journal {
    run: RunId,
    tier: Tier,
    process: String,
    action: JournalActionCode,
    /// The bits of `action` by name.
    actions: Vec<&'static str>,
    code: Option<DocumentCode>,
    ts: UnixTime,
}

/// What `ampel explain` prints.
#[derive(Serialize)]
struct Explained {
    id: String,
    stock: StockId,
    unit: String,
    config_hash: Option<ConfigHash>,
    config: Option<Body>,
    link: LinkId,
    kind: &'static str,
    code: DocumentCode,
    channels: BTreeSet<String>,
    current_result: Option<Body>,
    history: Vec<Made>,
    journal: Vec<Journal>,
}

impl Report for Explained {
    fn table(&self) -> Table {
        let mut t = table(&["", ""]);
        t.add_row([
            "document".to_string(),
            format!(
                "{} ({} on stock {}, link {})",
                self.id, self.unit, self.stock, self.link
            ),
        ]);
        t.add_row([
            "config".to_string(),
            format!(
                "{} {}",
                self.config_hash.map_or("-".into(), |h| h.to_string()),
                self.config
                    .as_ref()
                    .map_or("null".into(), |c| c.to_string())
            ),
        ]);
        t.add_row(["code now".to_string(), self.code.to_string()]);
        for h in &self.history {
            let who = h.trace.get("t2unit").map_or(String::new(), |u| {
                format!(
                    " by {} {} (code {})",
                    u.unit.as_deref().unwrap_or("?"),
                    u.version.as_deref().unwrap_or("?"),
                    u.digest.as_deref().unwrap_or("?")
                )
            });
            t.add_row([
                format!("run {} (tier {})", h.run, h.tier),
                format!(
                    "process {}, code {}{who}",
                    h.process.as_deref().unwrap_or("?"),
                    h.code
                ),
            ]);
        }
        for j in &self.journal {
            t.add_row([
                format!("journal run {}", j.run),
                format!(
                    "{} {} (action {}) code {}",
                    j.process,
                    j.actions.join(" "),
                    j.action.0,
                    j.code.map_or("-".into(), |c| c.to_string())
                ),
            ]);
        }
        t
    }
}

/// List process runs.
pub fn event(
    args: &RuntimeArgs,
    process: Option<String>,
    last: Option<usize>,
) -> Result<(), CommandError> {
    let store: Box<dyn Store> = open_existing_store(&args.db)?;
    let events = store.events(&EventQuery {
        process,
        last,
        ..Default::default()
    })?;
    // a run still RUNNING whose process is gone (killed, crashed) is shown as
    // such; the next run of its process takes it over
    let died: Vec<bool> = events.iter().map(ampel_core::runs::died).collect();
    let runs = Runs(
        events
            .into_iter()
            .zip(died)
            .map(|(event, died)| Run { event, died })
            .collect(),
    );
    report(args.json, &runs)
}

/// A process run, and whether its process died while it was running.
#[derive(Serialize)]
struct Run {
    #[serde(flatten)]
    event: ampel_interface::Event,
    died: bool,
}

/// What `ampel event` prints.
#[derive(Serialize)]
#[serde(transparent)]
struct Runs(Vec<Run>);

impl Report for Runs {
    fn table(&self) -> Table {
        let mut t = table(&["run", "process", "tier", "code", "duration [s]"]);
        for Run { event: e, died } in &self.0 {
            let code = if *died {
                "DIED (process gone; its next run takes it over)".to_string()
            } else {
                e.code.to_string()
            };
            t.add_row([
                e.run.to_string(),
                e.process.clone(),
                e.tier.to_string(),
                code,
                e.duration.map_or("-".into(), |d| format!("{d:.3}")),
            ]);
        }
        t
    }
}

/// Query log records.
pub fn log(
    args: &RuntimeArgs,
    run: Option<i64>,
    stock: Option<i64>,
    channel: Option<String>,
    errors: bool,
    limit: usize,
) -> Result<(), CommandError> {
    let store = open_existing_store(&args.db)?;
    let q = ampel_store::LogQuery {
        run,
        stock,
        channel,
        flag: errors.then_some(ampel_interface::LogFlag::ERROR),
        limit: Some(limit),
    };
    let logs = store.logs(&q)?;
    report(args.json, &Logs(logs))
}

/// What `ampel log` prints.
#[derive(Serialize)]
#[serde(transparent)]
struct Logs(Vec<ampel_interface::LogRecord>);

impl Report for Logs {
    fn table(&self) -> Table {
        let mut t = table(&["run", "stock", "channel", "unit", "message"]);
        for l in &self.0 {
            t.add_row([
                l.run.to_string(),
                l.stock.map_or("-".into(), |s| s.to_string()),
                l.channel.clone().unwrap_or_else(|| "-".into()),
                l.unit.clone().unwrap_or_else(|| "-".into()),
                l.msg.clone(),
            ]);
        }
        t
    }
}

/// What `ampel digest` prints.
#[derive(Serialize)]
#[serde(transparent)]
struct Digest(ampel_core::digest::ResultsDigest);

impl Report for Digest {
    fn table(&self) -> Table {
        let mut t = table(&["collection", "documents", "digest"]);
        for (name, (n, h)) in &self.0.collections {
            t.add_row([name.clone(), n.to_string(), h.clone()]);
        }
        t.add_row(["(all)".into(), String::new(), self.0.digest.clone()]);
        t
    }
}
