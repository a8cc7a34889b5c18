//! The builder: instance manifest → runtime binary → reproducible OCI image archive,
//! and the tools that read such archives back.
//!
//! - [`known`]: the unit crates the host binary was compiled with, to check
//!   manifests naming them;
//! - [`manifest`]: instance manifests, raw → validated, every problem at once with
//!   its `file:line:column`;
//! - [`compose`]: the generated instance crate, its static build, the build cache;
//! - [`attest`]: SBOM (SPDX) and provenance (in-toto, SLSA v1);
//! - [`pack`]: the three layers, annotations, the archive;
//! - [`inspect`]: reading an archive back: units, channels, processes, digests, and
//!   the diff of two images.
//!
//! Running images is `ampel-runner`'s job, publishing them `ampel-distribution`'s,
//! and the command line `ampel`'s (the host binary, with the development registry).
//!
//! **Architecture invariant:** the builder never runs units. It runs the *built*
//! binary only to ask it which units it registers and whether the configuration
//! fits it (`ampel instance check`).

pub mod attest;
pub mod compose;
pub mod crates;
pub mod inspect;
pub mod known;
pub mod license;
pub mod manifest;
pub mod pack;
mod patch;
pub mod pins;

use std::path::{Path, PathBuf};

/// The target every instance binary is built for.
pub const TARGET: &str = "x86_64-unknown-linux-gnu";

impl From<ampel_manifest::ManifestError> for BuildError {
    fn from(e: ampel_manifest::ManifestError) -> Self {
        match e {
            ampel_manifest::ManifestError::Read { path, source } => BuildError::Io { path, source },
            ampel_manifest::ManifestError::Invalid(p) => BuildError::Manifest(p),
        }
    }
}

/// Why a build or an inspection failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Problems in a manifest, each `file:line:column: message`.
    #[error("{} problem(s):\n{}", .0.len(), .0.join("\n"))]
    Manifest(Vec<String>),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The directory given (or found) is not an AMPEL source tree.
    #[error("{path} is not an AMPEL source tree (no runtime/commands/Cargo.toml); pass --source DIR or set AMPEL_SOURCE")]
    NotSource {
        /// The directory.
        path: PathBuf,
    },
    /// cargo or rustc could not run, or failed (`what` names the step).
    #[error("{what}: {detail}")]
    Cargo {
        /// The step: `cargo build`, `cargo tree`, `cargo metadata` ...
        what: String,
        /// Its message (the tail of its output).
        detail: String,
    },
    /// A unit crate's `Cargo.toml` (or the lock file) cannot be read or rewritten.
    #[error("{path}: {detail}")]
    CrateManifest {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// The built runtime binary did not answer as an instance binary must.
    #[error("the built runtime {detail}")]
    Binary {
        /// What it did instead.
        detail: String,
    },
    /// `SOURCE_DATE_EPOCH` is not a usable time.
    #[error("SOURCE_DATE_EPOCH={value}: {detail}")]
    SourceDate {
        /// The value.
        value: String,
        /// What was expected.
        detail: String,
    },
    /// Image writing or verification failed.
    #[error(transparent)]
    Image(#[from] ampel_images::ImageError),
    /// The archive is a valid OCI image but not an AMPEL instance image.
    #[error("{path}: not an AMPEL instance image: {detail}")]
    NotInstance {
        /// The archive.
        path: PathBuf,
        /// What is missing.
        detail: String,
    },
}

/// The AMPEL source tree to build instance runtimes from: `explicit`, else
/// `$AMPEL_SOURCE`, else the tree this builder was compiled from.
pub fn source_root(explicit: Option<&Path>) -> Result<PathBuf, BuildError> {
    let compiled = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let candidate = explicit
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("AMPEL_SOURCE").map(PathBuf::from))
        .unwrap_or(compiled);
    if candidate.join("runtime/commands/Cargo.toml").is_file() {
        Ok(candidate.canonicalize().unwrap_or(candidate))
    } else {
        Err(BuildError::NotSource { path: candidate })
    }
}

/// The cache directory: `explicit`, else `$AMPEL_CACHE`, else
/// `$XDG_CACHE_HOME/ampel`, else `~/.cache/ampel`.
pub fn cache_dir(explicit: Option<&Path>) -> PathBuf {
    explicit
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("AMPEL_CACHE").map(PathBuf::from))
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("ampel")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/ampel")))
        .unwrap_or_else(|| PathBuf::from(".ampel-cache"))
}

/// What `build` did.
#[derive(Debug, Clone)]
pub struct BuildReport {
    /// The binary and how it was obtained.
    pub binary: compose::BuiltBinary,
    /// The image written.
    pub image: pack::PackedImage,
    /// Seconds, all steps.
    pub seconds: f64,
}

/// Build an instance image: check the manifest, compose and build the runtime (or
/// take it from the cache), check the configuration with the built binary, pack.
pub fn build(
    manifest_path: &Path,
    host: &known::HostUnits,
    opts: &compose::BuildOptions,
    revision: Option<&str>,
    out: &Path,
    step: &dyn Fn(&str),
) -> Result<BuildReport, BuildError> {
    let started = std::time::Instant::now();
    step(&format!("checking {}", manifest_path.display()));
    let m = manifest::load(manifest_path, host, &opts.source_root)?;
    step("composing the instance runtime");
    let binary = compose::compose(&m, opts)?;
    step(&if binary.cached {
        format!("runtime binary from the cache ({})", short(&binary.key))
    } else {
        format!(
            "runtime binary built in {:.1} s ({})",
            binary.seconds,
            short(&binary.key)
        )
    });
    check_with_binary(&m, &binary)?;
    step("packing the image");
    let image = pack::pack(&m, &binary, revision, out)?;
    Ok(BuildReport {
        binary,
        image,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// `sha256:0123456789ab` (12 hex digits) for messages.
pub use ampel_images::short_digest as short;

/// Let the built binary check the configuration it will be packed with: unit
/// configs of crates the builder does not know are validated here.
fn check_with_binary(
    m: &manifest::Manifest,
    binary: &compose::BuiltBinary,
) -> Result<(), BuildError> {
    let mut config = m.config.clone();
    config.units = binary.units.clone();
    let dir = tempfile::tempdir().map_err(|e| BuildError::Io {
        path: std::env::temp_dir(),
        source: e,
    })?;
    let file = dir.path().join("instance.json");
    std::fs::write(&file, serde_json::to_string(&config).unwrap_or_default()).map_err(|e| {
        BuildError::Io {
            path: file.clone(),
            source: e,
        }
    })?;
    let out = std::process::Command::new(&binary.path)
        .args(["--json", "instance", "check", "--instance"])
        .arg(&file)
        .output()
        .map_err(|e| BuildError::Binary {
            detail: format!("cannot run: {e}"),
        })?;
    let report: ampel_core::instance::CheckReport =
        serde_json::from_slice(&out.stdout).map_err(|e| BuildError::Binary {
            detail: format!(
                "did not answer `instance check` ({e}): {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        })?;
    if report.ok && out.status.success() {
        return Ok(());
    }
    let problems: Vec<String> = report
        .problems
        .iter()
        .map(|p| format!("{}: {p}", m.path.display()))
        .collect();
    Err(BuildError::Manifest(problems))
}
