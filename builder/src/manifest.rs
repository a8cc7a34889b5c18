//! Instance manifests for the builder: the format, its checks and its expansion
//! into the runtime's [`InstanceConfig`] are `ampel-manifest`'s; this adds the
//! unit crates' sources (paths relative to the manifest, git, crates.io) and a
//! [`Manifest`]: the resolved unit crates and the configuration. Every problem is
//! collected and reported together, each as `file:line:column: message`.
//!
//! Units of crates this builder was compiled with (those of `units/`, by path) are
//! checked now: exported names, configs, tied dependencies. Units of other crates
//! (git, crates.io, or paths elsewhere) are checked by the instance binary itself
//! once it is built (`ampel instance check`), which is authoritative anyway.

use crate::known::{units_of, HostUnits};
use crate::BuildError;
use ampel_core::instance::{InstanceConfig, UnitInfo};
use ampel_manifest::check::{check_instance, check_uses};
use ampel_manifest::expand::instance_config;
use ampel_manifest::{Declared, Located, RawManifest};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where a unit crate comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CrateSource {
    /// A directory (absolute, resolved from the manifest's directory).
    Path(PathBuf),
    /// A git repository at a revision.
    Git {
        /// URL.
        url: String,
        /// Revision (commit, tag or branch).
        rev: String,
    },
    /// A crates.io version requirement.
    Version(String),
}

/// A declared unit crate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrateRef {
    /// Package name.
    pub name: String,
    /// Where it comes from.
    pub source: CrateSource,
    /// The units taken from it (type names exported at the crate root).
    pub units: Vec<String>,
    /// True if this builder was compiled with this very crate, so its units were
    /// checked while parsing the manifest.
    pub known: bool,
}

impl CrateRef {
    /// The crate name as a Rust identifier (`ampel-units-ztf` → `ampel_units_ztf`).
    pub fn ident(&self) -> String {
        self.name.replace('-', "_")
    }
}

/// A validated manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The manifest file.
    pub path: PathBuf,
    /// Its text, as read.
    pub text: String,
    /// `sha256:<hex>` of the text.
    pub digest: String,
    /// Image creation time (RFC 3339), if the manifest sets one.
    pub created: Option<String>,
    /// Unit crates.
    pub crates: Vec<CrateRef>,
    /// Cargo features of the runtime (`ampel-commands`) this instance needs:
    /// `mongodb` when `[instance] stores` names it, `kafka` when it has a `[live]`
    /// source. Sorted; the embedded store is always in.
    pub features: Vec<&'static str>,
    /// The resolved configuration. Its `units` are complete for known crates; the
    /// builder fills in kind, version and digest of the others from the built binary.
    pub config: InstanceConfig,
    /// The file resources (`[resources] NAME = { file = ... }`) by SHA-256 (hex):
    /// where each is here, packed into the image's resources layer.
    pub resource_files: BTreeMap<String, PathBuf>,
}

fn package_name(dir: &Path) -> Result<String, String> {
    let file = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&file)
        .map_err(|_| format!("no Cargo.toml under `{}`", dir.display()))?;
    let v: toml::Value =
        toml::from_str(&text).map_err(|e| format!("{}: {}", file.display(), e.message()))?;
    v.get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_string)
        .ok_or_else(|| format!("{} has no [package] name", file.display()))
}

/// Parse and validate a manifest against the host's units; `source_root` is the
/// AMPEL source tree the builder uses (to recognise the host's unit crates).
pub fn load(path: &Path, host: &HostUnits, source_root: &Path) -> Result<Manifest, BuildError> {
    let (text, raw) = ampel_manifest::read(path)?;
    let file = path.display().to_string();
    let mut p = Located {
        file: &file,
        text: &text,
        problems: Vec::new(),
    };
    let base = path
        .parent()
        .filter(|b| !b.as_os_str().is_empty())
        .unwrap_or(Path::new("."));

    let features = check_instance(&raw, &mut p);
    let (declared, crates, unit_infos) = declare_crates(&raw, host, base, source_root, &mut p);
    check_uses(&raw, host.registry, &declared, &mut p);
    if !p.problems.is_empty() {
        return Err(BuildError::Manifest(p.problems));
    }
    let created = raw.instance.created.clone().map(|c| c.into_inner());
    let resource_files = raw
        .files
        .values()
        .filter_map(|f| f.as_ref().ok())
        .map(|f| (f.value.sha256.clone(), f.path.clone()))
        .collect();
    let config = instance_config(raw, unit_infos);
    Ok(Manifest {
        path: path.to_path_buf(),
        digest: ampel_images::sha256_digest(text.as_bytes()),
        text,
        created,
        crates,
        features,
        config,
        resource_files,
    })
}

/// The `[[crate]]` tables: each crate's source and the units it provides; units
/// of crates the host knows are checked against its registry now, others by the
/// built binary.
fn declare_crates(
    raw: &RawManifest,
    host: &HostUnits,
    base: &Path,
    source_root: &Path,
    p: &mut Located,
) -> (Declared, Vec<CrateRef>, Vec<UnitInfo>) {
    let registry = host.registry;
    let mut declared: Declared = BTreeMap::new();
    let mut crates = Vec::new();
    let mut unit_infos = Vec::new();
    for c in &raw.crates {
        let name = c.name.get_ref();
        let source = match (&c.path, &c.git, &c.version) {
            (Some(rel), None, None) => {
                let dir = base.join(rel);
                match package_name(&dir) {
                    Err(e) => {
                        p.push(c.name.span(), format!("unknown unit crate `{name}`: {e}"));
                        continue;
                    }
                    Ok(found) if &found != name => {
                        p.push(
                            c.name.span(),
                            format!("crate `{name}`: the package under `{rel}` is `{found}`"),
                        );
                        continue;
                    }
                    Ok(_) => {}
                }
                CrateSource::Path(dir.canonicalize().unwrap_or(dir))
            }
            (None, Some(url), None) => CrateSource::Git {
                url: url.clone(),
                rev: c.rev.clone().unwrap_or_else(|| "HEAD".into()),
            },
            (None, None, Some(v)) => CrateSource::Version(v.clone()),
            _ => {
                p.push(
                    c.name.span(),
                    format!("crate `{name}`: give exactly one of path, git (+ rev) or version"),
                );
                continue;
            }
        };
        if c.rev.is_some() && c.git.is_none() {
            p.push(c.name.span(), format!("crate `{name}`: `rev` needs `git`"));
        }
        let known = host.crates.iter().find(|k| {
            k.name == name
                && matches!(&source, CrateSource::Path(d)
                    if source_root.join(k.path).canonicalize().ok().as_deref() == Some(d.as_path()))
        });
        let mut units = Vec::new();
        match known {
            Some(known) => {
                let exported = units_of(known).unwrap_or_default();
                for u in &c.units {
                    if exported.contains(u.get_ref()) {
                        units.push(u.get_ref().clone());
                    } else {
                        p.push(
                            u.span(),
                            format!(
                                "crate `{name}` does not export unit `{}` (it exports: {})",
                                u.get_ref(),
                                exported.join(", ")
                            ),
                        );
                    }
                }
            }
            None => units.extend(c.units.iter().map(|u| u.get_ref().clone())),
        }
        for u in &units {
            if let Some((other, _)) = declared.insert(u.clone(), (name.clone(), known.is_some())) {
                p.push(
                    c.name.span(),
                    format!("unit `{u}` is declared by crate `{other}` and by crate `{name}`"),
                );
            }
            if known.is_some() {
                if let Ok(r) = registry.get(u) {
                    unit_infos.push(UnitInfo {
                        name: u.clone(),
                        kind: r.kind().as_str().into(),
                        version: r.version().into(),
                        digest: r.code_digest(),
                        krate: name.clone(),
                    });
                }
            } else {
                unit_infos.push(UnitInfo {
                    name: u.clone(),
                    kind: String::new(),
                    version: String::new(),
                    digest: String::new(),
                    krate: name.clone(),
                });
            }
        }
        crates.push(CrateRef {
            name: name.clone(),
            source,
            units,
            known: known.is_some(),
        });
    }
    (declared, crates, unit_infos)
}
