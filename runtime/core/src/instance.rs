//! Instances: the resolved configuration an instance image carries
//! (`/etc/ampel/instance.json`), written by the builder from a manifest and read
//! by the instance's runtime binary.
//!
//! An [`InstanceConfig`] holds the T0 process (one directive per channel), the
//! scheduled processes (T2 workers, T3 reactions) and the units the binary was built
//! with (name, kind, version, code digest). [`InstanceConfig::check`] refuses a
//! configuration that does not match the binary it is given to (a missing unit, another
//! version or code digest, a config that no longer validates), every problem at once.
//! [`InstanceConfig::archive_plan`] is the instance's archival job: T0 over the given
//! inputs, T2 until no ticket is left, then every T3 process once, in order.

use crate::job::PlannedTask;
use crate::loader::check_units;
use crate::serve::{ProcessConfig, Schedule};
use crate::t0::T0Config;
use ampel_interface::{Body, Registry};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Version of the instance configuration format; readers refuse newer ones.
pub const INSTANCE_FORMAT: u32 = 1;

/// Where an instance image keeps its configuration.
pub const INSTANCE_PATH: &str = "/etc/ampel/instance.json";

/// A unit an instance binary was built with.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitInfo {
    /// Unit name.
    pub name: String,
    /// Kind (`alert-filter`, `state-t2`, ...).
    pub kind: String,
    /// Unit crate version.
    pub version: String,
    /// Code digest (see the hash scheme).
    pub digest: String,
    /// The crate it comes from.
    #[serde(rename = "crate")]
    pub krate: String,
}

/// The resolved configuration of an instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceConfig {
    /// [`INSTANCE_FORMAT`].
    pub format: u32,
    /// Instance name.
    pub name: String,
    /// Instance version.
    pub version: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Where the manifest lives (URL).
    #[serde(default)]
    pub source: Option<String>,
    /// Revision of the source.
    #[serde(default)]
    pub revision: Option<String>,
    /// Units of the runtime binary, by name.
    pub units: Vec<UnitInfo>,
    /// The T0 process: one directive per channel.
    pub t0: T0Config,
    /// Scheduled processes (T2 workers, T3 reactions).
    pub processes: Vec<ProcessConfig>,
    /// Free-form resources.
    #[serde(default)]
    pub resources: BTreeMap<String, Body>,
    /// The live stream of `ampel instance serve` (brokers may be left to
    /// `$AMPEL_KAFKA_BROKERS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<crate::serve::KafkaSource>,
}

/// What `ampel --json instance check` answers: the builder reads it back from
/// the binary it built (typed on both sides).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// Instance name.
    pub instance: String,
    /// Instance version.
    pub version: String,
    /// Units the configuration names.
    pub units: usize,
    /// True when the configuration fits the binary.
    pub ok: bool,
    /// Every problem, one line each.
    #[serde(default)]
    pub problems: Vec<String>,
}

/// Why an instance configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    /// The file cannot be read or parsed.
    #[error("{path}: {detail}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The configuration does not fit this binary; every problem is listed.
    #[error("instance `{name}` does not fit this binary:\n{}", .problems.join("\n"))]
    Mismatch {
        /// Instance name.
        name: String,
        /// The problems.
        problems: Vec<String>,
    },
}

/// Problems with the tied T2 units one channel requests (`t2`: unit and raw config,
/// in order): a dependency the channel does not request, or a dependency cycle.
/// Each problem comes with the index of the offending entry (`None`: the channel).
pub fn dependency_problems(
    registry: &Registry,
    channel: &str,
    t2: &[(String, Body)],
) -> Vec<(Option<usize>, String)> {
    let requested: std::collections::BTreeSet<&str> = t2.iter().map(|(u, _)| u.as_str()).collect();
    let mut edges: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut out = Vec::new();
    for (i, (unit, config)) in t2.iter().enumerate() {
        for d in tied_dependencies(registry, unit, config) {
            if !requested.contains(d.as_str()) {
                out.push((
                    Some(i),
                    format!(
                        "`{unit}` depends on `{d}`, which channel `{channel}` does not request"
                    ),
                ));
            }
            edges.entry(unit.clone()).or_default().push(d);
        }
    }
    if let Some(cycle) = find_cycle(&edges) {
        out.push((
            None,
            format!(
                "T2 dependency cycle in channel `{channel}`: {}",
                cycle.join(" → ")
            ),
        ));
    }
    out
}

/// The units a tied T2 unit with this config depends on (none for other units,
/// or a unit or config the registry refuses).
pub fn tied_dependencies(registry: &Registry, unit: &str, config: &Body) -> Vec<String> {
    use ampel_interface::UnitInstance;
    registry
        .get(unit)
        .ok()
        .and_then(|u| u.instantiate(config).ok())
        .map(|(inst, _)| match inst {
            UnitInstance::TiedPointT2(u) => u.dependencies(),
            UnitInstance::TiedStateT2(u) => u.dependencies(),
            UnitInstance::TiedStockT2(u) => u.dependencies(),
            _ => Vec::new(),
        })
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.unit)
        .collect()
}

/// A cycle in a dependency graph, as the path that closes it.
pub fn find_cycle(edges: &BTreeMap<String, Vec<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        edges: &BTreeMap<String, Vec<String>>,
        stack: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
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
    let mut done = std::collections::BTreeSet::new();
    edges
        .keys()
        .find_map(|n| visit(n, edges, &mut Vec::new(), &mut done))
}

impl InstanceConfig {
    /// Read an instance configuration (JSON), refusing newer formats.
    pub fn load(path: &Path) -> Result<Self, InstanceError> {
        let text = std::fs::read_to_string(path).map_err(|e| InstanceError::Read {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        Self::parse(&text, path)
    }

    /// Parse an instance configuration read from `origin` (named in errors).
    pub fn parse(text: &str, origin: &Path) -> Result<Self, InstanceError> {
        let read = |detail: String| InstanceError::Read {
            path: origin.to_path_buf(),
            detail,
        };
        let raw: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            read(format!(
                "not JSON: {e} (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        let format = raw["format"].as_u64().unwrap_or(0);
        if format > u64::from(INSTANCE_FORMAT) {
            return Err(read(format!(
                "instance format {format} is newer than this binary understands ({INSTANCE_FORMAT})"
            )));
        }
        serde_path_to_error::deserialize(raw).map_err(|e| {
            read(format!(
                "field `{}`: {}",
                e.path(),
                e.inner().to_string().replace('`', "'")
            ))
        })
    }

    /// Check the configuration against the binary's registry: every unit is present
    /// with the kind, version and code digest it was built with; every unit config
    /// validates; schedules parse. Every problem is reported.
    pub fn check(&self, registry: &Registry) -> Result<(), InstanceError> {
        let mut problems = Vec::new();
        if self.format != INSTANCE_FORMAT {
            problems.push(format!(
                "format {} is not this binary's ({INSTANCE_FORMAT})",
                self.format
            ));
        }
        for u in &self.units {
            match registry.get(&u.name) {
                Err(e) => problems.push(format!("unit `{}` (crate {}): {e}", u.name, u.krate)),
                Ok(have) => {
                    let have = (have.kind().as_str(), have.version(), have.code_digest());
                    if (have.0, have.1, have.2.as_str())
                        != (u.kind.as_str(), u.version.as_str(), u.digest.as_str())
                    {
                        problems.push(format!(
                            "unit `{}`: built as {} {} (code {}), this binary has {} {} (code {})",
                            u.name, u.kind, u.version, u.digest, have.0, have.1, have.2
                        ));
                    }
                }
            }
        }
        problems.extend(self.t0.check(registry).err().unwrap_or_default());
        for d in &self.t0.directives {
            let t2: Vec<(String, Body)> = d
                .ingest
                .combine
                .iter()
                .flat_map(|c| c.state_t2.iter())
                .map(|t| (t.unit.clone(), t.config.clone()))
                .chain(
                    d.ingest
                        .point_t2
                        .iter()
                        .chain(&d.ingest.stock_t2)
                        .map(|t| (t.unit.clone(), t.config.clone())),
                )
                .collect();
            problems.extend(
                dependency_problems(registry, &d.channel, &t2)
                    .into_iter()
                    .map(|(_, p)| p),
            );
        }
        let mut names = BTreeMap::new();
        for p in &self.processes {
            if names.insert(p.name.as_str(), ()).is_some() {
                problems.push(format!("process `{}` is declared twice", p.name));
            }
            if let Err(e) = Schedule::parse(&p.schedule) {
                problems.push(format!("process `{}`: schedule {e}", p.name));
            }
            for u in &p.units {
                if let Err(e) = registry.get(u) {
                    problems.push(format!("process `{}`: {e}", p.name));
                }
            }
            let t3 = p.t3_config();
            let reqs: Vec<_> = t3
                .units
                .iter()
                .map(|u| crate::UnitRequest {
                    origin: format!("process `{}`", p.name),
                    unit: u.unit.clone(),
                    config: u.config.clone(),
                    kind: Some(ampel_interface::UnitKind::T3),
                })
                .collect();
            if let Err(e) = check_units(registry, &reqs) {
                problems.extend(e);
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(InstanceError::Mismatch {
                name: self.name.clone(),
                problems,
            })
        }
    }

    /// The processes `serve` runs: the scheduled ones, and the live T0 of the
    /// `[live]` stream (named `<instance>-live`) if there is one.
    pub fn serve_processes(&self) -> Vec<ProcessConfig> {
        let mut all = self.processes.clone();
        if let Some(source) = &self.live {
            all.push(ProcessConfig {
                name: format!("{}-live", self.name),
                tier: 0,
                schedule: crate::serve::LIVE.into(),
                active: true,
                channel: None,
                units: vec![],
                select: None,
                load: None,
                t3_units: vec![],
                kafka: Some(source.clone()),
                t0_config: None,
            });
        }
        all
    }

    /// The archival job of this instance over `inputs` (files, directories, tar
    /// archives, read in the order given): T0 with every channel, T2 until no ticket
    /// is left, then each active T3 process once, in declaration order.
    pub fn archive_plan(&self, inputs: &[PathBuf]) -> Vec<PlannedTask> {
        let mut tasks = vec![
            PlannedTask::T0 {
                config: Box::new(self.t0.clone()),
                sources: inputs.to_vec(),
            },
            PlannedTask::T2 {
                units: Vec::new(),
                max_try: 5,
            },
        ];
        tasks.extend(
            self.processes
                .iter()
                .filter(|p| p.tier == 3 && p.active)
                .map(|p| PlannedTask::T3(Box::new(p.t3_config()))),
        );
        tasks
    }
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
        let selfloop = BTreeMap::from([("A".into(), vec!["A".into()])]);
        assert_eq!(find_cycle(&selfloop), Some(vec!["A".into(), "A".into()]));
    }
}
