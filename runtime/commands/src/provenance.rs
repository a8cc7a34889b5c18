//! `ampel digest`, `ampel explain`, `ampel event`, `ampel log`: the results digest,
//! where a document came from, the runs of processes and their log records.

use crate::args::RuntimeArgs;
use crate::output::{emit, table, CommandError};
use crate::uri::open_existing_store;
use ampel_core::digest::results_digest;
use ampel_store::{EventQuery, Store};
use serde_json::{json, Value};

/// Print the results digest of the store.
pub fn digest(args: &RuntimeArgs) -> Result<(), CommandError> {
    let store = open_existing_store(&args.db)?;
    let d = results_digest(store.as_ref())?;
    let v = serde_json::to_value(&d).unwrap_or(Value::Null);
    emit(args.json, &v, || {
        let mut t = table(&["collection", "documents", "digest"]);
        for (name, (n, h)) in &d.collections {
            t.add_row([name.clone(), n.to_string(), h.clone()]);
        }
        t.add_row(["(all)".into(), String::new(), d.digest.clone()]);
        t
    })
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
    let mut history = Vec::new();
    for m in &doc.meta {
        let event = store
            .events(&EventQuery::default())?
            .into_iter()
            .find(|e| e.run == m.run);
        let mut traces = serde_json::Map::new();
        for (role, t) in &m.traceid {
            let rec = store.get_trace(*t)?;
            traces.insert(role.clone(), json!({ "id": t, "unit": rec.as_ref().map(|r| r.unit.clone()),
                "version": rec.as_ref().map(|r| r.version.clone()), "digest": rec.as_ref().map(|r| r.digest.clone()),
                "config": rec.map(|r| r.config) }));
        }
        history.push(json!({
            "run": m.run, "tier": m.tier, "code": m.code, "ts": m.ts,
            "process": event.as_ref().map(|e| e.process.clone()),
            "trace": traces, "body_index": m.body_index, "extra": m.extra,
        }));
    }
    let journal: Vec<Value> = store
        .get_stock(doc.stock)?
        .map(|s| s.journal)
        .unwrap_or_default()
        .into_iter()
        .filter(|j| j.doc.as_deref() == Some(id))
        .map(|j| json!({ "run": j.run, "tier": j.tier, "process": j.process, "action": j.action, "code": j.code, "ts": j.ts }))
        .collect();
    let v = json!({
        "id": doc.id, "stock": doc.stock, "unit": doc.unit, "config_hash": doc.config, "config": config,
        "link": doc.link, "kind": doc.col.as_str(), "code": doc.code, "channels": doc.channel,
        "current_result": doc.current_result(), "history": history, "journal": journal,
    });
    emit(args.json, &v, || {
        let mut t = table(&["", ""]);
        t.add_row([
            "document".to_string(),
            format!(
                "{} ({} on stock {}, link {})",
                doc.id, doc.unit, doc.stock, doc.link
            ),
        ]);
        t.add_row([
            "config".to_string(),
            format!(
                "{} {}",
                doc.config.map_or("-".into(), |h| h.to_string()),
                v["config"]
            ),
        ]);
        t.add_row(["code now".to_string(), doc.code.to_string()]);
        for h in &history {
            let unit = h["trace"]["t2unit"].clone();
            let who = if unit.is_null() {
                String::new()
            } else {
                format!(
                    " by {} {} (code {})",
                    unit["unit"].as_str().unwrap_or("?"),
                    unit["version"].as_str().unwrap_or("?"),
                    unit["digest"].as_str().unwrap_or("?")
                )
            };
            t.add_row([
                format!("run {} (tier {})", h["run"], h["tier"]),
                format!(
                    "process {}, code {}{who}",
                    h["process"].as_str().unwrap_or("?"),
                    h["code"]
                ),
            ]);
        }
        for j in &journal {
            t.add_row([
                format!("journal run {}", j["run"]),
                format!("{} action {} code {}", j["process"], j["action"], j["code"]),
            ]);
        }
        t
    })
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
    let v = Value::Array(
        events
            .iter()
            .zip(&died)
            .map(|(e, d)| {
                let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
                v["died"] = Value::Bool(*d);
                v
            })
            .collect(),
    );
    emit(args.json, &v, || {
        let mut t = table(&["run", "process", "tier", "code", "duration [s]"]);
        for (e, d) in events.iter().zip(&died) {
            let code = if *d {
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
    })
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
    let v = serde_json::to_value(&logs).unwrap_or(Value::Null);
    emit(args.json, &v, || {
        let mut t = table(&["run", "stock", "channel", "unit", "message"]);
        for l in &logs {
            t.add_row([
                l.run.to_string(),
                l.stock.map_or("-".into(), |s| s.to_string()),
                l.channel.clone().unwrap_or_else(|| "-".into()),
                l.unit.clone().unwrap_or_else(|| "-".into()),
                l.msg.clone(),
            ]);
        }
        t
    })
}
