//! Instance manifests: parsed in two layers. The raw layer is serde structs with
//! unknown fields denied and source spans on every name; the validated layer is an
//! [`Instance`]: the T0 process, the scheduled processes and the channel list, with
//! every unit checked against the declared crates. All problems are collected and
//! reported together, each as `file:line:column: message`.

use crate::units::{units_of, CRATES};
use ampel_core::loader::{check_units, UnitRequest};
use ampel_core::serve::{ProcessConfig, Schedule};
use ampel_core::t0::{
    ChannelDirective, CombineBlock, IngestBody, OnStockMatch, T0Config, T2Model, UnitModel,
};
use ampel_core::t3::T3UnitModel;
use ampel_interface::{Registry, UnitInstance};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
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
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CrateSource {
    /// A path (relative to the manifest).
    Path(String),
    /// A git repository at a revision.
    Git {
        /// URL.
        url: String,
        /// Revision.
        rev: String,
    },
    /// A crates.io version requirement.
    Version(String),
}

/// A declared unit crate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrateRef {
    /// Package name.
    pub name: String,
    /// Where it comes from.
    pub source: CrateSource,
    /// Version of the crate this builder knows.
    pub version: String,
    /// The units taken from it.
    pub units: Vec<String>,
}

/// A validated instance.
#[derive(Debug, Clone, Serialize)]
pub struct Instance {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Source URL (annotation).
    pub source: Option<String>,
    /// Revision (annotation).
    pub revision: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Unit crates.
    pub crates: Vec<CrateRef>,
    /// The T0 process built from the channels.
    pub t0: T0Config,
    /// Scheduled processes (T2 workers, T3 reactions per channel).
    pub processes: Vec<ProcessSpec>,
    /// Resources (free-form).
    pub resources: BTreeMap<String, Value>,
}

/// A scheduled process of the instance, as `ampel serve` reads it.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessSpec {
    /// Name.
    pub name: String,
    /// Tier.
    pub tier: u8,
    /// Schedule.
    pub schedule: String,
    /// Channel (T3).
    pub channel: Option<String>,
    /// T2 units.
    pub units: Vec<String>,
    /// T3 units.
    pub t3_units: Vec<T3UnitModel>,
}

impl ProcessSpec {
    /// The form `ampel serve` runs.
    pub fn to_process(&self) -> ProcessConfig {
        ProcessConfig {
            name: self.name.clone(),
            tier: self.tier,
            schedule: self.schedule.clone(),
            active: true,
            channel: self.channel.clone(),
            units: self.units.clone(),
            select: None,
            t3_units: self.t3_units.clone(),
        }
    }
}

struct Located<'a> {
    file: &'a str,
    text: &'a str,
    problems: Vec<String>,
}

impl Located<'_> {
    fn at(&self, span: std::ops::Range<usize>) -> String {
        let (l, c) = ampel_core::job::line_col(self.text, span.start);
        format!("{}:{l}:{c}", self.file)
    }
    fn push(&mut self, span: std::ops::Range<usize>, msg: impl std::fmt::Display) {
        let at = self.at(span);
        self.problems.push(format!("{at}: {msg}"));
    }
}

fn json(v: &Option<toml::Value>) -> Value {
    v.as_ref()
        .and_then(|v| serde_json::to_value(v).ok())
        .unwrap_or(Value::Null)
}

/// Parse and validate a manifest; `Err` lists every problem found.
pub fn load(path: &Path, registry: &Registry) -> Result<Instance, Vec<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| vec![format!("cannot read {}: {e}", path.display())])?;
    let file = path.display().to_string();
    let raw: RawManifest = toml::from_str(&text).map_err(|e| {
        let (l, c) = e
            .span()
            .map(|s| ampel_core::job::line_col(&text, s.start))
            .unwrap_or((0, 0));
        vec![format!("{file}:{l}:{c}: {}", e.message())]
    })?;
    let mut p = Located {
        file: &file,
        text: &text,
        problems: Vec::new(),
    };
    let base = path.parent().unwrap_or(Path::new("."));

    // crates and the units they provide
    let mut declared: BTreeMap<String, String> = BTreeMap::new(); // unit -> crate
    let mut crates = Vec::new();
    for c in &raw.crates {
        let Some(known) = CRATES.iter().find(|k| k.name == c.name.get_ref()) else {
            let names: Vec<&str> = CRATES.iter().map(|k| k.name).collect();
            p.push(
                c.name.span(),
                format!(
                    "unknown unit crate `{}` (this builder has: {})",
                    c.name.get_ref(),
                    names.join(", ")
                ),
            );
            continue;
        };
        let source = match (&c.path, &c.git, &c.version) {
            (Some(path), None, None) => {
                if !base.join(path).join("Cargo.toml").is_file() {
                    p.push(
                        c.name.span(),
                        format!(
                            "crate `{}`: no Cargo.toml under path `{path}`",
                            c.name.get_ref()
                        ),
                    );
                }
                CrateSource::Path(path.clone())
            }
            (None, Some(url), None) => CrateSource::Git {
                url: url.clone(),
                rev: c.rev.clone().unwrap_or_else(|| "HEAD".into()),
            },
            (None, None, Some(v)) => CrateSource::Version(v.clone()),
            _ => {
                p.push(
                    c.name.span(),
                    format!(
                        "crate `{}`: give exactly one of path, git (+ rev) or version",
                        c.name.get_ref()
                    ),
                );
                continue;
            }
        };
        let exported = units_of(known).unwrap_or_default();
        let mut units = Vec::new();
        for u in &c.units {
            if exported.contains(u.get_ref()) {
                declared.insert(u.get_ref().clone(), known.name.to_string());
                units.push(u.get_ref().clone());
            } else {
                p.push(
                    u.span(),
                    format!(
                        "crate `{}` does not export unit `{}` (it exports: {})",
                        known.name,
                        u.get_ref(),
                        exported.join(", ")
                    ),
                );
            }
        }
        crates.push(CrateRef {
            name: known.name.into(),
            source,
            version: known.version.into(),
            units,
        });
    }

    // every unit used must be declared, and its config must validate
    let mut requests = Vec::new();
    let mut use_unit = |p: &mut Located, what: String, unit: &Spanned<String>, config: Value| {
        if !declared.contains_key(unit.get_ref()) {
            p.push(
                unit.span(),
                format!(
                    "{what} uses unit `{}`, which no declared crate provides",
                    unit.get_ref()
                ),
            );
            return;
        }
        requests.push((
            unit.span(),
            UnitRequest {
                origin: what,
                unit: unit.get_ref().clone(),
                config,
                kind: None,
            },
        ));
    };
    for (what, u) in [
        ("t0.supplier", &raw.t0.supplier),
        ("t0.shaper", &raw.t0.shaper),
    ] {
        use_unit(&mut p, what.into(), &u.unit, json(&u.config));
    }
    for (what, u) in [
        ("t0.muxer", &raw.t0.muxer),
        ("t0.combiner", &raw.t0.combiner),
    ] {
        if let Some(u) = u {
            use_unit(&mut p, what.into(), &u.unit, json(&u.config));
        }
    }
    let mut names = BTreeSet::new();
    for ch in &raw.channels {
        if !names.insert(ch.name.get_ref().clone()) {
            p.push(
                ch.name.span(),
                format!("channel `{}` is declared twice", ch.name.get_ref()),
            );
        }
        let w = |x: &str| format!("channel `{}` {x}", ch.name.get_ref());
        if let Some(f) = &ch.filter {
            use_unit(&mut p, w("filter"), &f.unit, json(&f.config));
        }
        for t in &ch.t2 {
            use_unit(&mut p, w("t2"), &t.unit, json(&t.config));
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
            use_unit(&mut p, w("t3"), &t.unit, json(&t.config));
            if let Err(e) = Schedule::parse(t.schedule.get_ref()) {
                p.push(t.schedule.span(), format!("schedule {e}"));
            }
        }
    }
    for pr in &raw.processes {
        if !matches!(*pr.tier.get_ref(), 2 | 3) {
            p.push(pr.tier.span(), format!("process `{}`: tier {} cannot be scheduled (2: T2 workers; T3 processes are declared per channel)", pr.name.get_ref(), pr.tier.get_ref()));
        }
        if let Err(e) = Schedule::parse(pr.schedule.get_ref()) {
            p.push(pr.schedule.span(), format!("schedule {e}"));
        }
        for u in &pr.units {
            use_unit(
                &mut p,
                format!("process `{}`", pr.name.get_ref()),
                u,
                Value::Null,
            );
        }
    }
    for (span, req) in &requests {
        if req.config.is_null()
            && raw
                .processes
                .iter()
                .any(|pr| pr.units.iter().any(|u| u.get_ref() == &req.unit))
        {
            continue; // a process's unit filter, not a configured unit
        }
        if let Err(problems) = check_units(registry, std::slice::from_ref(req)) {
            for pr in problems {
                p.push(span.clone(), pr);
            }
        }
    }

    // tied T2 units: their dependencies must be requested by the same channel; no cycles
    for ch in &raw.channels {
        let requested: BTreeSet<&str> = ch.t2.iter().map(|t| t.unit.get_ref().as_str()).collect();
        let mut edges: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for t in &ch.t2 {
            let deps = registry
                .get(t.unit.get_ref())
                .ok()
                .and_then(|u| u.instantiate(&json(&t.config)).ok())
                .map(|(i, _)| match i {
                    UnitInstance::TiedPointT2(u) => u.dependencies(),
                    UnitInstance::TiedStateT2(u) => u.dependencies(),
                    UnitInstance::TiedStockT2(u) => u.dependencies(),
                    _ => Vec::new(),
                });
            for d in deps.unwrap_or_default() {
                if !requested.contains(d.unit.as_str()) {
                    p.push(
                        t.unit.span(),
                        format!(
                            "`{}` depends on `{}`, which channel `{}` does not request",
                            t.unit.get_ref(),
                            d.unit,
                            ch.name.get_ref()
                        ),
                    );
                }
                edges
                    .entry(t.unit.get_ref().clone())
                    .or_default()
                    .push(d.unit);
            }
        }
        if let Some(cycle) = find_cycle(&edges) {
            p.push(
                ch.name.span(),
                format!(
                    "T2 dependency cycle in channel `{}`: {}",
                    ch.name.get_ref(),
                    cycle.join(" → ")
                ),
            );
        }
    }
    if !p.problems.is_empty() {
        return Err(p.problems);
    }

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
            .map(|ch| ChannelDirective {
                channel: ch.name.get_ref().clone(),
                access: ch.access.clone(),
                filter: ch.filter.as_ref().map(unit),
                groups: None,
                on_stock_match: ch.on_stock_match,
                ingest: IngestBody {
                    combine: raw
                        .t0
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
            })
            .collect(),
        iter_max: None,
        error_max: 20,
        batch_size: 2000,
    };
    let mut processes: Vec<ProcessSpec> = raw
        .processes
        .iter()
        .map(|pr| ProcessSpec {
            name: pr.name.get_ref().clone(),
            tier: *pr.tier.get_ref(),
            schedule: pr.schedule.get_ref().clone(),
            channel: None,
            units: pr.units.iter().map(|u| u.get_ref().clone()).collect(),
            t3_units: vec![],
        })
        .collect();
    for ch in &raw.channels {
        for t in &ch.t3 {
            processes.push(ProcessSpec {
                name: format!("{}-{}", ch.name.get_ref(), t.unit.get_ref()),
                tier: 3,
                schedule: t.schedule.get_ref().clone(),
                channel: Some(ch.name.get_ref().clone()),
                units: vec![],
                t3_units: vec![T3UnitModel {
                    unit: t.unit.get_ref().clone(),
                    config: json(&t.config),
                    channel: Some(ch.name.get_ref().clone()),
                }],
            });
        }
    }
    Ok(Instance {
        name: raw.instance.name.get_ref().clone(),
        version: raw.instance.version.get_ref().clone(),
        source: raw.instance.source,
        revision: raw.instance.revision,
        description: raw.instance.description,
        crates,
        t0,
        processes,
        resources: raw
            .resources
            .into_iter()
            .map(|(k, v)| (k, serde_json::to_value(v).unwrap_or(Value::Null)))
            .collect(),
    })
}

/// A cycle in a dependency graph, as the path that closes it.
fn find_cycle(edges: &BTreeMap<String, Vec<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        edges: &BTreeMap<String, Vec<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|s| s == n) {
            let mut c = stack[i..].to_vec();
            c.push(n.to_string());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n.to_string());
        for m in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, edges, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|n| visit(n, edges, &mut Vec::new(), &mut done))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_are_found() {
        let e = BTreeMap::from([
            ("A".into(), vec!["B".into()]),
            ("B".into(), vec!["C".into()]),
            ("C".into(), vec!["A".into()]),
        ]);
        assert_eq!(
            find_cycle(&e),
            Some(vec!["A".into(), "B".into(), "C".into(), "A".into()])
        );
        let ok = BTreeMap::from([("A".into(), vec!["B".into()]), ("B".into(), vec![])]);
        assert_eq!(find_cycle(&ok), None);
    }
}
