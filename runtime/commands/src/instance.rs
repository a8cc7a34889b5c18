//! `ampel instance ...`: the commands an instance image runs. The instance
//! configuration comes from `--instance`, `$AMPEL_INSTANCE`, or the image's
//! `/etc/ampel/instance.json`, and is checked against this binary before anything
//! runs.

use crate::args::RuntimeArgs;
use crate::output::{report, table, CommandError, Report};
use crate::uri::{open_store, redact, DEFAULT_DB};
use ampel_core::instance::{CheckReport, InstanceConfig, INSTANCE_PATH};
use ampel_core::job::{run_plan, JobReport};
use ampel_interface::Registry;
use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::Value;
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
                let checked = CheckReport {
                    instance: cfg.name.clone(),
                    version: cfg.version.clone(),
                    units: cfg.units.len(),
                    ok: problems.is_empty(),
                    problems: problems.clone(),
                };
                report(true, &Checked(checked))?;
                return if problems.is_empty() {
                    Ok(())
                } else {
                    Err(CommandError::Invalid(problems))
                };
            }
            let cfg = load_checked(registry, i)?;
            report(
                args.json,
                &Checked(CheckReport {
                    instance: cfg.name.clone(),
                    version: cfg.version.clone(),
                    units: cfg.units.len(),
                    ok: true,
                    problems: vec![],
                }),
            )
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
            crate::serve::serve_instance(&cfg, registry, args, &origin, *max_concurrent, out)
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
    args.archive_only("ampel instance run")?;
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
    let done = run_plan(
        &cfg.name,
        &plan,
        registry,
        store.as_ref(),
        out,
        &crate::progress::Reporter::from_env(),
    )
    .map_err(|e| CommandError::Usage(e.to_string()))?;
    let run = InstanceRun {
        instance: InstanceName {
            name: cfg.name.clone(),
            version: cfg.version.clone(),
        },
        store: redact(&db),
        report: done,
    };
    let summary = out.join("instance-run.json");
    std::fs::write(
        &summary,
        serde_json::to_string_pretty(&run).unwrap_or_default() + "\n",
    )?;
    report(args.json, &run)
}

/// Which instance ran.
#[derive(Serialize)]
struct InstanceName {
    name: String,
    version: String,
}

/// What `ampel instance run` prints and writes to `instance-run.json`.
#[derive(Serialize)]
struct InstanceRun {
    instance: InstanceName,
    store: String,
    #[serde(flatten)]
    report: JobReport,
}

impl Report for InstanceRun {
    fn table(&self) -> comfy_table::Table {
        let mut t = table(&["", ""]);
        t.add_row([
            "instance".to_string(),
            format!("{} {}", self.instance.name, self.instance.version),
        ]);
        crate::job::add_tasks(&mut t, &self.report);
        t.add_row(["store".to_string(), self.store.clone()]);
        t.add_row([
            "results digest".to_string(),
            self.report.digest.digest.clone(),
        ]);
        t
    }
}

/// What `ampel instance check` prints.
#[derive(Serialize)]
#[serde(transparent)]
struct Checked(CheckReport);

impl Report for Checked {
    fn table(&self) -> comfy_table::Table {
        let mut t = table(&["instance", "units", "check"]);
        t.add_row([
            format!("{} {}", self.0.instance, self.0.version),
            self.0.units.to_string(),
            if self.0.ok {
                "ok: fits this binary".to_string()
            } else {
                self.0.problems.join("\n")
            },
        ]);
        t
    }
}
