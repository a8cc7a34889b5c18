//! Alerts as brokers and archives re-write them: every real ZTF alert file of
//! `tests/data` (fink-2020 3.3, fink-2019 3.1/3.2, boom 4.02, ampel-2018 1.8; the 5
//! files damaged upstream left out) and every real Rubin alert (Fink's v9.0
//! re-writes), re-written by `tests/python/rewrite_alerts.py` (fastavro, in the
//! notebook venv) in four ways: the top record renamed `topLevelRecord`; Spark's
//! shape (every field a nullable union, snappy blocks); fields added at the top and
//! inside the candidate / diaSource; the alert-level id dropped (it stays inside
//! the candidate / diaSource). Each variant must ingest with the same datapoint ids
//! and counts as the originals, and nothing refused.

mod support;

use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use support::*;

/// Datapoint ids and stocks a T0 run of `config` on `sources` leaves in a fresh
/// store, with its alert count and refusals.
fn ingest(
    d: &Path,
    config: &str,
    sources: &[PathBuf],
    name: &str,
) -> (usize, BTreeSet<i64>, usize, Value) {
    let db = format!("sqlite:{name}.db");
    let mut args: Vec<String> = ["--db", &db, "t0", "--config", config, "--source"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(sources.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = ampel_json(&args, d);
    let out = export_store(d, &db);
    let ids = exported_ids(&out);
    let stocks = std::fs::read_to_string(out.join("stock.jsonl"))
        .unwrap()
        .lines()
        .count();
    (
        run["stats"]["alerts"].as_u64().unwrap() as usize,
        ids,
        stocks,
        run["refusals"].clone(),
    )
}

fn avro_files(dirs: &[&str]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = dirs
        .iter()
        .flat_map(|d| std::fs::read_dir(real_alerts().join(d)).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "avro"))
        .collect();
    out.sort();
    out
}

fn check(d: &Path, survey: &str, config: &str, inputs: Vec<PathBuf>, id_field: &str, inner: &str) {
    let out = d.join(survey);
    let got = ampel_tests::python::run_json(
        &ampel_tests::python::notebook_python(),
        "tests/python/rewrite_alerts.py",
        &json!({"inputs": inputs, "out": out, "id_field": id_field, "inner": inner}),
    );
    let read: Vec<PathBuf> = got["read"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| PathBuf::from(p.as_str().unwrap()))
        .collect();
    let (alerts, ids, stocks, refusals) = ingest(d, config, &read, &format!("{survey}-original"));
    assert!(
        alerts >= read.len() && !ids.is_empty(),
        "{survey}: {alerts} alerts"
    );
    assert_eq!(refusals, json!([]), "{survey} originals");
    for variant in ["renamed", "spark", "extra", "dropped"] {
        let files = got["variants"][variant].as_array().unwrap();
        assert_eq!(files.len(), read.len(), "{survey} {variant}");
        let (a, i, s, r) = ingest(
            d,
            config,
            &[out.join(variant)],
            &format!("{survey}-{variant}"),
        );
        assert_eq!(r, json!([]), "{survey} {variant}: nothing refused");
        assert_eq!(a, alerts, "{survey} {variant}: alerts");
        assert_eq!(s, stocks, "{survey} {variant}: stocks");
        assert_eq!(i, ids, "{survey} {variant}: the same datapoint ids");
    }
}

#[test]
fn rewritten_ztf_and_rubin_packets_ingest_like_the_originals() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("ztf.toml"),
        "process = \"t0\"\nsupplier = { unit = \"ZiAlertSupplier\" }\nshaper = { unit = \"ZiDataPointShaper\" }\n\n\
         [[directives]]\nchannel = \"ALL\"\naccess = [\"ZTF_PUB\", \"ZTF_PRIV\"]\n",
    )
    .unwrap();
    std::fs::write(
        d.join("lsst.toml"),
        "process = \"t0\"\nsupplier = { unit = \"LsstAlertSupplier\" }\nshaper = { unit = \"LsstDataPointShaper\" }\n\n\
         [[directives]]\nchannel = \"ALL\"\naccess = [\"LSST\"]\n",
    )
    .unwrap();
    let ztf = avro_files(&[
        "ztf/fink-2020-v3.3",
        "ztf/fink-2019-v3.1",
        "ztf/boom-v4.02",
        "ztf/ampel-2018-v1.8",
    ]);
    check(d, "ztf", "ztf.toml", ztf, "candid", "candidate");
    let rubin = avro_files(&["lsst/fink-rubin-v9.0"]);
    check(d, "rubin", "lsst.toml", rubin, "diaSourceId", "diaSource");
}
