//! Packing an instance image: three layers, bottom first (four with file resources) —
//! 1. the runtime binary (`usr/local/bin/ampel`) and empty `tmp/`, `inputs/`, `out/`;
//! - only if the manifest has file resources, between 1 and 2: each file at
//!   `usr/share/ampel/resources/sha256/<hex>` (content-addressed, read-only), so a
//!   changed catalogue is a new layer and an unchanged one the same blob;
//! 2. the configuration (`etc/ampel/instance.json`, the resolved instance
//!    configuration, and `etc/ampel/manifest.toml`, the manifest as written);
//! 3. provenance (`etc/ampel/sbom.spdx.json`, `etc/ampel/provenance.intoto.json`,
//!    `etc/ampel/Cargo.lock`).
//!
//! A configuration change (say, a filter threshold) changes layers 2 and 3 (the
//! provenance records the manifest's digest); layer 1 stays byte-identical. The
//! image config runs the binary as the non-root user 65532 with
//! `AMPEL_INSTANCE=/etc/ampel/instance.json`; annotations and labels carry title,
//! version, revision, source, created and the unit list with versions.

use crate::attest;
use crate::compose::BuiltBinary;
use crate::manifest::Manifest;
use crate::BuildError;
use ampel_core::instance::InstanceConfig;
use ampel_images::layer::{build_layer, LayerFile};
use ampel_images::layout::{runtime_config_with, write_layout, ImageSpec};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Paths inside the image.
pub const BINARY: &str = "usr/local/bin/ampel";
/// The resolved configuration.
pub const CONFIG: &str = "etc/ampel/instance.json";
/// The manifest as written.
pub const MANIFEST: &str = "etc/ampel/manifest.toml";
/// The SBOM.
pub const SBOM: &str = "etc/ampel/sbom.spdx.json";
/// The SLSA provenance statement.
pub const PROVENANCE: &str = "etc/ampel/provenance.intoto.json";
/// The resolved lock file.
pub const LOCK: &str = "etc/ampel/Cargo.lock";

/// Where file resources go, `sha256/<hex>` below it (the runtime's
/// `ampel_core::resources::IMAGE_DIR`).
pub const RESOURCES: &str = "usr/share/ampel/resources";

/// The user instance containers run as.
pub const USER: &str = "65532:65532";

/// What a build wrote.
#[derive(Debug, Clone)]
pub struct PackedImage {
    /// The archive.
    pub archive: PathBuf,
    /// The SBOM beside it.
    pub sbom: PathBuf,
    /// The provenance statement beside it.
    pub provenance: PathBuf,
    /// Manifest digest (the image's identity in registries).
    pub manifest_digest: String,
    /// Config digest (the image ID after `docker load`).
    pub config_digest: String,
    /// Layer digests, bottom first.
    pub layers: Vec<String>,
    /// Archive size in bytes.
    pub size: u64,
    /// The configuration packed.
    pub config: InstanceConfig,
}

/// Pretty JSON with keys sorted at every level (through the canonical encoding, so
/// it holds even if a dependency turns on serde_json's `preserve_order`).
pub fn pretty(v: &Value) -> String {
    let sorted: Value =
        serde_json::from_str(&ampel_interface::hash::canonical_json(v)).unwrap_or(Value::Null);
    serde_json::to_string_pretty(&sorted).unwrap_or_default() + "\n"
}

fn file(path: &str, mode: u32, data: Vec<u8>) -> LayerFile {
    LayerFile {
        path: path.into(),
        mode,
        data,
    }
}

/// The image `created` time: the manifest's, else `SOURCE_DATE_EPOCH`, else the
/// fixed 1970-01-01T00:00:01Z.
pub fn created_time(m: &Manifest) -> Result<String, BuildError> {
    if let Some(c) = &m.created {
        return Ok(c.clone());
    }
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) => {
            let secs: i64 = s.trim().parse().map_err(|_| BuildError::SourceDate {
                value: s.clone(),
                detail: "expected seconds since 1970".into(),
            })?;
            chrono::DateTime::from_timestamp(secs, 0)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .ok_or_else(|| BuildError::SourceDate {
                    value: s.clone(),
                    detail: "out of range".into(),
                })
        }
        Err(_) => Ok(ampel_images::FIXED_CREATED.to_string()),
    }
}

/// Annotation: the license of the instance as a whole, when a copyleft crate
/// governs it (see [`crate::license`]).
pub const LICENSES: &str = "org.opencontainers.image.licenses";
/// Annotation: the copyleft crates and their licenses.
pub const COPYLEFT: &str = "io.ampel.copyleft";

/// The unit list annotation: `Name@version+digest` per unit, sorted, comma-separated.
pub fn units_annotation(config: &InstanceConfig) -> String {
    config
        .units
        .iter()
        .map(|u| format!("{}@{}+{}", u.name, u.version, u.digest))
        .collect::<Vec<_>>()
        .join(",")
}

/// The resources layer: each file by its digest, checked again as it is read (a
/// file changed since the manifest was read is refused).
fn resources_layer(m: &Manifest) -> Result<ampel_images::layer::Layer, BuildError> {
    let mut files = vec![file(&format!("{RESOURCES}/sha256/"), 0o755, vec![])];
    for (sha, path) in &m.resource_files {
        let data = std::fs::read(path).map_err(|e| BuildError::Io {
            path: path.clone(),
            source: e,
        })?;
        let now = ampel_images::sha256_digest(&data);
        if now != format!("sha256:{sha}") {
            return Err(BuildError::Manifest(vec![format!(
                "resource file {} changed while the image was built (was sha256:{sha}, now {now})",
                path.display()
            )]));
        }
        files.push(file(&format!("{RESOURCES}/sha256/{sha}"), 0o444, data));
    }
    Ok(build_layer(&files)?)
}

/// Write the image archive `out` (and the SBOM and provenance beside it).
pub fn pack(
    m: &Manifest,
    built: &BuiltBinary,
    revision: Option<&str>,
    out: &Path,
) -> Result<PackedImage, BuildError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |e| BuildError::Io { path, source: e }
    };
    let created = created_time(m)?;
    let revision = revision
        .map(str::to_string)
        .or_else(|| m.config.revision.clone())
        .unwrap_or_else(|| "unknown".into());
    let mut config = m.config.clone();
    config.units = built.units.clone();
    config.revision = Some(revision.clone());
    let config_json = pretty(&serde_json::to_value(&config).unwrap_or(Value::Null));
    let binary = std::fs::read(&built.path).map_err(io(&built.path))?;
    let subjects = vec![
        (format!("/{BINARY}"), ampel_images::sha256_digest(&binary)),
        (
            format!("/{CONFIG}"),
            ampel_images::sha256_digest(config_json.as_bytes()),
        ),
    ];
    let sbom = pretty(&attest::sbom(m, built, &created)?);
    let provenance = pretty(&attest::provenance(m, built, &subjects, &revision));
    let mut layers = vec![build_layer(&[
        file(BINARY, 0o755, binary),
        file("tmp/", 0o1777, vec![]),
        file("inputs/", 0o755, vec![]),
        file("out/", 0o777, vec![]),
    ])?];
    let mut history = vec!["ampel image build: runtime binary".to_string()];
    if !m.resource_files.is_empty() {
        layers.push(resources_layer(m)?);
        history.push(format!(
            "ampel image build: resource files ({}), by content",
            m.resource_files.len()
        ));
    }
    layers.extend([
        build_layer(&[
            file(CONFIG, 0o644, config_json.into_bytes()),
            file(MANIFEST, 0o644, m.text.clone().into_bytes()),
        ])?,
        build_layer(&[
            file(SBOM, 0o644, sbom.clone().into_bytes()),
            file(PROVENANCE, 0o644, provenance.clone().into_bytes()),
            file(LOCK, 0o644, built.lock.clone().into_bytes()),
        ])?,
    ]);
    history.extend([
        "ampel image build: instance configuration".to_string(),
        "ampel image build: provenance (SBOM, SLSA statement, Cargo.lock)".to_string(),
    ]);
    let mut annotations = BTreeMap::from([
        (
            "org.opencontainers.image.title".to_string(),
            config.name.clone(),
        ),
        (
            "org.opencontainers.image.version".to_string(),
            config.version.clone(),
        ),
        ("org.opencontainers.image.revision".to_string(), revision),
        (
            "org.opencontainers.image.source".to_string(),
            config.source.clone().unwrap_or_else(|| "unknown".into()),
        ),
        (
            "org.opencontainers.image.created".to_string(),
            created.clone(),
        ),
        ("io.ampel.units".to_string(), units_annotation(&config)),
        ("io.ampel.manifest.digest".to_string(), m.digest.clone()),
        ("io.ampel.build.key".to_string(), built.key.clone()),
    ]);
    if let Some(d) = &config.description {
        annotations.insert("org.opencontainers.image.description".into(), d.clone());
    }
    if let Some(l) = crate::license::instance_license(&built.licenses) {
        annotations.insert(LICENSES.into(), l);
        annotations.insert(
            COPYLEFT.into(),
            crate::license::copyleft_list(&built.licenses),
        );
    }
    let env = vec![
        format!("AMPEL_INSTANCE=/{CONFIG}"),
        "PATH=/usr/local/bin".to_string(),
        "HOME=/tmp".to_string(),
    ];
    let spec = ImageSpec {
        name: format!("ampel/{}", config.name),
        tag: config.version.clone(),
        config: runtime_config_with(
            USER,
            &[&format!("/{BINARY}")],
            &["--help"],
            &env,
            &annotations,
        )?,
        layers,
        annotations,
        created,
        history,
    };
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    let stage = tempfile::Builder::new()
        .prefix(".ampel-build-")
        .tempdir_in(parent)
        .map_err(io(parent))?;
    let layout = stage.path().join("layout");
    let written = write_layout(&layout, &spec)?;
    let tmp_archive = stage.path().join("image.tar");
    ampel_images::archive::pack(&layout, &tmp_archive)?;
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| config.name.clone());
    let sbom_path = parent.join(format!("{stem}.spdx.json"));
    let prov_path = parent.join(format!("{stem}.provenance.json"));
    std::fs::write(&sbom_path, sbom).map_err(io(&sbom_path))?;
    std::fs::write(&prov_path, provenance).map_err(io(&prov_path))?;
    std::fs::rename(&tmp_archive, out).map_err(io(out))?;
    let size = std::fs::metadata(out).map_err(io(out))?.len();
    Ok(PackedImage {
        archive: out.to_path_buf(),
        sbom: sbom_path,
        provenance: prov_path,
        manifest_digest: written.manifest_digest,
        config_digest: written.config_digest,
        layers: spec.layers.iter().map(|l| l.digest.clone()).collect(),
        size,
        config,
    })
}
