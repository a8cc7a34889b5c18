//! Conformance checks for ingestion: upserts with channel merge, stock times,
//! concurrent upserts and T3 stock selection.

use super::*;
use ampel_interface::*;
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};

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
    // bodies with named fields only; the rest of the document whole
    let fields: BTreeSet<String> = ["jd", "fid", "absent"].map(String::from).into();
    let named = st.get_datapoints_with(&[-3, 1, 999], &fields).unwrap();
    assert_eq!(named.len(), 2);
    for (n, whole) in named.iter().zip(&got) {
        assert_eq!(
            n.body,
            json!({"jd": whole.body["jd"], "fid": whole.body["fid"]}),
            "datapoint {}",
            n.id
        );
        assert_eq!(
            (&n.channel, &n.tag, &n.meta),
            (&whole.channel, &whole.tag, &whole.meta)
        );
    }
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
    // batch reads: in the order asked, missing ones skipped
    let other = T1Document {
        stock: 11,
        link: link + 7,
        ..state("A", 3)
    };
    st.upsert_states(&[other]).unwrap();
    let both = st
        .get_states(&[(11, link + 7), (10, link + 1), (10, link)])
        .unwrap();
    let keys: Vec<(i64, i64)> = both.iter().map(|t| (t.stock, t.link)).collect();
    assert_eq!(keys, vec![(11, link + 7), (10, link)]);
}

/// Stock times take min tied / max upd per channel and for `any`; journal keeps order.
pub fn stock_times_and_journal_order(b: &dyn Backend) {
    let st = fresh(b);
    assert_eq!(
        st.data_time().unwrap(),
        None,
        "an empty store has no data time"
    );
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
    // the store's data time: the latest update of any stock
    assert_eq!(st.data_time().unwrap(), Some(400.0));
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
