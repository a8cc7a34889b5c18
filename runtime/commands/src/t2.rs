//! `ampel t2 ...`: run workers, show results, reset tickets, list outdated results.

use crate::args::{stock_of, RuntimeArgs};
use crate::output::{report, table, CommandError, Report};
use crate::uri::{open_existing_store, open_store_for_t2_workers};
use ampel_core::t2::{T2Worker, T2WorkerConfig};
use ampel_core::ClockMode;
use ampel_interface::{DocumentCode, Registry, T2Document};
use ampel_store::{ResetMode, T2Filter};
use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::Value;
use std::sync::atomic::AtomicBool;

/// `ampel t2 ...`
#[derive(Debug, Clone, Subcommand)]
pub enum T2Command {
    /// Process T2 tickets with leased claims; several workers (and processes) cooperate.
    ///
    /// Example: ampel t2 run --workers 2 --until-empty
    Run(RunArgs),
    /// Show the T2 documents of a stock: unit, link, code, channels, current result.
    Show {
        /// Stock id (or a ZTF name such as ZTF18abcdefg).
        stock: String,
    },
    /// List T2 documents: id, stock, unit, link, code (filters combine).
    List {
        /// Only this unit.
        #[arg(long)]
        unit: Option<String>,
        /// Only this code.
        #[arg(long, allow_negative_numbers = true)]
        code: Option<i32>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Put matching tickets back in the queue (code RERUN_REQUESTED, or NEW with --with-body).
    Reset(SelectArgs),
    /// List results made by another unit version, code or config than this binary's.
    Outdated {
        /// Also put the outdated tickets back in the queue (results are kept; a new
        /// result is appended and becomes current).
        #[arg(long)]
        reset: bool,
    },
}

/// `ampel t2 run` options.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Worker threads in this process (each with its own store connection).
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Stop when no ticket is left to process (otherwise poll until SIGTERM or
    /// Ctrl-C, which stop the workers after their batch in hand).
    #[arg(long)]
    pub until_empty: bool,
    /// Only these units.
    #[arg(long = "unit")]
    pub units: Vec<String>,
    /// Only the T2 units an instance manifest's channels request (checked against
    /// this binary); with --unit, those of them.
    #[arg(long)]
    pub manifest: Option<std::path::PathBuf>,
    /// Lease length in seconds (renewed while a unit runs).
    #[arg(long, default_value_t = 60.0)]
    pub lease: f64,
    /// Attempts before TOO_MANY_TRIALS.
    #[arg(long, default_value_t = 5)]
    pub max_try: usize,
    /// Base of the jittered retry backoff, in seconds.
    #[arg(long, default_value_t = 1.0)]
    pub backoff: f64,
    /// Tickets claimed (and their results written) at a time. Results are written
    /// per batch: a worker killed mid-batch leaves the batch to the next worker.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch: u32,
}

/// Which tickets `reset` touches.
#[derive(Debug, Clone, Args)]
pub struct SelectArgs {
    /// Only this unit.
    #[arg(long)]
    pub unit: Option<String>,
    /// Only this stock (an id, or an object name such as ZTF20aabadtj).
    #[arg(long)]
    pub stock: Option<String>,
    /// Only tickets with this code (e.g. -4 for EXCEPTION, -7 for TOO_MANY_TRIALS).
    #[arg(long, allow_negative_numbers = true)]
    pub code: Option<i32>,
    /// Also drop the stored results.
    #[arg(long)]
    pub with_body: bool,
}

/// Run a `t2` command.
pub fn run(registry: &Registry, args: &RuntimeArgs, cmd: &T2Command) -> Result<(), CommandError> {
    match cmd {
        T2Command::Run(r) => run_workers(registry, args, r),
        T2Command::Show { stock } => show(args, stock_of(registry, stock)?),
        T2Command::Reset(sel) => {
            let stock = sel
                .stock
                .as_deref()
                .map(|s| stock_of(registry, s))
                .transpose()?;
            let store = open_existing_store(&args.db)?;
            let filter = T2Filter {
                stock,
                unit: sel.unit.clone().map(|u| vec![u]),
                code: sel.code.map(|c| vec![DocumentCode(c)]),
                ..Default::default()
            };
            let (code, mode) = if sel.with_body {
                (DocumentCode::NEW, ResetMode::CodeAndBody)
            } else {
                (DocumentCode::RERUN_REQUESTED, ResetMode::CodeOnly)
            };
            let n = store.reset_t2(&filter, code, mode)?;
            report(args.json, &Reset { reset: n, to: code })
        }
        T2Command::Outdated { reset } => outdated(registry, args, *reset),
        T2Command::List { unit, code, limit } => {
            let store = open_existing_store(&args.db)?;
            let filter = T2Filter {
                unit: unit.clone().map(|u| vec![u]),
                code: code.map(|c| vec![DocumentCode(c)]),
                ..Default::default()
            };
            let docs: Vec<T2Document> = store.find_t2(&filter)?.into_iter().take(*limit).collect();
            report(
                args.json,
                &Listed(
                    docs.into_iter()
                        .map(|d| Row {
                            id: d.id,
                            stock: d.stock,
                            unit: d.unit,
                            link: d.link,
                            code: d.code,
                        })
                        .collect(),
                ),
            )
        }
    }
}

fn run_workers(registry: &Registry, args: &RuntimeArgs, r: &RunArgs) -> Result<(), CommandError> {
    let mut units = r.units.clone();
    if let Some(m) = &r.manifest {
        let requested = crate::args::manifest(registry, m)?.t0.t2_units();
        if let Some(u) = units.iter().find(|u| !requested.contains(*u)) {
            return Err(CommandError::Usage(format!(
                "--unit {u}: no channel of {} requests it (its T2 units: {})",
                m.display(),
                requested.iter().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        if requested.is_empty() {
            return Err(CommandError::Usage(format!(
                "no channel of {} requests a T2 unit",
                m.display()
            )));
        }
        if units.is_empty() {
            units = requested.into_iter().collect();
        }
    }
    // a worker limited to a tied unit but not to what it depends on would wait
    // for those results forever
    for u in &units {
        let deps = ampel_core::instance::tied_dependencies(registry, u, &serde_json::Value::Null);
        if let Some(d) = deps.iter().find(|d| !units.contains(d)) {
            return Err(CommandError::Usage(format!(
                "--unit {u} depends on the results of {d}: add --unit {d} (a worker limited to {u} would wait for them forever)"
            )));
        }
    }
    let r = &RunArgs { units, ..r.clone() };
    // a polling worker stops cleanly on SIGTERM/Ctrl-C after its batch in hand
    let stop = if r.until_empty {
        std::sync::Arc::new(AtomicBool::new(false))
    } else {
        crate::stop_on_signals()?
    };
    let stop = stop.as_ref();
    let base = T2WorkerConfig::default();
    let results: Vec<Result<ampel_core::t2::T2Stats, CommandError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..r.workers.max(1))
            .map(|i| {
                let cfg = T2WorkerConfig {
                    owner: format!("{}-{i}", base.owner),
                    lease_seconds: r.lease,
                    max_try: r.max_try,
                    units: (!r.units.is_empty()).then(|| r.units.clone()),
                    backoff_base: r.backoff,
                    data_time: args.clock_mode(ClockMode::Archive).t2_data_time(),
                    batch: r.batch as usize,
                    ..base.clone()
                };
                s.spawn(move || -> Result<_, CommandError> {
                    let store = open_store_for_t2_workers(&args.db)?;
                    let mut w = T2Worker::new(cfg, registry, store.as_ref()).map_err(t2_err)?;
                    w.run(r.until_empty, stop).map_err(t2_err)?;
                    w.finish().map_err(t2_err)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(CommandError::Usage("a worker panicked".into())))
            })
            .collect()
    });
    let mut total = ampel_core::t2::T2Stats::default();
    for r in results {
        let s = r?;
        total.processed += s.processed;
        total.waiting += s.waiting;
        total.too_many_trials += s.too_many_trials;
        total.lease_lost += s.lease_lost;
        for (k, v) in s.ok {
            *total.ok.entry(k).or_default() += v;
        }
        for (k, v) in s.failed {
            *total.failed.entry(k).or_default() += v;
        }
    }
    report(args.json, &Worked(total.clone()))?;
    let failed: usize = total.failed.values().sum();
    if failed == 0 && total.too_many_trials == 0 {
        return Ok(());
    }
    let units: Vec<String> = total
        .failed
        .iter()
        .map(|(u, n)| format!("{u}: {n}"))
        .collect();
    Err(CommandError::Failed(format!(
        "{failed} of {} ticket(s) failed ({}) and {} gave up after too many trials; \
         the reasons are in the trouble records: ampel log --errors",
        total.processed,
        units.join(", "),
        total.too_many_trials
    )))
}

fn t2_err(e: ampel_core::t2::T2Error) -> CommandError {
    match e {
        ampel_core::t2::T2Error::Store(s) => CommandError::Store(s),
    }
}

fn show(args: &RuntimeArgs, stock: i64) -> Result<(), CommandError> {
    let store = open_existing_store(&args.db)?;
    let docs = store.find_t2(&T2Filter {
        stock: Some(stock),
        ..Default::default()
    })?;
    report(
        args.json,
        &Shown(docs.into_iter().map(ShownDoc::of).collect()),
    )
}

fn outdated(registry: &Registry, args: &RuntimeArgs, reset: bool) -> Result<(), CommandError> {
    let store = open_existing_store(&args.db)?;
    let found = ampel_core::t2::outdated(registry, store.as_ref(), &T2Filter::default())?;
    let rows = Outdated(
        found
            .iter()
            .map(|o| OutdatedRow {
                id: o.doc.id.clone(),
                stock: o.doc.stock,
                unit: o.doc.unit.clone(),
                made_by: o
                    .made_by_trace
                    .as_ref()
                    .map(TraceShown::of)
                    .unwrap_or(TraceShown {
                        trace: o.made_by,
                        version: None,
                        digest: None,
                    }),
                current: o.current.as_ref().map(TraceShown::of),
            })
            .collect(),
    );
    if reset && !found.is_empty() {
        let ids: Vec<String> = found.iter().map(|o| o.doc.id.clone()).collect();
        let n = reset_ids(store.as_ref(), &ids)?;
        eprintln!("{n} outdated tickets put back in the queue (RERUN_REQUESTED)");
    }
    report(args.json, &rows)
}

/// A unit version as shown: trace id, version and code digest.
#[derive(Serialize)]
struct TraceShown {
    trace: ampel_interface::TraceId,
    version: Option<String>,
    digest: Option<String>,
}

impl TraceShown {
    fn of(t: &ampel_interface::TraceRecord) -> Self {
        TraceShown {
            trace: t.id,
            version: Some(t.version.clone()),
            digest: Some(t.digest.clone()),
        }
    }
    fn cell(&self) -> String {
        format!(
            "{} {}",
            self.version.as_deref().unwrap_or("?"),
            self.digest.as_deref().unwrap_or("?")
        )
    }
}

/// A result made by another version of its unit than this binary's.
#[derive(Serialize)]
struct OutdatedRow {
    id: String,
    stock: ampel_interface::StockId,
    unit: String,
    made_by: TraceShown,
    /// None: the unit is not in this binary.
    current: Option<TraceShown>,
}

/// What `ampel t2 outdated` prints.
#[derive(Serialize)]
#[serde(transparent)]
struct Outdated(Vec<OutdatedRow>);

impl Report for Outdated {
    fn table(&self) -> comfy_table::Table {
        let mut t = table(&[
            "ticket",
            "stock",
            "unit",
            "made by (version, digest)",
            "current (version, digest)",
        ]);
        for r in &self.0 {
            t.add_row([
                r.id.clone(),
                r.stock.to_string(),
                r.unit.clone(),
                r.made_by.cell(),
                r.current
                    .as_ref()
                    .map_or("unit not in this binary".into(), TraceShown::cell),
            ]);
        }
        t
    }
}

/// Reset exactly these tickets (by id) to RERUN_REQUESTED, keeping their results.
fn reset_ids(store: &dyn ampel_store::Store, ids: &[String]) -> Result<usize, CommandError> {
    let mut n = 0;
    for id in ids {
        if let Some(d) = store.get_t2(id)? {
            let filter = T2Filter {
                stock: Some(d.stock),
                unit: Some(vec![d.unit.clone()]),
                config: Some(d.config),
                link: Some(vec![d.link]),
                ..Default::default()
            };
            n += store.reset_t2(&filter, DocumentCode::RERUN_REQUESTED, ResetMode::CodeOnly)?;
        }
    }
    Ok(n)
}

/// What `ampel t2 reset` prints.
#[derive(Serialize)]
struct Reset {
    reset: usize,
    to: DocumentCode,
}

impl Report for Reset {
    fn table(&self) -> comfy_table::Table {
        let mut t = table(&["reset", "tickets"]);
        t.add_row([format!("{}", self.to), self.reset.to_string()]);
        t
    }
}

/// A T2 document as `ampel t2 list` shows it.
#[derive(Serialize)]
struct Row {
    id: String,
    stock: ampel_interface::StockId,
    unit: String,
    link: ampel_interface::LinkId,
    code: DocumentCode,
}

/// What `ampel t2 list` prints.
#[derive(Serialize)]
#[serde(transparent)]
struct Listed(Vec<Row>);

impl Report for Listed {
    fn table(&self) -> comfy_table::Table {
        let mut t = table(&["id", "stock", "unit", "link", "code"]);
        for d in &self.0 {
            t.add_row([
                d.id.clone(),
                d.stock.to_string(),
                d.unit.clone(),
                d.link.to_string(),
                d.code.to_string(),
            ]);
        }
        t
    }
}

/// What `ampel t2 run` prints: the workers' counts, summed.
#[derive(Serialize)]
#[serde(transparent)]
struct Worked(ampel_core::t2::T2Stats);

impl Report for Worked {
    fn table(&self) -> comfy_table::Table {
        let mut t = table(&["", "count"]);
        t.add_row([
            "tickets processed".to_string(),
            self.0.processed.to_string(),
        ]);
        for (u, n) in &self.0.ok {
            t.add_row([format!("{u}: results"), n.to_string()]);
        }
        for (u, n) in &self.0.failed {
            t.add_row([
                format!("{u}: failures (see trouble records)"),
                n.to_string(),
            ]);
        }
        t.add_row([
            "waited for dependencies".to_string(),
            self.0.waiting.to_string(),
        ]);
        t.add_row([
            "gave up (TOO_MANY_TRIALS)".to_string(),
            self.0.too_many_trials.to_string(),
        ]);
        t.add_row(["leases lost".to_string(), self.0.lease_lost.to_string()]);
        t
    }
}

/// A T2 document as `ampel t2 show` prints it: with its kind, trials and current
/// result.
#[derive(Serialize)]
struct ShownDoc {
    id: String,
    unit: String,
    config: Option<ampel_interface::ConfigHash>,
    link: ampel_interface::LinkId,
    kind: &'static str,
    code: DocumentCode,
    channel: std::collections::BTreeSet<String>,
    tag: std::collections::BTreeSet<String>,
    trials: usize,
    result: Option<Value>,
}

impl ShownDoc {
    fn of(d: T2Document) -> Self {
        ShownDoc {
            kind: d.col.as_str(),
            trials: d.trials(),
            result: d.current_result().cloned(),
            id: d.id,
            unit: d.unit,
            config: d.config,
            link: d.link,
            code: d.code,
            channel: d.channel,
            tag: d.tag,
        }
    }
}

/// What `ampel t2 show` prints: a stock's T2 documents.
#[derive(Serialize)]
#[serde(transparent)]
struct Shown(Vec<ShownDoc>);

impl Report for Shown {
    fn table(&self) -> comfy_table::Table {
        let mut t = table(&[
            "T2 document",
            "unit",
            "kind",
            "link",
            "code",
            "channels",
            "result (whole: ampel view, --json)",
        ]);
        for d in &self.0 {
            let mut result = d
                .result
                .as_ref()
                .map(|r| r.to_string())
                .unwrap_or_else(|| "-".into());
            if result.len() > 100 {
                result = format!(
                    "{}…",
                    &result[..result.char_indices().nth(100).map_or(result.len(), |c| c.0)]
                );
            }
            let channels: Vec<&str> = d.channel.iter().map(String::as_str).collect();
            t.add_row([
                d.id.clone(),
                d.unit.clone(),
                d.kind.into(),
                d.link.to_string(),
                d.code.to_string(),
                channels.join(","),
                result,
            ]);
        }
        t
    }
}
