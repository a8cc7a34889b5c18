//! Verifying a layout: every referenced blob exists, has the size its descriptor
//! states and hashes to its digest; every layer's uncompressed tar hashes to the
//! config's diff id; every layer entry obeys [`crate::rules`]; Docker's
//! `manifest.json`, if present, agrees with the index.
//! The layout is read through [`LayoutSource`]: a directory, or an archive file read
//! in place ([`crate::archive::ArchiveLayout`]).

use crate::layout::REF_NAME;
use crate::rules::Limits;
use crate::{sha256_digest, ImageError};
use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest};
use std::collections::BTreeMap;
use std::path::Path;

/// One verified image of a layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedImage {
    /// Tag (`org.opencontainers.image.ref.name`), if any.
    pub ref_name: Option<String>,
    /// Manifest digest.
    pub manifest_digest: String,
    /// Config digest.
    pub config_digest: String,
    /// Layer digests, bottom first.
    pub layers: Vec<String>,
    /// Manifest annotations, sorted.
    pub annotations: BTreeMap<String, String>,
    /// Uncompressed layer digests, bottom first.
    pub diff_ids: Vec<String>,
    /// What made each layer (`history[].created_by` of non-empty layers).
    pub history: Vec<String>,
    /// Config labels, sorted.
    pub labels: BTreeMap<String, String>,
    /// The config's `created` time.
    pub created: Option<String>,
    /// The runtime config: user, entrypoint, default command, environment.
    pub runtime: Option<oci_spec::image::Config>,
}

/// Where the files of a layout come from.
pub trait LayoutSource {
    /// The layout's location, for messages.
    fn location(&self) -> &Path;
    /// A file of the layout by relative path (`index.json`, `blobs/sha256/<hex>`);
    /// `Ok(None)` if it does not exist.
    fn read(&self, rel: &str) -> Result<Option<Vec<u8>>, ImageError>;
}

/// A layout directory.
pub struct DirLayout<'a>(pub &'a Path);

impl LayoutSource for DirLayout<'_> {
    fn location(&self) -> &Path {
        self.0
    }
    fn read(&self, rel: &str) -> Result<Option<Vec<u8>>, ImageError> {
        let path = self.0.join(rel);
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ImageError::Io { path, source: e }),
        }
    }
}

fn blob_rel(digest: &str) -> String {
    format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"))
}

fn read_file(src: &dyn LayoutSource, rel: &str) -> Result<Vec<u8>, ImageError> {
    src.read(rel)?.ok_or_else(|| ImageError::BadLayout {
        path: src.location().join(rel),
        detail: "missing".into(),
    })
}

/// Read a blob and check its size and digest.
pub fn read_blob(src: &dyn LayoutSource, d: &Descriptor) -> Result<Vec<u8>, ImageError> {
    let digest = d.digest().to_string();
    let bad = |detail: String| ImageError::BadBlob {
        layout: src.location().to_path_buf(),
        digest: digest.clone(),
        detail,
    };
    let rel = blob_rel(&digest);
    let bytes = src
        .read(&rel)?
        .ok_or_else(|| bad(format!("cannot read {rel}: no such blob")))?;
    if bytes.len() as u64 != d.size() {
        return Err(bad(format!(
            "size is {} bytes, descriptor says {}",
            bytes.len(),
            d.size()
        )));
    }
    let actual = sha256_digest(&bytes);
    if actual != digest {
        return Err(bad(format!("content hashes to {actual}")));
    }
    Ok(bytes)
}

fn parse<T: serde::de::DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T, ImageError> {
    serde_json::from_slice(bytes).map_err(|e| ImageError::BadLayout {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })
}

/// Verify every image of the layout in `dir`.
pub fn verify_layout(dir: &Path) -> Result<Vec<VerifiedImage>, ImageError> {
    verify(&DirLayout(dir))
}

/// Verify every image of a layout with the default [`Limits`].
pub fn verify(src: &dyn LayoutSource) -> Result<Vec<VerifiedImage>, ImageError> {
    verify_with(src, &Limits::default())
}

/// Verify every image of a layout: blobs, diff ids, and the content rules of
/// [`crate::rules`] for every layer entry.
pub fn verify_with(
    src: &dyn LayoutSource,
    limits: &Limits,
) -> Result<Vec<VerifiedImage>, ImageError> {
    let dir = src.location();
    let layout_file = dir.join("oci-layout");
    let layout: serde_json::Value = parse(&layout_file, &read_file(src, "oci-layout")?)?;
    if layout["imageLayoutVersion"] != "1.0.0" {
        return Err(ImageError::BadLayout {
            path: layout_file,
            detail: format!(
                "imageLayoutVersion is {}, expected \"1.0.0\"",
                layout["imageLayoutVersion"]
            ),
        });
    }
    let index_file = dir.join("index.json");
    let index: ImageIndex = parse(&index_file, &read_file(src, "index.json")?)?;
    let mut out = Vec::new();
    for mdesc in index.manifests() {
        let manifest: ImageManifest = parse(&index_file, &read_blob(src, mdesc)?)?;
        let config_path = dir.join(blob_rel(manifest.config().digest().as_ref()));
        let config_bytes = read_blob(src, manifest.config())?;
        let config: ImageConfiguration = parse(&config_path, &config_bytes)?;
        let diff_ids = config.rootfs().diff_ids();
        if diff_ids.len() != manifest.layers().len() {
            return Err(ImageError::BadLayout {
                path: config_path,
                detail: format!(
                    "{} diff ids for {} layers",
                    diff_ids.len(),
                    manifest.layers().len()
                ),
            });
        }
        for (layer, diff_id) in manifest.layers().iter().zip(diff_ids) {
            let blob = read_blob(src, layer)?;
            let digest = layer.digest().to_string();
            // every entry obeys the content rules; the stream is hashed as it is read
            let actual = crate::rules::scan_layer(&digest, &blob, limits, |_, _, _| Ok(()))?;
            if &actual != diff_id {
                return Err(ImageError::BadBlob {
                    layout: dir.to_path_buf(),
                    digest,
                    detail: format!("uncompressed content does not match diff id {diff_id}"),
                });
            }
        }
        out.push(VerifiedImage {
            ref_name: mdesc
                .annotations()
                .as_ref()
                .and_then(|a| a.get(REF_NAME).cloned()),
            manifest_digest: mdesc.digest().to_string(),
            config_digest: manifest.config().digest().to_string(),
            layers: manifest
                .layers()
                .iter()
                .map(|l| l.digest().to_string())
                .collect(),
            annotations: manifest
                .annotations()
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
            diff_ids: diff_ids.clone(),
            history: config
                .history()
                .iter()
                .flatten()
                .filter(|h| !h.empty_layer().unwrap_or(false))
                .map(|h| h.created_by().clone().unwrap_or_default())
                .collect(),
            labels: config
                .config()
                .as_ref()
                .and_then(|c| c.labels().clone())
                .unwrap_or_default()
                .into_iter()
                .collect(),
            created: config.created().clone(),
            runtime: config.config().clone(),
        });
    }
    verify_docker_manifest(src, &out)?;
    Ok(out)
}

fn verify_docker_manifest(
    src: &dyn LayoutSource,
    images: &[VerifiedImage],
) -> Result<(), ImageError> {
    let path = src.location().join("manifest.json");
    let Some(bytes) = src.read("manifest.json")? else {
        return Ok(());
    };
    let entries: Vec<serde_json::Value> = parse(&path, &bytes)?;
    for e in &entries {
        let config = e["Config"].as_str().unwrap_or_default();
        let found = images.iter().find(|i| {
            config
                == format!(
                    "blobs/sha256/{}",
                    i.config_digest.trim_start_matches("sha256:")
                )
        });
        let Some(image) = found else {
            return Err(ImageError::BadLayout {
                path,
                detail: format!("Config {config} is not an image of index.json"),
            });
        };
        let layers: Vec<String> = image
            .layers
            .iter()
            .map(|l| format!("blobs/sha256/{}", l.trim_start_matches("sha256:")))
            .collect();
        if e["Layers"] != serde_json::json!(layers) {
            return Err(ImageError::BadLayout {
                path,
                detail: format!("Layers of {config} differ from the OCI manifest"),
            });
        }
    }
    Ok(())
}
