//! Surveys without their own crate: alerts of DECam (DESIRT), WINTER, ATLAS and
//! ELAsTiCC, written to their published schemas by `tests/python/survey_alerts.py`
//! (fastavro, notebook venv), ingest through the shipped survey mappings of
//! `manifests/surveys-demo.toml` with the datapoint ids, counts, objects and
//! light curves the writer put in; a ZTF and a Rubin packet fed to the same
//! instance are refused naming what they are.

mod support;

use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use support::*;

fn manifest() -> String {
    repo()
        .join("manifests/surveys-demo.toml")
        .display()
        .to_string()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

/// One survey's alerts: counts, ids, objects, and each object's light curve as
/// `ampel view NAME --json` shows it.
fn check_survey(d: &Path, survey: &str, w: &Value) {
    let db = format!("sqlite:{survey}.db");
    let dir = w["dir"].as_str().unwrap();
    let run = ampel_json(
        &[
            "--db",
            &db,
            "t0",
            "--manifest",
            &manifest(),
            "--source",
            dir,
        ],
        d,
    );
    let alerts = w["alerts"].as_u64().unwrap();
    assert_eq!(run["stats"]["alerts"], json!(alerts), "{survey}");
    assert_eq!(run["stats"]["ingested"], json!(alerts), "{survey}");
    assert_eq!(run["refusals"], json!([]), "{survey}: nothing refused");
    assert_eq!(run["stats"]["errors"], json!(0), "{survey}");
    let objects = w["objects"].as_array().unwrap();
    assert_eq!(
        run["stats"]["stocks"]["inserted"],
        json!(objects.len()),
        "{survey}: one stock per object"
    );

    let ids = exported_ids(&export_store(d, &db));
    assert_eq!(
        ids.len() as u64,
        w["datapoints"].as_u64().unwrap(),
        "{survey}: every distinct measurement once"
    );
    let named: BTreeSet<i64> = w["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert!(named.is_subset(&ids), "{survey}: the packets' own ids");
    assert_eq!(
        (ids.len() - named.len()) as u64,
        w["unnamed"].as_u64().unwrap(),
        "{survey}: measurements without an id get one from their content, once each"
    );

    for name in objects {
        let name = name.as_str().unwrap();
        let view = ampel_json(&["--db", &db, "view", name], d);
        let labels: Vec<&str> = view["links"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["label"].as_str().unwrap())
            .collect();
        assert_eq!(
            labels,
            ["TNS", "SIMBAD"],
            "{survey} {name}: by position only (brokers do not know the survey's names)"
        );
        let lc = view["light_curve"].as_array().unwrap();
        let want = w["points"][name].as_array().unwrap();
        assert_eq!(lc.len(), want.len(), "{survey} {name}: {lc:?}");
        for (got, want) in lc.iter().zip(want) {
            let kind = want[3].as_str().unwrap();
            assert!(
                close(
                    got["mjd"].as_f64().unwrap(),
                    want[0].as_f64().unwrap(),
                    1e-6
                ),
                "{survey} {name}: {got} vs {want}"
            );
            assert_eq!(got["band"], want[1], "{survey} {name}");
            match kind {
                "limit" => assert_eq!(got["upper_limit"], json!(true), "{survey} {name}"),
                "forced" => assert_eq!(got["forced"], json!(true), "{survey} {name}"),
                _ => assert_eq!(
                    (got["forced"].clone(), got["upper_limit"].clone()),
                    (json!(false), json!(false)),
                    "{survey} {name}"
                ),
            }
            if want[2].is_null() && kind != "limit" {
                assert_eq!(got["mag"], json!(null), "{survey} {name}: {got} vs {want}");
            }
            if let Some(m) = want[2].as_f64().filter(|_| kind != "limit") {
                // float32 fields in the packets: 1e-4 mag
                assert!(
                    close(got["mag"].as_f64().unwrap(), m, 1e-4),
                    "{survey} {name}: {got} vs {want}"
                );
            }
        }
    }
}

#[test]
fn four_surveys_ingest_through_their_shipped_mappings() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let written = ampel_tests::python::run_json(
        &ampel_tests::python::notebook_python(),
        "tests/python/survey_alerts.py",
        &json!({ "out": d.join("alerts") }),
    );
    for survey in ["atlas", "decam", "winter", "elasticc"] {
        check_survey(d, survey, &written[survey]);
    }

    // all four at once, with a real ZTF and a real Rubin packet the mappings do not
    // fit: each survey's channel takes its own alerts, the two are refused naming
    // what they are and which supplier reads them
    let strangers = d.join("strangers");
    std::fs::create_dir_all(&strangers).unwrap();
    for (from, to) in [
        ("ztf/fink-2020-v3.3", "ztf.avro"),
        ("lsst/fink-rubin-v9.0", "rubin.avro"),
    ] {
        let mut files: Vec<_> = std::fs::read_dir(real_alerts().join(from))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "avro"))
            .collect();
        files.sort();
        let src = files.remove(0);
        std::fs::copy(&src, strangers.join(to)).unwrap();
    }
    let mut args: Vec<String> = [
        "--db",
        "sqlite:all.db",
        "t0",
        "--manifest",
        &manifest(),
        "--source",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for s in ["atlas", "decam", "winter", "elasticc"] {
        args.push(written[s]["dir"].as_str().unwrap().to_string());
    }
    args.push(strangers.display().to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = ampel_json(&args, d);
    let total: u64 = ["atlas", "decam", "winter", "elasticc"]
        .iter()
        .map(|s| written[s]["alerts"].as_u64().unwrap())
        .sum();
    assert_eq!(run["stats"]["ingested"], json!(total));
    for (channel, survey) in [("ATLAS", "atlas"), ("DECAM", "decam"), ("WINTER", "winter")] {
        assert_eq!(
            run["stats"]["accepted"][channel], written[survey]["alerts"],
            "{channel} takes its survey's alerts and only those"
        );
    }
    let refusals = run["refusals"].as_array().unwrap();
    let reasons: Vec<&str> = refusals
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("it looks like a ZTF alert")
                && r.contains("ZiAlertSupplier reads it")
                && r.contains("ATLAS lacks `candidate.Mag`")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("it looks like a Rubin alert") && r.contains("LsstAlertSupplier")),
        "{reasons:?}"
    );
}
