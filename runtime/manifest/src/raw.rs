//! The manifest as written: serde structs with unknown fields denied and source
//! spans on the names problems point at. Nothing here is checked yet; see
//! `check.rs` for the rules and `expand.rs` for the runtime configuration.

use ampel_core::t0::{DpFilter, DpSelect, OnStockMatch, T2List};
use ampel_core::t3::{Load, Select};
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// A whole manifest.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawManifest {
    /// `[instance]`.
    pub instance: RawInstance,
    /// `[[crate]]`: the unit crates.
    #[serde(rename = "crate", default)]
    pub crates: Vec<RawCrate>,
    /// `[t0]`: supplier, shaper, muxer, combiner.
    pub t0: RawT0,
    /// `[[channel]]`: one T0 directive each, with its T2s and T3 processes.
    #[serde(rename = "channel", default)]
    pub channels: Vec<RawChannel>,
    /// `[[process]]`: scheduled T2 workers.
    #[serde(rename = "process", default)]
    pub processes: Vec<RawProcess>,
    /// `[resources]`: named values unit configs refer to as `{ resource = "NAME" }`.
    #[serde(default)]
    pub resources: BTreeMap<String, Spanned<toml::Value>>,
    /// The file resources of `resources`, found and hashed by [`crate::read`]
    /// (relative to the manifest's directory); empty when only parsed.
    #[serde(skip)]
    pub files: crate::files::Files,
    /// `[live]`: the Kafka stream of `ampel instance serve`.
    #[serde(default)]
    pub live: Option<RawLive>,
}

/// `[live]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLive {
    /// `host:port[,...]`; absent: `$AMPEL_KAFKA_BROKERS` where it runs.
    #[serde(default)]
    pub brokers: Option<String>,
    /// Topics.
    pub topics: Spanned<Vec<String>>,
    /// Consumer group.
    pub group: Spanned<String>,
}

/// `[instance]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInstance {
    /// Image name.
    pub name: Spanned<String>,
    /// Semantic version.
    pub version: Spanned<String>,
    /// Where the manifest lives (URL).
    #[serde(default)]
    pub source: Option<String>,
    /// Revision of the source.
    #[serde(default)]
    pub revision: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Image creation time (RFC 3339).
    #[serde(default)]
    pub created: Option<Spanned<String>>,
    /// Store backends to link (`sqlite` is always in).
    #[serde(default)]
    pub stores: Option<Spanned<Vec<String>>>,
}

/// `[[crate]]`: exactly one of `path`, `git` (+ `rev`), `version`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCrate {
    /// Package name.
    pub name: Spanned<String>,
    /// A directory, relative to the manifest.
    #[serde(default)]
    pub path: Option<String>,
    /// A git repository.
    #[serde(default)]
    pub git: Option<String>,
    /// Its revision.
    #[serde(default)]
    pub rev: Option<String>,
    /// A crates.io version requirement.
    #[serde(default)]
    pub version: Option<String>,
    /// The units taken from it.
    pub units: Vec<Spanned<String>>,
}

/// A unit and its config.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUnit {
    /// Unit name.
    pub unit: Spanned<String>,
    /// Its config (absent: defaults).
    #[serde(default)]
    pub config: Option<toml::Value>,
}

/// `[t0]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawT0 {
    /// Packet -> alert.
    pub supplier: RawUnit,
    /// Alert -> datapoints.
    pub shaper: RawUnit,
    /// Alert datapoints + stored ones -> what to insert and combine.
    #[serde(default)]
    pub muxer: Option<RawUnit>,
    /// Datapoints -> states (needed for state T2s).
    #[serde(default)]
    pub combiner: Option<RawUnit>,
    /// Stop after this many unit errors (default 20).
    #[serde(default)]
    pub error_max: Option<usize>,
    /// Write when this many datapoints are pending (default 2000).
    #[serde(default)]
    pub batch_size: Option<usize>,
}

/// A T2 a channel requests, with the datapoint selection of point T2s.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawT2 {
    /// Unit name.
    pub unit: Spanned<String>,
    /// Its config.
    #[serde(default)]
    pub config: Option<toml::Value>,
    /// Point T2s: all, first or last of the sorted candidates.
    #[serde(default)]
    pub select: Option<Spanned<DpSelect>>,
    /// Point T2s: the body key to sort by (default: the datapoint's time).
    #[serde(default)]
    pub sort: Option<Spanned<String>>,
    /// Point T2s: detections, upper_limits or all.
    #[serde(default)]
    pub filter: Option<Spanned<DpFilter>>,
}

/// A T3 process of a channel.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawT3 {
    /// Unit name.
    pub unit: Spanned<String>,
    /// Its config.
    #[serde(default)]
    pub config: Option<toml::Value>,
    /// `every 10m` or a cron expression with seconds.
    pub schedule: Spanned<String>,
    /// Process name (default `CHANNEL-UNIT`).
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// Which stocks (default: those of the channel).
    #[serde(default)]
    pub select: Option<Select>,
    /// What is loaded per stock.
    #[serde(default)]
    pub load: Option<Load>,
}

/// `[[channel]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChannel {
    /// Channel name.
    pub name: Spanned<String>,
    /// Data access rights.
    #[serde(default)]
    pub access: Vec<String>,
    /// Only alerts the filter accepts with one of these group ids.
    #[serde(default)]
    pub groups: Option<Spanned<Vec<u16>>>,
    /// The filter (absent: every alert).
    #[serde(default)]
    pub filter: Option<RawUnit>,
    /// `bypass` or `overrule`.
    #[serde(default)]
    pub on_stock_match: Option<OnStockMatch>,
    /// State T2s.
    #[serde(default)]
    pub t2: Vec<RawT2>,
    /// Point T2s.
    #[serde(default)]
    pub point_t2: Vec<RawT2>,
    /// Stock T2s.
    #[serde(default)]
    pub stock_t2: Vec<RawT2>,
    /// T3 processes on this channel.
    #[serde(default)]
    pub t3: Vec<RawT3>,
}

impl RawChannel {
    /// Every T2 entry with the list it is in: `t2` (state), `point_t2`, `stock_t2`.
    pub fn all_t2(&self) -> impl Iterator<Item = (T2List, &RawT2)> {
        self.t2
            .iter()
            .map(|t| (T2List::State, t))
            .chain(self.point_t2.iter().map(|t| (T2List::Point, t)))
            .chain(self.stock_t2.iter().map(|t| (T2List::Stock, t)))
    }
}

/// The channel key of a T2 list: `t2` (state), `point_t2`, `stock_t2`.
pub fn key(list: T2List) -> &'static str {
    match list {
        T2List::State => "t2",
        T2List::Point => "point_t2",
        T2List::Stock => "stock_t2",
    }
}

/// `[[process]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProcess {
    /// Unique name.
    pub name: Spanned<String>,
    /// 2 (T2 workers).
    pub tier: Spanned<u8>,
    /// `every 10s` or a cron expression with seconds.
    pub schedule: Spanned<String>,
    /// Only these units.
    #[serde(default)]
    pub units: Vec<Spanned<String>>,
}
