//! `ampel reproduce`: rerun an archived instance on pinned inputs and compare.

use super::{local_archive, print_json, table};
use ampel_builder::compose::BuildOptions;
use ampel_builder::inspect::{self};
use ampel_builder::known::HostUnits;
use ampel_builder::manifest;
use ampel_commands::RuntimeArgs;
use ampel_runner::run::{RunOptions, Runtime};
use anyhow::Context;
use std::path::{Path, PathBuf};

/// `ampel reproduce ...`
#[derive(Debug, clap::Args)]
pub struct ReproduceArgs {
    /// The image archive, a manifest (.toml: built first into images/<name>.tar), or
    /// REGISTRY/REPOSITORY@sha256:DIGEST (pulled into the cache and verified).
    pub image: String,
    /// The inputs: directories, alert files, tar archives; repeatable.
    #[arg(long, required = true, num_args = 1..)]
    pub inputs: Vec<PathBuf>,
    /// The expected results digest (sha256:...), or a previous run.json: its inputs
    /// and image are checked before anything runs.
    #[arg(long)]
    pub expect: Option<String>,
    /// With --expect RUN.json: accept a record made with another image of the same
    /// instance (rebuilt, or built with another toolchain) and compare the results
    /// only; the inputs must still match. What an instance's CI uses.
    #[arg(long, requires = "expect")]
    pub any_image: bool,
    /// Output directory: store, reports, run.json.
    #[arg(long, default_value = "ampel-out")]
    pub out: PathBuf,
    /// A store URI to pass through (default: a fresh embedded store, OUT/ampel.db).
    #[arg(long = "store")]
    pub store: Option<String>,
    /// native (a host process, NOT confined: for images you trust), oci (runc) or
    /// docker (Engine API): both confined.
    #[arg(long, value_enum, default_value = "native")]
    pub runtime: Runtime,
    /// The Docker daemon (unix:///path).
    #[arg(long)]
    pub docker_host: Option<String>,
    /// The OCI runtime binary.
    #[arg(long, default_value = "runc")]
    pub oci_runtime: String,
    /// Cache for builds and extracted images.
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// Allow plain HTTP to a registry that is not on this machine.
    #[arg(long)]
    pub insecure: bool,
}

/// Run `ampel reproduce`.
pub fn reproduce(host: &HostUnits, args: &RuntimeArgs, r: &ReproduceArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let step = |s: &str| eprintln!("[{:>6.1}s] {s}", started.elapsed().as_secs_f64());
    let image = PathBuf::from(&r.image);
    let archive = if image.extension().is_some_and(|e| e == "toml") {
        let m = manifest::load(&image, host, &ampel_builder::source_root(None)?)?;
        let out = PathBuf::from("images").join(format!("{}.tar", m.config.name));
        let opts = BuildOptions {
            source_root: ampel_builder::source_root(None)?,
            cache_dir: ampel_builder::cache_dir(r.cache.as_deref()),
            wrapper: std::env::current_exe()
                .context("cannot find the ampel executable (the rustc wrapper)")?,
        };
        let b = ampel_builder::build(&image, host, &opts, None, &out, &step)?;
        step(&format!(
            "image {} ({:.1} MB) built",
            out.display(),
            b.image.size as f64 / 1e6
        ));
        out
    } else {
        local_archive(&r.image, r.cache.as_deref(), r.insecure)?
    };
    let img = inspect::open(&archive)
        .with_context(|| format!("{} does not verify; nothing was run", archive.display()))?;
    let opts = RunOptions {
        cache_dir: ampel_builder::cache_dir(r.cache.as_deref()),
        docker_host: r.docker_host.clone(),
        oci_runtime: r.oci_runtime.clone(),
    };
    let spec = ampel_runner::reproduce::ReproduceSpec {
        inputs: r.inputs.clone(),
        out: r.out.clone(),
        expect: r.expect.clone(),
        any_image: r.any_image,
        db: r.store.clone(),
        runtime: r.runtime,
    };
    let done =
        ampel_runner::reproduce::reproduce(&img, &spec, &opts, &step).map_err(|e| match e {
            ampel_runner::RunError::InputsDiffer(m) => Exit::new(INPUTS_DIFFER, m).into(),
            other => anyhow::Error::from(other),
        })?;
    let rec = &done.record;
    if args.json {
        print_json(&ampel_runner::reproduce::to_json(&done));
    } else {
        let mut t = table(&["", ""]);
        t.add_row([
            "instance".to_string(),
            format!("{} {}", rec.image.name, rec.image.version),
        ]);
        t.add_row([
            "image digest".to_string(),
            rec.image.manifest_digest.clone(),
        ]);
        t.add_row([
            "image id (config)".to_string(),
            rec.image.config_digest.clone(),
        ]);
        t.add_row([
            "inputs".to_string(),
            format!("{} files, {}", rec.inputs.len(), rec.inputs_digest),
        ]);
        t.add_row([
            "runtime".to_string(),
            format!("{} — {}", rec.runtime, rec.runtime_detail),
        ]);
        for task in &rec.tasks {
            t.add_row([
                format!(
                    "tier {}",
                    task["kind"].as_str().unwrap_or("?").trim_start_matches('t')
                ),
                ampel_runner::reproduce::task_summary(task),
            ]);
        }
        for (name, (n, _)) in &rec.collections {
            t.add_row([format!("{name} documents"), n.to_string()]);
        }
        t.add_row([
            "results digest".to_string(),
            rec.results_digest.clone().unwrap_or_else(|| "-".into()),
        ]);
        if let Some(e) = &rec.expected {
            t.add_row(["expected".to_string(), e.clone()]);
        }
        t.add_row([
            "run record".to_string(),
            done.record_path.display().to_string(),
        ]);
        for report in reports(&r.out) {
            t.add_row(["T3 report".to_string(), report.display().to_string()]);
        }
        let store = r
            .store
            .clone()
            .unwrap_or_else(|| format!("sqlite:{}", r.out.join("ampel.db").display()));
        t.add_row([
            "explore the results".to_string(),
            ampel_commands::explore_command(&store),
        ]);
        println!("{t}");
        println!("{}", rec.verdict);
        for d in &done.differences {
            println!("first difference in {}:", d.collection);
            println!(
                "  expected: {}",
                d.expected.as_deref().unwrap_or("(no document)")
            );
            println!(
                "  actual:   {}",
                d.actual.as_deref().unwrap_or("(no document)")
            );
        }
    }
    match rec.verdict.as_str() {
        "REPRODUCED" | "RECORDED" => Ok(()),
        "FAILED" => anyhow::bail!(
            "the instance exited with code {}; see {}",
            rec.exit_code,
            done.record_path.display()
        ),
        _ => Err(Exit::new(
            RESULTS_DIFFER,
            format!(
                "results differ: expected {}, got {}",
                rec.expected.as_deref().unwrap_or("-"),
                rec.results_digest.as_deref().unwrap_or("-")
            ),
        )
        .into()),
    }
}

/// Exit code of `reproduce` when the results differ from the expected ones.
pub const RESULTS_DIFFER: u8 = 3;
/// Exit code of `reproduce` when the inputs are not those of the record (nothing ran).
pub const INPUTS_DIFFER: u8 = 4;

/// An error with its own exit code (the README's "Exit codes").
#[derive(Debug)]
pub struct Exit {
    /// The process exit code.
    pub code: u8,
    message: String,
}

impl Exit {
    fn new(code: u8, message: String) -> Exit {
        Exit { code, message }
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

/// HTML reports under an output directory.
fn reports(out: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(rd) = std::fs::read_dir(out) else {
        return found;
    };
    let mut dirs: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    dirs.sort();
    for d in dirs {
        if d.is_dir() {
            let mut sub: Vec<PathBuf> = std::fs::read_dir(&d)
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
                .map(|e| e.path().join("index.html"))
                .filter(|p| p.is_file())
                .collect();
            sub.sort();
            if d.join("index.html").is_file() {
                found.push(d.join("index.html"));
            }
            found.extend(sub);
        }
    }
    found
}
