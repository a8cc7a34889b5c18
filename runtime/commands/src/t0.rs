//! `ampel t0`: run the alert consumer over files and print a summary.

use crate::args::RuntimeArgs;
use crate::output::{report, table, CommandError, Report};
use crate::uri::open_store;
use ampel_core::t0::{drive_archive, DriveOptions, Driven, Opened, T0Processor};
use ampel_core::ClockMode;
use ampel_interface::Registry;
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;

/// `ampel t0` options.
#[derive(Debug, Clone, Args)]
pub struct T0Args {
    /// The T0 process: --manifest (an instance manifest) or --config.
    #[command(flatten)]
    pub process: crate::args::T0Source,
    /// Alert sources: files, directories, tar or tar.gz archives.
    #[arg(long, required = true, num_args = 1..)]
    pub source: Vec<PathBuf>,
    /// Stop after this many alerts (overrides the config's iter_max).
    #[arg(long)]
    pub iter_max: Option<usize>,
    /// Write the rejected-alert register (CSV: channel, alert, stock, code) here.
    #[arg(long)]
    pub rejected: Option<PathBuf>,
    /// Ingest even if a finished run of this process already ingested the same
    /// sources (same files, sizes and times) with the same config; without it such
    /// a rerun does nothing and says which run did it.
    #[arg(long)]
    pub again: bool,
    /// The largest Avro container block read, in MiB, compressed or decompressed; a
    /// larger block (e.g. a small deflate bomb) is reported as a damaged input and
    /// the other inputs are read.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub max_block_mib: u32,
}

/// Run T0.
pub fn run(registry: &Registry, args: &RuntimeArgs, t0: &T0Args) -> Result<(), CommandError> {
    let mut cfg = t0.process.load(registry)?;
    if t0.iter_max.is_some() {
        cfg.iter_max = t0.iter_max;
    }
    // every problem of the config and the sources at once, before the store opens
    let mut problems = ampel_avro::missing_sources(&t0.source);
    problems.extend(cfg.check(registry).err().unwrap_or_default());
    if !problems.is_empty() {
        return Err(CommandError::Invalid(problems));
    }
    let store = open_store(&args.db)?;
    let clock = args.clock_mode(ClockMode::Archive).t0_clock();
    // the same config over the same inputs: a run whose process died is taken
    // over where its last batch ended; with --again, every run is a new one
    let key = (!t0.again).then(|| ampel_core::t0::inputs_key(&cfg, &t0.source));
    let mut proc = T0Processor::open(cfg, registry, store.as_ref(), &clock, key, &mut || {
        eprintln!("another T0 run is writing this store; waiting for it to finish")
    })?;
    match proc.opened() {
        Opened::AlreadyDone { run } => {
            eprintln!(
                "run {run} already ingested these sources with this config; nothing to do \
                 (--again ingests them once more)"
            );
        }
        Opened::Resumed { items } => eprintln!(
            "resuming run {} (its process died): {items} input item(s) are stored, \
             going on after them",
            proc.run_id()
        ),
        Opened::New => {}
    }
    let done = matches!(proc.opened(), Opened::AlreadyDone { .. });
    // a run with nothing to do leaves the register of the run that did it alone
    if let Some(path) = t0.rejected.as_ref().filter(|_| !done) {
        let cannot = |e: std::io::Error| {
            CommandError::Usage(format!(
                "cannot create rejected-alert register {}: {e}",
                path.display()
            ))
        };
        // a resumed run goes on with the register as its last checkpoint left it
        let keep = proc.rejected_bytes();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(keep == 0)
            .open(path)
            .map_err(cannot)?;
        file.set_len(keep).map_err(cannot)?;
        std::io::Seek::seek(&mut file, std::io::SeekFrom::End(0)).map_err(cannot)?;
        proc.register_rejections(Box::new(std::io::BufWriter::new(file)))?;
    }
    let progress = crate::progress::Reporter::from_env();
    let opts = DriveOptions {
        step: "t0".into(),
        max_block_bytes: Some((t0.max_block_mib as usize) << 20),
        timed: true,
    };
    let Driven {
        run,
        stats,
        stopped,
    } = drive_archive(proc, &t0.source, &opts, &progress)?;
    let refusals = ampel_core::t0::refusals::group(&stats.damaged);
    report(
        args.json,
        &T0Run {
            run,
            stats,
            refusals,
        },
    )?;
    match stopped {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// What `ampel t0` prints: the run and its counts.
#[derive(Serialize)]
struct T0Run {
    run: ampel_interface::RunId,
    stats: ampel_core::t0::T0Stats,
    /// The damaged inputs and unusable alerts grouped by reason.
    refusals: Vec<ampel_core::t0::refusals::RefusalGroup>,
}

/// One row per reason inputs were refused for: how many, and the first few.
pub(crate) fn refusal_rows(t: &mut comfy_table::Table, damaged: &[String]) {
    for g in ampel_core::t0::refusals::group(damaged) {
        let more = g.count.saturating_sub(g.examples.len());
        let tail = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        t.add_row([
            format!("  refused: {}", g.reason),
            format!("{}, e.g.\n{}{tail}", g.count, g.examples.join("\n")),
        ]);
    }
}

impl Report for T0Run {
    fn table(&self) -> comfy_table::Table {
        let mut t = table(&["", "count"]);
        t.add_row(["run".to_string(), self.run.to_string()]);
        t.add_row(["alerts read".to_string(), self.stats.alerts.to_string()]);
        t.add_row([
            "alerts ingested".to_string(),
            self.stats.ingested.to_string(),
        ]);
        let channels: std::collections::BTreeSet<&String> = self
            .stats
            .accepted
            .keys()
            .chain(self.stats.rejected.keys())
            .collect();
        for ch in channels {
            t.add_row([
                format!("channel {ch}"),
                format!(
                    "{} accepted, {} rejected",
                    self.stats.accepted.get(ch).unwrap_or(&0),
                    self.stats.rejected.get(ch).unwrap_or(&0)
                ),
            ]);
        }
        for (what, c) in [
            ("datapoints", self.stats.datapoints),
            ("states", self.stats.states),
            ("t2 tickets", self.stats.tickets),
            ("stocks", self.stats.stocks),
        ] {
            t.add_row([
                what.to_string(),
                format!("{} new, {} updated", c.inserted, c.updated),
            ]);
        }
        t.add_row([
            "damaged inputs".to_string(),
            self.stats.damaged.len().to_string(),
        ]);
        refusal_rows(&mut t, &self.stats.damaged);
        t.add_row(["unit errors".to_string(), self.stats.errors.to_string()]);
        t
    }
}
