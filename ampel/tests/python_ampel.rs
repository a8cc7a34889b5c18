//! One MongoDB database shared with Python AMPEL (ampel-core 0.10.6a28, ampel-ztf
//! 0.10.3a9, in the venv `scripts/test` makes), on the tests' MongoDB-compatible
//! server: this project's T0 ingests the real ZTF alerts with
//! `T2LightCurveSummary` tickets, Python AMPEL's own T2Worker processes them, and
//! its DB layer (T3StockSelector, DataLoader, TransientView) loads the stocks,
//! datapoints, states and results; the results equal those of this project's T2
//! worker on the same tickets, and this project reads what Python AMPEL wrote.

mod support;

use ampel_tests::mongo::TestServer;
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use support::*;

const T0: &str = r#"process = "rust_t0"
supplier = { unit = "ZiAlertSupplier" }
shaper = { unit = "ZiDataPointShaper" }

[[directives]]
channel = "CHAN_BASIC"
access = ["ZTF_PUB"]
[[directives.ingest.combine]]
unit = "ZiT1Combiner"
state_t2 = [{ unit = "T2LightCurveSummary" }]
"#;

/// `tests/python/pyampel_on_store.py` on `prefix`; its JSON output.
fn pyampel(server: &TestServer, prefix: &str, what: &str, arg: &str) -> Value {
    let out = Command::new(ampel_tests::python::pyampel_python())
        .arg(repo().join("tests/python/pyampel_on_store.py"))
        .arg(ampel_tests::python::pyampel_config())
        .arg(server.store(""))
        .args([prefix, what, arg])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python ampel {what}: {}",
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)))
}

fn ok(dir: &Path, args: &[&str]) -> std::process::Output {
    let out = ampel(args, dir);
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    out
}

#[test]
fn python_ampel_processes_and_loads_what_this_project_ingested() {
    let server = TestServer::own();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t0.toml"), T0).unwrap();
    let alerts = real_alerts().join("ztf/fink-2020-v3.3");
    let alerts = alerts.to_str().unwrap();
    // two prefixes with the same ingestion; T2 by Python AMPEL in one, by this
    // project in the other
    let (py, rs) = (server.store("bypython"), server.store("byrust"));
    let prefix = |uri: &str| {
        uri.rsplit_once('/')
            .unwrap()
            .1
            .split('?')
            .next()
            .unwrap()
            .to_string()
    };
    for db in [&py, &rs] {
        ok(
            dir.path(),
            &["--db", db, "t0", "--config", "t0.toml", "--source", alerts],
        );
    }
    let done = pyampel(&server, &prefix(&py), "t2", "T2LightCurveSummary");
    assert_eq!(done["codes"], serde_json::json!({"0": 50}), "{done}");
    ok(dir.path(), &["--db", &rs, "t2", "run", "--until-empty"]);

    // Python AMPEL's DB layer loads both; the results are the same
    let by_python = pyampel(&server, &prefix(&py), "load", "CHAN_BASIC");
    let by_rust = pyampel(&server, &prefix(&rs), "load", "CHAN_BASIC");
    assert_eq!(by_python["selected"], 50);
    assert_eq!(by_python, by_rust);
    let stocks = by_rust["stocks"].as_object().unwrap();
    assert_eq!(stocks.len(), 50);
    for (stock, s) in stocks {
        assert_eq!(s["lightcurves"], 1, "{stock}");
        assert!(s["photopoints"].as_u64().unwrap() >= 1, "{stock}");
        assert!(!s["t0"].as_array().unwrap().is_empty(), "{stock}");
        assert_eq!(s["journal"], 2, "{stock}: T0 and T2 entries");
        assert!(
            s["t2"]["T2LightCurveSummary"]["num_detections"].as_u64() >= Some(1),
            "{stock}: {s}"
        );
    }

    // and this project reads what Python AMPEL's worker wrote
    let name = stocks.values().next().unwrap()["name"][0]
        .as_str()
        .unwrap()
        .to_string();
    let show = ampel_json(&["--db", &py, "t2", "show", &name], dir.path());
    let shown = show.to_string();
    assert!(shown.contains("num_detections"), "{shown}");
    let listed = ampel_json(&["--db", &py, "t2", "list", "--code", "0"], dir.path());
    assert_eq!(listed.as_array().unwrap().len(), 50);
    ok(dir.path(), &["--db", &py, "digest"]);
}
