//! Reading instance images back: [`open`] verifies every blob of an archive (digests,
//! sizes, diff ids, manifest/config consistency) and then reads the instance
//! configuration from its layer; [`diff`] compares two images by meaning: units
//! added, removed or changed, configuration changes per channel and process, and
//! layers changed.

use crate::pack::{BINARY, CONFIG};
use crate::BuildError;
use ampel_core::instance::InstanceConfig;
use ampel_images::archive::{layer_files, ArchiveLayout};
use ampel_images::verify::{verify, VerifiedImage};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A layer of an image.
#[derive(Debug, Clone, Serialize)]
pub struct LayerInfo {
    /// Compressed digest.
    pub digest: String,
    /// Uncompressed digest.
    pub diff_id: String,
    /// What made it.
    pub created_by: String,
    /// Compressed size.
    pub size: u64,
    /// Its files.
    pub files: Vec<String>,
}

/// A verified instance image.
#[derive(Debug, Clone, Serialize)]
pub struct ImageInfo {
    /// The archive.
    pub path: PathBuf,
    /// Manifest digest.
    pub manifest_digest: String,
    /// Config digest (image ID after `docker load`).
    pub config_digest: String,
    /// Manifest annotations.
    pub annotations: BTreeMap<String, String>,
    /// Layers, bottom first.
    pub layers: Vec<LayerInfo>,
    /// The instance configuration.
    pub config: InstanceConfig,
    /// Archive size.
    pub size: u64,
    /// The runtime config (user, entrypoint, env).
    #[serde(skip)]
    pub verified: VerifiedImage,
}

/// A verified archive, kept in memory, and its instance view.
pub struct OpenImage {
    /// The archive.
    pub layout: ArchiveLayout,
    /// The view.
    pub info: ImageInfo,
}

impl OpenImage {
    /// A file of the image's root file system (layers applied in order).
    pub fn file(&self, path: &str) -> Result<Option<Vec<u8>>, BuildError> {
        let mut found = None;
        for l in &self.info.layers {
            if l.files.iter().any(|f| f == path) {
                let blob = self.blob(&l.digest)?;
                found = layer_files(&l.digest, &blob)?
                    .into_iter()
                    .find(|f| f.path == path)
                    .map(|f| f.data);
            }
        }
        Ok(found)
    }

    /// A blob by digest.
    pub fn blob(&self, digest: &str) -> Result<Vec<u8>, BuildError> {
        let rel = format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"));
        self.layout.files().get(&rel).cloned().ok_or_else(|| {
            BuildError::Image(ampel_images::ImageError::BadLayout {
                path: self.info.path.clone(),
                detail: format!("missing blob {digest}"),
            })
        })
    }
}

/// Open an archive: verify it completely, then read its instance configuration.
pub fn open(path: &Path) -> Result<OpenImage, BuildError> {
    let layout = ArchiveLayout::open(path)?;
    let mut images = verify(&layout)?;
    if images.len() != 1 {
        return Err(BuildError::NotInstance {
            path: path.into(),
            detail: format!("{} images in the index, expected one", images.len()),
        });
    }
    let v = images.remove(0);
    let mut layers = Vec::new();
    let mut config = None;
    for (i, (digest, diff_id)) in v.layers.iter().zip(&v.diff_ids).enumerate() {
        let rel = format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"));
        let blob = layout.files().get(&rel).cloned().unwrap_or_default();
        let files = layer_files(digest, &blob)?;
        if let Some(f) = files.iter().find(|f| f.path == CONFIG) {
            let text = String::from_utf8_lossy(&f.data).into_owned();
            let origin = Path::new("/").join(CONFIG);
            config = Some(InstanceConfig::parse(&text, &origin).map_err(|e| {
                BuildError::NotInstance {
                    path: path.into(),
                    detail: e.to_string(),
                }
            })?);
        }
        layers.push(LayerInfo {
            digest: digest.clone(),
            diff_id: diff_id.clone(),
            created_by: v.history.get(i).cloned().unwrap_or_default(),
            size: blob.len() as u64,
            files: files.into_iter().map(|f| f.path).collect(),
        });
    }
    let Some(config) = config else {
        return Err(BuildError::NotInstance {
            path: path.into(),
            detail: format!("no /{CONFIG} in any layer"),
        });
    };
    if !layers.iter().any(|l| l.files.iter().any(|f| f == BINARY)) {
        return Err(BuildError::NotInstance {
            path: path.into(),
            detail: format!("no /{BINARY} in any layer"),
        });
    }
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    Ok(OpenImage {
        info: ImageInfo {
            path: path.into(),
            manifest_digest: v.manifest_digest.clone(),
            config_digest: v.config_digest.clone(),
            annotations: v.annotations.clone(),
            layers,
            config,
            size,
            verified: v,
        },
        layout,
    })
}

/// One difference between two images.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// Where: `unit X`, `channel X`, `process X`, `t0`, `instance`, `layer N`.
    pub scope: String,
    /// Dotted path inside the scope (empty for the whole thing).
    pub path: String,
    /// Value in the first image (`null` if added).
    pub before: Value,
    /// Value in the second image (`null` if removed).
    pub after: Value,
}

/// Every leaf that differs between two JSON values, as dotted paths.
pub fn json_diff(path: &str, a: &Value, b: &Value, out: &mut Vec<(String, Value, Value)>) {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                json_diff(
                    &join(k),
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                json_diff(&join(&i.to_string()), p, q, out);
            }
        }
        _ if a != b => out.push((path.to_string(), a.clone(), b.clone())),
        _ => {}
    }
}

fn keyed<T: Serialize>(items: &[T], key: impl Fn(&T) -> String) -> BTreeMap<String, Value> {
    items
        .iter()
        .map(|i| (key(i), serde_json::to_value(i).unwrap_or(Value::Null)))
        .collect()
}

fn diff_maps(
    scope: &str,
    a: &BTreeMap<String, Value>,
    b: &BTreeMap<String, Value>,
    out: &mut Vec<Change>,
) {
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for k in keys {
        let (x, y) = (a.get(k), b.get(k));
        let scope = format!("{scope} {k}");
        match (x, y) {
            (Some(x), Some(y)) => {
                let mut d = Vec::new();
                json_diff("", x, y, &mut d);
                out.extend(d.into_iter().map(|(path, before, after)| Change {
                    scope: scope.clone(),
                    path,
                    before,
                    after,
                }));
            }
            _ => out.push(Change {
                scope,
                path: String::new(),
                before: x.cloned().unwrap_or(Value::Null),
                after: y.cloned().unwrap_or(Value::Null),
            }),
        }
    }
}

/// What differs between two images: units, then configuration (instance, t0,
/// channels, processes, resources), then layers.
pub fn diff(a: &ImageInfo, b: &ImageInfo) -> Vec<Change> {
    let mut out = Vec::new();
    let units = |i: &ImageInfo| {
        i.config
            .units
            .iter()
            .map(|u| {
                (
                    u.name.clone(),
                    serde_json::json!({"crate": u.krate, "version": u.version, "digest": u.digest, "kind": u.kind}),
                )
            })
            .collect::<BTreeMap<_, _>>()
    };
    diff_maps("unit", &units(a), &units(b), &mut out);
    let meta = |i: &ImageInfo| {
        let c = &i.config;
        BTreeMap::from([(
            String::new(),
            serde_json::json!({"name": c.name, "version": c.version, "description": c.description, "source": c.source, "revision": c.revision}),
        )])
    };
    diff_maps("instance", &meta(a), &meta(b), &mut out);
    let t0 = |i: &ImageInfo| {
        let mut v = serde_json::to_value(&i.config.t0).unwrap_or(Value::Null);
        if let Some(m) = v.as_object_mut() {
            m.remove("directives");
        }
        BTreeMap::from([(String::new(), v)])
    };
    diff_maps("t0", &t0(a), &t0(b), &mut out);
    diff_maps(
        "channel",
        &keyed(&a.config.t0.directives, |d| d.channel.clone()),
        &keyed(&b.config.t0.directives, |d| d.channel.clone()),
        &mut out,
    );
    diff_maps(
        "process",
        &keyed(&a.config.processes, |p| p.name.clone()),
        &keyed(&b.config.processes, |p| p.name.clone()),
        &mut out,
    );
    diff_maps(
        "resources",
        &BTreeMap::from([(
            String::new(),
            serde_json::to_value(&a.config.resources).unwrap_or_default(),
        )]),
        &BTreeMap::from([(
            String::new(),
            serde_json::to_value(&b.config.resources).unwrap_or_default(),
        )]),
        &mut out,
    );
    for c in &mut out {
        c.scope = c.scope.trim().to_string();
    }
    let n = a.layers.len().max(b.layers.len());
    for i in 0..n {
        let (x, y) = (a.layers.get(i), b.layers.get(i));
        if x.map(|l| &l.diff_id) != y.map(|l| &l.diff_id) {
            let show = |l: Option<&LayerInfo>| {
                l.map_or(Value::Null, |l| {
                    serde_json::json!(format!("{} ({})", crate::short(&l.digest), l.created_by))
                })
            };
            out.push(Change {
                scope: format!("layer {}", i + 1),
                path: String::new(),
                before: show(x),
                after: show(y),
            });
        }
    }
    out
}
