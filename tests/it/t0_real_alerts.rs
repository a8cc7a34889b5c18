//! Real alerts in, documents out: every alert of `tests/data` is read, supplied,
//! shaped and ingested, and checked against `tests/fixtures/alerts-golden.json`
//! (produced by fastavro and Python AMPEL's own ZTF units).

use ampel_avro::{input::walk, Item, Payload, ReadOptions, Value as Avro};
use ampel_core::t0::{T0Config, T0Processor};
use ampel_core::Clock;
use ampel_interface::hash::link_hash;
use ampel_interface::serde_json::{json, Value};
use ampel_interface::*;
use ampel_store::{Store, T2Filter, TroubleQuery};
use ampel_store_sqlite::SqliteStore;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

fn golden() -> Value {
    let text = std::fs::read_to_string(ampel_tests::fixture("alerts-golden.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Packets and damaged-file names of one folder, as our reader sees them.
fn read(folder: &str) -> (Vec<(String, Value)>, Vec<String>) {
    let root = ampel_tests::real_alerts();
    let (mut packets, mut damaged) = (Vec::new(), Vec::new());
    walk(&[root.join(folder)], &ReadOptions::default(), &mut |item| {
        match item {
            Item::Packet(p) => match p.payload {
                Payload::Avro(Avro::Record(r)) => packets.push((p.origin, r.to_json())),
                other => panic!("{}: not a record: {other:?}", p.origin),
            },
            Item::Damaged(d) => damaged.push(d.origin.rsplit('/').next().unwrap().to_string()),
        }
        true
    });
    (packets, damaged)
}

#[test]
fn reader_matches_fastavro_on_every_folder() {
    let g = golden();
    for (folder, facts) in g["folders"].as_object().unwrap() {
        let (packets, damaged) = read(folder);
        let alerts = facts["alerts"].as_array().unwrap();
        assert_eq!(
            packets.len(),
            alerts.len(),
            "{folder}: number of good alerts"
        );
        let expected_damaged: Vec<String> = facts["damaged"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                d["file"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(damaged, expected_damaged, "{folder}: damaged files");
        for ((_, p), a) in packets.iter().zip(alerts) {
            if folder.starts_with("lsst") {
                assert_eq!(p["diaSourceId"], a["diaSourceId"]);
                assert_eq!(p["diaSource"]["midpointMjdTai"], a["midpointMjdTai"]);
            } else {
                assert_eq!(p["candid"], a["candid"]);
                assert_eq!(
                    p["candidate"]["magpsf"].as_f64(),
                    a["magpsf"].as_f64(),
                    "{}",
                    a["candid"]
                );
                assert_eq!(
                    p["prv_candidates"].as_array().map_or(0, Vec::len) as u64,
                    a["n_prv"].as_u64().unwrap()
                );
            }
        }
    }
}

#[test]
fn ztf_ids_tags_and_links_are_identical_to_python_ampel() {
    let g = golden();
    let supplier = ampel_units_ztf::ZiAlertSupplier;
    let shaper = ampel_units_ztf::ZiDataPointShaper;
    let mut checked = 0;
    for (folder, facts) in g["folders"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(f, _)| f.starts_with("ztf"))
    {
        let (packets, _) = read(folder);
        for ((origin, p), a) in packets.into_iter().zip(facts["alerts"].as_array().unwrap()) {
            let alert = supplier
                .supply(p)
                .unwrap_or_else(|e| panic!("{origin}: {e}"));
            assert_eq!(
                alert.stock,
                a["stock"].as_i64().unwrap(),
                "{origin}: stock id"
            );
            assert_eq!(
                ampel_units_ztf::id::to_ext_id(alert.stock),
                a["objectId"].as_str().unwrap()
            );
            let dps = shaper.process(alert).unwrap();
            let ids: Vec<i64> = dps.iter().map(|d| d.id).collect();
            let expected: Vec<i64> = serde_json::from_value(a["dp_ids"].clone()).unwrap();
            assert_eq!(ids, expected, "{origin}: datapoint and upper-limit ids");
            let tags: Vec<Vec<String>> = dps
                .iter()
                .map(|d| d.tag.iter().cloned().collect())
                .collect();
            assert_eq!(json!(tags), a["dp_tags"], "{origin}: tags");
            let uls: Vec<&Value> = dps.iter().filter(|d| d.id < 0).map(|d| &d.body).collect();
            assert_eq!(uls.len(), a["upper_limits"].as_array().unwrap().len());
            for (ours, theirs) in uls.iter().zip(a["upper_limits"].as_array().unwrap()) {
                for k in ["jd", "diffmaglim", "rcid", "fid", "programid"] {
                    assert_eq!(
                        ours[k].as_f64(),
                        theirs[k].as_f64(),
                        "{origin}: upper limit {k}"
                    );
                }
            }
            assert_eq!(
                link_hash(&ids),
                a["link"].as_i64().unwrap(),
                "{origin}: T1 link"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 135, "every good ZTF alert checked");
}

#[test]
fn rubin_alerts_supply_and_shape() {
    let g = golden();
    let supplier = ampel_units_lsst::LsstAlertSupplier;
    let shaper = ampel_units_lsst::LsstDataPointShaper;
    let mut n = 0;
    for (folder, facts) in g["folders"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(f, _)| f.starts_with("lsst"))
    {
        let (packets, _) = read(folder);
        for ((origin, p), a) in packets.into_iter().zip(facts["alerts"].as_array().unwrap()) {
            let alert = supplier
                .supply(p)
                .unwrap_or_else(|e| panic!("{origin}: {e}"));
            assert_eq!(alert.id, a["diaSourceId"].as_i64().unwrap());
            assert_eq!(alert.stock, a["stock"].as_i64().unwrap(), "{origin}");
            let dps = shaper.process(alert).unwrap();
            let n_prv = a["n_prv_sources"].as_u64().unwrap() + a["n_prv_forced"].as_u64().unwrap();
            assert_eq!(dps.len() as u64, 1 + n_prv, "{origin}");
            assert_eq!(dps[0].id, a["diaSourceId"].as_i64().unwrap());
            let jd = dps[0].body["jd"].as_f64().unwrap();
            assert!((jd - a["midpointMjdTai"].as_f64().unwrap() - 2_400_000.5).abs() < 1e-9);
            assert!(dps
                .iter()
                .skip(1 + a["n_prv_sources"].as_u64().unwrap() as usize)
                .all(|d| d.id < 0 && d.tag.contains("LSST_FP")));
            n += 1;
        }
    }
    assert_eq!(n, 101);
}

/// A state T2 used only to request tickets in these tests: counts detections.
#[derive(Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct CountCfg {
    min_mag: f64,
}
impl UnitConfig for CountCfg {}
struct CountDetections;
impl Unit for CountDetections {
    const NAME: &'static str = "CountDetections";
    const VERSION: &'static str = "0.0.0";
    const SOURCE: &'static str = "test unit";
    type Config = CountCfg;
    fn new(_: CountCfg) -> Result<Self, ConfigError> {
        Ok(CountDetections)
    }
}
impl StateT2 for CountDetections {
    fn process(&self, _: &T1Document, dps: &[DataPoint]) -> Result<UnitResult, UnitError> {
        Ok(UnitResult::ok(
            json!({ "n": dps.iter().filter(|d| d.id > 0).count() }),
        ))
    }
}

/// A filter that fails on every third stock (to test error accounting).
struct Flaky;
impl Unit for Flaky {
    const NAME: &'static str = "Flaky";
    const VERSION: &'static str = "0.0.0";
    const SOURCE: &'static str = "test unit";
    type Config = NoConfig;
    fn new(_: NoConfig) -> Result<Self, ConfigError> {
        Ok(Flaky)
    }
}
impl AlertFilter for Flaky {
    fn process(&self, alert: &AmpelAlert) -> Result<FilterDecision, UnitError> {
        if alert.stock % 3 == 0 {
            Err(UnitError::new(format!(
                "cannot judge stock {}",
                alert.stock
            )))
        } else {
            Ok(FilterDecision::Reject(Some(7)))
        }
    }
}

fn registry() -> Registry {
    let mut r = Registry::new();
    r.alert_filter::<Flaky>().unwrap();
    ampel_units_basic::register(&mut r).unwrap();
    ampel_units_ztf::register(&mut r).unwrap();
    ampel_units_lsst::register(&mut r).unwrap();
    r.state_t2::<CountDetections>().unwrap();
    r
}

/// Two channels that accept every alert: one public, one with private access.
fn ztf_config() -> T0Config {
    let channel = |name: &str, access: &[&str]| {
        json!({
            "channel": name,
            "access": access,
            "ingest": { "combine": [{ "unit": "ZiT1Combiner", "state_t2": [{ "unit": "CountDetections" }] }] }
        })
    };
    serde_json::from_value(json!({
        "supplier": { "unit": "ZiAlertSupplier" },
        "shaper": { "unit": "ZiDataPointShaper" },
        "muxer": { "unit": "ZiMuxer" },
        "directives": [channel("ALL_PUB", &["ZTF_PUB"]), channel("ALL_PRIV", &["ZTF_PUB", "ZTF_PRIV"])],
        "batch_size": 500,
    }))
    .unwrap()
}

fn run_t0(store: &dyn Store, cfg: T0Config, folder: &str) -> ampel_core::t0::T0Stats {
    let registry = registry();
    let clock = Clock::archive(0.0);
    let mut proc = T0Processor::new(cfg, &registry, store, &clock).unwrap();
    walk(
        &[ampel_tests::real_alerts().join(folder)],
        &ReadOptions::default(),
        &mut |item| {
            proc.process(item).unwrap();
            true
        },
    );
    proc.finish(0.0, None).unwrap()
}

#[test]
fn ztf_ingestion_writes_expected_documents_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("t0.db")).unwrap();
    let g = golden();
    let first = run_t0(&store, ztf_config(), "ztf");
    assert_eq!(first.alerts, 135);
    assert_eq!(first.ingested, 135);
    assert_eq!(first.damaged.len(), 5, "{:#?}", first.damaged);
    assert_eq!(store.troubles(&TroubleQuery::default()).unwrap().len(), 5);
    // every datapoint Python AMPEL would make is stored, with its stock and both channels
    let mut by_stock: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    for (folder, facts) in g["folders"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(f, _)| f.starts_with("ztf"))
    {
        let _ = folder;
        for a in facts["alerts"].as_array().unwrap() {
            let ids: Vec<i64> = serde_json::from_value(a["dp_ids"].clone()).unwrap();
            by_stock
                .entry(a["stock"].as_i64().unwrap())
                .or_default()
                .extend(ids);
        }
    }
    let all_ids: BTreeSet<i64> = by_stock.values().flatten().copied().collect();
    let info = store.info().unwrap();
    assert_eq!(
        info.counts["t0"],
        all_ids.len() as u64,
        "one document per distinct datapoint id"
    );
    assert_eq!(info.counts["stock"], by_stock.len() as u64);
    for (stock, ids) in &by_stock {
        let stored: BTreeSet<i64> = store
            .stock_datapoints(*stock)
            .unwrap()
            .iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(&stored, ids, "datapoints of stock {stock}");
        let s = store.get_stock(*stock).unwrap().unwrap();
        assert_eq!(
            s.channel,
            BTreeSet::from(["ALL_PRIV".to_string(), "ALL_PUB".to_string()])
        );
        assert_eq!(
            s.name,
            BTreeSet::from([ampel_units_ztf::id::to_ext_id(*stock)])
        );
    }
    let dp = &store
        .get_datapoints(&[*all_ids.iter().last().unwrap()])
        .unwrap()[0];
    assert_eq!(dp.channel.len(), 2);
    // both channels see the same public data: one state and one ticket serve both
    let tickets = store.find_t2(&T2Filter::default()).unwrap();
    assert!(!tickets.is_empty());
    for t in &tickets {
        assert_eq!(
            t.channel.len(),
            2,
            "ticket {} shared by both channels",
            t.id
        );
        assert_eq!(t.code, DocumentCode::NEW);
        assert!(
            store.get_state(t.stock, t.link).unwrap().is_some(),
            "ticket links to a stored state"
        );
    }
    assert_eq!(tickets.len() as u64, info.counts["t1"]);
    // replay: nothing new
    let again = run_t0(&store, ztf_config(), "ztf");
    assert_eq!(
        again.datapoints.inserted
            + again.states.inserted
            + again.tickets.inserted
            + again.stocks.inserted,
        0
    );
    let info2 = store.info().unwrap();
    for c in ["t0", "t1", "t2", "stock"] {
        assert_eq!(info.counts[c], info2.counts[c], "{c} count after replay");
    }
}

#[test]
fn rejected_alerts_are_counted_and_known_stocks_bypass_the_filter() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("t0.db")).unwrap();
    let mut cfg = ztf_config();
    // a filter nothing passes, bypassed for stocks already in the channel
    cfg.directives[0].filter = Some(
        serde_json::from_value(json!({"unit": "CriteriaFilter",
        "config": {"criteria": [{"attribute": "magpsf", "operator": "<", "value": 0}]}}))
        .unwrap(),
    );
    cfg.directives[0].on_stock_match = Some(ampel_core::t0::OnStockMatch::Bypass);
    cfg.directives.truncate(1);
    let stats = run_t0(&store, cfg.clone(), "ztf/fink-2020-v3.3");
    assert_eq!(stats.rejected["ALL_PUB"], 50);
    assert_eq!(stats.ingested, 0);
    assert_eq!(store.info().unwrap().counts["t0"], 0);
    // once the stock is known (ingested by a channel without filter), bypass applies
    run_t0(&store, ztf_config(), "ztf/fink-2020-v3.3");
    let stats = run_t0(&store, cfg, "ztf/fink-2020-v3.3");
    assert_eq!(stats.accepted["ALL_PUB"], 50);
}

#[test]
fn a_bad_filter_config_is_reported_with_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("t0.db")).unwrap();
    let mut cfg = ztf_config();
    cfg.directives[0].filter = Some(
        serde_json::from_value(json!({"unit": "SimpleDecentFilter",
        "config": {"min_rb": 2, "min_ndett": 1}}))
        .unwrap(),
    );
    cfg.shaper.unit = "ZiDataPointShapr".into();
    let registry = registry();
    let clock = Clock::archive(0.0);
    let err = T0Processor::new(cfg, &registry, &store, &clock)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("shaper: unknown unit `ZiDataPointShapr` (did you mean ZiDataPointShaper?)"),
        "{err}"
    );
    assert!(
        err.contains("channel `ALL_PUB` filter: invalid config for unit `SimpleDecentFilter`"),
        "{err}"
    );
    assert!(
        err.contains("field `min_ndett` = 1: unknown field"),
        "{err}"
    );
    assert!(
        err.contains("field `min_rb` = 2.0: a score in [0, 1]"),
        "{err}"
    );
}

#[test]
fn direct_json_decoding_equals_avro_values_converted() {
    for folder in ["ztf/ampel-2018-tarballs", "ztf/boom-v4.02", "lsst"] {
        let (avro, _) = read(folder);
        let mut json = Vec::new();
        let opts = ReadOptions {
            json: true,
            ..ReadOptions::default()
        };
        walk(
            &[ampel_tests::real_alerts().join(folder)],
            &opts,
            &mut |item| {
                if let Item::Packet(p) = item {
                    match p.payload {
                        Payload::Json(j) => json.push(j),
                        other => panic!("expected JSON, got {other:?}"),
                    }
                }
                true
            },
        );
        assert_eq!(avro.len(), json.len(), "{folder}");
        for ((origin, a), j) in avro.iter().zip(&json) {
            assert_eq!(a, j, "{origin}");
        }
    }
}

#[test]
fn filter_errors_are_recorded_and_error_max_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("t0.db")).unwrap();
    let mut cfg = ztf_config();
    cfg.directives.truncate(1);
    cfg.directives[0].filter = Some(serde_json::from_value(json!({"unit": "Flaky"})).unwrap());
    cfg.error_max = 1000;
    let registry = registry();
    let clock = Clock::archive(0.0);
    let mut proc = T0Processor::new(cfg.clone(), &registry, &store, &clock).unwrap();
    let register = dir.path().join("rejected.csv");
    proc.register_rejections(Box::new(std::fs::File::create(&register).unwrap()))
        .unwrap();
    walk(
        &[ampel_tests::real_alerts().join("ztf/fink-2020-v3.3")],
        &ReadOptions::default(),
        &mut |item| {
            proc.process(item).unwrap();
            true
        },
    );
    let stats = proc.finish(0.0, None).unwrap();
    let g = golden();
    let failing = g["folders"]["ztf/fink-2020-v3.3"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["stock"].as_i64().unwrap() % 3 == 0)
        .count();
    assert!(failing > 3, "the test needs several failing alerts");
    assert_eq!(stats.errors, failing);
    assert_eq!(stats.rejected["ALL_PUB"], 50, "a failing filter rejects");
    let troubles = store
        .troubles(&TroubleQuery {
            unit: Some("Flaky".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(troubles.len(), failing);
    assert!(troubles[0].message.starts_with("cannot judge stock"));
    let csv = std::fs::read_to_string(&register).unwrap();
    assert_eq!(csv.lines().count(), 51, "header and one line per rejection");
    assert!(csv.lines().nth(1).unwrap().starts_with("ALL_PUB,"));
    assert_eq!(
        csv.lines().filter(|l| l.ends_with(",7")).count(),
        50 - failing,
        "filter codes kept"
    );
    // with a low error_max the run stops with a clear error
    cfg.error_max = 3;
    let mut proc = T0Processor::new(cfg, &registry, &store, &clock).unwrap();
    let mut stopped = None;
    walk(
        &[ampel_tests::real_alerts().join("ztf/fink-2020-v3.3")],
        &ReadOptions::default(),
        &mut |item| match proc.process(item) {
            Ok(()) => true,
            Err(e) => {
                stopped = Some(e.to_string());
                false
            }
        },
    );
    assert_eq!(
        stopped.as_deref(),
        Some("stopped after 3 unit errors (error_max = 3); see the trouble records")
    );
}

/// Every document of the collections T0 writes, as canonical JSON lines.
fn t0_documents(store: &dyn Store) -> BTreeMap<&'static str, Vec<String>> {
    ["t0", "t1", "t2", "stock"]
        .into_iter()
        .map(|c| {
            let mut docs = Vec::new();
            store
                .dump(c, &mut |d| {
                    docs.push(ampel_interface::hash::canonical_json(&d));
                    Ok(())
                })
                .unwrap();
            (c, docs)
        })
        .collect()
}

#[test]
fn filtering_on_named_fields_gives_the_same_documents_as_whole_alerts() {
    // ZTF: SimpleDecentFilter (relaxed so some alerts pass) and a history criterion;
    // Rubin: criteria on the latest source and on the history
    let ztf = {
        let mut cfg = ztf_config();
        cfg.directives[0].filter = Some(
            serde_json::from_value(json!({"unit": "SimpleDecentFilter",
                "config": {"min_ndet": 1, "min_tspan": 0, "min_rb": 0.3, "min_gal_lat": 0,
                           "min_archive_tspan": -1, "max_archive_tspan": 1e9}}))
            .unwrap(),
        );
        cfg.directives[1].filter = Some(
            serde_json::from_value(json!({"unit": "CriteriaFilter", "config": {
                "over": "history", "min_count": 3,
                "criteria": [{"attribute": "magpsf", "operator": "<", "value": 19.0}]}}))
            .unwrap(),
        );
        cfg
    };
    let rubin: T0Config = serde_json::from_value(json!({
        "supplier": { "unit": "LsstAlertSupplier" },
        "shaper": { "unit": "LsstDataPointShaper" },
        "directives": [
            {"channel": "RELIABLE", "access": ["LSST"], "filter": {"unit": "CriteriaFilter",
             "config": {"criteria": [{"attribute": "reliability", "operator": ">=", "value": 0.5}]}}},
            {"channel": "BRIGHT", "access": ["LSST"], "filter": {"unit": "CriteriaFilter",
             "config": {"over": "history", "min_count": 2,
                        "criteria": [{"attribute": "psfFlux", "operator": ">", "value": 5000}]}}}],
    }))
    .unwrap();
    let registry = registry();
    for (cfg, folder) in [(ztf, "ztf"), (rubin, "lsst")] {
        let mut results = Vec::new();
        // projected by the reader, projected by T0, whole alerts
        for (whole, by_reader) in [(false, true), (false, false), (true, false)] {
            let dir = tempfile::tempdir().unwrap();
            let store = SqliteStore::open(dir.path().join("t0.db")).unwrap();
            let clock = Clock::archive(0.0);
            let mut proc = T0Processor::new(cfg.clone(), &registry, &store, &clock).unwrap();
            assert!(proc.projects(), "{folder}: every filter names its fields");
            let opts = ReadOptions {
                preview_fields: proc.preview_fields().filter(|_| by_reader),
                ..ReadOptions::default()
            };
            if whole {
                proc.filter_whole_alerts();
            }
            walk(
                &[ampel_tests::real_alerts().join(folder)],
                &opts,
                &mut |item| {
                    proc.process(item).unwrap();
                    true
                },
            );
            let stats = proc.finish(0.0, None).unwrap();
            results.push((stats, t0_documents(&store)));
        }
        assert_eq!(
            results[0], results[1],
            "{folder}: reader's and T0's projection"
        );
        let (projected, whole) = (&results[0], &results[2]);
        for (channel, n) in &projected.0.accepted {
            assert!(*n > 0, "{folder}: channel {channel} accepts some alerts");
            assert!(
                projected.0.rejected.get(channel).is_some_and(|r| *r > 0),
                "{folder}: channel {channel} rejects some alerts"
            );
        }
        assert_eq!(projected.0.accepted.len(), 2, "{folder}: {:?}", projected.0);
        assert_eq!(projected.0, whole.0, "{folder}: same counts");
        assert_eq!(projected.1, whole.1, "{folder}: same documents");
    }
}
