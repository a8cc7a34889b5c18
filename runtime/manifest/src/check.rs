//! The rules a manifest must satisfy, every problem collected at once: the
//! `[instance]` table, every unit used being declared by a crate, unit configs
//! (for units the checking binary contains), T2s listed by their kind, datapoint
//! selection only on point T2s, state T2s only with a combiner, tied T2
//! dependencies, schedules, process names, `[resources]` references and `[live]`.

use crate::expand::{resolve, resources, t3_process_name};
use crate::raw::{key, RawManifest};
use crate::{Declared, Located};
use ampel_core::instance::dependency_problems;
use ampel_core::loader::{check_units, UnitRequest};
use ampel_core::serve::Schedule;
use ampel_core::t0::T2List;
use ampel_interface::Registry;
use serde_json::Value;
use std::collections::BTreeSet;
use toml::Spanned;

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

/// The `[instance]` table (name, version, creation time, stores) and `[live]`;
/// returns the runtime features the instance needs, sorted: `mongodb` when
/// `stores` names it, `kafka` with a `[live]` section.
pub fn check_instance(raw: &RawManifest, p: &mut Located) -> Vec<&'static str> {
    let inst = &raw.instance;
    if !valid_name(inst.name.get_ref()) {
        p.push(
            inst.name.span(),
            format!(
                "instance name `{}`: expected lower-case letters, digits and `-`, starting with a letter (it names the image)",
                inst.name.get_ref()
            ),
        );
    }
    if !valid_semver(inst.version.get_ref()) {
        p.push(
            inst.version.span(),
            format!(
                "instance version `{}`: expected a semantic version such as 1.0.0",
                inst.version.get_ref()
            ),
        );
    }
    if let Some(c) = &inst.created {
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
    if let Some(stores) = &inst.stores {
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
    if let Some(l) = &raw.live {
        features.push("kafka");
        if l.topics.get_ref().is_empty() {
            p.push(l.topics.span(), "[live] topics: give at least one topic");
        }
        if l.group.get_ref().is_empty() {
            p.push(l.group.span(), "[live] group: give a consumer group name");
        }
    }
    for (name, v) in &raw.resources {
        if crate::files::file_request(v.get_ref()).is_none() {
            continue;
        }
        match raw.files.get(name) {
            Some(Ok(_)) => {}
            Some(Err(e)) => p.push(v.span(), format!("resources.{name}: {e}")),
            None => p.push(
                v.span(),
                format!("resources.{name}: a file resource needs the manifest read from its file"),
            ),
        }
    }
    features.sort_unstable();
    features.dedup();
    features
}

/// Every use of a unit, and everything that refers to something else: units
/// declared by a crate, configs (with resources) of the units `registry` has and
/// `declared` marks checkable, T2 kinds and selections, combiner, tied
/// dependencies, schedules and process names.
pub fn check_uses(raw: &RawManifest, registry: &Registry, declared: &Declared, p: &mut Located) {
    let res = resources(raw);
    let mut requests: Vec<(std::ops::Range<usize>, UnitRequest)> = Vec::new();
    let mut use_unit =
        |p: &mut Located, what: String, unit: &Spanned<String>, config: &Option<toml::Value>| {
            let config = match resolve(config, &res) {
                Ok(c) => c,
                Err(e) => {
                    p.push(unit.span(), format!("{what}: {e}"));
                    return;
                }
            };
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
            use_unit(p, what.into(), &u.unit, &u.config);
        }
    }
    let checkable = |u: &str| matches!(declared.get(u), Some((_, true)));
    let mut names = BTreeSet::new();
    let mut t3_names: Vec<(String, std::ops::Range<usize>)> = Vec::new();
    for ch in &raw.channels {
        let channel = ch.name.get_ref();
        if let Some(problem) = ampel_interface::channel_name_problem(channel) {
            p.push(ch.name.span(), problem);
        } else if !names.insert(channel.clone()) {
            p.push(
                ch.name.span(),
                format!("channel `{channel}` is declared twice"),
            );
        }
        let w = |x: &str| format!("channel `{}` {x}", channel.escape_debug());
        if let Some(f) = &ch.filter {
            use_unit(p, w("filter"), &f.unit, &f.config);
        }
        if let Some(g) = &ch.groups {
            if g.get_ref().is_empty() {
                p.push(g.span(), w("groups: give at least one filter group id, or leave groups out (any acceptance)"));
            }
        }
        for (list, t) in ch.all_t2() {
            let at = w(key(list));
            use_unit(p, at.clone(), &t.unit, &t.config);
            if list != T2List::Point {
                for span in [
                    t.select.as_ref().map(|s| s.span()),
                    t.sort.as_ref().map(|s| s.span()),
                    t.filter.as_ref().map(|s| s.span()),
                ]
                .into_iter()
                .flatten()
                {
                    p.push(span, format!(
                        "{at}: select, sort and filter choose the datapoints of point T2s; `{}` is in {}",
                        t.unit.get_ref(), key(list)
                    ));
                }
            }
            let misplaced = checkable(t.unit.get_ref())
                .then(|| T2List::misplaced(registry, t.unit.get_ref(), list))
                .flatten();
            if let Some((kind, home)) = misplaced {
                p.push(
                    t.unit.span(),
                    format!(
                        "{at}: `{}` is a {} unit; it belongs in {}",
                        t.unit.get_ref(),
                        kind.as_str(),
                        home.map_or("no T2 list (it is not a T2 unit)", key)
                    ),
                );
            }
        }
        if let (Some(first), None) = (ch.t2.first(), &raw.t0.combiner) {
            p.push(
                first.unit.span(),
                format!(
                    "channel `{channel}` requests state T2s (t2), but [t0] has no combiner to make states"
                ),
            );
        }
        for t in &ch.t3 {
            use_unit(p, w("t3"), &t.unit, &t.config);
            if let Err(e) = Schedule::parse(t.schedule.get_ref()) {
                p.push(t.schedule.span(), format!("schedule {e}"));
            }
            let (name, span) = match &t.name {
                Some(n) => (n.get_ref().clone(), n.span()),
                None => (t3_process_name(channel, t.unit.get_ref()), t.unit.span()),
            };
            t3_names.push((name, span));
        }
    }
    let mut processes = BTreeSet::new();
    for pr in &raw.processes {
        if *pr.tier.get_ref() != 2 {
            p.push(pr.tier.span(), format!("process `{}`: tier {} cannot be declared here (2: T2 workers; T3 processes are declared per channel, T0 is the channels)", pr.name.get_ref(), pr.tier.get_ref()));
        }
        if !processes.insert(pr.name.get_ref().clone()) {
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
    for (name, span) in &t3_names {
        if !processes.insert(name.clone()) {
            p.push(
                span.clone(),
                format!("process name `{name}` is used twice (give the t3 entry a `name`)"),
            );
        }
    }
    for ch in &raw.channels {
        for t in &ch.t3 {
            for (i, c) in t.select.iter().flat_map(|s| &s.t2).enumerate() {
                if let Some(expected) = c.operator.value_problem(&c.value) {
                    p.push(
                        t.unit.span(),
                        format!(
                            "channel `{}` t3 select.t2[{i}]: value {} for operator {:?}: expected {expected}",
                            ch.name.get_ref(),
                            c.value,
                            c.operator
                        ),
                    );
                }
            }
            if let Some(other) = t.select.as_ref().and_then(|s| s.since_last_run_of.as_ref()) {
                if !processes.contains(other) {
                    p.push(
                        t.unit.span(),
                        format!(
                            "channel `{}` t3: since_last_run_of names an unknown process `{other}` (known: {})",
                            ch.name.get_ref(),
                            processes.iter().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    );
                }
            }
        }
    }
    let files: Vec<Value> = raw
        .files
        .values()
        .filter_map(|f| f.as_ref().ok())
        .filter_map(|f| serde_json::to_value(&f.value).ok())
        .collect();
    for (span, req) in &requests {
        if let Err(problems) = check_units(registry, std::slice::from_ref(req)) {
            for pr in problems {
                p.push(span.clone(), pr);
            }
        } else if names_any(&req.config, &files) {
            // a unit reading a file resource is built now, so a broken file (a
            // catalogue with a bad row) is reported with every other problem
            let built = registry
                .get(&req.unit)
                .map_err(|e| e.to_string())
                .and_then(|u| u.instantiate(&req.config).map_err(|e| e.to_string()));
            if let Err(e) = built {
                p.push(span.clone(), format!("{}: {e}", req.origin));
            }
        }
    }

    // tied T2 units: their dependencies must be requested by the same channel; no cycles
    for ch in &raw.channels {
        let entries: Vec<&Spanned<String>> = ch
            .all_t2()
            .map(|(_, t)| &t.unit)
            .filter(|u| checkable(u.get_ref()))
            .collect();
        let t2: Vec<(String, Value)> = ch
            .all_t2()
            .filter(|(_, t)| checkable(t.unit.get_ref()))
            .map(|(_, t)| {
                (
                    t.unit.get_ref().clone(),
                    resolve(&t.config, &res).unwrap_or(Value::Null),
                )
            })
            .collect();
        for (i, problem) in dependency_problems(registry, ch.name.get_ref(), &t2) {
            let span = i
                .and_then(|i| entries.get(i))
                .map_or(ch.name.span(), |u| u.span());
            p.push(span, problem);
        }
    }
}

/// Whether `v` holds one of `files` anywhere inside.
fn names_any(v: &Value, files: &[Value]) -> bool {
    files.contains(v)
        || match v {
            Value::Object(m) => m.values().any(|x| names_any(x, files)),
            Value::Array(a) => a.iter().any(|x| names_any(x, files)),
            _ => false,
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
