//! Typed documents: what the tiers read and write through the store.
//!
//! Field names follow Python AMPEL's documents (`ampel.content.*`) so that the MongoDB
//! layout stays compatible; where Python AMPEL is weak the types add what it lacks
//! (a lease on T2 documents, an explicit result index in T2 meta records).
//! Sets (channels, tags) are `BTreeSet`s and free-form bodies are `serde_json::Value`
//! whose maps are sorted, so every document serialises deterministically.

use crate::codes::{DocumentCode, EventCode, JournalActionCode, LogFlag, MetaActionCode, Tier};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Identifier of a stock (an astronomical object), e.g. the integer form of a ZTF name.
pub type StockId = i64;
/// Identifier of a datapoint (positive: detection, negative: upper limit in ZTF).
pub type DataPointId = i64;
/// T2 link: a datapoint id (point T2), a T1 link (state T2) or a stock id (stock T2).
pub type LinkId = i64;
/// Config identity hash (see [`crate::hash::config_hash`]).
pub type ConfigHash = i64;
/// Trace id (see [`crate::hash::trace_id`]).
pub type TraceId = i64;
/// Global process run id.
pub type RunId = i64;
/// Seconds since the Unix epoch (UTC). Archive runs take it from the data.
pub type UnixTime = f64;
/// Free-form document body; maps are sorted.
pub type Body = serde_json::Value;
/// A channel name.
pub type Channel = String;
/// A tag.
pub type Tag = String;

/// A measurement: photometry of one detection, an upper limit, a forced point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataPoint {
    /// Unique id.
    pub id: DataPointId,
    /// Stocks this datapoint belongs to.
    pub stock: BTreeSet<StockId>,
    /// Origin (e.g. survey code), if several origins share one database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<i64>,
    /// Tags (ZTF, ZTF_G, ...).
    pub tag: BTreeSet<Tag>,
    /// Channels that accepted an alert containing this datapoint.
    pub channel: BTreeSet<Channel>,
    /// Channels that must not combine this datapoint into states.
    #[serde(default)]
    pub excl: BTreeSet<Channel>,
    /// One record per ingestion that touched this datapoint.
    #[serde(default)]
    pub meta: Vec<MetaRecord>,
    /// The measurement.
    pub body: Body,
    /// When the datapoint may be purged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<UnixTime>,
}

/// The body key every shaper writes a datapoint's observation time to, as a
/// Julian date (ZTF's own `jd`; Rubin's `midpointMjdTai` + 2400000.5). Python
/// AMPEL's layout keeps the time in the body, so the stored document does too;
/// code reads it through [`DataPoint::jd`], never by the key.
pub const TIME_KEY: &str = "jd";

impl DataPoint {
    /// A datapoint of `stock` as a shaper makes it, before ingestion adds channels,
    /// meta records and an expiry (how unit tests build their inputs).
    pub fn shaped<T: Into<Tag>>(
        id: DataPointId,
        stock: StockId,
        tag: impl IntoIterator<Item = T>,
        body: Body,
    ) -> DataPoint {
        DataPoint {
            id,
            stock: [stock].into(),
            origin: None,
            tag: tag.into_iter().map(Into::into).collect(),
            channel: BTreeSet::new(),
            excl: BTreeSet::new(),
            meta: Vec::new(),
            body,
            expiry: None,
        }
    }

    /// The observation time (Julian date), if the body has one.
    pub fn jd(&self) -> Option<f64> {
        body_jd(&self.body)
    }
}

/// The observation time (Julian date) of a datapoint body, raw or shaped.
pub fn body_jd(body: &Body) -> Option<f64> {
    body.get(TIME_KEY).and_then(serde_json::Value::as_f64)
}

/// First and last time a channel (or `any`) saw a stock.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StockTimes {
    /// First time the stock was tied to the channel.
    pub tied: UnixTime,
    /// Last time the stock was updated for the channel.
    pub upd: UnixTime,
}

/// Per-object document: channels, tags, names, journal, times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stock {
    /// Stock id.
    pub stock: StockId,
    /// Origin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<i64>,
    /// Tags.
    pub tag: BTreeSet<Tag>,
    /// Channels.
    pub channel: BTreeSet<Channel>,
    /// Names (e.g. `ZTF18abcdefg`).
    pub name: BTreeSet<String>,
    /// History of everything done to this stock's documents, in append order.
    pub journal: Vec<JournalRecord>,
    /// Times per channel, plus the key `any`.
    pub ts: BTreeMap<String, StockTimes>,
    /// Free-form body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
}

/// The key of [`Stock::ts`] that aggregates all channels.
pub const ANY_CHANNEL: &str = "any";

/// A T1 state: the datapoints a channel saw at one alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct T1Document {
    /// Stock.
    pub stock: StockId,
    /// Link hash over the sorted datapoint ids ([`crate::hash::link_hash`]).
    pub link: LinkId,
    /// Datapoint ids in the order the combiner returned them.
    pub dps: Vec<DataPointId>,
    /// Channels sharing this state.
    pub channel: BTreeSet<Channel>,
    /// Tags.
    pub tag: BTreeSet<Tag>,
    /// Code.
    pub code: DocumentCode,
    /// Meta records.
    #[serde(default)]
    pub meta: Vec<MetaRecord>,
    /// Compute results (rare).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub body: Vec<Body>,
}

/// What a T2 document is computed over; AMPEL's `col` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum T2Kind {
    /// One datapoint (link = datapoint id).
    Point,
    /// One T1 state (link = T1 link).
    State,
    /// The stock document (link = stock id).
    Stock,
}

impl T2Kind {
    /// Lower-case name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            T2Kind::Point => "point",
            T2Kind::State => "state",
            T2Kind::Stock => "stock",
        }
    }
}

/// Who holds a T2 ticket, and until when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lease {
    /// Worker id.
    pub owner: String,
    /// Expiry; after it another worker may reclaim the ticket.
    pub until: UnixTime,
}

/// Identity of a T2 computation. Two channels asking for the same identity share
/// one document, so the computation runs once.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct T2Identity {
    /// Stock.
    pub stock: StockId,
    /// Unit name.
    pub unit: String,
    /// Config hash (`None` for units without config).
    pub config: Option<ConfigHash>,
    /// Link.
    pub link: LinkId,
}

/// A T2 ticket and its results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct T2Document {
    /// Deterministic id: [`T2Identity::doc_id`].
    pub id: String,
    /// Stock.
    pub stock: StockId,
    /// Unit name.
    pub unit: String,
    /// Config hash.
    pub config: Option<ConfigHash>,
    /// Link.
    pub link: LinkId,
    /// What the link points at.
    pub col: T2Kind,
    /// Channels that requested the computation.
    pub channel: BTreeSet<Channel>,
    /// Tags.
    pub tag: BTreeSet<Tag>,
    /// Code: NEW until processed, then the result code.
    pub code: DocumentCode,
    /// Meta records: ingestion and every processing attempt.
    #[serde(default)]
    pub meta: Vec<MetaRecord>,
    /// Results, append-only.
    #[serde(default)]
    pub body: Vec<Body>,
    /// Current claim, if a worker holds the ticket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
    /// Not to be claimed again before this time (retry backoff).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<UnixTime>,
    /// When the document may be purged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<UnixTime>,
}

impl T2Document {
    /// The identity of this document.
    pub fn identity(&self) -> T2Identity {
        T2Identity {
            stock: self.stock,
            unit: self.unit.clone(),
            config: self.config,
            link: self.link,
        }
    }

    /// The current result: the body that the latest successful tier-2 meta record
    /// points to. Unlike Python AMPEL this does not count meta entries; each meta
    /// record names the body index it produced.
    pub fn current_result(&self) -> Option<&Body> {
        let ok = |m: &&MetaRecord| m.tier == Tier::T2 && m.code.0 >= 0;
        if let Some(i) = self.meta.iter().rev().filter(ok).find_map(|m| m.body_index) {
            return self.body.get(i);
        }
        // Python AMPEL's T2 worker writes no `body_index`: each of its successful
        // runs appends one body
        if self.meta.iter().any(|m| ok(&m)) {
            self.body.last()
        } else {
            None
        }
    }

    /// Number of processing attempts: tier-2 meta records, except those that only
    /// recorded a wait for dependencies.
    pub fn trials(&self) -> usize {
        self.meta
            .iter()
            .filter(|m| m.tier == Tier::T2 && m.code != DocumentCode::PENDING_DEPENDENCY)
            .count()
    }

    /// Number of times this ticket waited for its dependencies.
    pub fn waits(&self) -> usize {
        self.meta
            .iter()
            .filter(|m| m.tier == Tier::T2 && m.code == DocumentCode::PENDING_DEPENDENCY)
            .count()
    }
}

/// A T3 document: the output of one T3 unit run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct T3Document {
    /// Id (deterministic: process, unit, run).
    pub id: String,
    /// Process name.
    pub process: String,
    /// Unit name.
    pub unit: String,
    /// Config hash.
    pub confid: Option<ConfigHash>,
    /// Channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// Tags.
    pub tag: BTreeSet<Tag>,
    /// Code.
    pub code: DocumentCode,
    /// Meta record of the run that made it.
    pub meta: MetaRecord,
    /// Stocks the unit saw.
    #[serde(default)]
    pub stock: Vec<StockId>,
    /// Creation time.
    pub datetime: UnixTime,
    /// Body.
    pub body: Body,
}

/// One entry of a stock's journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalRecord {
    /// Tier that acted.
    pub tier: Tier,
    /// When.
    pub ts: UnixTime,
    /// Run id.
    pub run: RunId,
    /// Process name (Python AMPEL omits it for T0; we always set it).
    pub process: String,
    /// Channels concerned.
    #[serde(default)]
    pub channel: BTreeSet<Channel>,
    /// Unit, if a unit acted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Document acted upon (T2 doc id), if any.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::lenient::doc_ref"
    )]
    pub doc: Option<String>,
    /// What was done.
    pub action: JournalActionCode,
    /// Resulting code, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<DocumentCode>,
    /// Tags added.
    #[serde(default)]
    pub tag: BTreeSet<Tag>,
    /// Trace ids by role (e.g. `t2worker`, `t2unit`).
    #[serde(default, deserialize_with = "crate::lenient::trace_ids")]
    pub traceid: BTreeMap<String, TraceId>,
    /// Extra attributes (e.g. `alert`, `link`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<Body>,
}

/// What one activity inside a meta record did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    /// Action bits.
    pub action: MetaActionCode,
    /// Channels concerned.
    #[serde(default)]
    pub channel: BTreeSet<Channel>,
    /// Tags added.
    #[serde(default)]
    pub tag: BTreeSet<Tag>,
    /// Code set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<DocumentCode>,
}

/// Provenance record attached to a document each time something touches it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetaRecord {
    /// Run id.
    pub run: RunId,
    /// When.
    pub ts: UnixTime,
    /// Tier.
    pub tier: Tier,
    /// Code.
    pub code: DocumentCode,
    /// Duration in seconds, for processing attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// Trace ids by role.
    #[serde(default, deserialize_with = "crate::lenient::trace_ids")]
    pub traceid: BTreeMap<String, TraceId>,
    /// Activities.
    #[serde(default)]
    pub activity: Vec<Activity>,
    /// Index into the document body that this attempt appended, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_index: Option<usize>,
    /// Retry no earlier than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<UnixTime>,
    /// Extra attributes (e.g. `alert`, `msg`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<Body>,
}

impl MetaRecord {
    /// A bare record: no duration, trace ids, activities or extras.
    pub fn new(run: RunId, ts: UnixTime, tier: Tier, code: DocumentCode) -> Self {
        MetaRecord {
            run,
            ts,
            tier,
            code,
            duration: None,
            traceid: BTreeMap::new(),
            activity: Vec::new(),
            body_index: None,
            retry_after: None,
            extra: None,
        }
    }
}

/// One process run: start, end, outcome and counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Run id (also the key).
    pub run: RunId,
    /// Process name.
    pub process: String,
    /// Tier.
    pub tier: Tier,
    /// Code.
    pub code: EventCode,
    /// Start time.
    pub start: UnixTime,
    /// Duration in seconds, once finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// Job id, for runs that are part of a job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobid: Option<i64>,
    /// Counts and return values (alerts read, documents made, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ret: Option<Body>,
    /// The operating-system process running it, so a run whose process died can
    /// be told from one still running (and taken over by a rerun).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<RunOwner>,
}

/// The operating-system process of a run: enough to tell on the same machine
/// whether it is still alive, with a process id that may have been reused since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunOwner {
    /// Host name.
    pub host: String,
    /// The kernel's boot id (a process of an earlier boot is gone).
    pub boot: String,
    /// Process id.
    pub pid: u32,
    /// The process's start time in clock ticks since boot (tells a reused pid).
    pub since: u64,
    /// The id the run works under, e.g. the T2 lease owner.
    pub id: String,
}

/// A stored log line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    /// When.
    pub ts: UnixTime,
    /// Run id.
    pub run: RunId,
    /// Flags (tier, level, origin).
    pub flag: LogFlag,
    /// Stock, if the line concerns one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock: Option<StockId>,
    /// Channel, if the line concerns one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// Unit, if a unit wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Message.
    pub msg: String,
    /// Extra structured attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<Body>,
}

/// A failure worth a human's attention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TroubleRecord {
    /// When.
    pub ts: UnixTime,
    /// Tier.
    pub tier: Tier,
    /// Run id.
    pub run: RunId,
    /// Process name.
    pub process: String,
    /// Unit involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Stock involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock: Option<StockId>,
    /// Document involved (T2 doc id, datapoint id, file name, ...).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::lenient::doc_ref"
    )]
    pub doc: Option<String>,
    /// What went wrong.
    pub message: String,
    /// Further context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Body>,
}

/// A registered trace: what a trace id stands for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceRecord {
    /// The id ([`crate::hash::trace_id`] of the other fields).
    pub id: TraceId,
    /// Unit name.
    pub unit: String,
    /// Unit crate version.
    pub version: String,
    /// Digest of the unit's code.
    pub digest: String,
    /// Validated config with defaults filled.
    pub config: Body,
}
