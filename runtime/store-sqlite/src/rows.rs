//! The JSON parts of rows: what is not kept in columns or side tables, encoded as
//! one MessagePack value per row (see `schema.rs` for the tables). Shared by
//! ingestion, the T2 queue and restore.

use ampel_interface::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Everything of a datapoint except id and body (kept apart so merges never
/// re-encode the body).
#[derive(Serialize, Deserialize)]
pub(crate) struct DpAttrs {
    pub stock: BTreeSet<StockId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<i64>,
    pub tag: BTreeSet<Tag>,
    pub channel: BTreeSet<Channel>,
    #[serde(default)]
    pub excl: BTreeSet<Channel>,
    #[serde(default)]
    pub meta: Vec<MetaRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<UnixTime>,
}

/// The JSON part of a T2 row (identity, code and lease live in columns).
#[derive(Serialize, Deserialize)]
pub(crate) struct T2Attrs {
    pub col: T2Kind,
    pub channel: BTreeSet<Channel>,
    pub tag: BTreeSet<Tag>,
    #[serde(default)]
    pub meta: Vec<MetaRecord>,
    #[serde(default)]
    pub body: Vec<Body>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<UnixTime>,
}

/// The JSON part of a stock row (channels, times and tags live in side tables).
#[derive(Serialize, Deserialize, Default)]
pub(crate) struct StockAttrs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<i64>,
    pub name: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
}
