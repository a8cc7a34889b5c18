//! `ampel job`, `ampel digest`, `ampel explain`, `ampel event`: archival jobs, the
//! results digest, and where a document came from.

use crate::cli::{emit, table, CommandError, RuntimeArgs};
use crate::uri::{open_existing_store, open_store};
use ampel_core::digest::results_digest;
use ampel_core::job::{load_job, run_job};
use ampel_interface::Registry;
use ampel_store::{EventQuery, Store};
use serde_json::{json, Value};
use std::path::Path;

/// Run a job file against the store (which must be empty) and print the digest.
pub fn job(
    registry: &Registry,
    args: &RuntimeArgs,
    file: &Path,
    out: &Path,
) -> Result<(), CommandError> {
    let job = load_job(file).map_err(|e| CommandError::Usage(e.to_string()))?;
    let store = open_store(&args.db)?;
    let base = file.parent().unwrap_or(Path::new("."));
    let report = run_job(
        &job,
        base,
        registry,
        store.as_ref(),
        out,
        &crate::progress::Reporter::from_env(),
    )
    .map_err(|e| CommandError::Usage(e.to_string()))?;
    let v = serde_json::to_value(&report).unwrap_or(Value::Null);
    emit(args.json, &v, || {
        let mut t = table(&["", ""]);
        t.add_row(["job".to_string(), report.name.clone()]);
        for (i, task) in v["tasks"].as_array().into_iter().flatten().enumerate() {
            t.add_row([
                format!("task {} ({})", i + 1, task["kind"].as_str().unwrap_or("?")),
                summary(task),
            ]);
        }
        for (name, (n, _)) in &report.digest.collections {
            t.add_row([format!("{name} documents"), n.to_string()]);
        }
        t.add_row(["results digest".to_string(), report.digest.digest.clone()]);
        t
    })
}

pub(crate) fn summary(task: &Value) -> String {
    match task["kind"].as_str() {
        Some("t0") => format!(
            "{} alerts, {} ingested, {} damaged inputs",
            task["alerts"],
            task["ingested"],
            task["damaged"].as_array().map_or(0, Vec::len)
        ),
        Some("t2") => format!("{} tickets processed", task["processed"]),
        Some("t3") => format!(
            "run {}: {} stocks selected, documents {}",
            task["run"], task["selected"], task["documents"]
        ),
        _ => task.to_string(),
    }
}

/// Run a T3 process once (wall clock).
pub fn t3(
    registry: &Registry,
    args: &RuntimeArgs,
    file: &Path,
    out: &Path,
) -> Result<(), CommandError> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        CommandError::Usage(format!("cannot read T3 config {}: {e}", file.display()))
    })?;
    let cfg: ampel_core::t3::T3Config = toml::from_str(&text).map_err(|e| {
        let at = e
            .span()
            .map(|s| ampel_core::job::line_col(&text, s.start))
            .unwrap_or((0, 0));
        CommandError::Usage(format!(
            "{}:{}:{}: {}",
            file.display(),
            at.0,
            at.1,
            e.message()
        ))
    })?;
    let store = open_existing_store(&args.db)?;
    let report = ampel_core::t3::run_t3(
        &cfg,
        registry,
        store.as_ref(),
        &ampel_core::Clock::Live,
        out,
    )
    .map_err(|e| CommandError::Usage(e.to_string()))?;
    let v = serde_json::to_value(&report).unwrap_or(Value::Null);
    emit(args.json, &v, || {
        let mut t = table(&["", ""]);
        t.add_row(["run".to_string(), report.run.to_string()]);
        t.add_row(["stocks selected".to_string(), report.selected.to_string()]);
        t.add_row(["documents".to_string(), report.documents.join(", ")]);
        t.add_row(["stock updates".to_string(), report.updates.to_string()]);
        for (u, m) in &report.failed {
            t.add_row([format!("FAILED {u}"), m.clone()]);
        }
        t
    })?;
    if report.failed.is_empty() {
        Ok(())
    } else {
        Err(CommandError::Failed(format!(
            "{} T3 unit(s) failed; the reasons are in the trouble records: ampel log --errors",
            report.failed.len()
        )))
    }
}

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

/// Run scheduled processes until SIGTERM or SIGINT.
pub fn serve(
    registry: &Registry,
    args: &RuntimeArgs,
    file: &Path,
    max_concurrent: usize,
    out: &Path,
) -> Result<(), CommandError> {
    let processes =
        ampel_core::serve::load_processes(file, registry).map_err(CommandError::Usage)?;
    let base = file.parent().unwrap_or(Path::new(".")).to_path_buf();
    serve_checked(
        &processes,
        registry,
        args,
        &file.display().to_string(),
        max_concurrent,
        out,
        (base, None),
    )
}

/// Serve checked processes from `origin` until SIGTERM or Ctrl-C; live T0 processes
/// read their T0 config relative to `live.0`, or use `live.1` (an instance's).
pub(crate) fn serve_checked(
    processes: &[ampel_core::serve::Process],
    registry: &Registry,
    args: &RuntimeArgs,
    origin: &str,
    max_concurrent: usize,
    out: &Path,
    live: (std::path::PathBuf, Option<ampel_core::t0::T0Config>),
) -> Result<(), CommandError> {
    // fail early on an unusable store
    drop(open_store(&args.db)?);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone()).map_err(CommandError::Io)?;
    }
    let active = processes.iter().filter(|p| p.cfg.active).count();
    eprintln!("serving {active} active process(es) from {origin} (max {max_concurrent} at once); SIGTERM or Ctrl-C stops");
    let db = args.db.clone();
    let open = move || open_store(&db).map_err(|e| e.to_string());
    let started = std::time::Instant::now();
    let log = move |msg: &str| eprintln!("[{:>9.3}s] {msg}", started.elapsed().as_secs_f64());
    let runner = crate::kafka::live_runner(registry, args.db.clone(), live.0, live.1);
    ampel_core::serve::serve(
        processes,
        registry,
        &open,
        Some(&runner),
        max_concurrent,
        &stop,
        out,
        &log,
    );
    eprintln!("stopped cleanly");
    Ok(())
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
