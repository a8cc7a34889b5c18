//! `ampel manifest check|expand`: a manifest checked against this binary's units,
//! every problem at once, and what the runtime makes of it.

use super::{channel_rows, print_json, table};
use ampel_builder::known::HostUnits;
use ampel_builder::manifest;
use ampel_commands::RuntimeArgs;
use clap::{Subcommand, ValueEnum};
use serde::Serialize;
use std::path::PathBuf;

/// `ampel manifest ...`
#[derive(Debug, Subcommand)]
pub enum ManifestCommand {
    /// Validate a manifest: crates, units, configs, channels, T2 kinds and
    /// dependencies, schedules, resources; prints a summary, or the resolved
    /// instance configuration with --json.
    ///
    /// Every problem is reported at once, each as FILE:LINE:COLUMN: message.
    Check {
        /// The manifest (TOML).
        file: PathBuf,
        /// The AMPEL source tree (default: $AMPEL_SOURCE or the one ampel was built from).
        #[arg(long)]
        source: Option<PathBuf>,
    },
    /// Print what the runtime makes of a manifest, for inspection: the whole
    /// instance configuration (what an image carries as /etc/ampel/instance.json),
    /// its T0 process (one directive per channel), or its scheduled processes.
    ///
    /// The manifest stays the source: `ampel t0|t3|serve|job --manifest FILE` run it
    /// directly. An expanded part can be run with `--config` / `--processes`.
    ///
    /// Example: ampel manifest expand manifests/ztf-demo.toml --part t0 --format toml
    Expand {
        /// The manifest (TOML).
        file: PathBuf,
        /// Which part.
        #[arg(long, value_enum, default_value_t = Part::Instance)]
        part: Part,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
        /// The AMPEL source tree (default: $AMPEL_SOURCE or the one ampel was built from).
        #[arg(long)]
        source: Option<PathBuf>,
    },
}

/// A part of the expanded manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Part {
    /// The whole instance configuration.
    Instance,
    /// The T0 process.
    T0,
    /// The scheduled processes (`[[process]]` tables).
    Processes,
}

/// Output format of `expand`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Pretty JSON.
    Json,
    /// TOML.
    Toml,
}

/// The processes part, in the processes file's shape.
#[derive(Serialize)]
struct Processes<'a> {
    process: &'a [ampel_core::serve::ProcessConfig],
}

/// Run `ampel manifest ...`.
pub fn manifest(host: &HostUnits, args: &RuntimeArgs, cmd: &ManifestCommand) -> anyhow::Result<()> {
    match cmd {
        ManifestCommand::Check { file, source } => check(host, args, file, source.as_deref()),
        ManifestCommand::Expand {
            file,
            part,
            format,
            source,
        } => {
            let root = ampel_builder::source_root(source.as_deref())?;
            let m = manifest::load(file, host, &root)?;
            let value = match part {
                Part::Instance => serde_json::to_value(&m.config)?,
                Part::T0 => serde_json::to_value(&m.config.t0)?,
                Part::Processes => serde_json::to_value(Processes {
                    process: &m.config.processes,
                })?,
            };
            match format {
                Format::Json => print_json(&value),
                Format::Toml => print!(
                    "# Expanded from {} by `ampel manifest expand`; the manifest is the source.\n{}",
                    file.display(),
                    toml::to_string(&without_nulls(value))?
                ),
            }
            Ok(())
        }
    }
}

fn check(
    host: &HostUnits,
    args: &RuntimeArgs,
    file: &std::path::Path,
    source: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let root = ampel_builder::source_root(source)?;
    let m = manifest::load(file, host, &root)?;
    if args.json {
        print_json(&serde_json::to_value(&m.config)?);
        return Ok(());
    }
    let mut t = table(&["", ""]);
    t.add_row([
        "instance".to_string(),
        format!("{} {}", m.config.name, m.config.version),
    ]);
    for c in &m.crates {
        t.add_row([
            format!("crate {}", c.name),
            format!(
                "{}{}",
                c.units.join(", "),
                if c.known {
                    ""
                } else {
                    " (checked after the build)"
                }
            ),
        ]);
    }
    channel_rows(&mut t, &m.config);
    println!("{t}");
    println!("{}: ok", file.display());
    Ok(())
}

/// TOML has no null: absent values (a unit config left to its defaults) are left out.
fn without_nulls(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(without_nulls).collect()),
        other => other,
    }
}
