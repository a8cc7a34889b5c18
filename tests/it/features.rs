//! `T2LcFeatures` (light-curve-feature) against the `light-curve` Python package on
//! every state of the real ZTF and Rubin alerts of `tests/data`: the states are
//! ingested and processed by this project's T2 worker; the same datapoints go to
//! `tests/python/lc_features.py`, which builds the photometry itself, runs the
//! package's extractors and fits (light-curve 0.13.3, in the venv `scripts/test`
//! makes) and computes a few features with numpy alone. Every feature must agree
//! to 1e-6 relative, the Bazin and Villar fits too, the numpy ones to 1e-9.

use ampel_core::t0::T0Config;
use ampel_interface::serde_json::{json, Value};
use ampel_store::*;
use ampel_store_sqlite::SqliteStore;

/// `tests/python/lc_features.py` on `states` (each `{"dps": [{id, body}]}`).
fn python_features(features: &[&str], states: &[Value]) -> Vec<Value> {
    let out = ampel_tests::python::run_json(
        &ampel_tests::python::lightcurve_python(),
        "tests/python/lc_features.py",
        &json!({"features": features, "states": states}),
    );
    serde_json::from_value(out).unwrap()
}

/// Whether `a` and `b` agree to `rel` relative (both null counts as agreeing).
fn close(a: &Value, b: &Value, rel: f64) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() <= rel * x.abs().max(y.abs()).max(1e-300),
        _ => a.is_null() && b.is_null(),
    }
}

/// Ingest `folder` with `cfg`, run the T2 worker, and return every T2LcFeatures
/// result with its state's datapoints.
fn processed(cfg: Value, folder: &str) -> Vec<(Value, Value)> {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("f.db")).unwrap();
    let mut registry = ampel_interface::Registry::new();
    ampel_units_ztf::register(&mut registry).unwrap();
    ampel_units_lsst::register(&mut registry).unwrap();
    ampel_units_features::register(&mut registry).unwrap();
    let cfg: T0Config = serde_json::from_value(cfg).unwrap();
    ampel_tests::ingest_archive(
        cfg,
        &registry,
        &store,
        &ampel_tests::real_alerts().join(folder),
    );
    ampel_tests::process_all_tickets(&registry, &store);
    store
        .find_t2(&T2Filter::default())
        .unwrap()
        .into_iter()
        .map(|t| {
            let state = store.get_state(t.stock, t.link).unwrap().unwrap();
            let dps = store.get_datapoints(&state.dps).unwrap();
            let dps: Vec<Value> = dps
                .into_iter()
                .map(|d| json!({"id": d.id, "body": d.body}))
                .collect();
            (t.current_result().cloned().unwrap(), json!({"dps": dps}))
        })
        .collect()
}

#[test]
fn features_and_fits_agree_with_the_light_curve_package_on_real_alerts() {
    let ztf = processed(
        json!({
            "supplier": {"unit": "ZiAlertSupplier"},
            "shaper": {"unit": "ZiDataPointShaper"},
            "directives": [{"channel": "ALL", "access": ["ZTF_PUB", "ZTF_PRIV"], "ingest": {"combine": [
                {"unit": "ZiT1Combiner", "state_t2": [{"unit": "T2LcFeatures"}]}]}}]
        }),
        "ztf",
    );
    let rubin = processed(
        json!({
            "supplier": {"unit": "LsstAlertSupplier"},
            "shaper": {"unit": "LsstDataPointShaper"},
            "muxer": {"unit": "LsstMuxer"},
            "directives": [{"channel": "ALL", "access": ["LSST"], "ingest": {"combine": [
                {"unit": "LsstT1Combiner", "state_t2": [{"unit": "T2LcFeatures"}]}]}}]
        }),
        "lsst",
    );
    assert!(
        ztf.len() >= 100 && rubin.len() >= 30,
        "{} {}",
        ztf.len(),
        rubin.len()
    );
    let all: Vec<(Value, Value)> = ztf.into_iter().chain(rubin).collect();
    let states: Vec<Value> = all.iter().map(|(_, s)| s.clone()).collect();
    let python = python_features(ampel_units_features::DEFAULT_FEATURES, &states);
    assert_eq!(python.len(), all.len());

    let (mut values, mut fitted, mut numpy) = (0, 0, 0);
    for ((ours, state), theirs) in all.iter().zip(&python) {
        let bands = ours["bands"].as_object().unwrap();
        let their_bands = theirs.as_object().unwrap();
        assert_eq!(
            bands.keys().collect::<Vec<_>>(),
            their_bands.keys().collect::<Vec<_>>(),
            "{state}"
        );
        for (band, b) in bands {
            let p = &their_bands[band];
            assert_eq!(b["mag_points"], p["mag_points"], "{band}: {state}");
            assert_eq!(b["flux_points"], p["flux_points"], "{band}: {state}");
            for (group, rel) in [("features", 1e-6), ("bazin", 1e-6), ("villar", 1e-6)] {
                let theirs = p[group].as_object().unwrap();
                assert_eq!(b[group].as_object().unwrap().len(), theirs.len(), "{group}");
                for (name, v) in theirs {
                    assert!(
                        close(&b[group][name], v, rel),
                        "{band} {name}: ours {} light-curve {v}\n{state}",
                        b[group][name]
                    );
                    if !v.is_null() {
                        values += 1;
                        fitted += usize::from(group != "features");
                    }
                }
            }
            if let Some(np) = p["numpy"].as_object() {
                for (name, v) in np {
                    assert!(close(&b["features"][name], v, 1e-9), "{band} {name}: {v}");
                    numpy += 1;
                }
            }
        }
    }
    eprintln!("compared {values} values ({fitted} fit parameters) and {numpy} numpy values");
    // not vacuous: many values, fits among them, numpy checks
    assert!(
        values > 2000 && fitted > 20 && numpy > 100,
        "{values} {fitted} {numpy}"
    );
}
