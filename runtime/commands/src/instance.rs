//! `ampel instance ...`: the commands an instance image runs. The instance
//! configuration comes from `--instance`, `$AMPEL_INSTANCE`, or the image's
//! `/etc/ampel/instance.json`, and is checked against this binary before anything
//! runs.

use crate::cli::{emit, table, CommandError, RuntimeArgs};
use crate::uri::{open_store, redact, DEFAULT_DB};
use ampel_core::instance::{InstanceConfig, INSTANCE_PATH};
use ampel_core::job::run_plan;
use ampel_interface::Registry;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Which instance configuration to use.
#[derive(Debug, Clone, Args)]
pub struct InstanceArgs {
    /// The instance configuration (JSON, written by `ampel image build`).
    #[arg(long, env = "AMPEL_INSTANCE", default_value = INSTANCE_PATH)]
    pub instance: PathBuf,
}

/// `ampel instance ...`
#[derive(Debug, Clone, Subcommand)]
pub enum InstanceCommand {
    /// Check the instance configuration against this binary: units, versions, code
    /// digests, unit configs, schedules. Prints every problem.
    Check(InstanceArgs),
    /// Print the instance configuration.
    Show(InstanceArgs),
    /// Archival reprocessing with this instance: T0 over the inputs (every channel),
    /// T2 until no ticket is left, each T3 process once; clock from the data. Prints
    /// a per-tier summary and the results digest.
    ///
    /// Without --db the store is a fresh embedded file, OUT/ampel.db.
    ///
    /// Example: ampel instance run --inputs alerts/ --out results/
    Run {
        /// The instance configuration.
        #[command(flatten)]
        instance: InstanceArgs,
        /// Alert archives: files, directories, tar / tar.gz (read in this order).
        #[arg(long, required = true, num_args = 1..)]
        inputs: Vec<PathBuf>,
        /// Output directory: store, reports, run summary.
        #[arg(long, default_value = "ampel-out")]
        out: PathBuf,
    },
    /// Run the instance's scheduled processes until SIGTERM or Ctrl-C.
    Serve {
        /// The instance configuration.
        #[command(flatten)]
        instance: InstanceArgs,
        /// At most this many processes run at once.
        #[arg(long, default_value_t = 2)]
        max_concurrent: usize,
        /// Where T3 units write their files.
        #[arg(long, default_value = "ampel-out")]
        out: PathBuf,
    },
}

fn load_checked(registry: &Registry, args: &InstanceArgs) -> Result<InstanceConfig, CommandError> {
    let cfg =
        InstanceConfig::load(&args.instance).map_err(|e| CommandError::Usage(e.to_string()))?;
    cfg.check(registry)
        .map_err(|e| CommandError::Usage(e.to_string()))?;
    Ok(cfg)
}

/// Run an instance command.
pub fn run(
    registry: &Registry,
    args: &RuntimeArgs,
    cmd: &InstanceCommand,
) -> Result<(), CommandError> {
    match cmd {
        InstanceCommand::Check(i) => {
            if args.json {
                // scripts (the builder) get every problem as a JSON list, and exit 1
                let cfg = InstanceConfig::load(&i.instance)
                    .map_err(|e| CommandError::Usage(e.to_string()))?;
                let problems = match cfg.check(registry) {
                    Ok(()) => vec![],
                    Err(ampel_core::instance::InstanceError::Mismatch { problems, .. }) => problems,
                    Err(e) => vec![e.to_string()],
                };
                let v = json!({"instance": cfg.name, "version": cfg.version,
                    "units": cfg.units.len(), "ok": problems.is_empty(), "problems": problems});
                emit(true, &v, || table(&[]))?;
                return if problems.is_empty() {
                    Ok(())
                } else {
                    Err(CommandError::Invalid(problems))
                };
            }
            let cfg = load_checked(registry, i)?;
            let v = json!({"instance": cfg.name, "version": cfg.version, "units": cfg.units.len(), "ok": true});
            emit(args.json, &v, || {
                let mut t = table(&["instance", "units", "check"]);
                t.add_row([
                    format!("{} {}", cfg.name, cfg.version),
                    cfg.units.len().to_string(),
                    "ok: fits this binary".to_string(),
                ]);
                t
            })
        }
        InstanceCommand::Show(i) => {
            let cfg = InstanceConfig::load(&i.instance)
                .map_err(|e| CommandError::Usage(e.to_string()))?;
            let v = serde_json::to_value(&cfg).unwrap_or(Value::Null);
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            Ok(())
        }
        InstanceCommand::Run {
            instance,
            inputs,
            out,
        } => run_archive(registry, args, instance, inputs, out),
        InstanceCommand::Serve {
            instance,
            max_concurrent,
            out,
        } => {
            let cfg = load_checked(registry, instance)?;
            let origin = instance.instance.display().to_string();
            let mut all = cfg.processes.clone();
            if let Some(source) = &cfg.live {
                all.push(ampel_core::serve::ProcessConfig {
                    name: format!("{}-live", cfg.name),
                    tier: 0,
                    schedule: ampel_core::serve::LIVE.into(),
                    active: true,
                    channel: None,
                    units: vec![],
                    select: None,
                    t3_units: vec![],
                    kafka: Some(source.clone()),
                    t0_config: None,
                });
            }
            let processes = ampel_core::serve::check_processes(all, registry, &origin)
                .map_err(CommandError::Usage)?;
            crate::provenance::serve_checked(
                &processes,
                registry,
                args,
                &origin,
                *max_concurrent,
                out,
                (PathBuf::from("."), Some(cfg.t0.clone())),
            )
        }
    }
}

fn run_archive(
    registry: &Registry,
    args: &RuntimeArgs,
    instance: &InstanceArgs,
    inputs: &[PathBuf],
    out: &Path,
) -> Result<(), CommandError> {
    let cfg = load_checked(registry, instance)?;
    for i in inputs {
        if !i.exists() {
            return Err(CommandError::Usage(format!(
                "input {} does not exist",
                i.display()
            )));
        }
    }
    std::fs::create_dir_all(out)?;
    let db = if args.db == DEFAULT_DB {
        format!("sqlite:{}", out.join("ampel.db").display())
    } else {
        args.db.clone()
    };
    let store = open_store(&db)?;
    let plan = cfg.archive_plan(inputs);
    let report = run_plan(
        &cfg.name,
        &plan,
        registry,
        store.as_ref(),
        out,
        &crate::progress::Reporter::from_env(),
    )
    .map_err(|e| CommandError::Usage(e.to_string()))?;
    let mut v = serde_json::to_value(&report).unwrap_or(Value::Null);
    v["instance"] = json!({"name": cfg.name, "version": cfg.version});
    v["store"] = json!(redact(&db));
    let summary = out.join("instance-run.json");
    std::fs::write(
        &summary,
        serde_json::to_string_pretty(&v).unwrap_or_default() + "\n",
    )?;
    emit(args.json, &v, || {
        let mut t = table(&["", ""]);
        t.add_row([
            "instance".to_string(),
            format!("{} {}", cfg.name, cfg.version),
        ]);
        for (i, task) in v["tasks"].as_array().into_iter().flatten().enumerate() {
            t.add_row([
                format!("task {} ({})", i + 1, task["kind"].as_str().unwrap_or("?")),
                crate::provenance::summary(task),
            ]);
        }
        for (name, (n, _)) in &report.digest.collections {
            t.add_row([format!("{name} documents"), n.to_string()]);
        }
        t.add_row(["store".to_string(), redact(&db)]);
        t.add_row(["results digest".to_string(), report.digest.digest.clone()]);
        t
    })
}
