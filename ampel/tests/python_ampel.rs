//! One MongoDB database shared with Python AMPEL (ampel-core 0.10.6a28, ampel-ztf
//! 0.10.3a9, in the venv `scripts/test` makes), on the tests' MongoDB-compatible
//! server, both ways, on the real ZTF alerts:
//! - this project's T0 ingests with `T2LightCurveSummary` tickets, Python AMPEL's
//!   own T2Worker processes them, and its DB layer (T3StockSelector, DataLoader,
//!   TransientView) loads the stocks, datapoints, states and results; the results
//!   equal those of this project's T2 worker on the same tickets, and this project
//!   reads what Python AMPEL wrote;
//! - Python AMPEL's AlertConsumer ingests (two channels), this project opens that
//!   database, its T2 worker processes the tickets (results equal to Python AMPEL's
//!   T2Worker's on the same database) and its T3 selects the stocks.

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
    let prefix = prefix_of;
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

/// The prefix of a store URI.
fn prefix_of(uri: &str) -> String {
    uri.rsplit_once('/')
        .unwrap()
        .1
        .split('?')
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn a_database_python_ampels_alert_consumer_wrote_opens_here_and_its_tickets_and_stocks_are_processed(
) {
    let server = TestServer::own();
    let dir = tempfile::tempdir().unwrap();
    let alerts = real_alerts().join("ztf/fink-2020-v3.3");
    let alerts = alerts.to_str().unwrap();
    // the same ingestion by Python AMPEL's AlertConsumer twice: T2 by this project
    // in one database, by Python AMPEL in the other
    let (rs, py) = (server.store("pyt0rust"), server.store("pyt0python"));
    for db in [&rs, &py] {
        let t0 = pyampel(&server, &prefix_of(db), "t0", alerts);
        assert_eq!(t0["alerts"], 50, "{t0}");
        assert_eq!(t0["counts"]["t2"], 50, "{t0}: one ticket per state");
        // rb > 0.3 and magpsf < 20.5; magpsf < 16 (counted from the alerts)
        assert_eq!(
            t0["channels"],
            serde_json::json!({"CHAN_BASIC": 40, "CHAN_BRIGHT": 34})
        );
    }

    // opened without refusal; this project's T2 worker runs Python AMPEL's tickets
    let info = ampel_json(&["--db", &rs, "db", "info"], dir.path());
    assert_eq!(info["counts"]["t2"], 50, "{info}");
    let run = ampel_json(&["--db", &rs, "t2", "run", "--until-empty"], dir.path());
    assert_eq!(run["processed"], 50, "{run}");
    assert_eq!(run["ok"]["T2LightCurveSummary"], 50, "{run}");
    let again = ampel_json(&["--db", &rs, "t2", "run", "--until-empty"], dir.path());
    assert_eq!(
        again["processed"], 0,
        "the same computation is not done twice"
    );
    let done = pyampel(&server, &prefix_of(&py), "t2", "T2LightCurveSummary");
    assert_eq!(done["codes"], serde_json::json!({"0": 50}), "{done}");

    // both databases load alike in Python AMPEL: same stocks, datapoints, journal
    // entries and results (this project's results where Python AMPEL's are)
    for channel in ["CHAN_BASIC", "CHAN_BRIGHT"] {
        let by_rust = pyampel(&server, &prefix_of(&rs), "load", channel);
        let by_python = pyampel(&server, &prefix_of(&py), "load", channel);
        assert_eq!(by_rust, by_python, "{channel}");
        for (stock, s) in by_rust["stocks"].as_object().unwrap() {
            assert_eq!(s["journal"], 2, "{stock}: T0 and T2 entries");
            assert!(
                s["t2"]["T2LightCurveSummary"]["num_detections"].as_u64() >= Some(1),
                "{stock}: {s}"
            );
        }
    }

    // this project's T3 selects its stocks (channel and T2 result) and reports them
    std::fs::write(
        dir.path().join("t3.toml"),
        r#"process = "t3_bright"
select = { channel_any = ["CHAN_BRIGHT"], t2 = [{ unit = "T2LightCurveSummary", field = "num_detections", operator = ">=", value = 1 }] }
units = [{ unit = "T3ReportExporter", channel = "CHAN_BRIGHT" }]
"#,
    )
    .unwrap();
    let t3 = ampel_json(
        &["--db", &rs, "t3", "--config", "t3.toml", "--out", "out"],
        dir.path(),
    );
    assert_eq!(t3["selected"], 34, "{t3}");
    assert_eq!(t3["failed"], serde_json::json!([]), "{t3}");
    let report = report_run(&dir.path().join("out/report"));
    let plots = report.join("plots");
    assert_eq!(std::fs::read_dir(&plots).unwrap().count(), 34, "{plots:?}");

    // and the rest reads it: results by name, runs, logs, the digest
    let shown = ampel_json(&["--db", &rs, "t2", "show", "ZTF18acpxdyo"], dir.path()).to_string();
    assert!(shown.contains("\"sgscore1\""), "{shown}");
    let events = ampel_json(&["--db", &rs, "event"], dir.path()).to_string();
    for process in ["py_t0", "t2", "t3_bright"] {
        assert!(events.contains(&format!("\"{process}\"")), "{events}");
    }
    ok(dir.path(), &["--db", &rs, "log"]);
    ok(dir.path(), &["--db", &rs, "digest"]);
}
