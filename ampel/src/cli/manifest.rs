//! `ampel manifest check`: a manifest checked against this binary's units, every
//! problem at once, and the resolved instance shown.

use super::{channel_rows, print_json, table};
use ampel_builder::known::HostUnits;
use ampel_builder::manifest;
use ampel_commands::RuntimeArgs;
use clap::Subcommand;
use std::path::PathBuf;

/// `ampel manifest ...`
#[derive(Debug, Subcommand)]
pub enum ManifestCommand {
    /// Validate a manifest: crates, units, configs, channels, T2 dependencies,
    /// schedules; prints a summary, or the resolved instance configuration with --json.
    ///
    /// Every problem is reported at once, each as FILE:LINE:COLUMN: message.
    Check {
        /// The manifest (TOML).
        file: PathBuf,
        /// The AMPEL source tree (default: $AMPEL_SOURCE or the one ampel was built from).
        #[arg(long)]
        source: Option<PathBuf>,
    },
}

/// Run `ampel manifest ...`.
pub fn manifest(host: &HostUnits, args: &RuntimeArgs, cmd: &ManifestCommand) -> anyhow::Result<()> {
    let ManifestCommand::Check { file, source } = cmd;
    let root = ampel_builder::source_root(source.as_deref())?;
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
