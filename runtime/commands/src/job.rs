//! `ampel job`: an archival job (T0 on archives, T2, T3) against an empty store,
//! ending with the results digest.

use crate::args::RuntimeArgs;
use crate::output::{report, table, CommandError, Report};
use crate::uri::open_store;
use ampel_core::job::{load_job, run_job, run_plan, JobReport, TaskReport};
use ampel_interface::Registry;
use comfy_table::Table;
use serde::Serialize;
use std::path::Path;

/// Run a job file against the store (which must be empty) and print the digest.
pub fn job(
    registry: &Registry,
    args: &RuntimeArgs,
    file: &Path,
    out: &Path,
) -> Result<(), CommandError> {
    args.archive_only("ampel job")?;
    let job = load_job(file).map_err(|e| CommandError::Usage(e.to_string()))?;
    let store = open_store(&args.db)?;
    let base = file.parent().unwrap_or(Path::new("."));
    let done = run_job(
        &job,
        base,
        registry,
        store.as_ref(),
        out,
        &crate::progress::Reporter::from_env(),
        &|m| ampel_manifest::t0_for_binary(m, registry),
    )
    .map_err(|e| CommandError::Usage(e.to_string()))?;
    report(args.json, &JobOutput::new(done, &args.db))
}

/// An instance manifest's archival job over `inputs` against the store (which must
/// be empty): T0, T2 until no ticket is left, each T3 process once.
pub fn manifest_job(
    registry: &Registry,
    args: &RuntimeArgs,
    manifest: &Path,
    inputs: &[std::path::PathBuf],
    out: &Path,
) -> Result<(), CommandError> {
    args.archive_only("ampel job")?;
    let cfg = crate::args::manifest(registry, manifest)?;
    let store = open_store(&args.db)?;
    let done = run_plan(
        &cfg.name,
        &cfg.archive_plan(inputs),
        registry,
        store.as_ref(),
        out,
        &crate::progress::Reporter::from_env(),
    )
    .map_err(|e| CommandError::Usage(e.to_string()))?;
    report(args.json, &JobOutput::new(done, &args.db))
}

/// What `ampel job` prints: the job's report (and, in the table, the command that
/// shows the results in the store it wrote).
#[derive(Serialize)]
struct JobOutput {
    #[serde(flatten)]
    report: JobReport,
    #[serde(skip)]
    explore: String,
}

impl JobOutput {
    fn new(report: JobReport, db: &str) -> Self {
        JobOutput {
            report,
            explore: explore_command(db),
        }
    }
}

/// The command that lists a store's results (credentials removed).
pub fn explore_command(db: &str) -> String {
    format!("ampel --db '{}' t2 list", crate::uri::redact(db))
}

impl Report for JobOutput {
    fn table(&self) -> Table {
        let mut t = table(&["", ""]);
        t.add_row(["job".to_string(), self.report.name.clone()]);
        add_tasks(&mut t, &self.report);
        t.add_row([
            "results digest".to_string(),
            self.report.digest.digest.clone(),
        ]);
        t.add_row(["explore the results".to_string(), self.explore.clone()]);
        t
    }
}

/// Rows for the tasks of a job and the documents it left.
pub(crate) fn add_tasks(t: &mut Table, report: &JobReport) {
    for (i, task) in report.tasks.iter().enumerate() {
        t.add_row([format!("task {} ({})", i + 1, kind(task)), summary(task)]);
        if let TaskReport::T0(s) = task {
            crate::t0::refusal_rows(t, &s.damaged);
        }
    }
    for (name, (n, _)) in &report.digest.collections {
        t.add_row([format!("{name} documents"), n.to_string()]);
    }
}

/// `t0`, `t2` or `t3`.
fn kind(task: &TaskReport) -> &'static str {
    match task {
        TaskReport::T0(_) => "t0",
        TaskReport::T2(_) => "t2",
        TaskReport::T3(_) => "t3",
    }
}

/// One line on what a task did.
fn summary(task: &TaskReport) -> String {
    match task {
        TaskReport::T0(s) => format!(
            "{} alerts, {} ingested, {} damaged inputs",
            s.alerts,
            s.ingested,
            s.damaged.len()
        ),
        TaskReport::T2(s) => {
            let failed: usize = s.failed.values().sum();
            if failed == 0 {
                format!("{} tickets processed, all OK", s.processed)
            } else {
                let units: Vec<String> = s.failed.iter().map(|(u, n)| format!("{u} {n}")).collect();
                format!(
                    "{} tickets processed, {failed} FAILED ({}): their codes in `ampel t2 list`, the reasons in the trouble records",
                    s.processed,
                    units.join(", ")
                )
            }
        }
        TaskReport::T3(r) => format!(
            "run {}: {} stocks selected, documents {:?}",
            r.run, r.selected, r.documents
        ),
    }
}
