//! One trait per unit kind, and the values units exchange with the runtime.
//!
//! A unit is a plain struct built from its typed config ([`Unit::new`]). Construction
//! is the only typed part; the kind traits ([`AlertFilter`], [`Shaper`], ...) are
//! object safe so the runtime can hold `Box<dyn Kind>` (see [`UnitInstance`]).
//! Units never touch the database: the runtime hands them what they need (the
//! stock's existing datapoints to a muxer, dependency results to a tied T2) and
//! persists what they return.

use crate::config::{ConfigError, UnitConfig};
use crate::documents::{
    Body, Channel, ConfigHash, DataPoint, DataPointId, JournalRecord, LinkId, MetaRecord, Stock,
    StockId, T1Document, T2Document, T2Kind, Tag,
};
use crate::DocumentCode;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Error returned by a unit. The runtime records it with a trouble record naming
/// unit, document and message, and carries on: a failure (`EXCEPTION`) may be
/// retried; a bad result (`ERROR`, e.g. a non-finite number) is not.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct UnitError {
    /// What went wrong.
    pub message: String,
    /// The unit computed something unusable (retrying will not help).
    pub bad_result: bool,
}

impl UnitError {
    /// A failure with a message.
    pub fn new(msg: impl Into<String>) -> Self {
        UnitError {
            message: msg.into(),
            bad_result: false,
        }
    }

    /// An unusable result (non-finite numbers, wrong shape).
    pub fn bad_result(msg: impl Into<String>) -> Self {
        UnitError {
            message: msg.into(),
            bad_result: true,
        }
    }
}

/// What every unit has: a name, a version, its source and a typed config.
pub trait Unit: Sized + Send + Sync + 'static {
    /// Registry name, unique in an instance (e.g. `SimpleDecentFilter`).
    const NAME: &'static str;
    /// Version of the unit's crate: `env!("CARGO_PKG_VERSION")`.
    const VERSION: &'static str;
    /// What the unit's code digest is made of, which goes into its trace id so a
    /// code change yields a new trace id: in a unit crate,
    /// [`crate_source!()`](crate::crate_source), the digest of every file of the
    /// crate and of its locked dependencies (so editing a helper the unit calls
    /// counts too); a unit defined in a test may give its own source text.
    const SOURCE: &'static str;
    /// Typed configuration.
    type Config: UnitConfig;
    /// Build the unit from a validated config.
    fn new(config: Self::Config) -> Result<Self, ConfigError>;
}

/// An alert as the filters see it: raw datapoint maps, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AmpelAlert {
    /// Alert id (ZTF `candid`, Rubin `diaSourceId`).
    pub id: i64,
    /// Stock id.
    pub stock: StockId,
    /// The object's name as the survey writes it (ZTF `objectId`, the Rubin
    /// `diaObjectId` as text); T0 adds it to the stock's names.
    #[serde(default)]
    pub name: Option<String>,
    /// Observation time of the triggering detection, as a Julian date; in archive
    /// mode it is T0's clock (see `ampel_core::clock`).
    #[serde(default)]
    pub jd: Option<f64>,
    /// Datapoints as maps; the first is the triggering detection.
    pub datapoints: Vec<Body>,
    /// Tags of the alert (survey, ...).
    #[serde(default)]
    pub tag: BTreeSet<Tag>,
    /// Extra attributes (schema version, ...).
    #[serde(default)]
    pub extra: BTreeMap<String, Body>,
}

/// Id mapper: a survey's object names and stock ids, both ways (ZTF:
/// `ZTF18abcdefg` ↔ the packed stock id, as Python AMPEL's `ZTFIdMapper`). Commands
/// that take a stock accept any name a registered mapper knows.
pub trait IdMapper: Send + Sync {
    /// The stock id of an object name, if it is one of this survey's.
    fn to_stock(&self, name: &str) -> Option<StockId>;
    /// The object name of a stock id, if the survey names its objects.
    fn to_name(&self, stock: StockId) -> Option<String>;
}

/// T0 alert supplier: turns one decoded alert packet (as JSON, cutouts removed)
/// into an [`AmpelAlert`]: ids, stock, raw datapoints. Survey-specific.
pub trait AlertSupplier: Send + Sync {
    /// Build the alert; the packet is consumed so its maps can be moved, not copied.
    fn supply(&self, packet: Body) -> Result<AmpelAlert, UnitError>;

    /// The fields of the packet's nested records (the datapoints) that `supply`
    /// itself reads, if the supplier can name them; see [`AlertFilter::fields`].
    /// `None` (the default): the supplier needs whole packets.
    fn fields(&self) -> Option<BTreeSet<String>> {
        None
    }
}

/// A filter's decision on one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterDecision {
    /// Rejected; the optional positive code says why (AMPEL stores it negated).
    Reject(Option<u16>),
    /// Accepted.
    Accept,
    /// Accepted for a group: only ingestion blocks of that group fire.
    AcceptGroup(u16),
}

impl FilterDecision {
    /// Whether the alert is accepted.
    pub fn accepted(self) -> bool {
        !matches!(self, FilterDecision::Reject(_))
    }
}

/// T0 filter: decides per channel whether an alert is ingested.
pub trait AlertFilter: Send + Sync {
    /// Decide on one alert.
    fn process(&self, alert: &AmpelAlert) -> Result<FilterDecision, UnitError>;

    /// The datapoint fields `process` reads, if the filter can name them. When
    /// every channel's filter (and the supplier) names its fields, T0 filters on an
    /// alert whose datapoints hold only those fields, and builds the whole alert
    /// only for the accepted ones (most alerts are rejected, and building every
    /// field of every datapoint costs more than decoding them). A named field is
    /// present, with the same value, exactly when it is in the whole alert; a
    /// filter that reads a field it did not name sees it missing. `None` (the
    /// default): the filter gets whole alerts.
    fn fields(&self) -> Option<BTreeSet<String>> {
        None
    }
}

/// A datapoint as shaped from an alert, before channels and meta are attached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShapedDataPoint {
    /// Datapoint id.
    pub id: DataPointId,
    /// Tags.
    pub tag: BTreeSet<Tag>,
    /// Measurement.
    pub body: Body,
}

/// T0 shaper: turns an alert's raw datapoints into datapoints.
pub trait Shaper: Send + Sync {
    /// Shape every datapoint of the alert (consumed: bodies are moved, not copied).
    fn process(&self, alert: AmpelAlert) -> Result<Vec<ShapedDataPoint>, UnitError>;
}

/// What a muxer decided, by datapoint id (so nothing is copied needlessly).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MuxResult {
    /// Ids of the alert's datapoints to insert (those not stored yet).
    pub insert: Vec<DataPointId>,
    /// Datapoints (new or stored) whose tags or meta the muxer changed; they are
    /// written in place of the originals.
    pub updated: Vec<DataPoint>,
    /// Ids of the datapoints (new and stored) to combine into states.
    pub combine: Vec<DataPointId>,
}

/// T0 muxer: merges an alert's datapoints with those already stored for the stock.
/// Meta records a muxer adds carry run 0; the T0 processor stamps run and time.
pub trait Muxer: Send + Sync {
    /// `new`: shaped datapoints of this alert; `known`: stored datapoints of the stock.
    fn process(&self, new: &[DataPoint], known: &[DataPoint]) -> Result<MuxResult, UnitError>;
}

/// One state proposed by a combiner.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CombineResult {
    /// Datapoint ids forming the state.
    pub dps: Vec<DataPointId>,
    /// Tags for the T1 document.
    pub tag: BTreeSet<Tag>,
    /// Code (`OK` by default).
    pub code: Option<DocumentCode>,
}

/// T1 combiner: forms states (usually one, several for retro-combiners).
pub trait T1Combiner: Send + Sync {
    /// `dps` are the channel's datapoints (exclusions already removed).
    fn combine(&self, dps: &[&DataPoint]) -> Result<Vec<CombineResult>, UnitError>;
}

/// Journal attributes a unit asks to record on the stock.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct JournalAttributes {
    /// Tags for the journal entry.
    #[serde(default)]
    pub tag: BTreeSet<Tag>,
    /// Code for the journal entry.
    #[serde(default)]
    pub code: Option<DocumentCode>,
    /// Extra attributes.
    #[serde(default)]
    pub extra: Option<Body>,
}

/// What a T2 or T3 unit returns: body, code, tags, journal attributes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UnitResult {
    /// Result body (`None`: nothing to append).
    pub body: Option<Body>,
    /// Result code (`OK` if `None`).
    pub code: Option<DocumentCode>,
    /// Tags to add to the document.
    pub tag: BTreeSet<Tag>,
    /// Journal entry attributes.
    pub journal: Option<JournalAttributes>,
}

impl UnitResult {
    /// A successful result carrying `body`.
    pub fn ok(body: Body) -> Self {
        UnitResult {
            body: Some(body),
            ..Default::default()
        }
    }
    /// A result with a unit-chosen code and no body.
    pub fn code(code: DocumentCode) -> Self {
        UnitResult {
            code: Some(code),
            ..Default::default()
        }
    }
}

/// Point T2: one result per datapoint.
pub trait PointT2: Send + Sync {
    /// Compute over one datapoint.
    fn process(&self, dp: &DataPoint) -> Result<UnitResult, UnitError>;
    /// The datapoint body fields this unit reads, if it can name them: the worker
    /// then reads datapoint bodies holding only the fields its batch's units name
    /// (a named field is present exactly when it is in the whole body; ids, tags,
    /// channels and meta are always whole). `None` (the default): whole bodies.
    fn fields(&self) -> Option<BTreeSet<String>> {
        None
    }
}

/// State T2: one result per T1 state (a light curve as of one alert).
pub trait StateT2: Send + Sync {
    /// Compute over a state and its datapoints (in the state's order).
    fn process(&self, state: &T1Document, dps: &[DataPoint]) -> Result<UnitResult, UnitError>;
    /// The datapoint body fields this unit reads, if it can name them: the worker
    /// then reads datapoint bodies holding only the fields its batch's units name
    /// (a named field is present exactly when it is in the whole body; ids, tags,
    /// channels and meta are always whole). `None` (the default): whole bodies.
    fn fields(&self) -> Option<BTreeSet<String>> {
        None
    }
}

/// Stock T2: one result per stock.
pub trait StockT2: Send + Sync {
    /// Compute over the stock document.
    fn process(&self, stock: &Stock) -> Result<UnitResult, UnitError>;
}

/// How a tied unit's dependency is linked (AMPEL's link rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DependencyLink {
    /// Same link as the dependent document (point→point, state→state).
    Same,
    /// The stock id (any→stock).
    Stock,
    /// Any datapoint of the dependent state (state→point).
    StatePoints,
}

/// A T2 result another T2 depends on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct T2Dependency {
    /// Unit name of the dependency.
    pub unit: String,
    /// Its config (`null`: defaults).
    #[serde(default)]
    pub config: Body,
    /// Its kind.
    pub kind: T2Kind,
    /// How it is linked.
    pub link: DependencyLink,
}

/// A read-only view of a T2 document, as given to tied units and T3 units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct T2View {
    /// Unit name.
    pub unit: String,
    /// Config hash.
    pub config: Option<ConfigHash>,
    /// Link.
    pub link: LinkId,
    /// Kind.
    pub kind: T2Kind,
    /// Code.
    pub code: DocumentCode,
    /// Current result, if any.
    pub result: Option<Body>,
    /// Meta records.
    pub meta: Vec<MetaRecord>,
}

impl From<&T2Document> for T2View {
    fn from(d: &T2Document) -> Self {
        T2View {
            unit: d.unit.clone(),
            config: d.config,
            link: d.link,
            kind: d.col,
            code: d.code,
            result: d.current_result().cloned(),
            meta: d.meta.clone(),
        }
    }
}

/// Units that depend on other T2 results declare them here.
pub trait Tied {
    /// Dependencies, each resolved by the runtime before `process` is called.
    fn dependencies(&self) -> Vec<T2Dependency>;
}

/// Tied point T2.
pub trait TiedPointT2: Tied + Send + Sync {
    /// Compute over one datapoint with dependency results.
    fn process(&self, dp: &DataPoint, deps: &[T2View]) -> Result<UnitResult, UnitError>;
    /// The datapoint body fields this unit reads, if it can name them: the worker
    /// then reads datapoint bodies holding only the fields its batch's units name
    /// (a named field is present exactly when it is in the whole body; ids, tags,
    /// channels and meta are always whole). `None` (the default): whole bodies.
    fn fields(&self) -> Option<BTreeSet<String>> {
        None
    }
}

/// Tied state T2.
pub trait TiedStateT2: Tied + Send + Sync {
    /// Compute over a state with dependency results.
    fn process(
        &self,
        state: &T1Document,
        dps: &[DataPoint],
        deps: &[T2View],
    ) -> Result<UnitResult, UnitError>;
    /// The datapoint body fields this unit reads, if it can name them: the worker
    /// then reads datapoint bodies holding only the fields its batch's units name
    /// (a named field is present exactly when it is in the whole body; ids, tags,
    /// channels and meta are always whole). `None` (the default): whole bodies.
    fn fields(&self) -> Option<BTreeSet<String>> {
        None
    }
}

/// Tied stock T2.
pub trait TiedStockT2: Tied + Send + Sync {
    /// Compute over the stock with dependency results.
    fn process(&self, stock: &Stock, deps: &[T2View]) -> Result<UnitResult, UnitError>;
}

/// What a T3 unit sees of one stock, already projected onto its channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StockView {
    /// Stock id.
    pub id: StockId,
    /// The stock document (journal included).
    pub stock: Option<Stock>,
    /// Datapoints.
    pub t0: Vec<DataPoint>,
    /// States.
    pub t1: Vec<T1Document>,
    /// T2 results.
    pub t2: Vec<T2View>,
    /// Journal complement (entries relevant to this run).
    #[serde(default)]
    pub journal: Vec<JournalRecord>,
    /// Log complement: stored log records about this stock (of the channel, if any).
    #[serde(default)]
    pub logs: Vec<crate::LogRecord>,
}

/// Changes a T3 unit asks for on one stock.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StockUpdate {
    /// Stock id.
    pub stock: StockId,
    /// Journal entry attributes.
    pub journal: Option<JournalAttributes>,
    /// Tags to add.
    pub add_tag: BTreeSet<Tag>,
    /// Tags to remove.
    pub remove_tag: BTreeSet<Tag>,
    /// Names to add.
    pub add_name: BTreeSet<String>,
}

/// What a T3 unit returns.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct T3Output {
    /// Stock journal/tag/name updates.
    pub updates: Vec<StockUpdate>,
    /// Body and code of the T3 document, if the unit makes one.
    pub document: Option<UnitResult>,
}

/// Run context given to T3 units.
#[derive(Debug, Clone, PartialEq)]
pub struct T3Context {
    /// Process name.
    pub process: String,
    /// Run id.
    pub run: crate::RunId,
    /// Channel the run is restricted to, if any.
    pub channel: Option<Channel>,
    /// Run time (from the data in archive mode).
    pub now: crate::UnixTime,
    /// Directory where units may write files (reports, plots).
    pub out_dir: std::path::PathBuf,
}

/// T3 unit: reacts to a selection of stocks.
pub trait T3Unit: Send + Sync {
    /// Process the views of one run.
    fn process(&self, ctx: &T3Context, views: &[StockView]) -> Result<T3Output, UnitError>;
}

/// The crate digest of the unit crate being compiled (`AMPEL_CRATE_DIGEST`, set by
/// its build script through `ampel_unit_build::emit_crate_digest()`), for
/// [`Unit::SOURCE`]. A crate without that build script fails to compile, with a
/// message saying so.
#[macro_export]
macro_rules! crate_source {
    () => {
        match option_env!("AMPEL_CRATE_DIGEST") {
            Some(d) => d,
            None => panic!(
                "AMPEL_CRATE_DIGEST is not set: a unit crate needs a build.rs calling ampel_unit_build::emit_crate_digest() (and ampel-unit-build under [build-dependencies])"
            ),
        }
    };
}
