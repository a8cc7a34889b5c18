//! Host-only commands: `ampel manifest ...` (`manifest.rs`), `ampel image ...`
//! (`image.rs`), `ampel reproduce` (`reproduce.rs`), `ampel new ...`
//! (`new.rs`, scaffolds), `ampel export` (`export.rs`, on `columns.rs`) and
//! `ampel ui` (`ui.rs`, a read-only web view). Tables for people, `--json`
//! for scripts; long steps report progress on stderr.

mod columns;
mod export;
mod image;
mod manifest;
mod new;
mod reproduce;
mod ui;

pub use export::{export, ExportArgs};
pub use image::{image, ImageCommand};
pub use manifest::{manifest, ManifestCommand};
pub use new::{new, NewCommand};
pub use reproduce::{reproduce, Exit, ReproduceArgs};
pub use ui::{ui, UiArgs};

use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde_json::Value;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// An archive path, or a registry reference by digest pulled into the cache.
pub(crate) fn local_archive(
    image: &str,
    cache: Option<&Path>,
    insecure: bool,
) -> anyhow::Result<PathBuf> {
    let path = PathBuf::from(image);
    if path.exists() {
        return Ok(path);
    }
    let reference = match ampel_distribution::Reference::parse(image) {
        Ok(r) => r,
        Err(_) if !image.contains('@') => return Ok(path), // a file that is not there
        Err(e) => return Err(e.into()),
    };
    let cache = ampel_builder::cache_dir(cache);
    let archive = ampel_distribution::cached_pull(
        &reference,
        &cache,
        insecure,
        std::io::stderr().is_terminal(),
    )?;
    eprintln!(
        "{reference}: pulled and verified into {}",
        archive.display()
    );
    Ok(archive)
}

pub(crate) fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_header(header.to_vec());
    t
}

pub(crate) fn print_json(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

pub(crate) fn channel_rows(t: &mut Table, c: &ampel_core::instance::InstanceConfig) {
    for d in &c.t0.directives {
        let t2: Vec<&str> = d
            .ingest
            .combine
            .iter()
            .flat_map(|c| c.state_t2.iter().map(|t| t.unit.as_str()))
            .collect();
        t.add_row([
            format!("channel {}", d.channel),
            format!(
                "access {}; filter {}; t2 {}",
                if d.access.is_empty() {
                    "-".to_string()
                } else {
                    d.access.join(", ")
                },
                d.filter.as_ref().map_or("(none)", |f| f.unit.as_str()),
                if t2.is_empty() {
                    "-".to_string()
                } else {
                    t2.join(", ")
                }
            ),
        ]);
    }
    for p in &c.processes {
        let units: Vec<&str> = p.t3_units.iter().map(|u| u.unit.as_str()).collect();
        t.add_row([
            format!("process {}", p.name),
            format!(
                "tier {}, {}{}",
                p.tier,
                p.schedule,
                if units.is_empty() {
                    String::new()
                } else {
                    format!(", {}", units.join(", "))
                }
            ),
        ]);
    }
}
