//! Units that carry a Python AMPEL unit name give that unit's results: the real
//! ZTF alerts of `tests/data` are ingested and their states processed by this
//! project's T2 worker; the same states (datapoints in the state's order, as
//! Python AMPEL's T2 worker builds its LightCurve) go through the Python unit, in
//! the Python AMPEL venv `scripts/test` makes; the stored results must equal
//! Python's, key for key and value for value.

use ampel_core::t0::T0Config;
use ampel_interface::serde_json::{json, Value};
use ampel_store::*;
use ampel_store_sqlite::SqliteStore;

/// Python AMPEL's results for `states` by `module.unit` with `config`.
fn python_results(module: &str, unit: &str, config: Value, states: Vec<Value>) -> Vec<Value> {
    let out = ampel_tests::python::run_json(
        &ampel_tests::python::pyampel_python(),
        "tests/python/run_state_t2.py",
        &json!({"module": module, "unit": unit, "config": config, "states": states}),
    );
    serde_json::from_value(out).unwrap()
}

#[test]
fn t2_light_curve_summary_gives_ampel_ztfs_results_on_real_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("t2.db")).unwrap();
    let mut registry = ampel_interface::Registry::new();
    ampel_units_ztf::register(&mut registry).unwrap();
    let cfg: T0Config = serde_json::from_value(json!({
        "supplier": {"unit": "ZiAlertSupplier"},
        "shaper": {"unit": "ZiDataPointShaper"},
        "directives": [{"channel": "ALL", "access": ["ZTF_PUB", "ZTF_PRIV"], "ingest": {"combine": [
            {"unit": "ZiT1Combiner", "state_t2": [
                {"unit": "T2LightCurveSummary"},
                {"unit": "T2LightCurveSummary", "config": {"cols": ["magpsf", "fid", "rb"], "limiting_magnitude": 20.0}}
            ]}]}}]
    }))
    .unwrap();
    ampel_tests::ingest_archive(
        cfg,
        &registry,
        &store,
        &ampel_tests::real_alerts().join("ztf"),
    );
    ampel_tests::process_all_tickets(&registry, &store);

    let docs = store.find_t2(&T2Filter::default()).unwrap();
    assert!(docs.len() >= 100, "{} tickets", docs.len());
    let mut by_config: std::collections::BTreeMap<_, Vec<_>> = Default::default();
    for d in &docs {
        by_config.entry(d.config).or_default().push(d);
    }
    assert_eq!(by_config.len(), 2);
    let mut significant = 0;
    for (hash, docs) in by_config {
        let config = store.get_config(hash.unwrap()).unwrap().unwrap();
        let states: Vec<Value> = docs
            .iter()
            .map(|d| {
                let st = store
                    .get_state(d.stock, d.link)
                    .unwrap()
                    .unwrap();
                let mut dps = store.get_datapoints(&st.dps).unwrap();
                dps.sort_by_key(|dp| st.dps.iter().position(|i| *i == dp.id));
                json!({
                    "stock": st.stock, "link": st.link,
                    "dps": dps.iter().map(|dp| json!({"id": dp.id, "body": dp.body})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let python = python_results(
            "ampel.ztf.t2.T2LightCurveSummary",
            "T2LightCurveSummary",
            config.clone(),
            states,
        );
        for (d, py) in docs.iter().zip(&python) {
            let ours = d.current_result().cloned().unwrap();
            assert_eq!(&ours, py, "ticket {} with config {config}", d.id);
            significant += usize::from(ours.get("last_significant_nondetection_jd").is_some());
        }
    }
    // the upper-limit branch is exercised, not only detections
    assert!(significant > 0);
}
