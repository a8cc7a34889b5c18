//! What a run is given and what it gives back, the same for every runtime: the
//! runtime chosen, the inputs (each read-only under `/inputs/<name>`), the output
//! directory (`/out`, owned by the image's user), options, and the outcome; and
//! the root file system of an image, extracted (and cached by manifest digest).

use crate::RunError;
use ampel_builder::inspect::OpenImage;
use ampel_builder::pack::BINARY;
use ampel_images::archive::layer_files;
use std::path::{Path, PathBuf};

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

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
    move |e| RunError::Io {
        path: path.to_path_buf(),
        source: e,
    }
}

/// Write the image's root file system (layers in order) into `dir`.
pub fn extract_rootfs(image: &OpenImage, dir: &Path) -> Result<(), RunError> {
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
pub fn cached_rootfs(image: &OpenImage, cache: &Path) -> Result<PathBuf, RunError> {
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
pub(crate) fn image_user(image: &OpenImage) -> (u32, u32) {
    let user = image_user_spec(image);
    let mut parts = user.split(':').map(|p| p.parse::<u32>().unwrap_or(0));
    let uid = parts.next().unwrap_or(0);
    (uid, parts.next().unwrap_or(uid))
}

pub(crate) fn image_env(image: &OpenImage) -> Vec<(String, String)> {
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

pub(crate) fn input_name(p: &Path) -> Result<String, RunError> {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| RunError::Input(format!("input {} has no file name", p.display())))
}

pub(crate) fn check_inputs(spec: &RunSpec) -> Result<Vec<(String, PathBuf)>, RunError> {
    let mut out: Vec<(String, PathBuf)> = Vec::new();
    for i in &spec.inputs {
        let abs = i
            .canonicalize()
            .map_err(|e| RunError::Input(format!("input {} cannot be read: {e}", i.display())))?;
        let name = input_name(&abs)?;
        if out.iter().any(|(n, _)| *n == name) {
            return Err(RunError::Input(format!(
                "two inputs are named `{name}`; they would share /inputs/{name}"
            )));
        }
        out.push((name, abs));
    }
    Ok(out)
}

/// Make the output directory writable by the container user: when we are root and
/// the image's user is not, the directory is handed to that user.
pub(crate) fn prepare_out(out: &Path, user: (u32, u32)) -> Result<PathBuf, RunError> {
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
pub(crate) fn prepare_out_for(out: &Path, image: &OpenImage) -> Result<PathBuf, RunError> {
    prepare_out(out, image_user(image))
}
