//! Verifying a layout: every referenced blob exists, has the size its descriptor
//! states and hashes to its digest; every layer's uncompressed tar hashes to the
//! config's diff id; Docker's `manifest.json`, if present, agrees with the index.

use crate::layout::{blob_path, REF_NAME};
use crate::{io, sha256_digest, ImageError};
use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest};
use std::collections::BTreeMap;
use std::io::Read;
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
}

fn read_blob(dir: &Path, d: &Descriptor) -> Result<Vec<u8>, ImageError> {
    let digest = d.digest().to_string();
    let bad = |detail: String| ImageError::BadBlob {
        layout: dir.to_path_buf(),
        digest: digest.clone(),
        detail,
    };
    let path = blob_path(dir, &digest);
    let bytes =
        std::fs::read(&path).map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
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
    let layout_file = dir.join("oci-layout");
    let layout: serde_json::Value = parse(
        &layout_file,
        &std::fs::read(&layout_file).map_err(io(&layout_file))?,
    )?;
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
    let index: ImageIndex = parse(
        &index_file,
        &std::fs::read(&index_file).map_err(io(&index_file))?,
    )?;
    let mut out = Vec::new();
    for mdesc in index.manifests() {
        let manifest: ImageManifest = parse(&index_file, &read_blob(dir, mdesc)?)?;
        let config_bytes = read_blob(dir, manifest.config())?;
        let config: ImageConfiguration = parse(
            &blob_path(dir, manifest.config().digest().as_ref()),
            &config_bytes,
        )?;
        let diff_ids = config.rootfs().diff_ids();
        if diff_ids.len() != manifest.layers().len() {
            return Err(ImageError::BadLayout {
                path: blob_path(dir, manifest.config().digest().as_ref()),
                detail: format!(
                    "{} diff ids for {} layers",
                    diff_ids.len(),
                    manifest.layers().len()
                ),
            });
        }
        for (layer, diff_id) in manifest.layers().iter().zip(diff_ids) {
            let blob = read_blob(dir, layer)?;
            let mut tar = Vec::new();
            flate2::read::GzDecoder::new(blob.as_slice())
                .read_to_end(&mut tar)
                .map_err(|e| ImageError::BadBlob {
                    layout: dir.to_path_buf(),
                    digest: layer.digest().to_string(),
                    detail: format!("not a gzip stream: {e}"),
                })?;
            if &sha256_digest(&tar) != diff_id {
                return Err(ImageError::BadBlob {
                    layout: dir.to_path_buf(),
                    digest: layer.digest().to_string(),
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
        });
    }
    verify_docker_manifest(dir, &out)?;
    Ok(out)
}

fn verify_docker_manifest(dir: &Path, images: &[VerifiedImage]) -> Result<(), ImageError> {
    let path = dir.join("manifest.json");
    let Ok(bytes) = std::fs::read(&path) else {
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
