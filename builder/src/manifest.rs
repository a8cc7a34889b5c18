//! Instance manifests, parsed in two layers. The raw layer is serde structs with
//! unknown fields denied and source spans on every name; the validated layer is a
//! [`Manifest`]: the resolved unit crates and the runtime's
//! [`InstanceConfig`] (the T0 process, one directive per channel, and the scheduled
//! processes). Every problem is collected and reported together, each as
//! `file:line:column: message`.
//!
//! Units of crates this builder was compiled with (those of `units/`, by path) are
//! checked now: exported names, configs, tied dependencies. Units of other crates
//! (git, crates.io, or paths elsewhere) are checked by the instance binary itself
//! once it is built (`ampel instance check`), which is authoritative anyway.

use crate::known::{units_of, HostUnits};
use crate::BuildError;
use ampel_core::instance::{dependency_problems, InstanceConfig, UnitInfo, INSTANCE_FORMAT};
use ampel_core::loader::{check_units, UnitRequest};
use ampel_core::serve::{ProcessConfig, Schedule};
use ampel_core::t0::{
    ChannelDirective, CombineBlock, IngestBody, OnStockMatch, T0Config, T2Model, UnitModel,
};
use ampel_core::t3::T3UnitModel;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    instance: RawInstance,
    #[serde(rename = "crate", default)]
    crates: Vec<RawCrate>,
    t0: RawT0,
    #[serde(rename = "channel", default)]
    channels: Vec<RawChannel>,
    #[serde(rename = "process", default)]
    processes: Vec<RawProcess>,
    #[serde(default)]
    resources: BTreeMap<String, toml::Value>,
    #[serde(default)]
    live: Option<RawLive>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLive {
    #[serde(default)]
    brokers: Option<String>,
    topics: Spanned<Vec<String>>,
    group: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInstance {
    name: Spanned<String>,
    version: Spanned<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    revision: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    created: Option<Spanned<String>>,
    #[serde(default)]
    stores: Option<Spanned<Vec<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCrate {
    name: Spanned<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    git: Option<String>,
    #[serde(default)]
    rev: Option<String>,
    #[serde(default)]
    version: Option<String>,
    units: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUnit {
    unit: Spanned<String>,
    #[serde(default)]
    config: Option<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawT0 {
    supplier: RawUnit,
    shaper: RawUnit,
    #[serde(default)]
    muxer: Option<RawUnit>,
    #[serde(default)]
    combiner: Option<RawUnit>,
    #[serde(default)]
    error_max: Option<usize>,
    #[serde(default)]
    batch_size: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawT3 {
    unit: Spanned<String>,
    #[serde(default)]
    config: Option<toml::Value>,
    schedule: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannel {
    name: Spanned<String>,
    #[serde(default)]
    access: Vec<String>,
    #[serde(default)]
    filter: Option<RawUnit>,
    #[serde(default)]
    on_stock_match: Option<OnStockMatch>,
    #[serde(default)]
    t2: Vec<RawUnit>,
    #[serde(default)]
    t3: Vec<RawT3>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProcess {
    name: Spanned<String>,
    tier: Spanned<u8>,
    schedule: Spanned<String>,
    #[serde(default)]
    units: Vec<Spanned<String>>,
}

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
}

struct Located<'a> {
    file: &'a str,
    text: &'a str,
    problems: Vec<String>,
}

impl Located<'_> {
    fn push(&mut self, span: std::ops::Range<usize>, msg: impl std::fmt::Display) {
        let (l, c) = ampel_core::job::line_col(self.text, span.start);
        self.problems.push(format!("{}:{l}:{c}: {msg}", self.file));
    }
}

fn json(v: &Option<toml::Value>) -> Value {
    v.as_ref()
        .and_then(|v| serde_json::to_value(v).ok())
        .unwrap_or(Value::Null)
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn valid_semver(s: &str) -> bool {
    let core = s.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
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
    let text = std::fs::read_to_string(path).map_err(|e| BuildError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let file = path.display().to_string();
    let raw: RawManifest = toml::from_str(&text).map_err(|e| {
        let (l, c) = e
            .span()
            .map(|s| ampel_core::job::line_col(&text, s.start))
            .unwrap_or((0, 0));
        BuildError::Manifest(vec![format!("{file}:{l}:{c}: {}", e.message())])
    })?;
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
    let config = instance_config(raw, unit_infos);
    Ok(Manifest {
        path: path.to_path_buf(),
        digest: ampel_images::sha256_digest(text.as_bytes()),
        text,
        created,
        crates,
        features,
        config,
    })
}

/// The `[instance]` table: name, version, creation time, and the runtime features
/// its stores and `[live]` need.
fn check_instance(raw: &RawManifest, p: &mut Located) -> Vec<&'static str> {
    if !valid_name(raw.instance.name.get_ref()) {
        p.push(
            raw.instance.name.span(),
            format!(
                "instance name `{}`: expected lower-case letters, digits and `-`, starting with a letter (it names the image)",
                raw.instance.name.get_ref()
            ),
        );
    }
    if !valid_semver(raw.instance.version.get_ref()) {
        p.push(
            raw.instance.version.span(),
            format!(
                "instance version `{}`: expected a semantic version such as 1.0.0",
                raw.instance.version.get_ref()
            ),
        );
    }
    if let Some(c) = &raw.instance.created {
        if chrono::DateTime::parse_from_rfc3339(c.get_ref()).is_err() {
            p.push(
                c.span(),
                format!(
                    "created `{}`: expected an RFC 3339 time such as 2026-01-01T00:00:00Z",
                    c.get_ref()
                ),
            );
        }
    }

    let mut features = Vec::new();
    if let Some(stores) = &raw.instance.stores {
        for s in stores.get_ref() {
            match s.as_str() {
                "sqlite" => {}
                "mongodb" => features.push("mongodb"),
                other => p.push(
                    stores.span(),
                    format!("stores: unknown store `{other}`: expected \"sqlite\" (always built in) or \"mongodb\""),
                ),
            }
        }
    }
    if raw.live.is_some() {
        features.push("kafka");
    }
    features.sort_unstable();
    features.dedup();
    features
}

/// Unit -> (its crate, whether the host knows that crate).
type Declared = BTreeMap<String, (String, bool)>;

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

/// Every unit used must be declared, and configs of known units must validate;
/// channels, processes, schedules, tied T2 dependencies and `[live]`.
fn check_uses(
    raw: &RawManifest,
    registry: &ampel_interface::Registry,
    declared: &Declared,
    p: &mut Located,
) {
    let mut requests: Vec<(std::ops::Range<usize>, UnitRequest)> = Vec::new();
    let mut use_unit = |p: &mut Located, what: String, unit: &Spanned<String>, config: Value| {
        match declared.get(unit.get_ref()) {
            None => p.push(
                unit.span(),
                format!(
                    "{what} uses unit `{}`, which no declared crate provides",
                    unit.get_ref()
                ),
            ),
            Some((_, true)) => requests.push((
                unit.span(),
                UnitRequest {
                    origin: what,
                    unit: unit.get_ref().clone(),
                    config,
                    kind: None,
                },
            )),
            Some((_, false)) => {} // checked by the built binary
        }
    };
    for (what, u) in [
        ("t0.supplier", Some(&raw.t0.supplier)),
        ("t0.shaper", Some(&raw.t0.shaper)),
        ("t0.muxer", raw.t0.muxer.as_ref()),
        ("t0.combiner", raw.t0.combiner.as_ref()),
    ] {
        if let Some(u) = u {
            use_unit(p, what.into(), &u.unit, json(&u.config));
        }
    }
    let mut names = BTreeSet::new();
    for ch in &raw.channels {
        if let Some(problem) = ampel_interface::channel_name_problem(ch.name.get_ref()) {
            p.push(ch.name.span(), problem);
        } else if !names.insert(ch.name.get_ref().clone()) {
            p.push(
                ch.name.span(),
                format!("channel `{}` is declared twice", ch.name.get_ref()),
            );
        }
        let w = |x: &str| format!("channel `{}` {x}", ch.name.get_ref().escape_debug());
        if let Some(f) = &ch.filter {
            use_unit(p, w("filter"), &f.unit, json(&f.config));
        }
        for t in &ch.t2 {
            use_unit(p, w("t2"), &t.unit, json(&t.config));
        }
        if let (Some(first), None) = (ch.t2.first(), &raw.t0.combiner) {
            p.push(
                first.unit.span(),
                format!(
                    "channel `{}` requests state T2s, but [t0] has no combiner to make states",
                    ch.name.get_ref()
                ),
            );
        }
        for t in &ch.t3 {
            use_unit(p, w("t3"), &t.unit, json(&t.config));
            if let Err(e) = Schedule::parse(t.schedule.get_ref()) {
                p.push(t.schedule.span(), format!("schedule {e}"));
            }
        }
    }
    for pr in &raw.processes {
        if !matches!(*pr.tier.get_ref(), 2) {
            p.push(pr.tier.span(), format!("process `{}`: tier {} cannot be declared here (2: T2 workers; T3 processes are declared per channel, T0 is the channels)", pr.name.get_ref(), pr.tier.get_ref()));
        }
        if !names.insert(pr.name.get_ref().clone()) {
            p.push(
                pr.name.span(),
                format!("process name `{}` is used twice", pr.name.get_ref()),
            );
        }
        if let Err(e) = Schedule::parse(pr.schedule.get_ref()) {
            p.push(pr.schedule.span(), format!("schedule {e}"));
        }
        for u in &pr.units {
            if !declared.contains_key(u.get_ref()) {
                p.push(
                    u.span(),
                    format!(
                        "process `{}` runs unit `{}`, which no declared crate provides",
                        pr.name.get_ref(),
                        u.get_ref()
                    ),
                );
            }
        }
    }
    for (span, req) in &requests {
        if let Err(problems) = check_units(registry, std::slice::from_ref(req)) {
            for pr in problems {
                p.push(span.clone(), pr);
            }
        }
    }

    // tied T2 units: their dependencies must be requested by the same channel; no cycles
    for ch in &raw.channels {
        let t2: Vec<(String, Value)> = ch
            .t2
            .iter()
            .filter(|t| matches!(declared.get(t.unit.get_ref()), Some((_, true))))
            .map(|t| (t.unit.get_ref().clone(), json(&t.config)))
            .collect();
        for (i, problem) in dependency_problems(registry, ch.name.get_ref(), &t2) {
            let span = match i {
                Some(i) => ch
                    .t2
                    .iter()
                    .find(|t| t.unit.get_ref() == &t2[i].0)
                    .map_or(ch.name.span(), |t| t.unit.span()),
                None => ch.name.span(),
            };
            p.push(span, problem);
        }
    }
    if let Some(l) = &raw.live {
        if l.topics.get_ref().is_empty() {
            p.push(l.topics.span(), "[live] topics: give at least one topic");
        }
        if l.group.get_ref().is_empty() {
            p.push(l.group.span(), "[live] group: give a consumer group name");
        }
    }
}

/// The runtime's configuration from a checked manifest.
fn instance_config(raw: RawManifest, mut unit_infos: Vec<UnitInfo>) -> InstanceConfig {
    let unit = |u: &RawUnit| UnitModel {
        unit: u.unit.get_ref().clone(),
        config: json(&u.config),
    };
    let t0 = T0Config {
        process: format!("{}-t0", raw.instance.name.get_ref()),
        supplier: unit(&raw.t0.supplier),
        shaper: unit(&raw.t0.shaper),
        muxer: raw.t0.muxer.as_ref().map(unit),
        directives: raw
            .channels
            .iter()
            .map(|ch| directive(ch, &raw.t0))
            .collect(),
        iter_max: None,
        error_max: raw.t0.error_max.unwrap_or(20),
        batch_size: raw.t0.batch_size.unwrap_or(2000),
    };
    let mut processes: Vec<ProcessConfig> = raw
        .processes
        .iter()
        .map(|pr| ProcessConfig {
            name: pr.name.get_ref().clone(),
            tier: *pr.tier.get_ref(),
            schedule: pr.schedule.get_ref().clone(),
            active: true,
            channel: None,
            units: pr.units.iter().map(|u| u.get_ref().clone()).collect(),
            select: None,
            t3_units: vec![],
            kafka: None,
            t0_config: None,
        })
        .collect();
    for ch in &raw.channels {
        for t in &ch.t3 {
            processes.push(ProcessConfig {
                name: format!("{}-{}", ch.name.get_ref(), t.unit.get_ref()),
                tier: 3,
                schedule: t.schedule.get_ref().clone(),
                active: true,
                channel: Some(ch.name.get_ref().clone()),
                units: vec![],
                select: None,
                t3_units: vec![T3UnitModel {
                    unit: t.unit.get_ref().clone(),
                    config: json(&t.config),
                    channel: Some(ch.name.get_ref().clone()),
                }],
                kafka: None,
                t0_config: None,
            });
        }
    }
    unit_infos.sort();
    InstanceConfig {
        format: INSTANCE_FORMAT,
        name: raw.instance.name.get_ref().clone(),
        version: raw.instance.version.get_ref().clone(),
        description: raw.instance.description,
        source: raw.instance.source,
        revision: raw.instance.revision,
        units: unit_infos,
        t0,
        processes,
        resources: raw
            .resources
            .into_iter()
            .map(|(k, v)| (k, serde_json::to_value(v).unwrap_or(Value::Null)))
            .collect(),
        live: raw.live.map(|l| ampel_core::serve::KafkaSource {
            brokers: l.brokers.unwrap_or_default(),
            topics: l.topics.into_inner(),
            group: l.group.into_inner(),
        }),
    }
}

fn directive(ch: &RawChannel, t0: &RawT0) -> ChannelDirective {
    let unit = |u: &RawUnit| UnitModel {
        unit: u.unit.get_ref().clone(),
        config: json(&u.config),
    };
    ChannelDirective {
        channel: ch.name.get_ref().clone(),
        access: ch.access.clone(),
        filter: ch.filter.as_ref().map(unit),
        groups: None,
        on_stock_match: ch.on_stock_match,
        ingest: IngestBody {
            combine: t0
                .combiner
                .iter()
                .map(|c| CombineBlock {
                    unit: c.unit.get_ref().clone(),
                    config: json(&c.config),
                    state_t2: ch
                        .t2
                        .iter()
                        .map(|t| T2Model {
                            unit: t.unit.get_ref().clone(),
                            config: json(&t.config),
                            select: Default::default(),
                        })
                        .collect(),
                })
                .collect(),
            point_t2: vec![],
            stock_t2: vec![],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_versions() {
        assert!(valid_name("ztf-demo") && !valid_name("ZTF") && !valid_name("-a"));
        assert!(valid_semver("1.0.0") && valid_semver("1.2.3-rc.1") && !valid_semver("1.0"));
    }
}
