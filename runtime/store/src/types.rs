//! Arguments and results of [`crate::Store`] operations.

use ampel_interface::{
    Body, Channel, ConfigHash, DocumentCode, EventCode, JournalRecord, LinkId, LogFlag, MetaRecord,
    RunId, StockId, T2Identity, T2Kind, Tag, UnixTime,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// How many documents an upsert batch inserted and how many existed already.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct UpsertCount {
    /// Newly inserted.
    pub inserted: usize,
    /// Already present (merged).
    pub updated: usize,
}

impl std::ops::AddAssign for UpsertCount {
    fn add_assign(&mut self, o: Self) {
        self.inserted += o.inserted;
        self.updated += o.updated;
    }
}

/// A request, made at ingestion, for a T2 computation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct T2Request {
    /// Identity (stock, unit, config, link).
    pub identity: T2Identity,
    /// What the link points at.
    pub col: T2Kind,
    /// Requesting channels.
    pub channel: BTreeSet<Channel>,
    /// Tags.
    pub tag: BTreeSet<Tag>,
    /// Ingestion meta record.
    pub meta: Option<MetaRecord>,
    /// Expiry.
    pub expiry: Option<UnixTime>,
}

/// Ingestion of a stock: tie it to channels at `ts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StockUpsert {
    /// Stock id.
    pub stock: StockId,
    /// Origin.
    pub origin: Option<i64>,
    /// Channels.
    pub channel: BTreeSet<Channel>,
    /// Tags.
    pub tag: BTreeSet<Tag>,
    /// Names.
    pub name: BTreeSet<String>,
    /// Ingestion time (data time in archive mode).
    pub ts: UnixTime,
    /// Journal records to append.
    pub journal: Vec<JournalRecord>,
}

/// Outcome of processing a claimed T2 ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct T2Outcome {
    /// New code.
    pub code: DocumentCode,
    /// Meta record of this attempt.
    pub meta: MetaRecord,
    /// Body to append.
    pub body: Option<Body>,
    /// Tags to add.
    pub tag: BTreeSet<Tag>,
    /// Not to be claimed before this time.
    pub retry_after: Option<UnixTime>,
}

/// How much [`crate::Store::reset_t2`] clears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetMode {
    /// Only the code (results stay, new ones are appended).
    CodeOnly,
    /// Code and bodies.
    CodeAndBody,
}

/// A T2 claim.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimRequest {
    /// Worker id.
    pub owner: String,
    /// Current time.
    pub now: UnixTime,
    /// Lease length.
    pub lease_seconds: f64,
    /// Claimable codes (default [`DocumentCode::CLAIMABLE`]).
    pub codes: Vec<DocumentCode>,
    /// Restrict to these units.
    pub units: Option<Vec<String>>,
}

impl ClaimRequest {
    /// A claim for the default codes.
    pub fn new(owner: impl Into<String>, now: UnixTime, lease_seconds: f64) -> Self {
        ClaimRequest {
            owner: owner.into(),
            now,
            lease_seconds,
            codes: DocumentCode::CLAIMABLE.to_vec(),
            units: None,
        }
    }
}

/// Filter over T2 documents; `None` fields do not constrain.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct T2Filter {
    /// Stock.
    pub stock: Option<StockId>,
    /// Unit names.
    pub unit: Option<Vec<String>>,
    /// Config hash (`Some(None)`: documents without config).
    pub config: Option<Option<ConfigHash>>,
    /// Links.
    pub link: Option<Vec<LinkId>>,
    /// Documents with any of these channels.
    pub channel: Option<Vec<Channel>>,
    /// Codes.
    pub code: Option<Vec<DocumentCode>>,
}

impl T2Filter {
    /// Whether a document matches.
    pub fn matches(&self, d: &ampel_interface::T2Document) -> bool {
        self.stock.is_none_or(|s| s == d.stock)
            && self.unit.as_ref().is_none_or(|u| u.contains(&d.unit))
            && self.config.is_none_or(|c| c == d.config)
            && self.link.as_ref().is_none_or(|l| l.contains(&d.link))
            && self
                .channel
                .as_ref()
                .is_none_or(|c| c.iter().any(|c| d.channel.contains(c)))
            && self.code.as_ref().is_none_or(|c| c.contains(&d.code))
    }
}

/// Changes to one stock (T3 reactions, T2 journal entries).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StockChange {
    /// Stock id.
    pub stock: StockId,
    /// Journal records to append.
    pub journal: Vec<JournalRecord>,
    /// Tags to add.
    pub add_tag: BTreeSet<Tag>,
    /// Tags to remove.
    pub remove_tag: BTreeSet<Tag>,
    /// Names to add.
    pub add_name: BTreeSet<String>,
    /// Raise `ts.<ch>.upd` (and `ts.any.upd`) of these channels to this time.
    pub bump_upd: Option<(BTreeSet<Channel>, UnixTime)>,
}

/// A closed-open time range; `None` bounds are open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TimeRange {
    /// Inclusive lower bound.
    pub after: Option<UnixTime>,
    /// Exclusive upper bound.
    pub before: Option<UnixTime>,
}

impl TimeRange {
    /// Whether `t` falls inside.
    pub fn contains(&self, t: UnixTime) -> bool {
        self.after.is_none_or(|a| t >= a) && self.before.is_none_or(|b| t < b)
    }
    /// True if neither bound is set.
    pub fn is_open(&self) -> bool {
        self.after.is_none() && self.before.is_none()
    }
}

/// Which stocks a T3 run looks at.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StockSelection {
    /// Stocks in any of these channels (empty: any channel).
    #[serde(default)]
    pub channel_any: Vec<Channel>,
    /// Stocks in all of these channels.
    #[serde(default)]
    pub channel_all: Vec<Channel>,
    /// Stocks carrying all of these tags.
    #[serde(default)]
    pub tag_with: Vec<Tag>,
    /// Stocks carrying none of these tags.
    #[serde(default)]
    pub tag_without: Vec<Tag>,
    /// First tied (to a selected channel, else `any`) within this range.
    #[serde(default)]
    pub created: TimeRange,
    /// Last updated (for a selected channel, else `any`) within this range.
    #[serde(default)]
    pub updated: TimeRange,
    /// At most this many (lowest ids first).
    #[serde(default)]
    pub limit: Option<usize>,
}

impl StockSelection {
    /// The channels whose times `created` and `updated` constrain: the selected
    /// channels (any of them), else the cross-channel times (`any`).
    pub fn time_channels(&self) -> Vec<Channel> {
        if !self.channel_any.is_empty() {
            self.channel_any.clone()
        } else if !self.channel_all.is_empty() {
            self.channel_all.clone()
        } else {
            vec![ampel_interface::ANY_CHANNEL.to_string()]
        }
    }
}

/// Event query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventQuery {
    /// Process name.
    pub process: Option<String>,
    /// Codes.
    pub code: Option<Vec<EventCode>>,
    /// Runs after this one.
    pub after_run: Option<RunId>,
    /// Only the last `n` (still returned ascending).
    pub last: Option<usize>,
}

/// Log query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogQuery {
    /// Run id.
    pub run: Option<RunId>,
    /// Stock.
    pub stock: Option<StockId>,
    /// Channel.
    pub channel: Option<Channel>,
    /// Records having all these flag bits.
    pub flag: Option<LogFlag>,
    /// At most this many (first ones).
    pub limit: Option<usize>,
}

/// Trouble query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TroubleQuery {
    /// Run id.
    pub run: Option<RunId>,
    /// Unit.
    pub unit: Option<String>,
    /// The stock a record is about.
    pub stock: Option<StockId>,
}

/// What a store holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoreInfo {
    /// Backend and location.
    pub location: String,
    /// Layout version.
    pub schema_version: u32,
    /// Documents per collection.
    pub counts: BTreeMap<String, u64>,
}

/// Everything a T0 run writes for the alerts since its previous batch, with the
/// run's event as its checkpoint (see [`crate::Store::write_t0_batch`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct T0Batch {
    /// Datapoints.
    pub datapoints: Vec<ampel_interface::DataPoint>,
    /// T1 states.
    pub states: Vec<ampel_interface::T1Document>,
    /// T2 tickets.
    pub tickets: Vec<T2Request>,
    /// Stocks.
    pub stocks: Vec<StockUpsert>,
    /// Log records.
    pub logs: Vec<ampel_interface::LogRecord>,
    /// Trouble records (damaged inputs, unit errors).
    pub troubles: Vec<ampel_interface::TroubleRecord>,
    /// The run's event with its progress: written last.
    pub event: Option<ampel_interface::Event>,
}

/// What a [`T0Batch`] inserted and merged, per collection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct T0BatchCount {
    /// Datapoints.
    pub datapoints: UpsertCount,
    /// T1 states.
    pub states: UpsertCount,
    /// T2 tickets.
    pub tickets: UpsertCount,
    /// Stocks.
    pub stocks: UpsertCount,
}

/// The store's ingestion lock, held until dropped (see
/// [`crate::Store::lock_ingest`]).
pub struct IngestLock(pub Box<dyn std::any::Any + Send>);

impl std::fmt::Debug for IngestLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IngestLock")
    }
}
