//! T2 on real alerts and under stress: results checked against numpy
//! (`tests/fixtures/lightcurve-golden.json`), several worker processes, a worker
//! killed mid-run, failures with codes and trouble records, outdated results.

use ampel_core::t0::T0Config;
use ampel_core::t2::{outdated, T2Worker, T2WorkerConfig};
use ampel_interface::serde_json::{json, Value};
use ampel_interface::*;
use ampel_store::*;
use ampel_store_sqlite::SqliteStore;
use ampel_tests::units::{registry, TouchStockV2};
use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;

fn worker(owner: &str) -> T2WorkerConfig {
    T2WorkerConfig {
        owner: owner.into(),
        backoff_base: 0.01,
        lease_seconds: 30.0,
        ..T2WorkerConfig::default()
    }
}

fn run_worker(
    store: &dyn Store,
    registry: &Registry,
    cfg: T2WorkerConfig,
) -> ampel_core::t2::T2Stats {
    let mut w = T2Worker::new(cfg, registry, store).unwrap();
    w.run(true, &AtomicBool::new(false)).unwrap();
    w.finish().unwrap()
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-9 * (1.0 + b.abs()),
        "{what}: {a} vs {b}"
    );
}

#[test]
fn light_curve_units_on_real_alerts_match_numpy() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("t2.db")).unwrap();
    let registry = registry();
    // no muxer: each state is exactly one alert's datapoints, as in the numpy script
    let cfg: T0Config = serde_json::from_value(json!({
        "supplier": {"unit": "ZiAlertSupplier"},
        "shaper": {"unit": "ZiDataPointShaper"},
        "directives": [{"channel": "ALL", "access": ["ZTF_PUB", "ZTF_PRIV"], "ingest": {"combine": [{"unit": "ZiT1Combiner",
            "state_t2": [{"unit": "T2MagSummary"}, {"unit": "T2RiseDeclineFit"}, {"unit": "T2FastRiser"}]}]}}]
    }))
    .unwrap();
    ampel_tests::ingest_archive(
        cfg,
        &registry,
        &store,
        &ampel_tests::real_alerts().join("ztf/fink-2019-v3.1"),
    );
    let stats = run_worker(&store, &registry, worker("w"));
    assert_eq!(stats.ok.values().sum::<usize>(), 93, "{stats:?}");
    assert!(stats.failed.is_empty(), "{stats:?}");

    let golden: Value = serde_json::from_str(
        &std::fs::read_to_string(ampel_tests::fixture("lightcurve-golden.json")).unwrap(),
    )
    .unwrap();
    let mut fits = 0;
    for (candid, g) in golden.as_object().unwrap() {
        let stock = ampel_units_ztf::id::to_ampel_id(g["objectId"].as_str().unwrap()).unwrap();
        let docs = store
            .find_t2(&T2Filter {
                stock: Some(stock),
                ..Default::default()
            })
            .unwrap();
        let result = |unit: &str| {
            docs.iter()
                .find(|d| d.unit == unit)
                .and_then(|d| d.current_result().cloned())
                .unwrap()
        };
        let s = result("T2MagSummary");
        assert_eq!(s["ndet"], g["ndet"], "{candid}");
        close(
            s["first_detection"]["jd"].as_f64().unwrap(),
            g["first_jd"].as_f64().unwrap(),
            "first jd",
        );
        close(
            s["last_detection"]["jd"].as_f64().unwrap(),
            g["last_jd"].as_f64().unwrap(),
            "last jd",
        );
        close(s["ra"].as_f64().unwrap(), g["ra"].as_f64().unwrap(), "ra");
        let fit = result("T2RiseDeclineFit");
        for (band, gb) in g["bands"].as_object().unwrap() {
            let b = &fit["bands"][band];
            assert_eq!(b["n"], gb["n"], "{candid} band {band}");
            close(
                b["peak_mag"].as_f64().unwrap(),
                gb["peak_mag"].as_f64().unwrap(),
                "peak mag",
            );
            assert_eq!(
                s["peak"][band]["mag"].as_f64(),
                gb["peak_mag"].as_f64(),
                "summary peak"
            );
            for seg in ["rise", "decline"] {
                match (&b[seg], &gb[seg]) {
                    (Value::Null, Value::Null) => {}
                    (ours, theirs) => {
                        for k in ["slope", "slope_err", "intercept", "intercept_err", "chi2"] {
                            close(
                                ours[k].as_f64().unwrap(),
                                theirs[k].as_f64().unwrap(),
                                &format!("{candid} {band} {seg} {k}"),
                            );
                        }
                        assert_eq!(ours["n"], theirs["n"]);
                        fits += 1;
                    }
                }
            }
        }
        let riser = result("T2FastRiser");
        assert!(riser["fast_riser"].is_boolean(), "{riser}");
    }
    assert!(fits >= 10, "only {fits} fits compared");
    // every result is journaled on its stock
    let any = store.find_t2(&T2Filter::default()).unwrap();
    let stock = store.get_stock(any[0].stock).unwrap().unwrap();
    assert!(stock
        .journal
        .iter()
        .any(|j| j.tier == Tier::T2 && j.doc.as_deref() == Some(any[0].id.as_str())));
}

/// `n` stocks, each with a TouchStock ticket.
fn stock_tickets(store: &dyn Store, n: i64, config: Value) -> ConfigHash {
    let checked = registry()
        .get("TouchStock")
        .unwrap()
        .check(&config)
        .unwrap();
    store
        .register_config(checked.hash, &checked.normalized)
        .unwrap();
    for chunk in (0..n).collect::<Vec<_>>().chunks(2000) {
        let stocks: Vec<StockUpsert> = chunk
            .iter()
            .map(|&s| StockUpsert {
                stock: s,
                origin: None,
                channel: ["C".to_string()].into(),
                tag: BTreeSet::new(),
                name: BTreeSet::new(),
                ts: 1.0,
                journal: vec![],
            })
            .collect();
        store.upsert_stocks(&stocks).unwrap();
        let tickets: Vec<T2Request> = chunk
            .iter()
            .map(|&s| T2Request {
                identity: T2Identity {
                    stock: s,
                    unit: "TouchStock".into(),
                    config: Some(checked.hash),
                    link: s,
                },
                col: T2Kind::Stock,
                channel: ["C".to_string()].into(),
                tag: BTreeSet::new(),
                meta: Some(MetaRecord::new(1, 1.0, Tier::T0, DocumentCode::NEW)),
                expiry: None,
            })
            .collect();
        store.upsert_t2(&tickets).unwrap();
    }
    checked.hash
}

fn worker_command(uri: &str, owner: &str, lease: &str, batch: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ampel-test-worker"));
    c.args([uri, owner, lease, batch])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn spawn_worker(uri: &str, owner: &str, lease: &str, batch: &str) -> std::process::Child {
    worker_command(uri, owner, lease, batch).spawn().unwrap()
}

fn assert_each_done_once(store: &dyn Store, n: usize) {
    let docs = store.find_t2(&T2Filter::default()).unwrap();
    assert_eq!(docs.len(), n);
    for d in &docs {
        assert_eq!(d.code, DocumentCode::OK, "{}", d.id);
        assert_eq!(
            d.body.len(),
            1,
            "ticket {} has {} results",
            d.id,
            d.body.len()
        );
        let ok_attempts = d
            .meta
            .iter()
            .filter(|m| m.tier == Tier::T2 && m.code == DocumentCode::OK)
            .count();
        assert_eq!(
            ok_attempts, 1,
            "ticket {} processed {ok_attempts} times",
            d.id
        );
    }
}

#[test]
fn four_worker_processes_process_ten_thousand_tickets_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite:{}", dir.path().join("q.db").display());
    let store = ampel_commands::open_store(&uri).unwrap();
    stock_tickets(store.as_ref(), 10_000, json!({}));
    // all four start claiming at the same moment (see ampel-test-worker)
    let gate = dir.path().join("go");
    let children: Vec<_> = (0..4)
        .map(|i| {
            let mut c = worker_command(&uri, &format!("proc-{i}"), "30", "32");
            c.env("AMPEL_TEST_GATE", &gate);
            c.spawn().unwrap()
        })
        .collect();
    let ready = |i: usize| {
        let mut p = gate.clone().into_os_string();
        p.push(format!(".ready.proc-{i}"));
        std::path::PathBuf::from(p).exists()
    };
    while !(0..4).all(ready) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::fs::write(&gate, b"").unwrap();
    let mut total = 0;
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let n: usize = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        assert!(n > 0, "every process took part");
        total += n;
    }
    assert_eq!(total, 10_000);
    assert_each_done_once(store.as_ref(), 10_000);
}

#[test]
fn tickets_of_a_killed_worker_are_finished_at_once_by_the_next_worker_under_its_run() {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite:{}", dir.path().join("kill.db").display());
    let store = ampel_commands::open_store(&uri).unwrap();
    stock_tickets(store.as_ref(), 40, json!({ "sleep_ms": 100 }));
    // a long lease: the next worker does not wait for it, it sees the victim died
    let mut victim = spawn_worker(&uri, "victim", "600", "10");
    // wait until the victim holds tickets, then kill it without warning
    let held = loop {
        let running = store
            .find_t2(&T2Filter {
                code: Some(vec![DocumentCode::RUNNING]),
                ..Default::default()
            })
            .unwrap();
        if !running.is_empty() {
            break running.into_iter().map(|d| d.id).collect::<BTreeSet<_>>();
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    victim.kill().unwrap(); // SIGKILL
    victim.wait().unwrap();
    let events = store.events(&Default::default()).unwrap();
    let victim_run = events.last().unwrap().clone();
    assert!(ampel_core::runs::died(&victim_run), "{victim_run:?}");
    let registry = registry();
    let stats = run_worker(store.as_ref(), &registry, worker("rescuer"));
    assert!(stats.processed >= held.len(), "{stats:?}");
    assert_each_done_once(store.as_ref(), 40);
    // the rescuer took the dead run over: one run, finished
    let after = store.events(&Default::default()).unwrap();
    assert_eq!(after.len(), events.len(), "{after:?}");
    let run = after.last().unwrap();
    assert_eq!(
        (run.run, run.code),
        (victim_run.run, ampel_interface::EventCode::OK)
    );
    for id in held {
        let d = store.get_t2(&id).unwrap().unwrap();
        assert_eq!(d.lease, None);
        let done = d
            .meta
            .iter()
            .find(|m| m.tier == Tier::T2 && m.code == DocumentCode::OK)
            .unwrap();
        assert_eq!(
            done.run, victim_run.run,
            "finished under the run taken over"
        );
    }
}

#[test]
fn failures_get_codes_and_trouble_records_and_the_worker_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("f.db")).unwrap();
    let registry = registry();
    // a unit error on every 5th stock: retried with backoff, then TOO_MANY_TRIALS
    stock_tickets(&store, 20, json!({ "fail_every": 5 }));
    // a ticket whose config hash is unknown, one whose stored config no longer validates
    let mut bad = T2Request {
        identity: T2Identity {
            stock: 1,
            unit: "TouchStock".into(),
            config: Some(12345),
            link: 1,
        },
        col: T2Kind::Stock,
        channel: ["C".to_string()].into(),
        tag: BTreeSet::new(),
        meta: None,
        expiry: None,
    };
    store.upsert_t2(&[bad.clone()]).unwrap();
    store
        .register_config(777, &json!({ "sleep_ms": "slow" }))
        .unwrap();
    bad.identity.config = Some(777);
    store.upsert_t2(&[bad.clone()]).unwrap();
    // a state whose datapoint is missing, with a summary ticket
    let state = T1Document {
        stock: 3,
        link: 99,
        dps: vec![1, 2],
        channel: ["C".to_string()].into(),
        tag: BTreeSet::new(),
        code: DocumentCode::OK,
        meta: vec![],
        body: vec![],
    };
    store.upsert_states(&[state]).unwrap();
    store
        .upsert_datapoints(&[ampel_store::conformance::dp(1, 3, &["C"], 1)])
        .unwrap();
    let summary = registry
        .get("T2MagSummary")
        .unwrap()
        .check(&Value::Null)
        .unwrap();
    store
        .register_config(summary.hash, &summary.normalized)
        .unwrap();
    let mut t = bad.clone();
    t.identity = T2Identity {
        stock: 3,
        unit: "T2MagSummary".into(),
        config: Some(summary.hash),
        link: 99,
    };
    t.col = T2Kind::State;
    store.upsert_t2(&[t]).unwrap();

    let stats = run_worker(
        &store,
        &registry,
        T2WorkerConfig {
            max_try: 3,
            ..worker("w")
        },
    );
    assert_eq!(stats.ok["TouchStock"], 16);
    let by_code = |c: DocumentCode| {
        store
            .find_t2(&T2Filter {
                code: Some(vec![c]),
                ..Default::default()
            })
            .unwrap()
    };
    assert_eq!(
        by_code(DocumentCode::TOO_MANY_TRIALS).len(),
        4,
        "stocks 0, 5, 10, 15"
    );
    assert_eq!(by_code(DocumentCode::UNKNOWN_CONFIG).len(), 2);
    let missing = by_code(DocumentCode::MISSING_INFO);
    assert_eq!(missing.len(), 1);
    let troubles = store.troubles(&TroubleQuery::default()).unwrap();
    let msg = |needle: &str| troubles.iter().any(|t| t.message.contains(needle));
    assert!(msg("stock 5 is unlucky"), "{troubles:#?}");
    assert!(msg("gave up after 3 attempts"));
    assert!(msg("config 12345 of unit TouchStock is not registered"));
    assert!(msg("the unit cannot be built from its stored config"));
    assert!(msg("state 99 references missing datapoints [2]"));
    assert!(troubles
        .iter()
        .filter(|t| t.stock == Some(5))
        .all(|t| t.doc.is_some() && t.unit.as_deref() == Some("TouchStock")));
}

#[test]
fn results_of_another_unit_version_are_listed_as_outdated_and_can_be_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("o.db")).unwrap();
    let v1 = registry();
    stock_tickets(&store, 5, json!({}));
    run_worker(&store, &v1, worker("w"));
    assert!(outdated(&v1, &store, &T2Filter::default())
        .unwrap()
        .is_empty());
    let mut v2 = Registry::new();
    v2.stock_t2::<TouchStockV2>().unwrap();
    let old = outdated(&v2, &store, &T2Filter::default()).unwrap();
    assert_eq!(old.len(), 5);
    assert_eq!(old[0].made_by_trace.as_ref().unwrap().version, "1.0.0");
    assert_eq!(old[0].current.as_ref().unwrap().version, "2.0.0");
    // nothing is recomputed silently: the old result stays current until a reset
    assert_eq!(old[0].doc.code, DocumentCode::OK);
    store
        .reset_t2(
            &T2Filter::default(),
            DocumentCode::RERUN_REQUESTED,
            ResetMode::CodeOnly,
        )
        .unwrap();
    run_worker(&store, &v2, worker("w2"));
    assert!(outdated(&v2, &store, &T2Filter::default())
        .unwrap()
        .is_empty());
    let d = store.find_t2(&T2Filter::default()).unwrap().remove(0);
    assert_eq!(
        d.body.len(),
        2,
        "the old result is kept, the new one is current"
    );
}

#[test]
fn units_reading_named_fields_give_the_results_of_whole_datapoints() {
    let registry = registry();
    let cfg: T0Config = serde_json::from_value(json!({
        "supplier": {"unit": "ZiAlertSupplier"},
        "shaper": {"unit": "ZiDataPointShaper"},
        "muxer": {"unit": "ZiMuxer"},
        "directives": [{"channel": "ALL", "access": ["ZTF_PUB", "ZTF_PRIV"], "ingest": {"combine": [{"unit": "ZiT1Combiner",
            "state_t2": [{"unit": "T2MagSummary"}, {"unit": "T2RiseDeclineFit"}, {"unit": "T2FastRiser"}]}]}}]
    }))
    .unwrap();
    let mut results = Vec::new();
    for named_fields in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("t2.db")).unwrap();
        ampel_tests::ingest_archive(
            cfg.clone(),
            &registry,
            &store,
            &ampel_tests::real_alerts().join("ztf"),
        );
        let stats = run_worker(
            &store,
            &registry,
            T2WorkerConfig {
                named_fields,
                ..worker("w")
            },
        );
        assert!(stats.failed.is_empty(), "{stats:?}");
        let by_ticket: Vec<(String, Option<Value>, BTreeSet<String>)> = store
            .find_t2(&T2Filter::default())
            .unwrap()
            .into_iter()
            .map(|d| (d.id.clone(), d.current_result().cloned(), d.tag.clone()))
            .collect();
        results.push((stats.ok, by_ticket));
    }
    let n: usize = results[0].0.values().sum();
    assert!(n > 300, "{:?}", results[0].0);
    assert_eq!(results[0].0, results[1].0, "same counts");
    assert_eq!(results[0].1, results[1].1, "same results and tags");
    assert!(
        results[0].1.iter().all(|(_, r, _)| r.is_some()),
        "every ticket has a result"
    );
}
