//! Host-only commands: `ampel manifest ...` and `ampel image ...`. Tables for people,
//! `--json` for scripts; long steps report progress on stderr.

use ampel_builder::compose::BuildOptions;
use ampel_builder::inspect::{self, Change, ImageInfo};
use ampel_builder::known::HostUnits;
use ampel_builder::{manifest, short};
use ampel_commands::RuntimeArgs;
use ampel_runner::run::{RunOptions, RunSpec, Runtime};
use anyhow::Context;
use clap::Subcommand;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde_json::{json, Value};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

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

/// `ampel image ...`
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Build an instance image from a manifest: one static runtime binary with
    /// exactly the declared units, the resolved configuration, an SBOM and SLSA
    /// provenance, in one archive that is an OCI layout and a `docker load` input.
    ///
    /// The same manifest and sources give a byte-identical archive on any machine
    /// with the same toolchain. Binaries are cached by a hash of their inputs, so a
    /// configuration-only change rebuilds in about a second.
    ///
    /// Example: ampel image build manifests/ztf-demo.toml -o images/ztf-demo.tar
    Build {
        /// The manifest (TOML).
        manifest: PathBuf,
        /// The archive to write (the SBOM and provenance go beside it).
        #[arg(short, long)]
        output: PathBuf,
        /// Source revision to record (default: the manifest's, else `unknown`).
        #[arg(long)]
        revision: Option<String>,
        /// The AMPEL source tree (default: $AMPEL_SOURCE or the one ampel was built from).
        #[arg(long)]
        source: Option<PathBuf>,
        /// Build cache (default: $AMPEL_CACHE or ~/.cache/ampel).
        #[arg(long)]
        cache: Option<PathBuf>,
    },
    /// Show an image: instance, units and versions, channels, processes, layers,
    /// digests. Verifies the archive first.
    Inspect {
        /// The archive.
        archive: PathBuf,
    },
    /// Verify an archive: every blob's size and digest, every layer's diff id,
    /// manifest/config consistency, the Docker manifest, the instance configuration.
    Verify {
        /// The archive.
        archive: PathBuf,
    },
    /// Compare two images: units added, removed or changed; configuration changes
    /// per channel and process; layers changed.
    Diff {
        /// The first archive.
        a: PathBuf,
        /// The second archive.
        b: PathBuf,
    },
    /// Publish an image to an OCI registry: blobs the registry has are not sent
    /// again; the manifest goes up byte for byte, so its digest stays the archive's.
    ///
    /// Credentials: AMPEL_REGISTRY_USERNAME/AMPEL_REGISTRY_PASSWORD or
    /// ~/.docker/config.json. Plain HTTP only for loopback registries or --insecure.
    ///
    /// Example: ampel image push images/ztf-demo.tar 127.0.0.1:5000/ampel/ztf-demo:1.0.0
    Push {
        /// The archive.
        archive: PathBuf,
        /// REGISTRY/REPOSITORY:TAG.
        reference: String,
        /// Allow plain HTTP to a registry that is not on this machine.
        #[arg(long)]
        insecure: bool,
    },
    /// Fetch an image by digest into an archive, and verify it.
    ///
    /// Example: ampel image pull 127.0.0.1:5000/ampel/ztf-demo@sha256:... -o ztf-demo.tar
    Pull {
        /// REGISTRY/REPOSITORY@sha256:DIGEST.
        reference: String,
        /// The archive to write.
        #[arg(short, long)]
        output: PathBuf,
        /// Allow plain HTTP to a registry that is not on this machine.
        #[arg(long)]
        insecure: bool,
    },
    /// Run an instance image: verify it, then run its binary with ARGS under a
    /// runtime. The inputs are at /inputs/<name> and the output directory at /out
    /// under every runtime (native rewrites those paths). Only oci and docker
    /// confine the instance (read-only inputs, only /out writable, no network
    /// unless --network); native is an ordinary host process with your rights: use
    /// it only for images you trust.
    ///
    /// Example: ampel image run images/ztf-demo.tar --runtime oci --input alerts/ --out res -- instance run --inputs /inputs --out /out
    Run {
        /// The archive, or REGISTRY/REPOSITORY@sha256:DIGEST (pulled into the cache).
        archive: String,
        #[command(flatten)]
        run: RunArgs,
        /// Arguments of the instance binary.
        #[arg(last = true)]
        args: Vec<String>,
    },
}

/// Where and how an image runs.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// native (a host process, NOT confined: network and files as your user; for
    /// images you trust), oci (runc) or docker (Engine API): both confined.
    #[arg(long, value_enum, default_value = "native")]
    pub runtime: Runtime,
    /// An input (file or directory), mounted read-only at /inputs/<name>; repeatable.
    #[arg(long = "input")]
    pub inputs: Vec<PathBuf>,
    /// The output directory, mounted read-write at /out.
    #[arg(long, default_value = "ampel-out")]
    pub out: PathBuf,
    /// Environment for the instance, KEY=VALUE; repeatable.
    #[arg(long = "env", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// Give the container the host's network (off by default; oci and docker only:
    /// a native run is a host process and always has it).
    #[arg(long)]
    pub network: bool,
    /// The Docker daemon (unix:///path); default $DOCKER_HOST or /var/run/docker.sock.
    #[arg(long)]
    pub docker_host: Option<String>,
    /// The OCI runtime binary.
    #[arg(long, default_value = "runc")]
    pub oci_runtime: String,
    /// Cache for extracted images (default: $AMPEL_CACHE or ~/.cache/ampel).
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// Allow plain HTTP to a registry that is not on this machine.
    #[arg(long)]
    pub insecure: bool,
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("`{s}`: expected KEY=VALUE"))
}

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

/// An archive path, or a registry reference by digest pulled into the cache.
fn local_archive(image: &str, cache: Option<&Path>, insecure: bool) -> anyhow::Result<PathBuf> {
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

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_header(header.to_vec());
    t
}

fn print_json(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
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

fn channel_rows(t: &mut Table, c: &ampel_core::instance::InstanceConfig) {
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

/// Run `ampel image ...`.
pub fn image(host: &HostUnits, args: &RuntimeArgs, cmd: &ImageCommand) -> anyhow::Result<()> {
    match cmd {
        ImageCommand::Build {
            manifest,
            output,
            revision,
            source,
            cache,
        } => build(
            host,
            args,
            manifest,
            output,
            revision.as_deref(),
            source.as_deref(),
            cache.as_deref(),
        ),
        ImageCommand::Inspect { archive } => {
            let img = inspect::open(archive)?;
            show(args.json, &img.info);
            Ok(())
        }
        ImageCommand::Verify { archive } => {
            let img = inspect::open(archive)
                .with_context(|| format!("{} does not verify", archive.display()))?;
            let i = &img.info;
            let v = json!({
                "archive": archive, "ok": true,
                "manifest_digest": i.manifest_digest, "config_digest": i.config_digest,
                "layers": i.layers.len(), "blobs_checked": i.layers.len() + 2,
            });
            if args.json {
                print_json(&v);
            } else {
                println!(
                    "{}: ok — manifest {}, config {}, {} layers; every blob's size and digest, every diff id and the Docker manifest check out",
                    archive.display(),
                    i.manifest_digest,
                    i.config_digest,
                    i.layers.len()
                );
            }
            Ok(())
        }
        ImageCommand::Diff { a, b } => {
            let (x, y) = (inspect::open(a)?, inspect::open(b)?);
            let changes = inspect::diff(&x.info, &y.info);
            show_diff(args.json, &x.info, &y.info, &changes);
            Ok(())
        }
        ImageCommand::Push {
            archive,
            reference,
            insecure,
        } => {
            let r = ampel_distribution::Reference::parse(reference)?;
            let report =
                ampel_distribution::Client::new(&r, *insecure, std::io::stderr().is_terminal())
                    .push(archive)?;
            if args.json {
                print_json(&serde_json::to_value(&report)?);
            } else {
                let mut t = table(&["", ""]);
                t.add_row(["pushed".to_string(), report.reference.clone()]);
                t.add_row([
                    "manifest digest".to_string(),
                    report.manifest_digest.clone(),
                ]);
                t.add_row([
                    "blobs uploaded".to_string(),
                    format!(
                        "{} ({:.1} MB)",
                        report.uploaded.len(),
                        report.bytes as f64 / 1e6
                    ),
                ]);
                t.add_row([
                    "blobs already there".to_string(),
                    report.present.len().to_string(),
                ]);
                println!("{t}");
            }
            Ok(())
        }
        ImageCommand::Pull {
            reference,
            output,
            insecure,
        } => {
            let r = ampel_distribution::Reference::parse(reference)?;
            let report =
                ampel_distribution::Client::new(&r, *insecure, std::io::stderr().is_terminal())
                    .pull(output)?;
            // the same verification as `ampel image verify`, and an instance check
            let img = inspect::open(output)
                .with_context(|| format!("{} does not verify", output.display()))?;
            if args.json {
                print_json(&json!({"pull": report, "verified": true,
                    "instance": img.info.config.name, "version": img.info.config.version}));
            } else {
                let mut t = table(&["", ""]);
                t.add_row(["pulled".to_string(), report.reference.clone()]);
                t.add_row(["archive".to_string(), output.display().to_string()]);
                t.add_row([
                    "manifest digest".to_string(),
                    report.manifest_digest.clone(),
                ]);
                t.add_row([
                    "config digest (image id)".to_string(),
                    report.config_digest.clone(),
                ]);
                t.add_row([
                    "instance".to_string(),
                    format!("{} {}", img.info.config.name, img.info.config.version),
                ]);
                t.add_row([
                    "verified".to_string(),
                    "every blob, diff id and manifest".to_string(),
                ]);
                println!("{t}");
            }
            Ok(())
        }
        ImageCommand::Run {
            archive,
            run,
            args: inner,
        } => {
            let archive = &local_archive(archive, run.cache.as_deref(), run.insecure)?;
            let img = inspect::open(archive).with_context(|| {
                format!("{} does not verify; nothing was run", archive.display())
            })?;
            let opts = RunOptions {
                cache_dir: ampel_builder::cache_dir(run.cache.as_deref()),
                docker_host: run.docker_host.clone(),
                oci_runtime: run.oci_runtime.clone(),
            };
            let outcome = ampel_runner::run::run(
                &img,
                run.runtime,
                &RunSpec {
                    args: inner.clone(),
                    inputs: run.inputs.clone(),
                    out: run.out.clone(),
                    env: run.env.clone(),
                    network: run.network,
                    capture_stdout: false,
                },
                &opts,
            )?;
            if outcome.exit_code != 0 {
                anyhow::bail!(
                    "the instance exited with code {} ({})",
                    outcome.exit_code,
                    outcome.runtime_detail
                );
            }
            Ok(())
        }
    }
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
        db: r.store.clone(),
        runtime: r.runtime,
    };
    let done = ampel_runner::reproduce::reproduce(&img, &spec, &opts, &step)?;
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
        _ => anyhow::bail!(
            "results differ: expected {}, got {}",
            rec.expected.as_deref().unwrap_or("-"),
            rec.results_digest.as_deref().unwrap_or("-")
        ),
    }
}

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

fn build(
    host: &HostUnits,
    args: &RuntimeArgs,
    manifest: &Path,
    output: &Path,
    revision: Option<&str>,
    source: Option<&Path>,
    cache: Option<&Path>,
) -> anyhow::Result<()> {
    let opts = BuildOptions {
        source_root: ampel_builder::source_root(source)?,
        cache_dir: ampel_builder::cache_dir(cache),
        wrapper: std::env::current_exe()
            .context("cannot find the ampel executable (the rustc wrapper)")?,
    };
    let started = std::time::Instant::now();
    let step = |s: &str| eprintln!("[{:>6.1}s] {s}", started.elapsed().as_secs_f64());
    let r = ampel_builder::build(manifest, host, &opts, revision, output, &step)?;
    let i = &r.image;
    let v = json!({
        "archive": i.archive, "sbom": i.sbom, "provenance": i.provenance,
        "manifest_digest": i.manifest_digest, "config_digest": i.config_digest,
        "layers": i.layers, "size": i.size, "build_key": r.binary.key,
        "cached": r.binary.cached, "seconds": r.seconds,
        "units": i.config.units,
    });
    if args.json {
        print_json(&v);
        return Ok(());
    }
    let mut t = table(&["", ""]);
    t.add_row([
        "image".to_string(),
        format!("{} ({:.1} MB)", i.archive.display(), i.size as f64 / 1e6),
    ]);
    t.add_row(["manifest digest".to_string(), i.manifest_digest.clone()]);
    t.add_row([
        "config digest (image id)".to_string(),
        i.config_digest.clone(),
    ]);
    t.add_row([
        "runtime binary".to_string(),
        format!(
            "{} ({})",
            if r.binary.cached {
                "from the cache"
            } else {
                "built"
            },
            short(&r.binary.key)
        ),
    ]);
    t.add_row(["units".to_string(), i.config.units.len().to_string()]);
    t.add_row(["SBOM".to_string(), i.sbom.display().to_string()]);
    t.add_row(["provenance".to_string(), i.provenance.display().to_string()]);
    t.add_row(["time".to_string(), format!("{:.1} s", r.seconds)]);
    println!("{t}");
    Ok(())
}

fn show(json_mode: bool, i: &ImageInfo) {
    if json_mode {
        print_json(&serde_json::to_value(i).unwrap_or_default());
        return;
    }
    let c = &i.config;
    let mut t = table(&["", ""]);
    t.add_row(["instance".to_string(), format!("{} {}", c.name, c.version)]);
    if let Some(d) = &c.description {
        t.add_row(["description".to_string(), d.clone()]);
    }
    t.add_row(["manifest digest".to_string(), i.manifest_digest.clone()]);
    t.add_row([
        "config digest (image id)".to_string(),
        i.config_digest.clone(),
    ]);
    for k in ["revision", "source", "created"] {
        if let Some(v) = i.annotations.get(&format!("org.opencontainers.image.{k}")) {
            t.add_row([k.to_string(), v.clone()]);
        }
    }
    channel_rows(&mut t, c);
    println!("{t}");
    let mut u = table(&["unit", "kind", "version", "code digest", "crate"]);
    for x in &c.units {
        u.add_row([&x.name, &x.kind, &x.version, &x.digest, &x.krate]);
    }
    println!("{u}");
    let mut l = table(&["layer", "digest", "size", "contents"]);
    for (n, x) in i.layers.iter().enumerate() {
        l.add_row([
            format!(
                "{} {}",
                n + 1,
                x.created_by.trim_start_matches("ampel image build: ")
            ),
            short(&x.digest),
            format!("{:.1} kB", x.size as f64 / 1e3),
            x.files.join(", "),
        ]);
    }
    println!("{l}");
}

fn show_diff(json_mode: bool, a: &ImageInfo, b: &ImageInfo, changes: &[Change]) {
    if json_mode {
        print_json(&json!({
            "a": {"archive": a.path, "manifest_digest": a.manifest_digest},
            "b": {"archive": b.path, "manifest_digest": b.manifest_digest},
            "changes": changes,
        }));
        return;
    }
    if changes.is_empty() {
        println!(
            "no differences ({} = {})",
            a.manifest_digest, b.manifest_digest
        );
        return;
    }
    let show = |v: &Value| match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    let mut t = table(&["where", "what", "before", "after"]);
    for c in changes {
        t.add_row([
            c.scope.clone(),
            c.path.clone(),
            show(&c.before),
            show(&c.after),
        ]);
    }
    println!("{t}");
    println!("{} change(s)", changes.len());
}
