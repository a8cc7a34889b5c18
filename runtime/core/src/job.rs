//! Jobs: archival reprocessing as a list of tasks run in order against a fresh,
//! isolated store, ending with the results digest.
//!
//! ```toml
//! name = "ztf-demo"
//! [[task]]
//! kind = "t0"
//! manifest = "ztf-demo.toml"           # its T0 process; relative to the job file
//! source = ["../tests/data/alerts/ztf"]
//! [[task]]
//! kind = "t2"                          # until no ticket is left
//! [[task]]
//! kind = "t3"
//! process = "report"
//! select = { channel_any = ["DEMO"] }
//! units = [{ unit = "T3ReportExporter", channel = "DEMO" }]
//! ```
//! In a job the clock follows the archive rule (`clock::ClockMode`: alert times in
//! T0, ingestion times in T2, the store's data time in T3), T2 runs one worker, and
//! inputs are read in a fixed order, so the same job on the same inputs gives the
//! same documents and the same digest.
//!
//! A job resumes: run again on the store a killed run of it left (a store whose
//! every event belongs to this job's tasks), it skips the tasks that finished,
//! takes over the task whose process died where its last batch ended, and gives
//! the digest of an uninterrupted run.

use crate::clock::ClockMode;
use crate::digest::{results_digest, ResultsDigest};
use crate::progress::Progress;
use crate::t0::{T0Config, T0Processor, T0Stats};
use crate::t2::{T2Stats, T2Worker, T2WorkerConfig};
use ampel_interface::{EventCode, Registry};
use ampel_store::Store;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// A job file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobConfig {
    /// Job name.
    pub name: String,
    /// Tasks, run in order.
    #[serde(rename = "task")]
    pub tasks: Vec<Task>,
}

/// One task.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Task {
    /// T0 over archives.
    T0 {
        /// The instance manifest whose T0 process runs, relative to the job file.
        #[serde(default)]
        manifest: Option<PathBuf>,
        /// Or a T0 process as `ampel manifest expand --part t0` writes it (JSON or
        /// TOML), relative to the job file.
        #[serde(default)]
        config: Option<PathBuf>,
        /// Alert sources, relative to the job file.
        source: Vec<PathBuf>,
        /// Stop after this many alerts.
        #[serde(default)]
        iter_max: Option<usize>,
    },
    /// A T3 process, configured inline (`process`, `select`, `load`, `units`).
    T3(Box<crate::t3::T3Config>),
    /// T2 until no ticket is left.
    T2 {
        /// Only these units.
        #[serde(default)]
        units: Vec<String>,
        /// Attempts before TOO_MANY_TRIALS.
        #[serde(default = "default_max_try")]
        max_try: usize,
    },
}

fn default_max_try() -> usize {
    5
}

/// Why a job failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The job or a task config is unusable.
    #[error("{0}")]
    Config(String),
    /// The store is not fresh.
    #[error("jobs run against a fresh, empty store; {0} already holds documents")]
    NotFresh(String),
    /// A task failed.
    #[error("task {index} ({kind}): {message}")]
    Task {
        /// 1-based index.
        index: usize,
        /// Task kind.
        kind: &'static str,
        /// What failed.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] ampel_store::StoreError),
}

/// What a task did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum TaskReport {
    /// T0 counts.
    T0(T0Stats),
    /// T2 counts.
    T2(T2Stats),
    /// T3 outcome.
    T3(crate::t3::T3Report),
}

/// What a job did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct JobReport {
    /// Job name.
    pub name: String,
    /// Per task.
    pub tasks: Vec<TaskReport>,
    /// The results digest.
    pub digest: ResultsDigest,
}

/// Read a job file.
pub fn load_job(path: &Path) -> Result<JobConfig, JobError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| JobError::Config(format!("cannot read job {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| toml_error(path, &text, &e))
}

/// A TOML error as `file:line:column: message`.
fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> JobError {
    let at = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
    JobError::Config(format!(
        "{}:{}:{}: {}",
        path.display(),
        at.0,
        at.1,
        e.message()
    ))
}

/// Line and column (1-based) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    (
        before.matches('\n').count() + 1,
        before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
    )
}

/// Read a T0 config (TOML, or JSON by extension), naming file:line:column on errors.
pub fn load_t0_config(path: &Path) -> Result<T0Config, JobError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| JobError::Config(format!("cannot read T0 config {}: {e}", path.display())))?;
    if toml::from_str::<toml::Table>(&text).is_ok_and(|t| t.contains_key("instance")) {
        return Err(JobError::Config(format!(
            "{} is an instance manifest, not an expanded T0 process: give it as --manifest (in a job file: manifest = ...)",
            path.display()
        )));
    }
    if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).map_err(|e| {
            JobError::Config(format!(
                "{}:{}:{}: {e}",
                path.display(),
                e.line(),
                e.column()
            ))
        })
    } else {
        toml::from_str(&text).map_err(|e| toml_error(path, &text, &e))
    }
}

/// A task with its files read: what [`run_plan`] executes. Job files and instance
/// configurations both become a list of these.
#[derive(Debug, Clone, PartialEq)]
pub enum PlannedTask {
    /// T0 over archives.
    T0 {
        /// The T0 process.
        config: Box<T0Config>,
        /// Alert sources, read in this order.
        sources: Vec<PathBuf>,
    },
    /// T2 until no ticket is left.
    T2 {
        /// Only these units (all if empty).
        units: Vec<String>,
        /// Attempts before TOO_MANY_TRIALS.
        max_try: usize,
    },
    /// A T3 process.
    T3(Box<crate::t3::T3Config>),
}

impl PlannedTask {
    /// `t0`, `t2` or `t3`.
    pub fn kind(&self) -> &'static str {
        match self {
            PlannedTask::T0 { .. } => "t0",
            PlannedTask::T2 { .. } => "t2",
            PlannedTask::T3(_) => "t3",
        }
    }
}

/// Reads the T0 process of an instance manifest (the manifest format lives in a
/// crate above this one).
pub type ManifestT0<'a> = &'a dyn Fn(&Path) -> Result<T0Config, String>;

/// Read the files a job names (manifests or T0 configs; sources relative to
/// `base`): each task planned, or why it cannot be.
pub fn plan(
    job: &JobConfig,
    base: &Path,
    manifests: ManifestT0,
) -> Vec<Result<PlannedTask, String>> {
    job.tasks
        .iter()
        .map(|task| {
            Ok(match task {
                Task::T0 {
                    manifest,
                    config,
                    source,
                    iter_max,
                } => {
                    let mut cfg = match (manifest, config) {
                        (Some(m), None) => manifests(&base.join(m))?,
                        (None, Some(c)) => load_t0_config(&base.join(c)).map_err(|e| e.to_string())?,
                        _ => {
                            return Err("give exactly one of `manifest` (an instance manifest) or `config` (an expanded T0 process)".to_string())
                        }
                    };
                    if iter_max.is_some() {
                        cfg.iter_max = *iter_max;
                    }
                    PlannedTask::T0 {
                        config: Box::new(cfg),
                        sources: source.iter().map(|s| base.join(s)).collect(),
                    }
                }
                Task::T2 { units, max_try } => PlannedTask::T2 {
                    units: units.clone(),
                    max_try: *max_try,
                },
                Task::T3(cfg) => PlannedTask::T3(cfg.clone()),
            })
        })
        .collect()
}

/// Run a job whose file lives in `base` against `store`, which must be empty; T3
/// units write their files under `out_dir`.
pub fn run_job(
    job: &JobConfig,
    base: &Path,
    registry: &Registry,
    store: &dyn Store,
    out_dir: &Path,
    progress: &dyn Progress,
    manifests: ManifestT0,
) -> Result<JobReport, JobError> {
    let planned = plan(job, base, manifests);
    if planned.iter().any(Result::is_err) {
        // the tasks that cannot be read, and the problems of those that can: all at once
        let kind = |t: &Task| match t {
            Task::T0 { .. } => "t0",
            Task::T2 { .. } => "t2",
            Task::T3(_) => "t3",
        };
        let problems: Vec<String> = planned
            .iter()
            .zip(&job.tasks)
            .enumerate()
            .flat_map(|(i, (p, t))| {
                let found = match p {
                    Err(e) => vec![e.clone()],
                    Ok(task) => task_problems(task, registry),
                };
                found
                    .into_iter()
                    .map(move |e| format!("task {} ({}): {e}", i + 1, kind(t)))
            })
            .collect();
        return Err(JobError::Config(problems.join("\n")));
    }
    run_plan(
        &job.name,
        &planned.into_iter().flatten().collect::<Vec<_>>(),
        registry,
        store,
        out_dir,
        progress,
    )
}

/// What would make `task` fail for its configuration or inputs, found without
/// running it: missing sources, T0 problems and unit configs, unknown T2 and T3
/// units.
fn task_problems(task: &PlannedTask, registry: &Registry) -> Vec<String> {
    match task {
        PlannedTask::T0 { config, sources } => {
            let mut out = ampel_avro::missing_sources(sources);
            out.extend(config.check(registry).err().unwrap_or_default());
            out
        }
        PlannedTask::T2 { units, .. } => units
            .iter()
            .filter_map(|u| registry.get(u).err().map(|e| e.to_string()))
            .collect(),
        PlannedTask::T3(cfg) => {
            let reqs: Vec<crate::UnitRequest> = cfg
                .units
                .iter()
                .enumerate()
                .map(|(i, u)| crate::UnitRequest {
                    origin: format!("units[{i}]"),
                    unit: u.unit.clone(),
                    config: u.config.clone(),
                    kind: Some(ampel_interface::UnitKind::T3),
                })
                .collect();
            crate::check_units(registry, &reqs)
                .err()
                .unwrap_or_default()
        }
    }
}

/// Run planned tasks in order against `store`, which must be empty, with the data
/// clock; process names are `<name>#<task number>`. Each task is a step of
/// `progress` (alerts read, tickets done).
pub fn run_plan(
    name: &str,
    tasks: &[PlannedTask],
    registry: &Registry,
    store: &dyn Store,
    out_dir: &Path,
    progress: &dyn Progress,
) -> Result<JobReport, JobError> {
    // every problem of every task at once, before the store is touched
    let problems: Vec<String> = tasks
        .iter()
        .enumerate()
        .flat_map(|(i, task)| {
            task_problems(task, registry)
                .into_iter()
                .map(move |p| format!("task {} ({}): {p}", i + 1, task.kind()))
        })
        .collect();
    if !problems.is_empty() {
        return Err(JobError::Config(problems.join("\n")));
    }
    let info = store.info()?;
    // the process name of each task's runs: `NAME#k`, a T3 task's own
    let process = |i: usize| match &tasks[i] {
        PlannedTask::T3(cfg) => cfg.process.clone(),
        _ => format!("{name}#{}", i + 1),
    };
    let mut finished = std::collections::BTreeMap::new();
    if info.counts.values().any(|n| *n > 0) {
        // a store a killed run of this job left is resumed; anything else is not
        // this job's
        let ours: BTreeSet<String> = (0..tasks.len()).map(process).collect();
        let events = store.events(&ampel_store::EventQuery::default())?;
        if events.is_empty() || events.iter().any(|e| !ours.contains(&e.process)) {
            return Err(JobError::NotFresh(info.location));
        }
        for e in events.into_iter().filter(|e| e.code == EventCode::OK) {
            finished.insert(e.process.clone(), e);
        }
    }
    let done = |i: usize| finished.get(&process(i)).and_then(|e| e.ret.clone());
    let mut reports = Vec::new();
    for (i, task) in tasks.iter().enumerate() {
        let fail = |message: String| JobError::Task {
            index: i + 1,
            kind: task.kind(),
            message,
        };
        let step = format!("task {}/{} ({})", i + 1, tasks.len(), task.kind());
        // a T2 or T3 task that finished in an earlier, killed run of this job is
        // not run again: its report comes from its event (T0 decides for itself)
        if let (PlannedTask::T2 { .. } | PlannedTask::T3(_), Some(ret)) = (task, done(i)) {
            let bad = |e: serde_json::Error| fail(format!("its finished run's report: {e}"));
            reports.push(match task {
                PlannedTask::T3(_) => TaskReport::T3(serde_json::from_value(ret).map_err(bad)?),
                _ => TaskReport::T2(serde_json::from_value(ret).map_err(bad)?),
            });
            continue;
        }
        match task {
            PlannedTask::T0 { config, sources } => {
                let mut cfg = (**config).clone();
                cfg.process = process(i);
                // a finished task is skipped, one whose process died is resumed
                let key = crate::t0::inputs_key(&cfg, sources);
                let clock = ClockMode::Archive.t0_clock();
                let t0 = T0Processor::open(cfg, registry, store, &clock, Some(key), &mut || {})
                    .map_err(|e| fail(e.to_string()))?;
                let opts = crate::t0::DriveOptions {
                    step: step.clone(),
                    ..Default::default()
                };
                // the run's event is ended, failed or not, before the job fails
                let driven = crate::t0::drive_archive(t0, sources, &opts, progress)
                    .map_err(|e| fail(e.to_string()))?;
                if let Some(e) = driven.stopped {
                    return Err(fail(e.to_string()));
                }
                reports.push(TaskReport::T0(driven.stats));
            }
            PlannedTask::T3(cfg) => {
                progress.start(&step, "units run", Some(cfg.units.len() as u64));
                let clock = ClockMode::Archive.t3_clock(store)?;
                let report = crate::t3::run_t3(cfg, registry, store, &clock, out_dir)
                    .map_err(|e| fail(e.to_string()))?;
                progress.set(cfg.units.len() as u64);
                progress.finish();
                if !report.failed.is_empty() {
                    let units: Vec<String> = report
                        .failed
                        .iter()
                        .map(|(u, m)| format!("{u}: {m}"))
                        .collect();
                    return Err(fail(format!("units failed: {}", units.join("; "))));
                }
                reports.push(TaskReport::T3(report));
            }
            PlannedTask::T2 { units, max_try } => {
                let cfg = T2WorkerConfig {
                    process: process(i),
                    owner: format!("job-{name}"),
                    units: (!units.is_empty()).then(|| units.clone()),
                    max_try: *max_try,
                    backoff_base: 0.01,
                    data_time: true,
                    ..T2WorkerConfig::default()
                };
                let mut w = T2Worker::new(cfg, registry, store).map_err(|e| fail(e.to_string()))?;
                w.set_progress(progress);
                progress.start(&step, "tickets done", None);
                let ran = w.run(true, &AtomicBool::new(false));
                progress.finish();
                ran.map_err(|e| fail(e.to_string()))?;
                reports.push(TaskReport::T2(w.finish().map_err(|e| fail(e.to_string()))?));
            }
        }
    }
    Ok(JobReport {
        name: name.to_string(),
        tasks: reports,
        digest: results_digest(store)?,
    })
}
