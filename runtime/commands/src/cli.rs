//! Command-line definitions (clap) and their implementations.

use crate::args::{parse_json, RuntimeArgs};
use crate::output::{emit, table, CommandError};
use crate::uri::{open_existing_store, open_store, redact};
use ampel_core::{check_units, UnitRequest};
use ampel_interface::hash::{config_hash, link_hash, python_flat_json};
use ampel_interface::Registry;
use clap::Subcommand;
use serde_json::{json, Value};

/// Runtime commands: the same in the host binary and in instance binaries.
#[derive(Debug, Clone, Subcommand)]
pub enum RuntimeCommand {
    /// Inspect the units this binary contains and check their configs.
    #[command(subcommand)]
    Units(UnitsCommand),
    /// Create or inspect the store.
    #[command(subcommand)]
    Db(DbCommand),
    /// Compute the canonical hashes AMPEL uses (config ids, T1 links).
    #[command(subcommand)]
    Hash(HashCommand),
    /// Run T0 on alert files: filter per channel and ingest into the store.
    ///
    /// Sources are Avro files (ZTF or Rubin), directories of them, tar or tar.gz
    /// archives, or Confluent-framed messages. Damaged inputs are reported and skipped.
    ///
    /// Example: ampel t0 --config manifests/ztf-demo.t0.toml --source tests/data/alerts/ztf
    T0(crate::t0::T0Args),
    /// Run and inspect T2: workers, results, resets, outdated results.
    #[command(subcommand)]
    T2(crate::t2::T2Command),
    /// Run a T3 process once: select stocks, project them per channel, run the units.
    ///
    /// Example: ampel t3 --config report.toml --out reports
    T3 {
        /// T3 process config (TOML): process, select, load, units.
        #[arg(long)]
        config: std::path::PathBuf,
        /// Where units write their files.
        #[arg(long, default_value = "ampel-out")]
        out: std::path::PathBuf,
    },
    /// Run every active process of a processes file on its schedule until SIGTERM or
    /// Ctrl-C; then start nothing new and let running ones finish their batch.
    ///
    /// Example: ampel serve --processes manifests/ztf-demo.processes.toml
    Serve {
        /// The processes file (TOML): name, tier, schedule, config per process.
        #[arg(long)]
        processes: std::path::PathBuf,
        /// At most this many processes run at once.
        #[arg(long, default_value_t = 2)]
        max_concurrent: usize,
        /// Where T3 units write their files.
        #[arg(long, default_value = "ampel-out")]
        out: std::path::PathBuf,
    },
    /// Run an archival job (tasks in order, fresh store, clock from the data) and
    /// print its results digest.
    ///
    /// Example: ampel --db sqlite:/tmp/run.db job manifests/ztf-demo.job.toml
    Job {
        /// The job file (TOML).
        file: std::path::PathBuf,
        /// Where T3 units write their files (reports, plots).
        #[arg(long, default_value = "ampel-out")]
        out: std::path::PathBuf,
    },
    /// Print the results digest of a store (SHA-256 over a canonical dump of the
    /// output documents, volatile fields removed).
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
        /// Only this stock.
        #[arg(long)]
        stock: Option<i64>,
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

/// `ampel db ...`
#[derive(Debug, Clone, Subcommand)]
pub enum DbCommand {
    /// Create the store if needed and print its layout version.
    Init,
    /// Print layout version and document counts per collection.
    Info,
    /// Write the store to a portable dump: one canonical JSON-lines file per
    /// collection and a header with the layout version, file digests and the
    /// results digest.
    ///
    /// Example: ampel --db sqlite:run.db db export run-dump/
    Export {
        /// The dump directory (new, or without a header.json).
        dir: std::path::PathBuf,
    },
    /// Load a dump into a fresh store (any backend): every file is checked, the
    /// documents are staged in a temporary store, the results digest is verified,
    /// and only then is the staging store switched into place.
    ///
    /// Example: ampel --db mongodb://db.example.org/Ampel db import run-dump/
    Import {
        /// The dump directory.
        dir: std::path::PathBuf,
    },
}

/// `ampel hash ...`
#[derive(Debug, Clone, Subcommand)]
pub enum HashCommand {
    /// Config identity hash of a JSON object (Python AMPEL's `build_unsafe_dict_id`).
    Config {
        /// The config as JSON.
        #[arg(value_name = "JSON")]
        config: String,
    },
    /// T1 link hash of datapoint ids (order does not matter).
    Link {
        /// Datapoint ids.
        #[arg(required = true, allow_negative_numbers = true)]
        ids: Vec<i64>,
    },
}

/// Run one runtime command against a registry.
pub fn run(
    registry: &Registry,
    args: &RuntimeArgs,
    cmd: &RuntimeCommand,
) -> Result<(), CommandError> {
    match cmd {
        RuntimeCommand::Units(UnitsCommand::List) => {
            let rows: Vec<Value> = registry
                .iter()
                .map(|u| json!({"name": u.name(), "kind": u.kind().as_str(), "version": u.version(), "digest": u.code_digest()}))
                .collect();
            emit(args.json, &Value::Array(rows.clone()), || {
                let mut t = table(&["unit", "kind", "version", "code digest"]);
                for r in &rows {
                    t.add_row(
                        ["name", "kind", "version", "digest"]
                            .map(|k| r[k].as_str().unwrap_or("").to_string()),
                    );
                }
                t
            })
        }
        RuntimeCommand::Units(UnitsCommand::Check { unit, config }) => {
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
            let v = json!({
                "unit": checked.unit,
                "config": checked.normalized,
                "config_hash": checked.hash,
                "trace_id": checked.trace.id,
                "version": checked.trace.version,
                "code_digest": checked.trace.digest,
            });
            emit(args.json, &v, || {
                let mut t = table(&["field", "value"]);
                for k in ["unit", "version", "code_digest", "config_hash", "trace_id"] {
                    t.add_row([
                        k.to_string(),
                        v[k].to_string().trim_matches('"').to_string(),
                    ]);
                }
                t.add_row([
                    "config".to_string(),
                    serde_json::to_string_pretty(&v["config"]).unwrap_or_default(),
                ]);
                t
            })
        }
        RuntimeCommand::Db(cmd @ (DbCommand::Init | DbCommand::Info)) => {
            let store = if matches!(cmd, DbCommand::Init) {
                open_store(&args.db)?
            } else {
                open_existing_store(&args.db)?
            };
            let info = store.info()?;
            let v = serde_json::to_value(&info).unwrap_or(Value::Null);
            emit(args.json, &v, || {
                let mut t = table(&["collection", "documents"]);
                for (k, n) in &info.counts {
                    t.add_row([k.clone(), n.to_string()]);
                }
                t.add_row([
                    "(store)".into(),
                    format!("{} layout v{}", redact(&info.location), info.schema_version),
                ]);
                t
            })
        }
        RuntimeCommand::Db(DbCommand::Export { dir }) => crate::dump::export(args, dir),
        RuntimeCommand::Db(DbCommand::Import { dir }) => crate::dump::import(args, dir),
        RuntimeCommand::Hash(HashCommand::Config { config }) => {
            let v = parse_json("config", config)?;
            if !v.is_object() {
                return Err(CommandError::Usage("a config must be a JSON object".into()));
            }
            let out = json!({"hash": config_hash(&v), "encoded": python_flat_json(&v)});
            emit(args.json, &out, || {
                let mut t = table(&["config hash", "hashed text"]);
                t.add_row([out["hash"].to_string(), python_flat_json(&v)]);
                t
            })
        }
        RuntimeCommand::T0(t0) => crate::t0::run(registry, args, t0),
        RuntimeCommand::Instance(i) => crate::instance::run(registry, args, i),
        #[cfg(feature = "kafka")]
        RuntimeCommand::Kafka(k) => crate::kafka::run(registry, args, k),
        RuntimeCommand::T2(t2) => crate::t2::run(registry, args, t2),
        RuntimeCommand::Job { file, out } => crate::job::job(registry, args, file, out),
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
        } => crate::provenance::log(args, *run, *stock, channel.clone(), *errors, *limit),
        RuntimeCommand::Serve {
            processes,
            max_concurrent,
            out,
        } => crate::serve::serve(registry, args, processes, *max_concurrent, out),
        RuntimeCommand::T3 { config, out } => crate::t3::t3(registry, args, config, out),
        RuntimeCommand::Explain { id } => crate::provenance::explain(args, id),
        RuntimeCommand::Event { process, last } => {
            crate::provenance::event(args, process.clone(), *last)
        }
        RuntimeCommand::Hash(HashCommand::Link { ids }) => {
            let out = json!({"link": link_hash(ids), "dps": ids});
            emit(args.json, &out, || {
                let mut t = table(&["link", "datapoints"]);
                t.add_row([out["link"].to_string(), format!("{ids:?}")]);
                t
            })
        }
    }
}
