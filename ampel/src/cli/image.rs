//! `ampel image build|inspect|verify|diff|run|push|pull`: instance images, through
//! the builder, the runner and the distribution client.

use super::{channel_rows, local_archive, print_json, table};
use ampel_builder::compose::BuildOptions;
use ampel_builder::inspect::{self, Change, ImageInfo};
use ampel_builder::known::HostUnits;
use ampel_builder::short;
use ampel_commands::RuntimeArgs;
use ampel_runner::run::{RunOptions, RunSpec, Runtime};
use anyhow::Context;
use clap::Subcommand;
use serde_json::{json, Value};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

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
    t.add_row([
        "license".to_string(),
        match (
            i.annotations.get(ampel_builder::pack::LICENSES),
            i.annotations.get(ampel_builder::pack::COPYLEFT),
        ) {
            (Some(l), Some(crates)) => {
                format!("{l}: the instance binary links copyleft crates: {crates}")
            }
            _ => "no copyleft crate (each crate's license: the SBOM, /etc/ampel/sbom.spdx.json)"
                .to_string(),
        },
    ]);
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
