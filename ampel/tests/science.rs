//! The shipped ZTF instances on every real ZTF alert of `tests/data` (135 alerts of
//! 2018-2020, 5 files damaged upstream): the demo's channels keep only detections
//! that pass their real-bogus, history and star cuts, and the features instance's
//! report shows the fit and feature results its T2 units stored, object by object.

mod support;

use serde_json::Value;
use std::path::Path;
use support::*;

/// Every line of a collection of a `db export` dump.
fn dump(dir: &Path, collection: &str) -> Vec<Value> {
    std::fs::read_to_string(dir.join(collection).with_extension("jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The manifest `name` of `manifests/` copied into `d` with absolute crate paths.
fn shipped(d: &Path, name: &str) -> String {
    let text = std::fs::read_to_string(repo().join("manifests").join(name))
        .unwrap()
        .replace(
            "path = \"../units/",
            &format!("path = \"{}/units/", repo().display()),
        );
    let path = d.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn job(d: &Path, manifest: &str, db: &str) -> Value {
    manifest_job(
        d,
        db,
        manifest,
        &real_alerts().join("ztf"),
        &["--out", "out"],
    )
}

#[test]
fn the_demo_channels_keep_only_detections_that_pass_their_cuts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = job(d, &shipped(d, "ztf-demo.toml"), "sqlite:demo.db");
    let t0 = &run["tasks"][0];
    assert_eq!(t0["alerts"], 135, "{t0}");
    assert_eq!(t0["damaged"].as_array().unwrap().len(), 5, "{t0}");
    ampel(&["--db", "sqlite:demo.db", "db", "export", "dump"], d);
    let dps = dump(&d.join("dump"), "t0");
    let stocks = dump(&d.join("dump"), "stock");
    assert!(!stocks.is_empty());
    // the damaged inputs: trouble records naming each file and what is wrong
    let damaged = ampel_json(
        &[
            "--db",
            "sqlite:demo.db",
            "trouble",
            "--kind",
            "damaged-input",
        ],
        d,
    );
    let damaged = damaged.as_array().unwrap();
    assert_eq!(damaged.len(), 5, "{damaged:?}");
    for t in damaged {
        assert!(t["doc"].as_str().unwrap().ends_with(".avro"), "{t}");
        let m = t["message"].as_str().unwrap();
        assert!(m.contains("truncated") || m.contains("union index"), "{t}");
    }
    // `view`: the object as a reader wants it, the same as the stored documents
    let v = ampel_json(&["--db", "sqlite:demo.db", "view", "ZTF18aaudxok"], d);
    let mine: Vec<&Value> = dps
        .iter()
        .filter(|p| p["stock"][0] == v["summary"]["stock"])
        .collect();
    let lc = v["light_curve"].as_array().unwrap();
    assert_eq!(lc.len(), mine.len());
    assert_eq!(
        v["summary"]["ndet"].as_u64().unwrap() as usize,
        mine.iter()
            .filter(|p| p["id"].as_i64().unwrap() > 0)
            .count()
    );
    for p in lc {
        let stored = mine.iter().find(|m| m["id"] == p["id"]).unwrap();
        let jd = stored["body"]["jd"].as_f64().unwrap();
        assert!(
            (p["mjd"].as_f64().unwrap() - (jd - 2_400_000.5)).abs() < 1e-9,
            "{p}"
        );
        assert!(
            ["g", "r", "i"].contains(&p["band"].as_str().unwrap()),
            "{p}"
        );
        assert!(p["date"].as_str().unwrap().starts_with("2018-0"), "{p}");
        let key = if p["upper_limit"] == true {
            "diffmaglim"
        } else {
            "magpsf"
        };
        assert_eq!(p["mag"], stored["body"][key], "{p}");
    }
    for t in v["t2"].as_array().unwrap() {
        assert_eq!(t["id"].as_str().unwrap().len(), 32, "{t}");
        assert!(t["result"].is_object(), "{t}");
    }
    let words: Vec<&str> = v["journal"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|j| {
            j["actions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
        })
        .collect();
    assert!(words.contains(&"T0_ADD_CHANNEL"), "{words:?}");
    let shown = text(&ampel(&["--db", "sqlite:demo.db", "view", "ZTF18aaudxok"], d).stdout);
    for want in [
        "ZTF18aaudxok (stock",
        "light curve",
        "upper limit",
        "https://fink-portal.org/ZTF18aaudxok",
        "T0_ADD_CHANNEL",
    ] {
        assert!(shown.contains(want), "{want}: {shown}");
    }
    let o = ampel(&["--db", "sqlite:demo.db", "view", "ZTF20aaaaaaa"], d);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("no object `ZTF20aaaaaaa`"),
        "{}",
        text(&o.stderr)
    );

    for s in &stocks {
        // the detections of the object that channels accepted
        let det: Vec<&Value> = dps
            .iter()
            .filter(|p| p["id"].as_i64().unwrap() > 0 && p["stock"][0] == s["stock"])
            .map(|p| &p["body"])
            .collect();
        let latest = det
            .iter()
            .max_by(|a, b| {
                a["jd"]
                    .as_f64()
                    .unwrap()
                    .total_cmp(&b["jd"].as_f64().unwrap())
            })
            .unwrap();
        let chans = s["channel"].as_array().unwrap();
        if chans.contains(&Value::from("DEMO_DECENT")) {
            assert!(det.len() >= 2, "{s}");
            assert!(latest["rb"].as_f64().unwrap() >= 0.3, "{latest}");
            if let Some(drb) = latest["drb"].as_f64() {
                assert!(drb >= 0.5, "{latest}");
            }
        }
        if chans.contains(&Value::from("DEMO_BRIGHT")) {
            // bypass: a known object skips the filter, so the cuts hold for the
            // detection that first made it a member
            assert!(
                det.iter().any(|p| p["rb"].as_f64().unwrap() >= 0.5
                    && p["magpsf"].as_f64().unwrap() < 18.5
                    && ["t", "1"].contains(&p["isdiffpos"].as_str().unwrap())),
                "{s}"
            );
        }
    }
}

#[test]
fn the_features_report_shows_the_fits_and_features_the_t2_units_stored() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = job(d, &shipped(d, "ztf-features.toml"), "sqlite:f.db");
    assert_eq!(run["tasks"][1]["failed"], serde_json::json!({}), "{run}");
    ampel(&["--db", "sqlite:f.db", "db", "export", "dump"], d);
    let t2 = dump(&d.join("dump"), "t2");
    let t1 = dump(&d.join("dump"), "t1");
    let report = report_run(&d.join("out/report"));
    let rows: Vec<Value> =
        serde_json::from_slice(&std::fs::read(report.join("objects.json")).unwrap()).unwrap();
    assert!(!rows.is_empty());
    // a unit's result on the object's latest state (the one with most datapoints)
    let result = |stock: &Value, unit: &str| -> Value {
        let latest = t1
            .iter()
            .filter(|s| &s["stock"] == stock)
            .max_by_key(|s| s["dps"].as_array().unwrap().len())
            .unwrap();
        t2.iter()
            .find(|t| &t["stock"] == stock && t["unit"] == unit && t["link"] == latest["link"])
            .map(|t| t["body"].as_array().unwrap().last().unwrap().clone())
            .unwrap()
    };
    let mut with_bazin = 0;
    for r in &rows {
        // the band with most points of each unit's result
        let fit = result(&r["stock"], "T2RiseDeclineFit");
        let band = fit["bands"]
            .as_object()
            .unwrap()
            .values()
            .max_by_key(|b| b["n"].as_u64())
            .unwrap();
        assert_eq!(r["rise_mag_per_day"], band["rise"]["slope"], "{r}");
        assert_eq!(r["decline_mag_per_day"], band["decline"]["slope"], "{r}");
        let feats = result(&r["stock"], "T2LcFeatures");
        let fb = feats["bands"]
            .as_object()
            .unwrap()
            .values()
            .max_by_key(|b| b["flux_points"].as_u64())
            .unwrap();
        assert_eq!(
            r["bazin_rise_days"], fb["bazin"]["bazin_fit_rise_time"],
            "{r}"
        );
        assert_eq!(
            r["bazin_fall_days"], fb["bazin"]["bazin_fit_fall_time"],
            "{r}"
        );
        if r["bazin_rise_days"].is_number() {
            with_bazin += 1;
        }
        // the object's page carries every result in full
        let page = std::fs::read_to_string(report.join(r["page"].as_str().unwrap())).unwrap();
        for unit in [
            "T2MagSummary",
            "T2RiseDeclineFit",
            "T2FastRiser",
            "T2LcFeatures",
        ] {
            assert!(page.contains(&format!(">{unit}</h3>")), "{unit}");
        }
        assert!(page.contains("bazin_fit_amplitude") || !page.contains("\"bazin\""));
    }
    assert!(with_bazin > 0, "a Bazin fit is shown: {rows:?}");
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    for col in [
        "<th>peak g</th>",
        "<th>peak r</th>",
        "<th>rise</th>",
        "<th>Bazin rise (d)</th>",
    ] {
        assert!(html.contains(col), "{col}");
    }
}

#[test]
fn a_t0_run_ends_with_its_refusals_grouped_by_reason() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let manifest = shipped(d, "ztf-demo.toml");
    let alerts = real_alerts().join("ztf");
    let args = [
        "--db",
        "sqlite:t0.db",
        "t0",
        "--manifest",
        &manifest,
        "--source",
        alerts.to_str().unwrap(),
    ];
    let v = ampel_json(&args, d);
    let groups = v["refusals"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{groups:?}");
    assert_eq!(
        groups[0]["reason"],
        "truncated file: end of data inside the sync marker after the block"
    );
    assert_eq!(groups[0]["count"], 3);
    assert_eq!(
        groups[1]["reason"],
        "union index N out of range N at byte N"
    );
    assert_eq!(groups[1]["count"], 2);
    for g in groups {
        for e in g["examples"].as_array().unwrap() {
            assert!(e.as_str().unwrap().contains("ampel-2018-v1.8/"), "{e}");
        }
    }
    // and the table a person reads says it too, for a rerun into another store
    let mut args = args.to_vec();
    args[1] = "sqlite:t0b.db";
    let shown = text(&ampel(&args, d).stdout);
    assert!(shown.contains("refused: truncated file"), "{shown}");
    assert!(
        shown.contains("516434762915010006.avro (alert 0)"),
        "{shown}"
    );
}
