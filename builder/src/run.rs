//! Running instance images under three runtimes, with the same view from inside:
//! the inputs read-only under `/inputs/<name>`, the output directory read-write at
//! `/out`, the configuration at `/etc/ampel/instance.json`, no network unless asked.
//!
//! - **native**: the verified image's files are extracted into a cache keyed by the
//!   manifest digest (written to a temporary directory, then renamed: never half
//!   written) and the binary runs as a host process; `/inputs` and `/out` in the
//!   arguments are rewritten to the host paths. Works where no container runtime
//!   exists (HPC login nodes).
//! - **oci**: an OCI bundle (root file system from the layers, `config.json` written
//!   with oci-spec) run by `runc` (crun where the host allows it: not on these hosts,
//!   whose hybrid cgroups it refuses).
//! - **docker**: the archive is loaded through the Engine API (bollard) unless the
//!   daemon has it, the container is created and run **by image ID** (the config
//!   digest: a loaded image has no registry digest), logs are streamed, the exit
//!   code collected, then the container removed (not auto-removed: logs would be lost).
//!
//! Every runtime is checked before anything runs: a missing `runc`, an unreachable
//! daemon or a tampered image is an error, not a half-started container.

use crate::inspect::OpenImage;
use crate::pack::{BINARY, CONFIG};
use crate::BuildError;
use ampel_images::archive::layer_files;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Which runtime runs the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    /// The binary as a host process.
    Native,
    /// An OCI bundle run by runc.
    Oci,
    /// A Docker Engine (Engine API).
    Docker,
}

impl Runtime {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Native => "native",
            Runtime::Oci => "oci",
            Runtime::Docker => "docker",
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// Arguments of the instance binary (the entrypoint), in container paths.
    pub args: Vec<String>,
    /// Mounted read-only at `/inputs/<file name>`.
    pub inputs: Vec<PathBuf>,
    /// Mounted read-write at `/out` (created if needed).
    pub out: PathBuf,
    /// Extra environment.
    pub env: Vec<(String, String)>,
    /// Give the container the host's network.
    pub network: bool,
    /// Keep stdout instead of passing it through.
    pub capture_stdout: bool,
}

/// Where runtimes keep their state.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Cache for extracted images and bundles.
    pub cache_dir: PathBuf,
    /// The Docker daemon (`unix:///path` or a path); default `$DOCKER_HOST`, else
    /// `/var/run/docker.sock`.
    pub docker_host: Option<String>,
    /// The OCI runtime binary (default `runc`).
    pub oci_runtime: String,
}

/// How a run ended.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunOutcome {
    /// The runtime.
    pub runtime: Runtime,
    /// What ran it (runc version, Docker version, or the native binary).
    pub runtime_detail: String,
    /// The process's exit code.
    pub exit_code: i32,
    /// Captured stdout (if asked for).
    #[serde(skip)]
    pub stdout: Vec<u8>,
    /// Wall-clock seconds of the run itself.
    pub seconds: f64,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |e| BuildError::Io {
        path: path.to_path_buf(),
        source: e,
    }
}

/// Write the image's root file system (layers in order) into `dir`.
pub fn extract_rootfs(image: &OpenImage, dir: &Path) -> Result<(), BuildError> {
    for l in &image.info.layers {
        for f in layer_files(&l.digest, &image.blob(&l.digest)?)? {
            let path = dir.join(&f.path);
            if f.path.ends_with('/') {
                std::fs::create_dir_all(&path).map_err(io_err(&path))?;
                continue;
            }
            if let Some(p) = path.parent() {
                std::fs::create_dir_all(p).map_err(io_err(p))?;
            }
            std::fs::write(&path, &f.data).map_err(io_err(&path))?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(f.mode & 0o7777))
                .map_err(io_err(&path))?;
        }
    }
    for d in ["tmp", "inputs", "out", "proc", "dev", "sys"] {
        let p = dir.join(d);
        std::fs::create_dir_all(&p).map_err(io_err(&p))?;
    }
    Ok(())
}

/// The image's files, extracted once per manifest digest into the cache.
pub fn cached_rootfs(image: &OpenImage, cache: &Path) -> Result<PathBuf, BuildError> {
    let cache = &std::path::absolute(cache).map_err(io_err(cache))?;
    let hex = image.info.manifest_digest.trim_start_matches("sha256:");
    let done = cache.join("rootfs").join(hex);
    if done.join(BINARY).is_file() {
        return Ok(done);
    }
    let parent = cache.join("rootfs");
    std::fs::create_dir_all(&parent).map_err(io_err(&parent))?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!("{hex}.tmp"))
        .tempdir_in(&parent)
        .map_err(io_err(&parent))?;
    extract_rootfs(image, tmp.path())?;
    let tmp = tmp.keep();
    if std::fs::rename(&tmp, &done).is_err() {
        let _ = std::fs::remove_dir_all(&tmp); // another run finished first
    }
    Ok(done)
}

/// The image config's `User` (`65532:65532`), empty if unset.
pub(crate) fn image_user_spec(image: &OpenImage) -> String {
    image
        .info
        .verified
        .runtime
        .as_ref()
        .and_then(|c| c.user().clone())
        .unwrap_or_default()
}

/// `(uid, gid)` of the image's user (`65532:65532`), root if unset.
fn image_user(image: &OpenImage) -> (u32, u32) {
    let user = image_user_spec(image);
    let mut parts = user.split(':').map(|p| p.parse::<u32>().unwrap_or(0));
    let uid = parts.next().unwrap_or(0);
    (uid, parts.next().unwrap_or(uid))
}

fn image_env(image: &OpenImage) -> Vec<(String, String)> {
    image
        .info
        .verified
        .runtime
        .as_ref()
        .and_then(|c| c.env().clone())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

fn input_name(p: &Path) -> Result<String, BuildError> {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| BuildError::Tool(format!("input {} has no file name", p.display())))
}

fn check_inputs(spec: &RunSpec) -> Result<Vec<(String, PathBuf)>, BuildError> {
    let mut out: Vec<(String, PathBuf)> = Vec::new();
    for i in &spec.inputs {
        let abs = i
            .canonicalize()
            .map_err(|e| BuildError::Tool(format!("input {} cannot be read: {e}", i.display())))?;
        let name = input_name(&abs)?;
        if out.iter().any(|(n, _)| *n == name) {
            return Err(BuildError::Tool(format!(
                "two inputs are named `{name}`; they would share /inputs/{name}"
            )));
        }
        out.push((name, abs));
    }
    Ok(out)
}

/// Make the output directory writable by the container user: when we are root and
/// the image's user is not, the directory is handed to that user.
fn prepare_out(out: &Path, user: (u32, u32)) -> Result<PathBuf, BuildError> {
    std::fs::create_dir_all(out).map_err(io_err(out))?;
    let out = out.canonicalize().map_err(io_err(out))?;
    // our own uid, from the proc file system
    let uid = std::fs::metadata("/proc/self").map(|m| {
        use std::os::unix::fs::MetadataExt;
        m.uid()
    });
    if uid.ok() == Some(0) && user.0 != 0 {
        std::os::unix::fs::chown(&out, Some(user.0), Some(user.1)).map_err(io_err(&out))?;
    }
    Ok(out)
}

/// The output directory, made writable by the image's user.
pub(crate) fn prepare_out_for(out: &Path, image: &OpenImage) -> Result<PathBuf, BuildError> {
    prepare_out(out, image_user(image))
}

/// Run an opened (verified) image.
pub fn run(
    image: &OpenImage,
    runtime: Runtime,
    spec: &RunSpec,
    opts: &RunOptions,
) -> Result<RunOutcome, BuildError> {
    let inputs = check_inputs(spec)?;
    match runtime {
        Runtime::Native => run_native(image, spec, opts, &inputs),
        Runtime::Oci => run_oci(image, spec, opts, &inputs),
        Runtime::Docker => crate::docker::run_docker(image, spec, opts, &inputs),
    }
}

/// Rewrite container paths (`/inputs...`, `/out...`, `/etc/ampel/...`) to host paths,
/// also as the value of `--flag=VALUE` and in `sqlite:PATH` store URIs.
fn host_arg(arg: &str, inputs: &Path, out: &Path, rootfs: &Path) -> String {
    if let Some(path) = arg.strip_prefix("sqlite:") {
        return format!("sqlite:{}", host_arg(path, inputs, out, rootfs));
    }
    for (prefix, to) in [("/inputs", inputs), ("/out", out)] {
        if arg == prefix {
            return to.display().to_string();
        }
        if let Some(rest) = arg.strip_prefix(prefix).and_then(|r| r.strip_prefix('/')) {
            return to.join(rest).display().to_string();
        }
        if let Some((flag, value)) = arg.split_once('=') {
            if flag.starts_with("--") {
                let mapped = host_arg(value, inputs, out, rootfs);
                if mapped != value {
                    return format!("{flag}={mapped}");
                }
            }
        }
    }
    if let Some(rest) = arg.strip_prefix("/etc/ampel/") {
        return rootfs.join("etc/ampel").join(rest).display().to_string();
    }
    arg.to_string()
}

fn finish(
    mut cmd: Command,
    spec: &RunSpec,
    runtime: Runtime,
    detail: String,
) -> Result<RunOutcome, BuildError> {
    let started = std::time::Instant::now();
    cmd.stdin(Stdio::null());
    // stderr passes straight through, so the instance's progress lines appear while
    // it runs (not all at its end)
    cmd.stderr(Stdio::inherit());
    cmd.stdout(if spec.capture_stdout {
        Stdio::piped()
    } else {
        Stdio::inherit()
    });
    let out = cmd
        .output()
        .map_err(|e| BuildError::Tool(format!("cannot start the {} run: {e}", runtime.as_str())))?;
    Ok(RunOutcome {
        runtime,
        runtime_detail: detail,
        exit_code: out.status.code().unwrap_or(128),
        stdout: out.stdout,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn run_native(
    image: &OpenImage,
    spec: &RunSpec,
    opts: &RunOptions,
    inputs: &[(String, PathBuf)],
) -> Result<RunOutcome, BuildError> {
    let rootfs = cached_rootfs(image, &opts.cache_dir)?;
    let out = prepare_out(&spec.out, (0, 0))?;
    // /inputs: a directory of links to the inputs, as the containers see them
    let links = tempfile::tempdir().map_err(io_err(&std::env::temp_dir()))?;
    for (name, path) in inputs {
        std::os::unix::fs::symlink(path, links.path().join(name)).map_err(io_err(links.path()))?;
    }
    let mut cmd = Command::new(rootfs.join(BINARY));
    cmd.args(
        spec.args
            .iter()
            .map(|a| host_arg(a, links.path(), &out, &rootfs)),
    )
    .current_dir(&out)
    .env_remove("AMPEL_DB");
    for (k, v) in image_env(image) {
        match k.as_str() {
            "AMPEL_INSTANCE" => {
                cmd.env(k, rootfs.join(CONFIG));
            }
            "PATH" | "HOME" => {}
            _ => {
                cmd.env(k, v);
            }
        }
    }
    cmd.envs(spec.env.iter().map(|(k, v)| (k, v)));
    let detail = format!("host process {}", rootfs.join(BINARY).display());
    finish(cmd, spec, Runtime::Native, detail)
}

fn oci_config(
    image: &OpenImage,
    spec: &RunSpec,
    inputs: &[(String, PathBuf)],
    out: &Path,
) -> Result<oci_spec::runtime::Spec, BuildError> {
    use oci_spec::runtime::{
        LinuxNamespaceType, MountBuilder, ProcessBuilder, RootBuilder, Spec, UserBuilder,
    };
    let err = |e: oci_spec::OciSpecError| BuildError::Tool(format!("OCI runtime config: {e}"));
    let (uid, gid) = image_user(image);
    let entry = image
        .info
        .verified
        .runtime
        .as_ref()
        .and_then(|c| c.entrypoint().clone())
        .unwrap_or_else(|| vec![format!("/{BINARY}")]);
    let mut env: Vec<String> = image_env(image)
        .into_iter()
        .chain(spec.env.iter().cloned())
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    env.dedup();
    let mut spec_doc = Spec::default();
    let process = ProcessBuilder::default()
        .terminal(false)
        .user(
            UserBuilder::default()
                .uid(uid)
                .gid(gid)
                .build()
                .map_err(err)?,
        )
        .args(
            entry
                .into_iter()
                .chain(spec.args.iter().cloned())
                .collect::<Vec<_>>(),
        )
        .env(env)
        .cwd("/out")
        .no_new_privileges(true)
        .capabilities(
            spec_doc
                .process()
                .as_ref()
                .and_then(|p| p.capabilities().clone())
                .unwrap_or_default(),
        )
        .rlimits(
            spec_doc
                .process()
                .as_ref()
                .and_then(|p| p.rlimits().clone())
                .unwrap_or_default(),
        )
        .build()
        .map_err(err)?;
    spec_doc.set_process(Some(process));
    spec_doc.set_hostname(Some("ampel".into()));
    spec_doc.set_root(Some(
        RootBuilder::default()
            .path("rootfs")
            .readonly(true)
            .build()
            .map_err(err)?,
    ));
    let mut mounts = spec_doc.mounts().clone().unwrap_or_default();
    let bind = |src: &Path, dst: String, ro: bool| {
        MountBuilder::default()
            .destination(dst)
            .typ("bind")
            .source(src)
            .options(vec![
                "rbind".to_string(),
                if ro { "ro" } else { "rw" }.to_string(),
            ])
            .build()
            .map_err(err)
    };
    for (name, path) in inputs {
        mounts.push(bind(path, format!("/inputs/{name}"), true)?);
    }
    mounts.push(bind(out, "/out".into(), false)?);
    mounts.push(
        MountBuilder::default()
            .destination("/tmp")
            .typ("tmpfs")
            .source("tmpfs")
            .options(vec!["nosuid".into(), "nodev".into(), "mode=1777".into()])
            .build()
            .map_err(err)?,
    );
    spec_doc.set_mounts(Some(mounts));
    if let Some(linux) = spec_doc.linux_mut() {
        if spec.network {
            if let Some(ns) = linux.namespaces().clone() {
                linux.set_namespaces(Some(
                    ns.into_iter()
                        .filter(|n| n.typ() != LinuxNamespaceType::Network)
                        .collect(),
                ));
            }
        }
    }
    Ok(spec_doc)
}

fn run_oci(
    image: &OpenImage,
    spec: &RunSpec,
    opts: &RunOptions,
    inputs: &[(String, PathBuf)],
) -> Result<RunOutcome, BuildError> {
    let version = Command::new(&opts.oci_runtime)
        .arg("--version")
        .output()
        .map_err(|e| {
            BuildError::Tool(format!(
                "the OCI runtime `{}` cannot run: {e} (install it: apt-get install runc)",
                opts.oci_runtime
            ))
        })?;
    let detail = String::from_utf8_lossy(&version.stdout)
        .lines()
        .next()
        .unwrap_or(&opts.oci_runtime)
        .to_string();
    let out = prepare_out(&spec.out, image_user(image))?;
    let bundles =
        std::path::absolute(opts.cache_dir.join("bundles")).map_err(io_err(&opts.cache_dir))?;
    std::fs::create_dir_all(&bundles).map_err(io_err(&bundles))?;
    let bundle = tempfile::Builder::new()
        .prefix("run")
        .tempdir_in(&bundles)
        .map_err(io_err(&bundles))?;
    extract_rootfs(image, &bundle.path().join("rootfs"))?;
    let config = oci_config(image, spec, inputs, &out)?;
    let cfg_path = bundle.path().join("config.json");
    config
        .save(&cfg_path)
        .map_err(|e| BuildError::Tool(format!("cannot write {}: {e}", cfg_path.display())))?;
    let id = format!(
        "ampel-{}-{}",
        std::process::id(),
        bundle
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    let state = bundle.path().join("state");
    let mut cmd = Command::new(&opts.oci_runtime);
    cmd.arg("--root")
        .arg(&state)
        .args(["run", "--bundle"])
        .arg(bundle.path())
        .arg(&id);
    finish(cmd, spec, Runtime::Oci, detail)
}

#[cfg(test)]
mod tests {
    use super::host_arg;
    use std::path::Path;

    #[test]
    fn container_paths_map_to_host_paths() {
        let (i, o, r) = (
            Path::new("/h/in"),
            Path::new("/h/out"),
            Path::new("/c/root"),
        );
        let m = |a: &str| host_arg(a, i, o, r);
        assert_eq!(m("/inputs"), "/h/in");
        assert_eq!(m("/inputs/a/b.avro"), "/h/in/a/b.avro");
        assert_eq!(m("/out"), "/h/out");
        assert_eq!(m("sqlite:/out/x.db"), "sqlite:/h/out/x.db");
        assert_eq!(m("--db=sqlite:/out/x.db"), "--db=sqlite:/h/out/x.db");
        assert_eq!(
            m("/etc/ampel/instance.json"),
            "/c/root/etc/ampel/instance.json"
        );
        assert_eq!(m("/outside"), "/outside");
        assert_eq!(m("mongodb://h/db"), "mongodb://h/db");
        assert_eq!(m("--json"), "--json");
    }
}
