//! Embedded-store upsert throughput (a bench binary, not a test).
//!
//! Run: `cargo bench -p ampel-store-sqlite --bench upsert`
//! Datapoint bodies mimic a ZTF `candidate` (about 100 fields, 2.5 kB of JSON).
//! Reports datapoint upserts/s for new ids and for re-ingestion (channel merge +
//! meta push), stock upserts/s, and T2 ticket upserts/s, at several batch sizes.

use ampel_interface::serde_json::{json, Map, Value};
use ampel_interface::*;
use ampel_store::{StockUpsert, Store, T2Request};
use ampel_store_sqlite::SqliteStore;
use std::collections::BTreeSet;
use std::time::Instant;

fn ztf_like_body(i: i64) -> Value {
    let mut m = Map::new();
    m.insert("jd".into(), json!(2458849.5 + i as f64 * 1e-3));
    m.insert("magpsf".into(), json!(18.0 + (i % 100) as f64 / 50.0));
    m.insert("sigmapsf".into(), json!(0.08));
    m.insert("fid".into(), json!(1 + i % 2));
    m.insert("isdiffpos".into(), json!("t"));
    m.insert(
        "pdiffimfilename".into(),
        json!(format!(
            "ztf_20200101_{i:012}_zr_c01_o_q1_scimrefdiffimg.fits"
        )),
    );
    for k in 0..95 {
        m.insert(format!("field_{k:02}"), json!(k as f64 * 1.2345 + i as f64));
    }
    Value::Object(m)
}

fn dps(range: std::ops::Range<i64>, channel: &str) -> Vec<DataPoint> {
    range
        .map(|i| DataPoint {
            id: 1_100_000_000_000_000_000 + i,
            stock: [i / 20].into(),
            origin: None,
            tag: ["ZTF".to_string(), "ZTF_G".to_string()].into(),
            channel: [channel.to_string()].into(),
            excl: BTreeSet::new(),
            meta: vec![MetaRecord::new(1, 1.0, Tier::T0, DocumentCode::OK)],
            body: ztf_like_body(i),
            expiry: None,
        })
        .collect()
}

fn rate(label: &str, batch: usize, n: usize, f: impl FnOnce()) {
    let t = Instant::now();
    f();
    let s = t.elapsed().as_secs_f64();
    println!(
        "| {label:<34} | {batch:>6} | {n:>7} | {:>9.3} | {:>10.0} |",
        s,
        n as f64 / s
    );
}

fn main() {
    let n: i64 = std::env::var("AMPEL_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    println!("| operation                          |  batch |       n |  seconds |   docs/s |");
    println!("|------------------------------------|-------:|--------:|---------:|---------:|");
    for batch in [100usize, 1000, 5000] {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path().join("bench.db")).expect("open");
        let fresh = dps(0..n, "CHAN_A");
        if batch == 100 {
            rate("(json encoding of bodies only)", batch, fresh.len(), || {
                let bytes: usize = fresh
                    .iter()
                    .map(|d| serde_json::to_string(&d.body).map(|s| s.len()).unwrap_or(0))
                    .sum();
                assert!(bytes > 0);
            });
        }
        rate("datapoint upsert (new)", batch, fresh.len(), || {
            for chunk in fresh.chunks(batch) {
                store.upsert_datapoints(chunk).expect("upsert");
            }
        });
        let again = dps(0..n, "CHAN_B");
        rate(
            "datapoint upsert (merge channel)",
            batch,
            again.len(),
            || {
                for chunk in again.chunks(batch) {
                    store.upsert_datapoints(chunk).expect("upsert");
                }
            },
        );
        let stocks: Vec<StockUpsert> = (0..n / 10)
            .map(|i| StockUpsert {
                stock: i,
                origin: None,
                channel: ["CHAN_A".to_string()].into(),
                tag: ["ZTF".to_string()].into(),
                name: [format!("ZTF20aa{i:05}")].into(),
                ts: 1.0e9 + i as f64,
                journal: vec![],
            })
            .collect();
        rate("stock upsert (new)", batch, stocks.len(), || {
            for chunk in stocks.chunks(batch) {
                store.upsert_stocks(chunk).expect("upsert");
            }
        });
        rate("stock upsert (existing)", batch, stocks.len(), || {
            for chunk in stocks.chunks(batch) {
                store.upsert_stocks(chunk).expect("upsert");
            }
        });
        let tickets: Vec<T2Request> = (0..n / 10)
            .map(|i| T2Request {
                identity: T2Identity {
                    stock: i,
                    unit: "T2MagSummary".into(),
                    config: Some(7),
                    link: i,
                },
                col: T2Kind::State,
                channel: ["CHAN_A".to_string()].into(),
                tag: BTreeSet::new(),
                meta: Some(MetaRecord::new(1, 1.0, Tier::T0, DocumentCode::NEW)),
                expiry: None,
            })
            .collect();
        rate("t2 ticket upsert (new)", batch, tickets.len(), || {
            for chunk in tickets.chunks(batch) {
                store.upsert_t2(chunk).expect("upsert");
            }
        });
    }
}
