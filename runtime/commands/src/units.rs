//! `ampel units list|check`: the units of this binary, and a config checked,
//! normalised and hashed as the runtime would.

use crate::args::{parse_json, RuntimeArgs};
use crate::output::{report, table, CommandError, Report};
use ampel_core::{check_units, UnitRequest};
use ampel_interface::{CheckedConfig, Registry};
use clap::Subcommand;
use comfy_table::Table;
use serde::Serialize;
use serde_json::Value;

/// `ampel units ...`
#[derive(Debug, Clone, Subcommand)]
pub enum UnitsCommand {
    /// List units: name, kind, version, code digest.
    List,
    /// Validate a config for a unit and print its normalised form, hash and trace id.
    ///
    /// Example: ampel units check CriteriaFilter --config '{"criteria": [{"attribute": "rb", "operator": ">=", "value": 0.3}]}'
    Check {
        /// Unit name.
        unit: String,
        /// Config as JSON (omit for all defaults); `@FILE` reads it from a file.
        #[arg(long)]
        config: Option<String>,
    },
}

/// Run a `units` command.
pub fn run(
    registry: &Registry,
    args: &RuntimeArgs,
    cmd: &UnitsCommand,
) -> Result<(), CommandError> {
    match cmd {
        UnitsCommand::List => report(
            args.json,
            &UnitList(
                registry
                    .iter()
                    .map(|u| UnitRow {
                        name: u.name(),
                        kind: u.kind().as_str(),
                        version: u.version(),
                        digest: u.code_digest(),
                    })
                    .collect(),
            ),
        ),
        UnitsCommand::Check { unit, config } => {
            let raw = match config {
                Some(c) => parse_json("config", c)?,
                None => Value::Null,
            };
            let req = UnitRequest {
                origin: format!("--config for {unit}"),
                unit: unit.clone(),
                config: raw,
                kind: None,
            };
            let checked = check_units(registry, &[req])
                .map_err(CommandError::Invalid)?
                .remove(0);
            report(args.json, &Checked::of(checked))
        }
    }
}

/// A unit of this binary.
#[derive(Serialize)]
struct UnitRow {
    name: &'static str,
    kind: &'static str,
    version: &'static str,
    digest: String,
}

/// What `ampel units list` prints.
#[derive(Serialize)]
#[serde(transparent)]
struct UnitList(Vec<UnitRow>);

impl Report for UnitList {
    fn table(&self) -> Table {
        let mut t = table(&["unit", "kind", "version", "code digest"]);
        for r in &self.0 {
            t.add_row([r.name, r.kind, r.version, &r.digest]);
        }
        t
    }
}

/// What `ampel units check` prints.
#[derive(Serialize)]
struct Checked {
    unit: String,
    config: Value,
    config_hash: ampel_interface::ConfigHash,
    trace_id: ampel_interface::TraceId,
    version: String,
    code_digest: String,
}

impl Checked {
    fn of(c: CheckedConfig) -> Self {
        Checked {
            unit: c.unit,
            config: c.normalized,
            config_hash: c.hash,
            trace_id: c.trace.id,
            version: c.trace.version,
            code_digest: c.trace.digest,
        }
    }
}

impl Report for Checked {
    fn table(&self) -> Table {
        let mut t = table(&["field", "value"]);
        for (k, v) in [
            ("unit", self.unit.clone()),
            ("version", self.version.clone()),
            ("code_digest", self.code_digest.clone()),
            ("config_hash", self.config_hash.to_string()),
            ("trace_id", self.trace_id.to_string()),
            (
                "config",
                serde_json::to_string_pretty(&self.config).unwrap_or_default(),
            ),
        ] {
            t.add_row([k.to_string(), v]);
        }
        t
    }
}
