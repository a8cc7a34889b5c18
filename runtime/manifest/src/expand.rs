//! A checked manifest as the runtime's [`InstanceConfig`]: the T0 process (one
//! directive per channel: filter, groups, stock-match policy, the combiner with the
//! channel's state T2s, its point and stock T2s) and the scheduled processes (the
//! `[[process]]` T2 workers, then one T3 process per channel `t3` entry).
//!
//! Unit configs are JSON; a value `{ resource = "NAME" }` anywhere inside one is
//! replaced by the `[resources]` entry NAME, so a resource reaches the unit as
//! part of its config (and of its config hash: a changed resource is a changed
//! computation).

use crate::raw::{RawChannel, RawManifest, RawT0, RawT2, RawUnit};
use ampel_core::instance::{InstanceConfig, UnitInfo, INSTANCE_FORMAT};
use ampel_core::serve::ProcessConfig;
use ampel_core::t0::{ChannelDirective, CombineBlock, IngestBody, T0Config, T2Model, UnitModel};
use ampel_core::t3::T3UnitModel;
use serde_json::Value;
use std::collections::BTreeMap;

/// `[resources]` as JSON.
pub type Resources = BTreeMap<String, Value>;

/// The `[resources]` table as JSON values; a file resource is its
/// [`ResourceFile`](ampel_interface::ResourceFile) (null when it could not be
/// hashed, which `check_instance` reports).
pub fn resources(raw: &RawManifest) -> Resources {
    raw.resources
        .iter()
        .map(|(k, v)| {
            let value = if crate::files::file_request(v.get_ref()).is_some() {
                match raw.files.get(k) {
                    Some(Ok(f)) => serde_json::to_value(&f.value).unwrap_or(Value::Null),
                    _ => Value::Null,
                }
            } else {
                serde_json::to_value(v.get_ref()).unwrap_or(Value::Null)
            };
            (k.clone(), value)
        })
        .collect()
}

/// A unit config as JSON with `{ resource = "NAME" }` replaced by the resource;
/// an unknown name is an error naming it and the resources there are.
pub fn resolve(config: &Option<toml::Value>, res: &Resources) -> Result<Value, String> {
    let v = config
        .as_ref()
        .and_then(|v| serde_json::to_value(v).ok())
        .unwrap_or(Value::Null);
    substitute(v, res)
}

fn substitute(v: Value, res: &Resources) -> Result<Value, String> {
    match v {
        Value::Object(m) => {
            if let (1, Some(Value::String(name))) = (m.len(), m.get("resource")) {
                return res.get(name).cloned().ok_or_else(|| {
                    format!(
                        "resource `{name}` is not in [resources] (there: {})",
                        if res.is_empty() {
                            "none".to_string()
                        } else {
                            res.keys().cloned().collect::<Vec<_>>().join(", ")
                        }
                    )
                });
            }
            m.into_iter()
                .map(|(k, v)| Ok((k, substitute(v, res)?)))
                .collect::<Result<_, String>>()
                .map(Value::Object)
        }
        Value::Array(a) => a
            .into_iter()
            .map(|v| substitute(v, res))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        other => Ok(other),
    }
}

/// The default name of a channel's T3 process.
pub fn t3_process_name(channel: &str, unit: &str) -> String {
    format!("{channel}-{unit}")
}

/// The runtime's configuration from a checked manifest (unresolvable resources,
/// which the checks report, become `null`).
pub fn instance_config(raw: RawManifest, mut unit_infos: Vec<UnitInfo>) -> InstanceConfig {
    let res = resources(&raw);
    let cfg = |c: &Option<toml::Value>| resolve(c, &res).unwrap_or(Value::Null);
    let unit = |u: &RawUnit| UnitModel {
        unit: u.unit.get_ref().clone(),
        config: cfg(&u.config),
    };
    let t0 = T0Config {
        process: format!("{}-t0", raw.instance.name.get_ref()),
        supplier: unit(&raw.t0.supplier),
        shaper: unit(&raw.t0.shaper),
        muxer: raw.t0.muxer.as_ref().map(unit),
        directives: raw
            .channels
            .iter()
            .map(|ch| directive(ch, &raw.t0, &res))
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
            load: None,
            t3_units: vec![],
            kafka: None,
            t0_config: None,
        })
        .collect();
    for ch in &raw.channels {
        let channel = ch.name.get_ref();
        for t in &ch.t3 {
            processes.push(ProcessConfig {
                name: t.name.as_ref().map_or_else(
                    || t3_process_name(channel, t.unit.get_ref()),
                    |n| n.get_ref().clone(),
                ),
                tier: 3,
                schedule: t.schedule.get_ref().clone(),
                active: true,
                channel: Some(channel.clone()),
                units: vec![],
                select: t.select.clone(),
                load: t.load.clone(),
                t3_units: vec![T3UnitModel {
                    unit: t.unit.get_ref().clone(),
                    config: cfg(&t.config),
                    channel: Some(channel.clone()),
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
        resources: res,
        live: raw.live.map(|l| ampel_core::serve::KafkaSource {
            brokers: l.brokers.unwrap_or_default(),
            topics: l.topics.into_inner(),
            group: l.group.into_inner(),
        }),
    }
}

fn t2_model(t: &RawT2, res: &Resources) -> T2Model {
    T2Model {
        unit: t.unit.get_ref().clone(),
        config: resolve(&t.config, res).unwrap_or(Value::Null),
        select: t.select.as_ref().map(|s| *s.get_ref()).unwrap_or_default(),
        sort: t.sort.as_ref().map(|s| s.get_ref().clone()),
        filter: t.filter.as_ref().map(|s| *s.get_ref()).unwrap_or_default(),
    }
}

fn directive(ch: &RawChannel, t0: &RawT0, res: &Resources) -> ChannelDirective {
    let unit = |u: &RawUnit| UnitModel {
        unit: u.unit.get_ref().clone(),
        config: resolve(&u.config, res).unwrap_or(Value::Null),
    };
    ChannelDirective {
        channel: ch.name.get_ref().clone(),
        access: ch.access.clone(),
        filter: ch.filter.as_ref().map(unit),
        groups: ch.groups.as_ref().map(|g| g.get_ref().clone()),
        on_stock_match: ch.on_stock_match,
        ingest: IngestBody {
            combine: t0
                .combiner
                .iter()
                .map(|c| CombineBlock {
                    unit: c.unit.get_ref().clone(),
                    config: resolve(&c.config, res).unwrap_or(Value::Null),
                    state_t2: ch.t2.iter().map(|t| t2_model(t, res)).collect(),
                })
                .collect(),
            point_t2: ch.point_t2.iter().map(|t| t2_model(t, res)).collect(),
            stock_t2: ch.stock_t2.iter().map(|t| t2_model(t, res)).collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_are_substituted_anywhere_in_a_config() {
        let res: Resources =
            [("cat".to_string(), serde_json::json!({"path": "/r/cat.csv"}))].into();
        let cfg: toml::Value = toml::from_str(
            "a = { resource = \"cat\" }\nb = [1, { resource = \"cat\" }]\nc = { resource = \"cat\", x = 1 }",
        )
        .unwrap();
        let v = resolve(&Some(cfg), &res).unwrap();
        assert_eq!(v["a"]["path"], "/r/cat.csv");
        assert_eq!(v["b"][1]["path"], "/r/cat.csv");
        // a table with more keys than `resource` is a plain table
        assert_eq!(v["c"]["x"], 1);
        let missing: toml::Value = toml::from_str("a = { resource = \"nope\" }").unwrap();
        let e = resolve(&Some(missing), &res).unwrap_err();
        assert!(e.contains("`nope`") && e.contains("cat"), "{e}");
    }
}
