//! `ampel export` read back as a notebook reads it: pandas (CSV and Parquet),
//! astropy's Table and pyarrow's metadata, in the venv `scripts/test` makes
//! (pandas 3.1.1, pyarrow 26.0.1, astropy 8.0.2). The ZTF features instance on
//! every real ZTF alert gives the store; the exported light curves must be the
//! light curves `ampel view` shows, value for value, and the T2 export every T2
//! document with its latest result.

mod support;

use serde_json::{json, Value};
use support::*;

#[test]
fn exports_load_in_pandas_and_astropy_with_the_values_view_shows() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let manifest = std::fs::read_to_string(repo().join("manifests/ztf-features.toml"))
        .unwrap()
        .replace(
            "path = \"../units/",
            &format!("path = \"{}/units/", repo().display()),
        );
    std::fs::write(d.join("f.toml"), manifest).unwrap();
    let alerts = real_alerts().join("ztf");
    ampel_json(
        &[
            "--db",
            "sqlite:f.db",
            "job",
            "--manifest",
            "f.toml",
            "--inputs",
            alerts.to_str().unwrap(),
        ],
        d,
    );
    let db = ["--db", "sqlite:f.db"];
    let export = |args: &[&str]| {
        let mut a = db.to_vec();
        a.extend_from_slice(args);
        ampel_json(&a, d)
    };
    let lc = export(&["export", "lightcurves", "-o", "lc.parquet"]);
    export(&["export", "lightcurves", "-o", "lc.csv"]);
    export(&["export", "t2", "--unit", "T2LcFeatures", "-o", "t2.parquet"]);
    export(&["export", "t2", "-o", "t2.csv"]);
    let got = ampel_tests::python::run_json(
        &ampel_tests::python::notebook_python(),
        "tests/python/read_exports.py",
        &json!({
            "lightcurves": {"csv": d.join("lc.csv"), "parquet": d.join("lc.parquet")},
            "t2": {"csv": d.join("t2.csv"), "parquet": d.join("t2.parquet")},
        }),
    );
    let l = &got["lightcurves"];
    let rows = lc["rows"].as_u64().unwrap();
    assert!(rows > 50, "{lc}");
    for form in ["csv", "parquet"] {
        assert_eq!(l[form]["rows"], rows, "{form}");
        let t = &l[form]["dtypes"];
        for (c, want) in [
            ("mjd", "float64"),
            ("mag_ab", "float64"),
            ("flux_njy", "float64"),
            ("stock", "int64"),
            ("upper_limit", "bool"),
        ] {
            assert_eq!(t[c], want, "{form} {c}: {t}");
        }
    }
    assert_eq!(
        l["csv"]["records"], l["parquet"]["records"],
        "CSV and Parquet read the same"
    );
    assert_eq!(l["astropy"]["rows"], rows);
    assert_eq!(l["units"]["flux_njy"], "nJy");
    assert!(l["units"]["mjd"].as_str().unwrap().starts_with("d (MJD"));
    // each object's rows are its light curve as `view` shows it
    let records = l["parquet"]["records"].as_array().unwrap();
    let objects: std::collections::BTreeSet<&str> = records
        .iter()
        .map(|r| r["object"].as_str().unwrap())
        .collect();
    assert!(objects.len() >= 2, "{objects:?}");
    for o in objects {
        let v = ampel_json(&["--db", "sqlite:f.db", "view", o], d);
        let mine: Vec<&Value> = records.iter().filter(|r| r["object"] == o).collect();
        let lcv = v["light_curve"].as_array().unwrap();
        assert_eq!(mine.len(), lcv.len(), "{o}");
        for (r, p) in mine.iter().zip(lcv) {
            assert_eq!(r["datapoint"], p["id"]);
            assert_eq!(r["mjd"], p["mjd"]);
            assert_eq!(r["date_utc"], p["date"]);
            assert_eq!(r["band"], p["band"]);
            assert_eq!(r["mag_ab"], p["mag"]);
            assert_eq!(r["flux_njy"], p["flux"]);
            assert_eq!(r["upper_limit"], p["upper_limit"]);
            assert_eq!(r["rb"], p["rb"]);
        }
    }
    // T2: every document, the latest result as JSON; with --unit its values as columns
    let t2 = &got["t2"];
    let docs = ampel_json(&["--db", "sqlite:f.db", "t2", "list"], d);
    assert_eq!(t2["csv"]["rows"], docs.as_array().unwrap().len());
    for r in t2["csv"]["records"].as_array().unwrap() {
        let result: Value = serde_json::from_str(r["result"].as_str().unwrap()).unwrap();
        assert!(result.is_object(), "{r}");
    }
    let feats = t2["parquet"]["records"].as_array().unwrap();
    assert!(t2["parquet"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c.as_str().unwrap().starts_with("result.bands.")
            && c.as_str().unwrap().ends_with(".features.amplitude")));
    for r in feats {
        let result: Value = serde_json::from_str(r["result"].as_str().unwrap()).unwrap();
        for (band, b) in result["bands"].as_object().unwrap() {
            // (pandas reads an integer column with nulls as float64)
            let col = format!("result.bands.{band}.mag_points");
            assert_eq!(r[&col].as_f64(), b["mag_points"].as_f64(), "{col}");
        }
    }
    assert_eq!(t2["astropy"]["rows"], feats.len());
}
