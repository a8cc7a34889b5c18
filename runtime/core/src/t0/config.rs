//! Configuration of a T0 process: supplier, shaper, optional muxer, and one
//! directive per channel (filter, stock-match policy, what to ingest).
//! Parsed with unknown fields rejected; unit configs are checked against the
//! registry by [`T0Config::check`], which reports every problem at once.

use crate::loader::UnitRequest;
use ampel_interface::{Body, Registry, UnitKind};
use serde::{Deserialize, Serialize};

/// A unit and its raw config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitModel {
    /// Unit name.
    pub unit: String,
    /// Raw config (`null` or absent: defaults).
    #[serde(default)]
    pub config: Body,
}

/// Which of the chosen datapoints a point T2 runs on, after sorting (Python
/// AMPEL's `DPSelection.select`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DpSelect {
    /// Every one.
    #[default]
    All,
    /// The first.
    First,
    /// The last.
    Last,
}

/// Which datapoints of an alert a point T2 may run on (Python AMPEL's
/// `DPSelection.filter`): detections have positive ids, upper limits negative ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DpFilter {
    /// Detections only.
    #[default]
    Detections,
    /// Upper limits only.
    UpperLimits,
    /// Both.
    All,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// A T2 computation to request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct T2Model {
    /// Unit name.
    pub unit: String,
    /// Raw config.
    #[serde(default)]
    pub config: Body,
    /// For point T2s: which of the sorted, filtered datapoints.
    #[serde(default, skip_serializing_if = "is_default")]
    pub select: DpSelect,
    /// For point T2s: the body key datapoints are sorted by, ascending (absent:
    /// the datapoint's time; ties by id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
    /// For point T2s: which datapoints are candidates.
    #[serde(default, skip_serializing_if = "is_default")]
    pub filter: DpFilter,
}

/// A combiner and the state T2s computed on its states.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CombineBlock {
    /// The T1 combiner.
    pub unit: String,
    /// Its config; `access` is filled from the channel when the unit has such a field.
    #[serde(default)]
    pub config: Body,
    /// State T2s on each state.
    #[serde(default)]
    pub state_t2: Vec<T2Model>,
}

/// What a channel ingests from an accepted alert.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestBody {
    /// States and their T2s.
    #[serde(default)]
    pub combine: Vec<CombineBlock>,
    /// Point T2s.
    #[serde(default)]
    pub point_t2: Vec<T2Model>,
    /// Stock T2s.
    #[serde(default)]
    pub stock_t2: Vec<T2Model>,
}

/// What happens when the alert's stock is already in the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnStockMatch {
    /// Skip the filter: known stocks are always accepted.
    Bypass,
    /// Run the filter, but accept a rejected alert of a known stock.
    Overrule,
}

/// One channel's T0 directive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelDirective {
    /// Channel name.
    pub channel: String,
    /// Data access rights (e.g. `ZTF_PUB`, `ZTF_PRIV`).
    #[serde(default)]
    pub access: Vec<String>,
    /// The filter (absent: accept every alert).
    #[serde(default)]
    pub filter: Option<UnitModel>,
    /// Only these filter group ids fire this directive (absent: any acceptance).
    #[serde(default)]
    pub groups: Option<Vec<u16>>,
    /// Known-stock policy.
    #[serde(default)]
    pub on_stock_match: Option<OnStockMatch>,
    /// What to ingest.
    #[serde(default)]
    pub ingest: IngestBody,
}

/// A T0 process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct T0Config {
    /// Process name (journal, events).
    #[serde(default = "default_process")]
    pub process: String,
    /// Packet → alert.
    pub supplier: UnitModel,
    /// Alert → datapoints.
    pub shaper: UnitModel,
    /// Optional muxer.
    #[serde(default)]
    pub muxer: Option<UnitModel>,
    /// Channel directives.
    pub directives: Vec<ChannelDirective>,
    /// Stop after this many alerts.
    #[serde(default)]
    pub iter_max: Option<usize>,
    /// Stop after this many unit errors.
    #[serde(default = "default_error_max")]
    pub error_max: usize,
    /// Write when this many datapoints are pending.
    #[serde(default = "default_batch")]
    pub batch_size: usize,
}

fn default_process() -> String {
    "t0".into()
}
fn default_error_max() -> usize {
    20
}
fn default_batch() -> usize {
    500
}

impl T0Config {
    /// What is wrong with the process apart from its units, every problem at
    /// once: channel names that are empty or carry invisible characters, a
    /// channel with two directives (their counts and documents would merge), no
    /// channel at all, a batch size or error limit of 0.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.directives.is_empty() {
            out.push("no channel: add a [[directives]] block per channel".to_string());
        }
        let mut seen = std::collections::BTreeMap::new();
        for (i, d) in self.directives.iter().enumerate() {
            if let Some(p) = ampel_interface::channel_name_problem(&d.channel) {
                out.push(format!("directives[{i}]: {p}"));
            } else if let Some(first) = seen.insert(d.channel.as_str(), i) {
                out.push(format!(
                    "directives[{i}]: channel `{}` already has a directive (directives[{first}]); \
                     one directive per channel",
                    d.channel
                ));
            }
        }
        if self.batch_size == 0 {
            out.push("batch_size = 0: at least 1 datapoint per write".to_string());
        }
        if self.error_max == 0 {
            out.push("error_max = 0: at least 1 (the run stops at this many unit errors)".into());
        }
        out
    }

    /// Every problem of the process at once, its units' configs included: what
    /// [`T0Processor::new`](crate::t0::T0Processor::new) refuses, found without a
    /// store so a command can refuse before it opens one.
    pub fn check(&self, registry: &Registry) -> Result<(), Vec<String>> {
        let mut problems = self.problems();
        if let Err(p) = crate::check_units(registry, &self.unit_requests(registry)) {
            problems.extend(p);
        }
        problems.extend(self.t2_kind_problems(registry));
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// Every unit this process uses, with where it is configured.
    pub fn unit_requests(&self, registry: &Registry) -> Vec<UnitRequest> {
        let req = |origin: String, unit: &str, config: &Body, kind| UnitRequest {
            origin,
            unit: unit.to_string(),
            config: config.clone(),
            kind: Some(kind),
        };
        let mut out = vec![
            req(
                "supplier".into(),
                &self.supplier.unit,
                &self.supplier.config,
                UnitKind::AlertSupplier,
            ),
            req(
                "shaper".into(),
                &self.shaper.unit,
                &self.shaper.config,
                UnitKind::Shaper,
            ),
        ];
        if let Some(m) = &self.muxer {
            out.push(req("muxer".into(), &m.unit, &m.config, UnitKind::Muxer));
        }
        for d in &self.directives {
            let at = |what: String| format!("channel `{}` {what}", d.channel.escape_debug());
            if let Some(f) = &d.filter {
                out.push(req(
                    at("filter".into()),
                    &f.unit,
                    &f.config,
                    UnitKind::AlertFilter,
                ));
            }
            for (i, c) in d.ingest.combine.iter().enumerate() {
                let config = combiner_config(registry, &c.unit, &c.config, &d.access);
                out.push(req(
                    at(format!("combine[{i}]")),
                    &c.unit,
                    &config,
                    UnitKind::T1Combiner,
                ));
                for (j, t) in c.state_t2.iter().enumerate() {
                    out.push(t2_req(at(format!("combine[{i}].state_t2[{j}]")), t));
                }
            }
            for (j, t) in d.ingest.point_t2.iter().enumerate() {
                out.push(t2_req(at(format!("point_t2[{j}]")), t));
            }
            for (j, t) in d.ingest.stock_t2.iter().enumerate() {
                out.push(t2_req(at(format!("stock_t2[{j}]")), t));
            }
        }
        out
    }
}

impl T0Config {
    /// Every T2 unit the channels request (state, point and stock).
    pub fn t2_units(&self) -> std::collections::BTreeSet<String> {
        self.directives
            .iter()
            .flat_map(|d| {
                d.ingest
                    .combine
                    .iter()
                    .flat_map(|c| &c.state_t2)
                    .chain(&d.ingest.point_t2)
                    .chain(&d.ingest.stock_t2)
            })
            .map(|t| t.unit.clone())
            .collect()
    }

    /// T2 units listed where their kind does not belong: a point T2 among state
    /// T2s, a state T2 among stock T2s, ... (tied units count as their base kind);
    /// a selection (`select`, `sort`, `filter`) on anything but a point T2.
    pub fn t2_kind_problems(&self, registry: &Registry) -> Vec<String> {
        let mut out = Vec::new();
        let mut fit = |what: String, t: &T2Model, list: T2List| {
            if list != T2List::Point && t.has_selection() {
                out.push(format!(
                    "{what}: select, sort and filter choose datapoints of point T2s; `{}` is a {} T2",
                    t.unit,
                    list.name()
                ));
            }
            if let Some((kind, home)) = T2List::misplaced(registry, &t.unit, list) {
                out.push(format!(
                    "{what}: `{}` is a {} unit; it belongs among the {} T2s",
                    t.unit,
                    kind.as_str(),
                    home.map_or("(none: not a T2 unit)", T2List::name)
                ));
            }
        };
        for d in &self.directives {
            let at = |what: String| format!("channel `{}` {what}", d.channel.escape_debug());
            for (i, c) in d.ingest.combine.iter().enumerate() {
                for (j, t) in c.state_t2.iter().enumerate() {
                    fit(at(format!("combine[{i}].state_t2[{j}]")), t, T2List::State);
                }
            }
            for (j, t) in d.ingest.point_t2.iter().enumerate() {
                fit(at(format!("point_t2[{j}]")), t, T2List::Point);
            }
            for (j, t) in d.ingest.stock_t2.iter().enumerate() {
                fit(at(format!("stock_t2[{j}]")), t, T2List::Stock);
            }
        }
        out
    }
}

impl T2Model {
    /// Whether it chooses datapoints other than the default (every detection).
    pub fn has_selection(&self) -> bool {
        self.sort.is_some() || self.select != DpSelect::All || self.filter != DpFilter::Detections
    }
}

/// The three lists of T2s a channel requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum T2List {
    /// On states.
    State,
    /// On datapoints.
    Point,
    /// On stocks.
    Stock,
}

impl T2List {
    /// The list a unit of this kind goes in (tied units with their base kind);
    /// `None` for a unit that is no T2.
    pub fn of(kind: UnitKind) -> Option<T2List> {
        match kind {
            UnitKind::StateT2 | UnitKind::TiedStateT2 => Some(T2List::State),
            UnitKind::PointT2 | UnitKind::TiedPointT2 => Some(T2List::Point),
            UnitKind::StockT2 | UnitKind::TiedStockT2 => Some(T2List::Stock),
            _ => None,
        }
    }

    /// `state`, `point` or `stock`.
    pub fn name(self) -> &'static str {
        match self {
            T2List::State => "state",
            T2List::Point => "point",
            T2List::Stock => "stock",
        }
    }

    /// If `unit` (known to the registry) does not belong in `list`: its kind and
    /// the list it belongs in.
    pub fn misplaced(
        registry: &Registry,
        unit: &str,
        list: T2List,
    ) -> Option<(UnitKind, Option<T2List>)> {
        let kind = registry.get(unit).ok()?.kind();
        let home = T2List::of(kind);
        (home != Some(list)).then_some((kind, home))
    }
}

fn t2_req(origin: String, t: &T2Model) -> UnitRequest {
    // any T2 kind (plain or tied); the processor checks it fits where it is used
    UnitRequest {
        origin,
        unit: t.unit.clone(),
        config: t.config.clone(),
        kind: None,
    }
}

/// A combiner's config with the channel's `access` filled in, if the combiner has an
/// `access` field and the config does not set it.
pub fn combiner_config(registry: &Registry, unit: &str, config: &Body, access: &[String]) -> Body {
    let has_access = registry
        .get(unit)
        .ok()
        .and_then(|u| u.check(&Body::Null).ok())
        .is_some_and(|c| c.normalized.get("access").is_some());
    if has_access {
        with_access(config, access)
    } else {
        config.clone()
    }
}

fn with_access(config: &Body, access: &[String]) -> Body {
    match config {
        Body::Object(m) if m.contains_key("access") => config.clone(),
        Body::Object(m) => {
            let mut m = m.clone();
            m.insert("access".into(), serde_json::json!(access));
            Body::Object(m)
        }
        _ => serde_json::json!({ "access": access }),
    }
}
