//! Conformance checks for the T2 queue: shared tickets, FIFO claims, leases,
//! backoff, result indexing, resets, and concurrent claimers.

use super::*;
use ampel_interface::*;
use serde_json::json;
use std::collections::HashSet;
use std::sync::{Arc, Barrier};

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

/// The leases of a worker that died expire at once, and only its leases.
pub fn leases_of_a_dead_worker_expire(b: &dyn Backend) {
    let st = fresh(b);
    let ids = enqueue(st.as_ref(), 3);
    let dead = st
        .claim_t2_many(&ClaimRequest::new("dead", 10.0, 1000.0), 2)
        .unwrap();
    let alive = st
        .claim_t2(&ClaimRequest::new("alive", 10.0, 1000.0))
        .unwrap()
        .unwrap();
    assert_eq!(dead.len(), 2);
    assert!(st
        .claim_t2(&ClaimRequest::new("new", 20.0, 30.0))
        .unwrap()
        .is_none());
    assert_eq!(st.expire_leases("dead").unwrap(), 2);
    let again = st
        .claim_t2_many(&ClaimRequest::new("new", 20.0, 30.0), 5)
        .unwrap();
    let got: Vec<&String> = again.iter().map(|d| &d.id).collect();
    assert_eq!(
        got,
        vec![&ids[0], &ids[1]],
        "oldest first, only the dead worker's"
    );
    assert_eq!(alive.id, ids[2]);
    assert_eq!(st.expire_leases("nobody").unwrap(), 0);
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
    assert_eq!(
        (again.trials(), again.waits()),
        (0, 1),
        "a wait is not a trial"
    );
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

/// Batch claims: oldest first, expired leases included, never a ticket twice.
pub fn batch_claims_are_fifo_and_exclusive(b: &dyn Backend) {
    let st = fresh(b);
    let ids = enqueue(st.as_ref(), 10);
    let first = st
        .claim_t2_many(&ClaimRequest::new("a", 10.0, 5.0), 4)
        .unwrap();
    assert_eq!(
        first.iter().map(|d| d.id.clone()).collect::<Vec<_>>(),
        ids[..4].to_vec()
    );
    assert!(first
        .iter()
        .all(|d| d.code == DocumentCode::RUNNING && d.lease.as_ref().unwrap().owner == "a"));
    let second = st
        .claim_t2_many(&ClaimRequest::new("b", 11.0, 5.0), 4)
        .unwrap();
    assert_eq!(
        second.iter().map(|d| d.id.clone()).collect::<Vec<_>>(),
        ids[4..8].to_vec()
    );
    // a's leases expire at 15: c gets them back first (oldest), then the rest
    let third = st
        .claim_t2_many(&ClaimRequest::new("c", 16.0, 5.0), 10)
        .unwrap();
    let got: Vec<String> = third.iter().map(|d| d.id.clone()).collect();
    let mut expected = ids[..4].to_vec();
    expected.extend(ids[8..].iter().cloned());
    assert_eq!(got, expected);
    assert!(st
        .claim_t2_many(&ClaimRequest::new("d", 16.0, 5.0), 10)
        .unwrap()
        .is_empty());
    let results = st
        .complete_t2_many(
            &[
                (ids[0].clone(), outcome(DocumentCode::OK, Some(json!(1)), 2)),
                (ids[4].clone(), outcome(DocumentCode::OK, None, 2)),
            ],
            "c",
        )
        .unwrap();
    assert!(results[0].is_ok(), "c holds ids[0]");
    assert!(
        matches!(results[1], Err(StoreError::LeaseLost { .. })),
        "b holds ids[4]"
    );
}
