//! The runtime command line (clap): [`RuntimeCommand`] and its dispatch to the
//! module of each command group. Nothing imports this module but the crate root.

use crate::args::{stock_of, RuntimeArgs};
use crate::output::CommandError;
use ampel_interface::Registry;
use clap::Subcommand;

/// Runtime commands: the same in the host binary and in instance binaries.
#[derive(Debug, Clone, Subcommand)]
pub enum RuntimeCommand {
    /// Inspect the units this binary contains and check their configs.
    #[command(subcommand)]
    Units(crate::units::UnitsCommand),
    /// Create or inspect the store.
    #[command(subcommand)]
    Db(crate::db::DbCommand),
    /// Compute the canonical hashes AMPEL uses (config ids, T1 links).
    #[command(subcommand)]
    Hash(crate::hash::HashCommand),
    /// Run T0 on alert files: filter per channel and ingest into the store.
    ///
    /// Sources are Avro files (ZTF or Rubin), directories of them, tar or tar.gz
    /// archives, or Confluent-framed messages. Damaged inputs are reported and skipped.
    ///
    /// Example: ampel t0 --manifest manifests/ztf-demo.toml --source tests/data/alerts/ztf
    T0(crate::t0::T0Args),
    /// Run and inspect T2: workers, results, resets, outdated results.
    #[command(subcommand)]
    T2(crate::t2::T2Command),
    /// Run T3 processes once: select stocks, project them per channel, run the units.
    ///
    /// Example: ampel t3 --manifest manifests/ztf-demo.toml --out reports
    T3 {
        /// The instance manifest whose T3 processes run (each once, in order).
        #[arg(long, required_unless_present = "config", conflicts_with = "config")]
        manifest: Option<std::path::PathBuf>,
        /// With --manifest: only this process (a channel's t3 entry: its `name`, or
        /// CHANNEL-UNIT).
        #[arg(long, requires = "manifest")]
        process: Option<String>,
        /// Or a T3 process (TOML): process, select, load, units.
        #[arg(long)]
        config: Option<std::path::PathBuf>,
        /// Where units write their files.
        #[arg(long, default_value = "ampel-out")]
        out: std::path::PathBuf,
    },
    /// Run every process of an instance manifest on its schedule (T2 workers, the
    /// channels' T3 processes, the live T0 of its [live] section) until SIGTERM or
    /// Ctrl-C; then start nothing new and let running ones finish their batch.
    ///
    /// Example: ampel serve --manifest manifests/ztf-demo.toml
    Serve {
        /// The instance manifest.
        #[arg(
            long,
            required_unless_present = "processes",
            conflicts_with = "processes"
        )]
        manifest: Option<std::path::PathBuf>,
        /// Or a processes file (TOML, `[[process]]`: name, tier, schedule, config),
        /// as `ampel manifest expand --part processes` prints them.
        #[arg(long)]
        processes: Option<std::path::PathBuf>,
        /// At most this many processes run at once.
        #[arg(long, default_value_t = 2)]
        max_concurrent: usize,
        /// Where T3 units write their files.
        #[arg(long, default_value = "ampel-out")]
        out: std::path::PathBuf,
    },
    /// Run an archival job (tasks in order, fresh store, clock from the data) and
    /// print its results digest: an instance manifest's (T0 over the inputs, T2
    /// until no ticket is left, each T3 process once) or a job file's tasks.
    ///
    /// Example: ampel --db sqlite:/tmp/run.db job --manifest manifests/ztf-demo.toml --inputs tests/data/alerts/ztf
    Job {
        /// A job file (TOML: `[[task]]` kind t0 / t2 / t3, in order).
        #[arg(required_unless_present = "manifest", conflicts_with = "manifest")]
        file: Option<std::path::PathBuf>,
        /// Or an instance manifest: its archival job over --inputs.
        #[arg(long, requires = "inputs")]
        manifest: Option<std::path::PathBuf>,
        /// With --manifest: alert archives (files, directories, tar / tar.gz), read
        /// in this order.
        #[arg(long, num_args = 1.., requires = "manifest")]
        inputs: Vec<std::path::PathBuf>,
        /// Where T3 units write their files (reports, plots).
        #[arg(long, default_value = "ampel-out")]
        out: std::path::PathBuf,
    },
    /// Print the results digest of a store (SHA-256 over a canonical dump of the
    /// output documents; scheduling left out: run ids, leases, wall-clock durations, entry order).
    Digest {
        /// The store (default: --db).
        db: Option<String>,
    },
    /// Kafka: create topics, publish alert files, run a live T0 from topics.
    #[cfg(feature = "kafka")]
    #[command(subcommand)]
    Kafka(crate::kafka::KafkaCommand),
    /// Run what an instance image carries: check its configuration against this
    /// binary, show it, reprocess archives with it, serve its processes.
    #[command(subcommand)]
    Instance(crate::instance::InstanceCommand),
    /// Explain a T2 document: which process, run, unit version and configuration
    /// made each result, and its journal entries.
    Explain {
        /// T2 document id (32 hex digits).
        id: String,
    },
    /// Query stored log records: by run, stock, channel or level.
    Log {
        /// Only this run.
        #[arg(long)]
        run: Option<i64>,
        /// Only this stock (an id, or an object name such as ZTF20aabadtj).
        #[arg(long)]
        stock: Option<String>,
        /// Only this channel.
        #[arg(long)]
        channel: Option<String>,
        /// Only errors.
        #[arg(long)]
        errors: bool,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Show one object: summary, links, light curve (MJD and UTC date, band,
    /// magnitude and flux, upper limits, data rights), every T2 result in full with
    /// its document id, the journal in words, logs and trouble records.
    ///
    /// Example: ampel --db sqlite:ampel-out/ampel.db view ZTF18aaudxok
    View {
        /// A ZTF name (ZTF18aaudxok), a Rubin diaObjectId or a stock id.
        object: String,
    },
    /// List trouble records: damaged inputs (file and reason), unit failures, failed
    /// runs; filter by run, process, unit, object or kind.
    ///
    /// Example: ampel --db sqlite:ampel-out/ampel.db trouble --kind damaged-input
    Trouble(crate::trouble::TroubleArgs),
    /// List process runs (events): run, process, tier, code, duration.
    Event {
        /// Only this process.
        #[arg(long)]
        process: Option<String>,
        /// Only the last N runs.
        #[arg(long)]
        last: Option<usize>,
    },
}

/// Run one runtime command against a registry.
pub fn run(
    registry: &Registry,
    args: &RuntimeArgs,
    cmd: &RuntimeCommand,
) -> Result<(), CommandError> {
    // units built from a stored config find their resource files (the image's
    // layer, $AMPEL_RESOURCES) even when no manifest is read
    ampel_core::resources::install();
    match cmd {
        RuntimeCommand::Units(cmd) => crate::units::run(registry, args, cmd),
        RuntimeCommand::Db(cmd) => crate::db::run(args, cmd),
        RuntimeCommand::Hash(cmd) => crate::hash::run(args, cmd),
        RuntimeCommand::T0(t0) => crate::t0::run(registry, args, t0),
        RuntimeCommand::Instance(i) => crate::instance::run(registry, args, i),
        #[cfg(feature = "kafka")]
        RuntimeCommand::Kafka(k) => crate::kafka::run(registry, args, k),
        RuntimeCommand::T2(t2) => crate::t2::run(registry, args, t2),
        RuntimeCommand::Job {
            file,
            manifest,
            inputs,
            out,
        } => match (file, manifest) {
            (_, Some(m)) => crate::job::manifest_job(registry, args, m, inputs, out),
            (Some(f), None) => crate::job::job(registry, args, f, out),
            (None, None) => Err(CommandError::Usage(
                "give a job file or --manifest FILE --inputs PATH...".into(),
            )),
        },
        RuntimeCommand::Digest { db } => {
            let mut a = args.clone();
            if let Some(db) = db {
                a.db = db.clone();
            }
            crate::provenance::digest(&a)
        }
        RuntimeCommand::Log {
            run,
            stock,
            channel,
            errors,
            limit,
        } => {
            let stock = stock
                .as_deref()
                .map(|s| stock_of(registry, s))
                .transpose()?;
            crate::provenance::log(args, *run, stock, channel.clone(), *errors, *limit)
        }
        RuntimeCommand::Serve {
            manifest,
            processes,
            max_concurrent,
            out,
        } => match (manifest, processes) {
            (Some(m), _) => {
                let cfg = crate::args::manifest(registry, m)?;
                crate::serve::serve_instance(
                    &cfg,
                    registry,
                    args,
                    &m.display().to_string(),
                    *max_concurrent,
                    out,
                )
            }
            (None, Some(p)) => crate::serve::serve(registry, args, p, *max_concurrent, out),
            (None, None) => Err(CommandError::Usage(
                "give --manifest FILE (an instance manifest) or --processes FILE".into(),
            )),
        },
        RuntimeCommand::T3 {
            manifest,
            process,
            config,
            out,
        } => match (manifest, config) {
            (Some(m), _) => crate::t3::t3_manifest(registry, args, m, process.as_deref(), out),
            (None, Some(c)) => crate::t3::t3(registry, args, c, out),
            (None, None) => Err(CommandError::Usage(
                "give --manifest FILE (an instance manifest) or --config FILE".into(),
            )),
        },
        RuntimeCommand::Explain { id } => crate::provenance::explain(args, id),
        RuntimeCommand::View { object } => crate::view::run(registry, args, object),
        RuntimeCommand::Trouble(a) => crate::trouble::run(registry, args, a),
        RuntimeCommand::Event { process, last } => {
            crate::provenance::event(args, process.clone(), *last)
        }
    }
}
