//! The store conformance suite, written once and run against every backend.
//!
//! A backend's test implements [`Backend`] and runs every check through
//! [`for_each_check`] (see `tests/it/conformance.rs`), which names each check as it
//! runs. Checks panic with a message on failure, like assertions.
//! The multi-process claim check needs a helper program; see
//! [`concurrent_claims_processes`].

mod ingest;
mod provenance;
mod queue;

pub use ingest::*;
pub use provenance::*;
pub use queue::*;

use crate::*;
use ampel_interface::*;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

/// A backend under test.
pub trait Backend: Sync {
    /// URI of a fresh, empty store.
    fn fresh_uri(&self) -> String;
    /// Open a new handle on a store.
    fn open(&self, uri: &str) -> Box<dyn Store>;
}

/// One conformance check.
pub type Check = fn(&dyn Backend);

/// Every single-process check, by name.
pub fn for_each_check(mut f: impl FnMut(&'static str, Check)) {
    let checks: [(&'static str, Check); 17] = [
        (
            "datapoint_upsert_is_idempotent_and_merges",
            datapoint_upsert_is_idempotent_and_merges,
        ),
        ("state_is_shared_by_channels", state_is_shared_by_channels),
        (
            "t2_ticket_is_shared_and_code_survives_reingestion",
            t2_ticket_is_shared_and_code_survives_reingestion,
        ),
        (
            "stock_times_and_journal_order",
            stock_times_and_journal_order,
        ),
        (
            "claims_are_fifo_and_exclusive",
            claims_are_fifo_and_exclusive,
        ),
        (
            "batch_claims_are_fifo_and_exclusive",
            batch_claims_are_fifo_and_exclusive,
        ),
        ("lease_expiry_and_reclaim", lease_expiry_and_reclaim),
        (
            "leases_of_a_dead_worker_expire",
            leases_of_a_dead_worker_expire,
        ),
        ("backoff_is_respected", backoff_is_respected),
        (
            "results_are_indexed_and_reset",
            results_are_indexed_and_reset,
        ),
        ("concurrent_claims_threads", concurrent_claims_threads),
        (
            "concurrent_upserts_make_one_document",
            concurrent_upserts_make_one_document,
        ),
        ("select_stocks", select_stocks),
        (
            "run_ids_are_unique_and_increasing",
            run_ids_are_unique_and_increasing,
        ),
        ("events_logs_troubles", events_logs_troubles),
        (
            "runs_start_and_are_taken_over_once",
            runs_start_and_are_taken_over_once,
        ),
        (
            "config_trace_and_t3_registries",
            config_trace_and_t3_registries,
        ),
    ];
    for (name, check) in checks {
        f(name, check);
    }
}

pub(crate) fn set<T: Ord + Clone>(items: &[T]) -> BTreeSet<T> {
    items.iter().cloned().collect()
}

pub(crate) fn s(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A datapoint of `stock` seen by `channels`.
pub fn dp(id: DataPointId, stock: StockId, channels: &[&str], run: RunId) -> DataPoint {
    DataPoint {
        id,
        stock: set(&[stock]),
        origin: None,
        tag: s(&["ZTF"]),
        channel: s(channels),
        excl: BTreeSet::new(),
        meta: vec![MetaRecord::new(
            run,
            1000.0 + run as f64,
            Tier::T0,
            DocumentCode::OK,
        )],
        body: json!({"jd": 2459000.5 + id as f64, "magpsf": 18.25, "fid": 1}),
        expiry: None,
    }
}

/// A T2 request on stock `stock`, link `link`, unit `unit`.
pub fn ticket(stock: StockId, unit: &str, link: LinkId, channels: &[&str]) -> T2Request {
    T2Request {
        identity: T2Identity {
            stock,
            unit: unit.into(),
            config: Some(42),
            link,
        },
        col: T2Kind::State,
        channel: s(channels),
        tag: BTreeSet::new(),
        meta: Some(MetaRecord::new(1, 1000.0, Tier::T0, DocumentCode::NEW)),
        expiry: None,
    }
}

pub(crate) fn stock_up(stock: StockId, channels: &[&str], ts: UnixTime, run: RunId) -> StockUpsert {
    StockUpsert {
        stock,
        origin: None,
        channel: s(channels),
        tag: s(&["ZTF"]),
        name: s(&[&format!("ZTF{stock}")]),
        ts,
        journal: vec![JournalRecord {
            tier: Tier::T0,
            ts,
            run,
            process: "t0".into(),
            channel: s(channels),
            unit: None,
            doc: None,
            action: JournalActionCode::STOCK_ADD_CHANNEL | JournalActionCode::STOCK_BUMP_UPD,
            code: None,
            tag: BTreeSet::new(),
            traceid: BTreeMap::new(),
            extra: Some(json!({"alert": run})),
        }],
    }
}

pub(crate) fn outcome(code: DocumentCode, body: Option<Body>, run: RunId) -> T2Outcome {
    T2Outcome {
        code,
        meta: MetaRecord::new(run, 2000.0, Tier::T2, code),
        body,
        tag: BTreeSet::new(),
        retry_after: None,
    }
}

pub(crate) fn fresh(b: &dyn Backend) -> Box<dyn Store> {
    b.open(&b.fresh_uri())
}
