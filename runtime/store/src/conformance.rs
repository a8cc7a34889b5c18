//! The store conformance suite, written once and run against every backend.
//!
//! A backend's test crate implements [`Backend`] and calls every check (the
//! `ampel-tests` crate does so with one `#[test]` per check per backend via
//! [`for_each_check`]). Checks panic with a message on failure, like assertions.
//! The multi-process claim check needs a helper program; see
//! [`concurrent_claims_processes`].

use crate::*;
use ampel_interface::*;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Barrier};

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
    let checks: [(&'static str, Check); 14] = [
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
        ("lease_expiry_and_reclaim", lease_expiry_and_reclaim),
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
            "config_trace_and_t3_registries",
            config_trace_and_t3_registries,
        ),
    ];
    for (name, check) in checks {
        f(name, check);
    }
}

fn set<T: Ord + Clone>(items: &[T]) -> BTreeSet<T> {
    items.iter().cloned().collect()
}

fn s(items: &[&str]) -> BTreeSet<String> {
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

fn stock_up(stock: StockId, channels: &[&str], ts: UnixTime, run: RunId) -> StockUpsert {
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

fn outcome(code: DocumentCode, body: Option<Body>, run: RunId) -> T2Outcome {
    T2Outcome {
        code,
        meta: MetaRecord::new(run, 2000.0, Tier::T2, code),
        body,
        tag: BTreeSet::new(),
        retry_after: None,
    }
}

fn fresh(b: &dyn Backend) -> Box<dyn Store> {
    b.open(&b.fresh_uri())
}

/// Datapoint upserts: replay changes nothing but meta; channels, tags and stocks merge;
/// bodies are never overwritten.
pub fn datapoint_upsert_is_idempotent_and_merges(b: &dyn Backend) {
    let st = fresh(b);
    let first = vec![
        dp(1, 10, &["A"], 1),
        dp(2, 10, &["A"], 1),
        dp(-3, 10, &["A"], 1),
    ];
    assert_eq!(
        st.upsert_datapoints(&first).unwrap(),
        UpsertCount {
            inserted: 3,
            updated: 0
        }
    );
    let mut again = dp(1, 10, &["B"], 2);
    again.body = json!({"overwritten": true});
    again.stock.insert(11);
    again.tag.insert("ZTF_G".into());
    again.excl.insert("C".into());
    again.expiry = Some(5.0);
    assert_eq!(
        st.upsert_datapoints(&[again]).unwrap(),
        UpsertCount {
            inserted: 0,
            updated: 1
        }
    );
    let got = st.get_datapoints(&[-3, 1, 999]).unwrap();
    assert_eq!(
        got.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![-3, 1],
        "order as asked, missing skipped"
    );
    let d1 = &got[1];
    assert_eq!(d1.channel, s(&["A", "B"]));
    assert_eq!(d1.stock, set(&[10, 11]));
    assert_eq!(d1.tag, s(&["ZTF", "ZTF_G"]));
    assert_eq!(d1.excl, s(&["C"]));
    assert_eq!(d1.body, first[0].body, "body must not be overwritten");
    assert_eq!(
        d1.meta.iter().map(|m| m.run).collect::<Vec<_>>(),
        vec![1, 2],
        "meta appended in order"
    );
    assert_eq!(d1.expiry, Some(5.0));
    let by_stock = st.stock_datapoints(10).unwrap();
    assert_eq!(
        by_stock.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![-3, 1, 2]
    );
    assert_eq!(st.stock_datapoints(11).unwrap().len(), 1);
}

/// Two channels reaching the same datapoints share one state.
pub fn state_is_shared_by_channels(b: &dyn Backend) {
    let st = fresh(b);
    let link = hash::link_hash(&[1, 2]);
    let state = |ch: &str, run| T1Document {
        stock: 10,
        link,
        dps: vec![2, 1],
        channel: s(&[ch]),
        tag: BTreeSet::new(),
        code: DocumentCode::OK,
        meta: vec![MetaRecord::new(run, 1.0, Tier::T1, DocumentCode::OK)],
        body: vec![],
    };
    assert_eq!(st.upsert_states(&[state("A", 1)]).unwrap().inserted, 1);
    assert_eq!(st.upsert_states(&[state("B", 2)]).unwrap().updated, 1);
    let got = st.get_state(10, link).unwrap().expect("state");
    assert_eq!(got.channel, s(&["A", "B"]));
    assert_eq!(got.dps, vec![2, 1], "dps order kept as inserted");
    assert_eq!(got.meta.len(), 2);
    assert_eq!(st.stock_states(10).unwrap().len(), 1);
    assert!(st.get_state(10, link + 1).unwrap().is_none());
}

/// One ticket per identity; channels merge; ingestion never resets a result.
pub fn t2_ticket_is_shared_and_code_survives_reingestion(b: &dyn Backend) {
    let st = fresh(b);
    let c = st
        .upsert_t2(&[ticket(10, "U", 5, &["A"]), ticket(10, "U", 5, &["B"])])
        .unwrap();
    assert_eq!(
        c,
        UpsertCount {
            inserted: 1,
            updated: 1
        }
    );
    let docs = st
        .find_t2(&T2Filter {
            stock: Some(10),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].channel, s(&["A", "B"]));
    assert_eq!(docs[0].code, DocumentCode::NEW);
    assert_eq!(docs[0].id, docs[0].identity().doc_id());
    let claimed = st
        .claim_t2(&ClaimRequest::new("w", 100.0, 60.0))
        .unwrap()
        .unwrap();
    st.complete_t2(
        &claimed.id,
        "w",
        &outcome(DocumentCode::OK, Some(json!({"x": 1})), 3),
    )
    .unwrap();
    st.upsert_t2(&[ticket(10, "U", 5, &["C"])]).unwrap();
    let doc = st.get_t2(&claimed.id).unwrap().unwrap();
    assert_eq!(
        doc.code,
        DocumentCode::OK,
        "re-ingestion must not reset a processed ticket"
    );
    assert_eq!(doc.channel, s(&["A", "B", "C"]));
    // a different config or link is a different computation
    let mut other = ticket(10, "U", 5, &["A"]);
    other.identity.config = None;
    st.upsert_t2(&[other, ticket(10, "U", 6, &["A"])]).unwrap();
    assert_eq!(st.find_t2(&T2Filter::default()).unwrap().len(), 3);
    let none_cfg = T2Filter {
        config: Some(None),
        ..Default::default()
    };
    assert_eq!(st.find_t2(&none_cfg).unwrap().len(), 1);
    let by_channel = T2Filter {
        channel: Some(vec!["C".into()]),
        ..Default::default()
    };
    assert_eq!(st.find_t2(&by_channel).unwrap().len(), 1);
}

/// Stock times take min tied / max upd per channel and for `any`; journal keeps order.
pub fn stock_times_and_journal_order(b: &dyn Backend) {
    let st = fresh(b);
    st.upsert_stocks(&[stock_up(7, &["A"], 100.0, 1)]).unwrap();
    st.upsert_stocks(&[
        stock_up(7, &["A", "B"], 50.0, 2),
        stock_up(7, &["B"], 300.0, 3),
    ])
    .unwrap();
    let stock = st.get_stock(7).unwrap().unwrap();
    assert_eq!(stock.channel, s(&["A", "B"]));
    assert_eq!(
        stock.ts["A"],
        StockTimes {
            tied: 50.0,
            upd: 100.0
        }
    );
    assert_eq!(
        stock.ts["B"],
        StockTimes {
            tied: 50.0,
            upd: 300.0
        }
    );
    assert_eq!(
        stock.ts[ANY_CHANNEL],
        StockTimes {
            tied: 50.0,
            upd: 300.0
        }
    );
    assert_eq!(
        stock.journal.iter().map(|j| j.run).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(stock.name, s(&["ZTF7"]));
    let change = StockChange {
        stock: 7,
        journal: vec![JournalRecord {
            run: 4,
            tier: Tier::T3,
            ..stock.journal[0].clone()
        }],
        add_tag: s(&["INTERESTING"]),
        remove_tag: s(&["ZTF"]),
        add_name: s(&["SN2020abc"]),
        bump_upd: Some((s(&["A"]), 400.0)),
    };
    assert!(st.update_stock(&change).unwrap());
    assert!(!st
        .update_stock(&StockChange {
            stock: 8,
            ..change.clone()
        })
        .unwrap());
    let stock = st.get_stock(7).unwrap().unwrap();
    assert_eq!(stock.tag, s(&["INTERESTING"]));
    assert_eq!(stock.name, s(&["SN2020abc", "ZTF7"]));
    assert_eq!(stock.journal.last().unwrap().run, 4);
    assert_eq!(stock.ts["A"].upd, 400.0);
    assert_eq!(stock.ts[ANY_CHANNEL].upd, 400.0);
    assert!(st.get_stock(8).unwrap().is_none());
}

fn enqueue(st: &dyn Store, n: i64) -> Vec<String> {
    let reqs: Vec<T2Request> = (0..n).map(|i| ticket(i, "U", i, &["A"])).collect();
    st.upsert_t2(&reqs).unwrap();
    reqs.iter().map(|r| r.identity.doc_id()).collect()
}

/// Claims come oldest first, each once; claimed tickets are RUNNING with a lease.
pub fn claims_are_fifo_and_exclusive(b: &dyn Backend) {
    let st = fresh(b);
    let ids = enqueue(st.as_ref(), 5);
    let mut seen = Vec::new();
    while let Some(d) = st.claim_t2(&ClaimRequest::new("w1", 10.0, 60.0)).unwrap() {
        assert_eq!(d.code, DocumentCode::RUNNING);
        assert_eq!(
            d.lease,
            Some(Lease {
                owner: "w1".into(),
                until: 70.0
            })
        );
        seen.push(d.id);
    }
    assert_eq!(seen, ids, "claims must come in enqueue order, each once");
    // unit restriction and code restriction
    let st = fresh(b);
    st.upsert_t2(&[ticket(1, "U", 1, &["A"]), ticket(1, "V", 1, &["A"])])
        .unwrap();
    let mut req = ClaimRequest::new("w", 10.0, 60.0);
    req.units = Some(vec!["V".into()]);
    assert_eq!(st.claim_t2(&req).unwrap().unwrap().unit, "V");
    assert!(st.claim_t2(&req).unwrap().is_none());
    req.units = None;
    req.codes = vec![DocumentCode::RERUN_REQUESTED];
    assert!(st.claim_t2(&req).unwrap().is_none());
}

/// An expired lease can be reclaimed; the old owner then cannot complete or renew.
pub fn lease_expiry_and_reclaim(b: &dyn Backend) {
    let st = fresh(b);
    let ids = enqueue(st.as_ref(), 1);
    let d = st
        .claim_t2(&ClaimRequest::new("old", 10.0, 30.0))
        .unwrap()
        .unwrap();
    assert!(
        st.claim_t2(&ClaimRequest::new("new", 39.0, 30.0))
            .unwrap()
            .is_none(),
        "lease still valid"
    );
    st.renew_lease(&d.id, "old", 50.0).unwrap();
    assert!(
        st.claim_t2(&ClaimRequest::new("new", 45.0, 30.0))
            .unwrap()
            .is_none(),
        "renewed lease"
    );
    let again = st
        .claim_t2(&ClaimRequest::new("new", 51.0, 30.0))
        .unwrap()
        .expect("expired lease reclaimed");
    assert_eq!(again.id, ids[0]);
    assert_eq!(again.lease.as_ref().unwrap().owner, "new");
    let late = st.complete_t2(&d.id, "old", &outcome(DocumentCode::OK, Some(json!(1)), 1));
    assert!(
        matches!(late, Err(StoreError::LeaseLost { .. })),
        "{late:?}"
    );
    assert!(matches!(
        st.renew_lease(&d.id, "old", 99.0),
        Err(StoreError::LeaseLost { .. })
    ));
    st.complete_t2(&d.id, "new", &outcome(DocumentCode::OK, Some(json!(2)), 2))
        .unwrap();
    let done = st.get_t2(&d.id).unwrap().unwrap();
    assert_eq!(done.lease, None);
    assert_eq!(
        done.body,
        vec![json!(2)],
        "only the lease holder's result is stored"
    );
    assert!(matches!(
        st.complete_t2(&d.id, "new", &outcome(DocumentCode::OK, None, 3)),
        Err(StoreError::LeaseLost { .. })
    ));
}

/// `retry_after` keeps a ticket out of claims until then.
pub fn backoff_is_respected(b: &dyn Backend) {
    let st = fresh(b);
    enqueue(st.as_ref(), 1);
    let d = st
        .claim_t2(&ClaimRequest::new("w", 10.0, 30.0))
        .unwrap()
        .unwrap();
    let mut o = outcome(DocumentCode::PENDING_DEPENDENCY, None, 1);
    o.retry_after = Some(100.0);
    st.complete_t2(&d.id, "w", &o).unwrap();
    assert!(st
        .claim_t2(&ClaimRequest::new("w", 99.0, 30.0))
        .unwrap()
        .is_none());
    let again = st
        .claim_t2(&ClaimRequest::new("w", 100.0, 30.0))
        .unwrap()
        .unwrap();
    assert_eq!(again.id, d.id);
    assert_eq!(again.trials(), 1);
}

/// Each completed attempt records which body it appended; resets clear as asked.
pub fn results_are_indexed_and_reset(b: &dyn Backend) {
    let st = fresh(b);
    enqueue(st.as_ref(), 1);
    let run = |st: &dyn Store, code, body| {
        let d = st
            .claim_t2(&ClaimRequest::new("w", 10.0, 30.0))
            .unwrap()
            .unwrap();
        st.complete_t2(&d.id, "w", &outcome(code, body, 1)).unwrap();
        st.get_t2(&d.id).unwrap().unwrap()
    };
    let d = run(st.as_ref(), DocumentCode::OK, Some(json!({"v": 1})));
    assert_eq!(d.current_result(), Some(&json!({"v": 1})));
    assert_eq!(d.meta.last().unwrap().body_index, Some(0));
    let filter = T2Filter {
        unit: Some(vec!["U".into()]),
        ..Default::default()
    };
    assert_eq!(
        st.reset_t2(&filter, DocumentCode::RERUN_REQUESTED, ResetMode::CodeOnly)
            .unwrap(),
        1
    );
    let d = run(st.as_ref(), DocumentCode::EXCEPTION, None);
    assert_eq!(
        d.current_result(),
        Some(&json!({"v": 1})),
        "a failed rerun keeps the last good result"
    );
    st.reset_t2(&filter, DocumentCode::NEW, ResetMode::CodeOnly)
        .unwrap();
    let d = run(st.as_ref(), DocumentCode::OK, Some(json!({"v": 2})));
    assert_eq!(d.body.len(), 2);
    assert_eq!(d.current_result(), Some(&json!({"v": 2})));
    assert_eq!(
        st.reset_t2(&filter, DocumentCode::NEW, ResetMode::CodeAndBody)
            .unwrap(),
        1
    );
    let d = st.get_t2(&d.id).unwrap().unwrap();
    assert!(d.body.is_empty() && d.current_result().is_none());
    assert_eq!(d.code, DocumentCode::NEW);
    let none = T2Filter {
        unit: Some(vec!["nope".into()]),
        ..Default::default()
    };
    assert_eq!(
        st.reset_t2(&none, DocumentCode::NEW, ResetMode::CodeOnly)
            .unwrap(),
        0
    );
}

/// Claim everything with `claimers` concurrent workers (each on its own handle);
/// returns the claimed ids per worker.
fn claim_all(b: &dyn Backend, uri: &str, claimers: usize) -> Vec<Vec<String>> {
    let barrier = Arc::new(Barrier::new(claimers));
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..claimers)
            .map(|w| {
                let barrier = barrier.clone();
                let st = b.open(uri);
                scope.spawn(move || {
                    barrier.wait();
                    let owner = format!("thread-{w}");
                    let mut got = Vec::new();
                    while let Some(d) = st
                        .claim_t2(&ClaimRequest::new(&owner, 10.0, 600.0))
                        .unwrap()
                    {
                        assert_eq!(d.lease.as_ref().unwrap().owner, owner);
                        st.complete_t2(
                            &d.id,
                            &owner,
                            &outcome(DocumentCode::OK, Some(json!(w)), 1),
                        )
                        .unwrap();
                        got.push(d.id);
                    }
                    got
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn assert_disjoint_cover(per_worker: &[Vec<String>], ids: &[String]) {
    let mut all = HashSet::new();
    for list in per_worker {
        for id in list {
            assert!(all.insert(id.clone()), "ticket {id} was claimed twice");
        }
    }
    assert_eq!(all.len(), ids.len(), "every ticket claimed exactly once");
}

/// Four threads, each with its own handle, never get the same ticket twice.
pub fn concurrent_claims_threads(b: &dyn Backend) {
    let uri = b.fresh_uri();
    let ids = enqueue(b.open(&uri).as_ref(), 200);
    let per_worker = claim_all(b, &uri, 4);
    assert_disjoint_cover(&per_worker, &ids);
    let st = b.open(&uri);
    let open = T2Filter {
        code: Some(vec![DocumentCode::OK]),
        ..Default::default()
    };
    assert_eq!(st.find_t2(&open).unwrap().len(), 200);
}

/// Concurrent upserts of the same identities from four threads make one document each,
/// with the union of channels.
pub fn concurrent_upserts_make_one_document(b: &dyn Backend) {
    let uri = b.fresh_uri();
    let barrier = Arc::new(Barrier::new(4));
    std::thread::scope(|scope| {
        for w in 0..4 {
            let barrier = barrier.clone();
            let st = b.open(&uri);
            scope.spawn(move || {
                barrier.wait();
                let ch = format!("CH{w}");
                for i in 0..50 {
                    st.upsert_t2(&[ticket(i, "U", i, &[&ch])]).unwrap();
                    st.upsert_datapoints(&[dp(i, i, &[&ch], w)]).unwrap();
                    st.upsert_stocks(&[stock_up(i, &[&ch], 100.0 + w as f64, w)])
                        .unwrap();
                }
            });
        }
    });
    let st = b.open(&uri);
    let docs = st.find_t2(&T2Filter::default()).unwrap();
    assert_eq!(docs.len(), 50);
    let all = s(&["CH0", "CH1", "CH2", "CH3"]);
    assert!(docs.iter().all(|d| d.channel == all && d.meta.len() == 4));
    let dps = st.get_datapoints(&(0..50).collect::<Vec<_>>()).unwrap();
    assert!(dps.iter().all(|d| d.channel == all && d.meta.len() == 4));
    let stock = st.get_stock(3).unwrap().unwrap();
    assert_eq!(stock.channel, all);
    assert_eq!(stock.journal.len(), 4);
    assert_eq!(
        stock.ts[ANY_CHANNEL],
        StockTimes {
            tied: 100.0,
            upd: 103.0
        }
    );
}

/// Claims from two helper processes and two threads on one store are disjoint.
///
/// `spawn(uri, owner)` must start a process that claims and completes tickets from
/// `uri` until none is left, then prints the claimed ids, one per line, and exits 0.
pub fn concurrent_claims_processes(
    b: &dyn Backend,
    spawn: &dyn Fn(&str, &str) -> std::process::Child,
) {
    let uri = b.fresh_uri();
    let ids = enqueue(b.open(&uri).as_ref(), 400);
    let children: Vec<_> = (0..2).map(|i| spawn(&uri, &format!("proc-{i}"))).collect();
    let mut per_worker = claim_all(b, &uri, 2);
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "claimer failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        per_worker.push(text.lines().map(str::to_string).collect());
    }
    assert_disjoint_cover(&per_worker, &ids);
}

/// Selection by channel (any/all), tags (with/without) and created/updated ranges.
pub fn select_stocks(b: &dyn Backend) {
    let st = fresh(b);
    st.upsert_stocks(&[
        stock_up(1, &["A"], 100.0, 1),
        stock_up(2, &["B"], 200.0, 1),
        stock_up(3, &["A", "B"], 300.0, 1),
        stock_up(4, &["C"], 400.0, 1),
    ])
    .unwrap();
    st.upsert_stocks(&[stock_up(1, &["A"], 500.0, 2)]).unwrap();
    st.update_stock(&StockChange {
        stock: 2,
        add_tag: s(&["HOT"]),
        ..Default::default()
    })
    .unwrap();
    let sel = |f: &dyn Fn(&mut StockSelection)| {
        let mut q = StockSelection::default();
        f(&mut q);
        st.select_stocks(&q).unwrap()
    };
    assert_eq!(sel(&|_| {}), vec![1, 2, 3, 4]);
    assert_eq!(
        sel(&|q| q.channel_any = vec!["A".into(), "B".into()]),
        vec![1, 2, 3]
    );
    assert_eq!(
        sel(&|q| q.channel_all = vec!["A".into(), "B".into()]),
        vec![3]
    );
    assert_eq!(sel(&|q| q.tag_with = vec!["HOT".into()]), vec![2]);
    assert_eq!(sel(&|q| q.tag_without = vec!["HOT".into()]), vec![1, 3, 4]);
    assert_eq!(
        sel(&|q| q.created = TimeRange {
            after: Some(200.0),
            before: Some(400.0)
        }),
        vec![2, 3]
    );
    assert_eq!(sel(&|q| q.updated.after = Some(450.0)), vec![1]);
    // time ranges apply to the selected channels' times
    assert_eq!(
        sel(&|q| {
            q.channel_any = vec!["B".into()];
            q.created.before = Some(250.0);
        }),
        vec![2]
    );
    assert_eq!(sel(&|q| q.limit = Some(2)), vec![1, 2]);
}

/// Run ids are unique across concurrent handles and increase.
pub fn run_ids_are_unique_and_increasing(b: &dyn Backend) {
    let uri = b.fresh_uri();
    let lists: Vec<Vec<RunId>> = std::thread::scope(|scope| {
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let st = b.open(&uri);
                scope.spawn(move || (0..25).map(|_| st.next_run_id().unwrap()).collect())
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: Vec<RunId> = lists.iter().flatten().copied().collect();
    for l in &lists {
        assert!(
            l.windows(2).all(|w| w[0] < w[1]),
            "increasing per handle: {l:?}"
        );
    }
    all.sort_unstable();
    assert_eq!(all, (1..=100).collect::<Vec<_>>());
}

/// Events upsert by run and come back ascending; logs and troubles keep insertion order.
pub fn events_logs_troubles(b: &dyn Backend) {
    let st = fresh(b);
    let ev = |run, process: &str, code| Event {
        run,
        process: process.into(),
        tier: Tier::T2,
        code,
        start: run as f64,
        duration: None,
        jobid: None,
        ret: None,
    };
    st.record_event(&ev(2, "p", EventCode::RUNNING)).unwrap();
    st.record_event(&ev(1, "p", EventCode::OK)).unwrap();
    st.record_event(&ev(3, "q", EventCode::OK)).unwrap();
    st.record_event(&Event {
        duration: Some(1.5),
        ..ev(2, "p", EventCode::EXCEPTION)
    })
    .unwrap();
    let all = st.events(&EventQuery::default()).unwrap();
    assert_eq!(all.iter().map(|e| e.run).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(all[1].code, EventCode::EXCEPTION);
    assert_eq!(all[1].duration, Some(1.5));
    let q = EventQuery {
        process: Some("p".into()),
        code: Some(vec![EventCode::OK]),
        ..Default::default()
    };
    assert_eq!(st.events(&q).unwrap().len(), 1);
    let q = EventQuery {
        last: Some(2),
        ..Default::default()
    };
    assert_eq!(
        st.events(&q)
            .unwrap()
            .iter()
            .map(|e| e.run)
            .collect::<Vec<_>>(),
        vec![2, 3]
    );
    let q = EventQuery {
        after_run: Some(1),
        ..Default::default()
    };
    assert_eq!(st.events(&q).unwrap().len(), 2);

    let log = |run, stock, msg: &str, flag| LogRecord {
        ts: 1.0,
        run,
        flag,
        stock,
        channel: Some("A".into()),
        unit: None,
        msg: msg.into(),
        extra: None,
    };
    st.insert_logs(&[
        log(1, Some(5), "first", LogFlag::T0 | LogFlag::INFO),
        log(1, None, "second", LogFlag::T0 | LogFlag::ERROR),
        log(2, Some(5), "third", LogFlag::T2 | LogFlag::INFO),
    ])
    .unwrap();
    let msgs = |q: LogQuery| {
        st.logs(&q)
            .unwrap()
            .into_iter()
            .map(|l| l.msg)
            .collect::<Vec<_>>()
    };
    assert_eq!(msgs(LogQuery::default()), vec!["first", "second", "third"]);
    assert_eq!(
        msgs(LogQuery {
            run: Some(1),
            ..Default::default()
        }),
        vec!["first", "second"]
    );
    assert_eq!(
        msgs(LogQuery {
            stock: Some(5),
            ..Default::default()
        }),
        vec!["first", "third"]
    );
    assert_eq!(
        msgs(LogQuery {
            flag: Some(LogFlag::ERROR),
            ..Default::default()
        }),
        vec!["second"]
    );
    assert_eq!(
        msgs(LogQuery {
            limit: Some(1),
            ..Default::default()
        }),
        vec!["first"]
    );

    let trouble = |run, unit: &str| TroubleRecord {
        ts: 1.0,
        tier: Tier::T2,
        run,
        process: "p".into(),
        unit: Some(unit.into()),
        stock: Some(5),
        doc: None,
        message: format!("boom {run}"),
        context: Some(json!({"k": "v"})),
    };
    st.insert_trouble(&trouble(1, "U")).unwrap();
    st.insert_trouble(&trouble(2, "V")).unwrap();
    assert_eq!(st.troubles(&TroubleQuery::default()).unwrap().len(), 2);
    let q = TroubleQuery {
        unit: Some("V".into()),
        ..Default::default()
    };
    assert_eq!(st.troubles(&q).unwrap()[0].message, "boom 2");
}

/// Config and trace registries are idempotent and refuse conflicts; T3 docs round-trip.
pub fn config_trace_and_t3_registries(b: &dyn Backend) {
    let st = fresh(b);
    let cfg = json!({"min_ndet": 2});
    let h = hash::config_hash(&cfg);
    st.register_config(h, &cfg).unwrap();
    st.register_config(h, &cfg).unwrap();
    assert!(matches!(
        st.register_config(h, &json!({"min_ndet": 3})),
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(st.get_config(h).unwrap(), Some(cfg.clone()));
    assert_eq!(st.get_config(h + 1).unwrap(), None);
    let trace = TraceRecord {
        id: hash::trace_id("U", "1.0.0", "abcd", &cfg),
        unit: "U".into(),
        version: "1.0.0".into(),
        digest: "abcd".into(),
        config: cfg,
    };
    st.register_trace(&trace).unwrap();
    st.register_trace(&trace).unwrap();
    let bad = TraceRecord {
        version: "2.0.0".into(),
        ..trace.clone()
    };
    assert!(matches!(
        st.register_trace(&bad),
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(st.get_trace(trace.id).unwrap(), Some(trace.clone()));
    assert_eq!(st.traces().unwrap(), vec![trace]);

    let t3 = T3Document {
        id: "p-1-Report".into(),
        process: "p".into(),
        unit: "Report".into(),
        confid: Some(h),
        channel: Some("A".into()),
        tag: BTreeSet::new(),
        code: DocumentCode::OK,
        meta: MetaRecord::new(1, 5.0, Tier::T3, DocumentCode::OK),
        stock: vec![1, 2],
        datetime: 5.0,
        body: json!({"n": 2}),
    };
    st.insert_t3(&t3).unwrap();
    st.insert_t3(&t3).unwrap();
    st.insert_t3(&T3Document {
        id: "q-2".into(),
        process: "q".into(),
        ..t3.clone()
    })
    .unwrap();
    assert_eq!(st.find_t3(Some("p")).unwrap(), vec![t3]);
    assert_eq!(st.find_t3(None).unwrap().len(), 2);
    let info = st.info().unwrap();
    assert_eq!(info.schema_version, SCHEMA_VERSION);
    assert_eq!(info.counts.get("t3"), Some(&2));
}
