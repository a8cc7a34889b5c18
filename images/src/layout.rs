//! Writing an OCI image layout directory: `oci-layout`, `index.json`,
//! `blobs/sha256/<hex>`, plus Docker's `manifest.json` so that an archive of the
//! directory also loads with `docker load` (Debian's Docker 20.10 needs it).

use crate::layer::Layer;
use crate::{canonical_bytes, io, sha256_digest, ImageError};
use oci_spec::image::{
    Arch, Config, ConfigBuilder, Descriptor, DescriptorBuilder, Digest, HistoryBuilder,
    ImageConfigurationBuilder, ImageIndexBuilder, ImageManifestBuilder, MediaType, Os,
    RootFsBuilder,
};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Annotation naming the tag of a manifest in `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// What to put in an image.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    /// Repository name, e.g. `ampel/ztf-demo`.
    pub name: String,
    /// Tag, e.g. `1.0.0`.
    pub tag: String,
    /// Runtime config: user, entrypoint, env, labels.
    pub config: Config,
    /// Layers, bottom first.
    pub layers: Vec<Layer>,
    /// Manifest annotations.
    pub annotations: BTreeMap<String, String>,
    /// The config's `created` time (RFC 3339), also the time of every history entry.
    pub created: String,
    /// What made each layer (`history[].created_by`), one per layer, bottom first.
    pub history: Vec<String>,
}

/// Digests of a written image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenImage {
    /// Digest of the manifest: the image's identity.
    pub manifest_digest: String,
    /// Digest of the image config.
    pub config_digest: String,
}

/// A runtime config: a user, an entrypoint, labels; no env, no default command.
pub fn runtime_config(
    user: &str,
    entrypoint: &[&str],
    labels: &BTreeMap<String, String>,
) -> Result<Config, ImageError> {
    runtime_config_with(user, entrypoint, &[], &[], labels)
}

/// A runtime config with environment (`KEY=value`) and a default command.
pub fn runtime_config_with(
    user: &str,
    entrypoint: &[&str],
    cmd: &[&str],
    env: &[String],
    labels: &BTreeMap<String, String>,
) -> Result<Config, ImageError> {
    let mut b = ConfigBuilder::default()
        .user(user.to_string())
        .entrypoint(entrypoint.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    if !cmd.is_empty() {
        b = b.cmd(cmd.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    }
    if !env.is_empty() {
        b = b.env(env.to_vec());
    }
    b.labels(
        labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<HashMap<_, _>>(),
    )
    .build()
    .map_err(|e| ImageError::Spec {
        what: "image config",
        detail: e.to_string(),
    })
}

fn digest(d: &str) -> Result<Digest, ImageError> {
    Digest::from_str(d).map_err(|e| ImageError::Spec {
        what: "digest",
        detail: e.to_string(),
    })
}

fn descriptor(media: MediaType, bytes_digest: &str, size: usize) -> Result<Descriptor, ImageError> {
    DescriptorBuilder::default()
        .media_type(media)
        .digest(digest(bytes_digest)?)
        .size(size as u64)
        .build()
        .map_err(|e| ImageError::Spec {
            what: "descriptor",
            detail: e.to_string(),
        })
}

/// Path of a blob in a layout.
pub fn blob_path(dir: &Path, digest: &str) -> PathBuf {
    dir.join("blobs")
        .join("sha256")
        .join(digest.trim_start_matches("sha256:"))
}

fn write_blob(dir: &Path, bytes: &[u8]) -> Result<String, ImageError> {
    let d = sha256_digest(bytes);
    let path = blob_path(dir, &d);
    std::fs::write(&path, bytes).map_err(io(&path))?;
    Ok(d)
}

/// Write `index.json` (one manifest, tagged `tag`, named `name:tag`), `oci-layout`
/// and Docker's `manifest.json` into a layout whose blobs are in place. A pulled
/// image gets the same files as the built one, hence the same archive bytes.
pub fn write_index(
    dir: &Path,
    manifest_digest: &str,
    manifest_size: u64,
    config_digest: &str,
    layers: &[String],
    name: &str,
    tag: &str,
) -> Result<(), ImageError> {
    let spec_err = |what| {
        move |e: oci_spec::OciSpecError| ImageError::Spec {
            what,
            detail: e.to_string(),
        }
    };
    let mut mdesc = descriptor(
        MediaType::ImageManifest,
        manifest_digest,
        manifest_size as usize,
    )?;
    mdesc.set_annotations(Some(HashMap::from([
        (REF_NAME.to_string(), tag.to_string()),
        (
            "io.containerd.image.name".to_string(),
            format!("{name}:{tag}"),
        ),
    ])));
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![mdesc])
        .build()
        .map_err(spec_err("index"))?;
    let write = |file: &str, bytes: Vec<u8>| {
        let p = dir.join(file);
        std::fs::write(&p, bytes).map_err(io(&p))
    };
    write("index.json", canonical_bytes(&index, "index")?)?;
    write("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec())?;
    let docker = serde_json::json!([{
        "Config": format!("blobs/sha256/{}", config_digest.trim_start_matches("sha256:")),
        "RepoTags": [format!("{name}:{tag}")],
        "Layers": layers.iter()
            .map(|l| format!("blobs/sha256/{}", l.trim_start_matches("sha256:")))
            .collect::<Vec<_>>(),
    }]);
    write(
        "manifest.json",
        canonical_bytes(&docker, "docker manifest")?,
    )
}

/// Write `spec` as an image layout into `dir` (created if needed).
pub fn write_layout(dir: &Path, spec: &ImageSpec) -> Result<WrittenImage, ImageError> {
    let blobs = dir.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs).map_err(io(&blobs))?;
    let spec_err = |what| {
        move |e: oci_spec::OciSpecError| ImageError::Spec {
            what,
            detail: e.to_string(),
        }
    };
    let mut layer_descs = Vec::new();
    for l in &spec.layers {
        write_blob(dir, &l.blob)?;
        layer_descs.push(descriptor(
            MediaType::ImageLayerGzip,
            &l.digest,
            l.blob.len(),
        )?);
    }
    let diff_ids: Vec<String> = spec.layers.iter().map(|l| l.diff_id.clone()).collect();
    if !spec.history.is_empty() && spec.history.len() != spec.layers.len() {
        return Err(ImageError::Spec {
            what: "image config",
            detail: format!(
                "{} history entries for {} layers",
                spec.history.len(),
                spec.layers.len()
            ),
        });
    }
    let history = spec
        .history
        .iter()
        .map(|by| {
            HistoryBuilder::default()
                .created(spec.created.clone())
                .created_by(by.clone())
                .build()
                .map_err(spec_err("history"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let config = ImageConfigurationBuilder::default()
        .created(spec.created.clone())
        .history(history)
        .architecture(Arch::Amd64)
        .os(Os::Linux)
        .config(spec.config.clone())
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(diff_ids)
                .build()
                .map_err(spec_err("rootfs"))?,
        )
        .build()
        .map_err(spec_err("image config"))?;
    let config_bytes = canonical_bytes(&config, "image config")?;
    let config_digest = write_blob(dir, &config_bytes)?;
    let mut manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(descriptor(
            MediaType::ImageConfig,
            &config_digest,
            config_bytes.len(),
        )?)
        .layers(layer_descs)
        .build()
        .map_err(spec_err("manifest"))?;
    if !spec.annotations.is_empty() {
        manifest.set_annotations(Some(spec.annotations.clone().into_iter().collect()));
    }
    let manifest_bytes = canonical_bytes(&manifest, "manifest")?;
    let manifest_digest = write_blob(dir, &manifest_bytes)?;
    write_index(
        dir,
        &manifest_digest,
        manifest_bytes.len() as u64,
        &config_digest,
        &spec
            .layers
            .iter()
            .map(|l| l.digest.clone())
            .collect::<Vec<_>>(),
        &spec.name,
        &spec.tag,
    )?;
    Ok(WrittenImage {
        manifest_digest,
        config_digest,
    })
}
