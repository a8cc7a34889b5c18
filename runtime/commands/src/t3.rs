//! `ampel t3`: run a T3 process once: select stocks, run its units, record the run.

use crate::args::RuntimeArgs;
use crate::output::{report, table, CommandError, Report};
use crate::uri::open_existing_store;
use ampel_core::ClockMode;
use ampel_interface::Registry;
use serde::Serialize;
use std::path::Path;

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
    run(registry, args, &cfg, out)
}

/// Run the T3 processes of an instance manifest once each, in order (or only the
/// one named `only`).
pub fn t3_manifest(
    registry: &Registry,
    args: &RuntimeArgs,
    manifest: &Path,
    only: Option<&str>,
    out: &Path,
) -> Result<(), CommandError> {
    let cfg = crate::args::manifest(registry, manifest)?;
    let t3: Vec<_> = cfg.processes.iter().filter(|p| p.tier == 3).collect();
    let chosen: Vec<_> = t3
        .iter()
        .filter(|p| only.is_none_or(|n| n == p.name))
        .collect();
    if chosen.is_empty() {
        let known: Vec<&str> = t3.iter().map(|p| p.name.as_str()).collect();
        return Err(CommandError::Usage(match only {
            Some(n) => format!(
                "{}: no T3 process `{n}` (there: {})",
                manifest.display(),
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            ),
            None => format!("{}: no channel has a t3 entry", manifest.display()),
        }));
    }
    for p in chosen {
        run(registry, args, &p.t3_config(), out)?;
    }
    Ok(())
}

fn run(
    registry: &Registry,
    args: &RuntimeArgs,
    cfg: &ampel_core::t3::T3Config,
    out: &Path,
) -> Result<(), CommandError> {
    let store = open_existing_store(&args.db)?;
    let done = ampel_core::t3::run_t3(
        cfg,
        registry,
        store.as_ref(),
        &args
            .clock_mode(ClockMode::Archive)
            .t3_clock(store.as_ref())?,
        out,
    )
    .map_err(|e| CommandError::Usage(e.to_string()))?;
    report(args.json, &T3Run(done.clone()))?;
    if done.failed.is_empty() {
        Ok(())
    } else {
        Err(CommandError::Failed(format!(
            "{} T3 unit(s) failed; the reasons are in the trouble records: ampel log --errors",
            done.failed.len()
        )))
    }
}

/// What `ampel t3` prints.
#[derive(Serialize)]
#[serde(transparent)]
struct T3Run(ampel_core::t3::T3Report);

impl Report for T3Run {
    fn table(&self) -> comfy_table::Table {
        let mut t = table(&["", ""]);
        t.add_row(["run".to_string(), self.0.run.to_string()]);
        t.add_row(["stocks selected".to_string(), self.0.selected.to_string()]);
        t.add_row(["documents".to_string(), self.0.documents.join(", ")]);
        t.add_row(["stock updates".to_string(), self.0.updates.to_string()]);
        for (u, m) in &self.0.failed {
            t.add_row([format!("FAILED {u}"), m.clone()]);
        }
        t
    }
}
