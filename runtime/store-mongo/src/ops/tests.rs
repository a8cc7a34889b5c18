//! Every document the MongoDB backend sends, against the BSON it must be.

use super::*;
use std::collections::{BTreeMap, BTreeSet};

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn meta() -> MetaRecord {
    MetaRecord::new(7, 1.5, Tier::T0, DocumentCode::NEW)
}

fn meta_bson() -> Bson {
    bson(&meta()).unwrap()
}

#[test]
fn datapoint_upsert_sets_body_once_and_merges_the_rest() {
    let dp = DataPoint {
        id: 42,
        stock: [3].into(),
        origin: None,
        tag: set(&["ZTF", "ZTF_G"]),
        channel: set(&["A"]),
        excl: BTreeSet::new(),
        meta: vec![meta()],
        body: serde_json::json!({"magpsf": 18.5, "fid": 1}),
        expiry: Some(99.0),
    };
    assert_eq!(
        datapoint_upsert(&dp).unwrap(),
        doc! {
            "q": {"id": 42_i64},
            "u": {
                "$setOnInsert": {"_id": 42_i64, "body": {"fid": 1_i64, "magpsf": 18.5}},
                "$addToSet": {
                    "stock": {"$each": [3_i64]},
                    "tag": {"$each": ["ZTF", "ZTF_G"]},
                    "channel": {"$each": ["A"]},
                    "excl": {"$each": []},
                },
                "$push": {"meta": {"$each": [meta_bson()]}},
                "$max": {"expiry": 99.0},
            },
            "upsert": true,
        }
    );
    // origin on insert only; no expiry means no $max
    let dp = DataPoint {
        origin: Some(1),
        expiry: None,
        ..dp
    };
    let s = datapoint_upsert(&dp).unwrap();
    let u = s.get_document("u").unwrap();
    assert_eq!(
        u.get_document("$setOnInsert")
            .unwrap()
            .get_i64("origin")
            .ok(),
        Some(1)
    );
    assert!(!u.contains_key("$max"));
}

#[test]
fn state_upsert_keys_on_stock_and_link() {
    let s = T1Document {
        stock: 3,
        link: -17,
        dps: vec![2, 1],
        channel: set(&["A", "B"]),
        tag: set(&["ZTF"]),
        code: DocumentCode::OK,
        meta: vec![meta()],
        body: vec![],
    };
    assert_eq!(
        state_upsert(&s, 11).unwrap(),
        doc! {
            "q": {"stock": 3_i64, "link": -17_i64},
            "u": {
                "$setOnInsert": {"dps": [2_i64, 1_i64], "code": 0, "body": [], "seq": 11_i64},
                "$addToSet": {"channel": {"$each": ["A", "B"]}, "tag": {"$each": ["ZTF"]}},
                "$push": {"meta": {"$each": [meta_bson()]}},
            },
            "upsert": true,
        }
    );
}

#[test]
fn t2_upsert_inserts_new_and_never_resets_the_code() {
    let t = T2Request {
        identity: T2Identity {
            stock: 3,
            unit: "T2MagSummary".into(),
            config: Some(-5),
            link: 99,
        },
        col: T2Kind::State,
        channel: set(&["A"]),
        tag: BTreeSet::new(),
        meta: Some(meta()),
        expiry: None,
    };
    let id = t.identity.doc_id();
    assert_eq!(
        t2_upsert(&t, 4).unwrap(),
        doc! {
            "q": {"stock": 3_i64, "unit": "T2MagSummary", "config": -5_i64, "link": 99_i64},
            "u": {
                "$setOnInsert": {
                    "_id": &id, "col": "state", "code": -1, "body": [], "seq": 4_i64,
                },
                "$addToSet": {"channel": {"$each": ["A"]}, "tag": {"$each": []}},
                "$push": {"meta": {"$each": [meta_bson()]}},
            },
            "upsert": true,
        }
    );
    let no_config = T2Request {
        identity: T2Identity {
            config: None,
            ..t.identity.clone()
        },
        ..t
    };
    let s = t2_upsert(&no_config, 4).unwrap();
    assert_eq!(
        s.get_document("q").unwrap().get("config"),
        Some(&Bson::Null)
    );
}

#[test]
fn stock_upsert_ties_channels_and_any() {
    let s = StockUpsert {
        stock: 8,
        origin: None,
        channel: set(&["A"]),
        tag: set(&["ZTF"]),
        name: set(&["ZTF18aaaaaaa"]),
        ts: 10.0,
        journal: vec![],
    };
    assert_eq!(
        stock_upsert(&s).unwrap(),
        doc! {
            "q": {"stock": 8_i64},
            "u": {
                "$setOnInsert": {"_id": 8_i64},
                "$addToSet": {
                    "channel": {"$each": ["A"]},
                    "tag": {"$each": ["ZTF"]},
                    "name": {"$each": ["ZTF18aaaaaaa"]},
                },
                "$min": {"ts.A.tied": 10.0, "ts.any.tied": 10.0},
                "$max": {"ts.A.upd": 10.0, "ts.any.upd": 10.0},
                "$push": {"journal": {"$each": []}},
            },
            "upsert": true,
        }
    );
    let bad = StockUpsert {
        channel: set(&["A.B"]),
        ..s
    };
    assert!(stock_upsert(&bad).unwrap_err().contains("`A.B`"));
}

#[test]
fn update_command_is_unordered() {
    assert_eq!(
        update_command("t0", vec![doc! {"q": {}, "u": {}, "upsert": true}]),
        doc! {"update": "t0", "updates": [{"q": {}, "u": {}, "upsert": true}], "ordered": false}
    );
}

fn claim() -> ClaimRequest {
    ClaimRequest {
        owner: "w1".into(),
        now: 100.0,
        lease_seconds: 30.0,
        codes: vec![DocumentCode::NEW, DocumentCode::PENDING_DEPENDENCY],
        units: Some(vec!["U".into()]),
    }
}

#[test]
fn claims_take_claimable_or_expired_and_lease_them() {
    assert_eq!(
        claim_filter(&claim()),
        doc! {
            "$or": [
                {"code": {"$in": [-1, -2001]},
                 "$or": [{"retry_after": Bson::Null}, {"retry_after": {"$lte": 100.0}}]},
                {"code": -5, "lease.until": {"$lt": 100.0}},
            ],
            "unit": {"$in": ["U"]},
        }
    );
    assert_eq!(
        claim_update(&claim()),
        doc! {
            "$set": {"code": -5, "lease": {"owner": "w1", "until": 130.0}},
            "$unset": {"retry_after": ""},
        }
    );
    assert_eq!(
        claimed_by(&["a".into(), "b".into()], &claim()),
        doc! {"_id": {"$in": ["a", "b"]}, "code": -5, "lease.owner": "w1", "lease.until": 130.0}
    );
    assert_eq!(
        held_by("a", "w1"),
        doc! {"_id": "a", "code": -5, "lease.owner": "w1"}
    );
    // a ticket Python AMPEL made is held by its ObjectId
    let oid = mongodb::bson::oid::ObjectId::parse_str("6b0ff94a34e8ed7edb3c6ba9").unwrap();
    assert_eq!(
        held_by("6b0ff94a34e8ed7edb3c6ba9", "w1"),
        doc! {"_id": oid, "code": -5, "lease.owner": "w1"}
    );
    assert_eq!(renew_update(140.0), doc! {"$set": {"lease.until": 140.0}});
}

#[test]
fn completion_appends_body_and_records_its_index() {
    let m = MetaRecord::new(9, 2.0, Tier::T2, DocumentCode::OK);
    let o = T2Outcome {
        code: DocumentCode::OK,
        meta: m.clone(),
        body: Some(serde_json::json!({"$where": "literal, not an operator"})),
        tag: set(&["FAST"]),
        retry_after: None,
    };
    let mb = bson(&m).unwrap();
    assert_eq!(
        complete_pipeline(&o).unwrap(),
        vec![doc! {"$set": {
            "code": 0,
            "tag": {"$setUnion": [{"$ifNull": ["$tag", []]}, {"$literal": ["FAST"]}]},
            "meta": {"$concatArrays": [{"$ifNull": ["$meta", []]}, [
                {"$mergeObjects": [{"$literal": mb.clone()}, {"body_index": {"$size": {"$ifNull": ["$body", []]}}}]},
            ]]},
            "lease": "$$REMOVE",
            "retry_after": "$$REMOVE",
            "body": {"$concatArrays": [{"$ifNull": ["$body", []]}, [{"$literal": {"$where": "literal, not an operator"}}]]},
        }}]
    );
    // a failure: no body, a backoff time
    let f = T2Outcome {
        code: DocumentCode::EXCEPTION,
        body: None,
        retry_after: Some(150.0),
        tag: BTreeSet::new(),
        meta: m,
    };
    let p = complete_pipeline(&f).unwrap();
    let s = p[0].get_document("$set").unwrap();
    assert_eq!(s.get_f64("retry_after").ok(), Some(150.0));
    assert!(!s.contains_key("body"));
    assert_eq!(
        s.get_document("meta").unwrap(),
        &doc! {"$concatArrays": [{"$ifNull": ["$meta", []]}, [{"$literal": mb}]]}
    );
}

#[test]
fn t2_filters_and_resets() {
    assert_eq!(t2_filter(&T2Filter::default()), doc! {});
    let f = T2Filter {
        stock: Some(3),
        unit: Some(vec!["U".into()]),
        config: Some(None),
        link: Some(vec![5]),
        channel: Some(vec!["A".into()]),
        code: Some(vec![DocumentCode::OK]),
    };
    assert_eq!(
        t2_filter(&f),
        doc! {"stock": 3_i64, "unit": {"$in": ["U"]}, "config": Bson::Null, "link": {"$in": [5_i64]},
        "channel": {"$in": ["A"]}, "code": {"$in": [0]}}
    );
    assert_eq!(
        t2_filter(&T2Filter {
            config: Some(Some(-9)),
            ..Default::default()
        }),
        doc! {"config": -9_i64}
    );
    assert_eq!(
        reset_pipeline(DocumentCode::NEW, ResetMode::CodeOnly),
        vec![
            doc! {"$set": {"code": -1}},
            doc! {"$unset": ["lease", "retry_after"]}
        ]
    );
    assert_eq!(
        reset_pipeline(DocumentCode::RERUN_REQUESTED, ResetMode::CodeAndBody),
        vec![
            doc! {"$set": {"code": -6, "body": []}},
            doc! {"$unset": ["lease", "retry_after", "meta.body_index"]}
        ]
    );
}

#[test]
fn stock_changes_are_one_pipeline() {
    let u = StockChange {
        stock: 8,
        journal: vec![],
        add_tag: set(&["AUDITED"]),
        remove_tag: set(&["NEW"]),
        add_name: BTreeSet::new(),
        bump_upd: Some((set(&["A"]), 20.0)),
    };
    let bump = |ch: &str| {
        let p = format!("$ts.{ch}");
        doc! {"$cond": [{"$ifNull": [&p, false]},
        {"tied": format!("{p}.tied"), "upd": {"$max": [format!("{p}.upd"), 20.0]}}, "$$REMOVE"]}
    };
    assert_eq!(
        stock_change_pipeline(&u).unwrap(),
        vec![doc! {"$set": {
            "tag": {"$setDifference": [
                {"$setUnion": [{"$ifNull": ["$tag", []]}, {"$literal": ["AUDITED"]}]},
                {"$literal": ["NEW"]},
            ]},
            "name": {"$setUnion": [{"$ifNull": ["$name", []]}, {"$literal": []}]},
            "journal": {"$concatArrays": [{"$ifNull": ["$journal", []]}, {"$literal": []}]},
            "ts": {"$mergeObjects": [{"$ifNull": ["$ts", {}]}, {"A": bump("A"), "any": bump("any")}]},
        }}]
    );
}

#[test]
fn selections_are_one_and_of_clauses() {
    assert_eq!(select_filter(&StockSelection::default()).unwrap(), doc! {});
    let q = StockSelection {
        channel_any: vec!["A".into(), "B".into()],
        channel_all: vec![],
        tag_with: vec!["X".into()],
        tag_without: vec!["Y".into()],
        created: TimeRange {
            after: Some(1.0),
            before: None,
        },
        updated: TimeRange {
            after: None,
            before: Some(9.0),
        },
        limit: Some(5),
    };
    assert_eq!(
        select_filter(&q).unwrap(),
        doc! {"$and": [
            {"channel": {"$in": ["A", "B"]}},
            {"$or": [{"ts.A.tied": {"$gte": 1.0}}, {"ts.B.tied": {"$gte": 1.0}}]},
            {"$or": [{"ts.A.upd": {"$lt": 9.0}}, {"ts.B.upd": {"$lt": 9.0}}]},
            {"tag": {"$all": ["X"]}},
            {"tag": {"$nin": ["Y"]}},
        ]}
    );
    let any = StockSelection {
        channel_all: vec!["A".into()],
        updated: TimeRange {
            after: Some(2.0),
            before: Some(3.0),
        },
        ..Default::default()
    };
    assert_eq!(
        select_filter(&any).unwrap(),
        doc! {"$and": [
            {"channel": {"$all": ["A"]}},
            {"$or": [{"ts.A.upd": {"$gte": 2.0, "$lt": 3.0}}]},
        ]}
    );
    let times_only = StockSelection {
        created: TimeRange {
            after: Some(2.0),
            before: None,
        },
        ..Default::default()
    };
    assert_eq!(
        select_filter(&times_only).unwrap(),
        doc! {"$and": [{"$or": [{"ts.any.tied": {"$gte": 2.0}}]}]}
    );
}

#[test]
fn provenance_queries_and_registries() {
    assert_eq!(
        event_filter(&EventQuery {
            process: Some("p".into()),
            code: Some(vec![EventCode::OK]),
            after_run: Some(3),
            last: Some(2),
        }),
        doc! {"process": "p", "code": {"$in": [0]}, "_id": {"$gt": 3_i64}}
    );
    assert_eq!(
        log_filter(&LogQuery {
            run: Some(1),
            stock: Some(2),
            channel: Some("A".into()),
            flag: Some(LogFlag::ERROR),
            limit: None,
        }),
        doc! {"run": 1_i64, "stock": 2_i64, "channel": "A", "flag": {"$bitsAllSet": i64::from(LogFlag::ERROR.0)}}
    );
    assert_eq!(
        trouble_filter(&TroubleQuery {
            run: Some(4),
            unit: Some("U".into()),
            stock: Some(7),
        }),
        doc! {"run": 4_i64, "unit": "U", "stock": 7_i64}
    );
    assert_eq!(
        insert_once(-77_i64, doc! {"config": {"a": 1}}),
        (
            doc! {"_id": -77_i64},
            doc! {"$setOnInsert": {"config": {"a": 1}}}
        )
    );
    assert_eq!(
        counter_inc("current_run_id", 1),
        (
            doc! {"_id": "current_run_id"},
            doc! {"$inc": {"value": 1_i64}}
        )
    );
    assert_eq!(dump_sort("t1"), doc! {"stock": 1, "link": 1});
    assert_eq!(dump_sort("log"), doc! {"seq": 1});
    assert_eq!(dump_sort("t2"), doc! {"_id": 1});
    assert_eq!(dump_sort("t0"), doc! {"id": 1});
    assert_eq!(dump_sort("stock"), doc! {"stock": 1});
}

#[test]
fn journal_records_keep_their_fields() {
    let j = JournalRecord {
        tier: Tier::T2,
        ts: 3.0,
        run: 2,
        process: "p".into(),
        channel: set(&["A"]),
        unit: Some("U".into()),
        doc: None,
        action: JournalActionCode(0),
        code: Some(DocumentCode::OK),
        tag: BTreeSet::new(),
        traceid: BTreeMap::from([("t2unit".to_string(), 5)]),
        extra: None,
    };
    let b = bson(&j).unwrap();
    let back: JournalRecord = mongodb::bson::deserialize_from_bson(b).unwrap();
    assert_eq!(back, j);
}

#[test]
fn config_documents_are_flat_as_python_ampels() {
    assert_eq!(
        conf_document(
            7,
            &serde_json::json!({"cols": ["drb"], "limiting_magnitude": 19.5})
        )
        .unwrap(),
        doc! {"cols": ["drb"], "limiting_magnitude": 19.5, "_id": 7_i64}
    );
    assert_eq!(
        conf_document(7, &serde_json::json!({})).unwrap(),
        doc! {"_id": 7_i64}
    );
    assert!(conf_document(7, &serde_json::json!({"_id": 1}))
        .unwrap_err()
        .contains("`_id`"));
    assert!(conf_document(7, &serde_json::json!([1]))
        .unwrap_err()
        .contains("not an object"));
}
