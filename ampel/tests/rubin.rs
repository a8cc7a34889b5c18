//! Rubin through every tier: the Rubin demo instance (`manifests/rubin-demo.toml`:
//! LsstAlertSupplier, LsstDataPointShaper, LsstMuxer, LsstT1Combiner,
//! T2LsstFluxSummary, T3ReportExporter) as an archival job on the real Rubin alerts
//! of `tests/data/alerts/lsst` and on Rubin's official sample alert of every alert
//! schema from 7.0 to 11.1 (`tests/data/lsst-alert-packet`). The T2 results are
//! recomputed here from the stored datapoints and, for the samples, from each
//! sample's `alert.json` read independently of the Avro path. And the image of a
//! Rubin instance with the GPL-3.0-or-later feature unit says it is GPL.

mod support;

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use support::*;

/// The Rubin demo manifest in `dir`, crate paths absolute, with `edits` applied.
fn rubin_manifest(dir: &Path, edits: &[(&str, &str)]) -> String {
    let mut text = std::fs::read_to_string(repo().join("manifests/rubin-demo.toml")).unwrap();
    let units = repo().join("units");
    text = text.replace("\"../units", &format!("\"{}", units.display()));
    for (from, to) in edits {
        assert!(text.contains(from), "{from}");
        text = text.replace(from, to);
    }
    let path = dir.join("rubin.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// The archival job of `manifest` over `inputs` in a fresh store in `dir`.
fn job(dir: &Path, manifest: &str, inputs: &Path) -> Value {
    ampel_json(
        &[
            "--db",
            "sqlite:rubin.db",
            "job",
            "--manifest",
            manifest,
            "--inputs",
            inputs.to_str().unwrap(),
        ],
        dir,
    )
}

/// Every line of a collection of a `db export` dump.
fn dump(dir: &Path, collection: &str) -> Vec<Value> {
    std::fs::read_to_string(dir.join("dump").join(format!("{collection}.jsonl")))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The flux summary of a list of Rubin source bodies (detections only), computed
/// here: counts, first and last time, per band the peak and latest flux.
fn expected_summary(sources: &[&Value]) -> Value {
    let mjd = |s: &Value| s["midpointMjdTai"].as_f64().unwrap();
    let mut bands: BTreeMap<String, (u64, f64, f64, f64)> = BTreeMap::new();
    for s in sources {
        let flux = s["psfFlux"].as_f64().unwrap();
        let b = bands
            .entry(s["band"].as_str().unwrap().to_string())
            .or_insert((0, f64::NEG_INFINITY, f64::NEG_INFINITY, 0.0));
        b.0 += 1;
        b.1 = b.1.max(flux);
        if mjd(s) >= b.2 {
            (b.2, b.3) = (mjd(s), flux);
        }
    }
    let first = sources.iter().map(|s| mjd(s)).reduce(f64::min).unwrap();
    let last = sources.iter().map(|s| mjd(s)).reduce(f64::max).unwrap();
    json!({
        "num_detections": sources.len(),
        "first_detection_mjd": first,
        "last_detection_mjd": last,
        "bands": bands.into_iter().map(|(band, (n, peak, _, latest))| {
            (band, json!({"num_detections": n, "peak": peak, "latest": latest}))
        }).collect::<serde_json::Map<_, _>>(),
    })
}

/// The parts of a T2LsstFluxSummary result that [`expected_summary`] computes.
fn comparable(result: &Value) -> Value {
    json!({
        "num_detections": result["num_detections"],
        "first_detection_mjd": result["first_detection_mjd"],
        "last_detection_mjd": result["last_detection_mjd"],
        "bands": result["bands"].as_object().unwrap().iter().map(|(band, b)| {
            (band.clone(), json!({
                "num_detections": b["num_detections"],
                "peak": b["peak"]["flux"],
                "latest": b["latest"]["flux"],
            }))
        }).collect::<serde_json::Map<_, _>>(),
    })
}

#[test]
fn the_rubin_demo_runs_every_tier_on_real_rubin_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let manifest = rubin_manifest(d, &[]);
    let run = job(d, &manifest, &real_alerts().join("lsst/fink-rubin-v9.0"));
    let [t0, t2, t3] = [&run["tasks"][0], &run["tasks"][1], &run["tasks"][2]];
    assert_eq!(t0["alerts"], 100, "{t0}");
    let accepted = t0["accepted"]["RUBIN_RELIABLE"].as_u64().unwrap();
    assert_eq!(
        accepted + t0["rejected"]["RUBIN_RELIABLE"].as_u64().unwrap(),
        100
    );
    assert_eq!(t0["damaged"], json!([]));

    ampel(&["--db", "sqlite:rubin.db", "db", "export", "dump"], d);
    let (datapoints, states, tickets, stocks) = (
        dump(d, "t0"),
        dump(d, "t1"),
        dump(d, "t2"),
        dump(d, "stock"),
    );
    // every accepted alert is one reliable detection (this rewrite carries no history)
    assert_eq!(datapoints.len() as u64, accepted);
    for dp in &datapoints {
        assert!(dp["body"]["reliability"].as_f64().unwrap() >= 0.5, "{dp}");
    }
    // one state per accepted alert, holding the object's detections up to it (the
    // muxer adds the stored ones), one ticket per state, all done
    assert_eq!(states.len() as u64, accepted);
    assert!(
        states
            .iter()
            .any(|s| s["dps"].as_array().unwrap().len() > 1),
        "an object seen twice has a state with both detections"
    );
    assert_eq!(t2["processed"].as_u64(), Some(accepted), "{t2}");
    assert_eq!(t2["ok"]["T2LsstFluxSummary"].as_u64(), Some(accepted));
    assert_eq!(t2["failed"], json!({}));
    let by_id: BTreeMap<i64, &Value> = datapoints
        .iter()
        .map(|d| (d["id"].as_i64().unwrap(), &d["body"]))
        .collect();
    for ticket in &tickets {
        let state = states
            .iter()
            .find(|s| s["stock"] == ticket["stock"] && s["link"] == ticket["link"])
            .unwrap();
        let sources: Vec<&Value> = state["dps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| by_id[&id.as_i64().unwrap()])
            .collect();
        let result = ticket["body"].as_array().unwrap().last().unwrap();
        assert_eq!(comparable(result), expected_summary(&sources), "{ticket}");
        for band in result["bands"].as_object().unwrap().values() {
            let peak = band["peak"]["flux"].as_f64().unwrap();
            let mag = band["peak_mag"].as_f64().unwrap();
            assert!((mag - (31.4 - 2.5 * peak.log10())).abs() < 1e-4, "{band}");
        }
    }

    // T3 selects every object and reports it: one row and one plot each
    assert_eq!(t3["selected"].as_u64(), Some(stocks.len() as u64), "{t3}");
    let report = report_run(&d.join("ampel-out/report"));
    let rows: Vec<Value> =
        serde_json::from_slice(&std::fs::read(report.join("objects.json")).unwrap()).unwrap();
    assert_eq!(rows.len(), stocks.len());
    assert!(
        rows.iter().any(|r| r["ndet"] == 2),
        "the latest state's result"
    );
    for r in &rows {
        assert!(r["first_mjd"].as_f64().unwrap() > 60_000.0, "{r}");
        assert!(
            r["first_date"].as_str().unwrap().starts_with("2025-09-0"),
            "{r}"
        );
        assert!(report.join(r["page"].as_str().unwrap()).is_file(), "{r}");
    }
    let plots = std::fs::read_dir(report.join("plots")).unwrap().count();
    assert_eq!(plots, stocks.len());

    // the table form ends with the command that shows the results
    let inputs = real_alerts().join("lsst/fink-rubin-v9.0");
    let out = ampel(
        &[
            "--db",
            "sqlite:table.db",
            "job",
            "--manifest",
            &manifest,
            "--inputs",
            inputs.to_str().unwrap(),
        ],
        d,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.contains("explore the results")
            && shown.contains("ampel --db 'sqlite:table.db' t2 list"),
        "{shown}"
    );
}

#[test]
fn every_rubin_alert_schema_from_7_0_to_11_1_runs_every_tier() {
    let samples = repo().join("tests/data/lsst-alert-packet");
    let mut versions: Vec<String> = std::fs::read_dir(&samples)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with('v'))
        .collect();
    versions.sort();
    assert_eq!(versions.len(), 10, "{versions:?}");
    for v in versions {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // the samples have no reliability: a channel that takes positive fluxes
        let manifest = rubin_manifest(
            d,
            &[(
                r#"attribute = "reliability", operator = ">=", value = 0.5"#,
                r#"attribute = "psfFlux", operator = ">", value = 0"#,
            )],
        );
        let run = job(d, &manifest, &samples.join(&v).join("fakeAlert.avro"));
        let alert: Value =
            serde_json::from_slice(&std::fs::read(samples.join(&v).join("alert.json")).unwrap())
                .unwrap();
        let mut sources = vec![&alert["diaSource"]];
        sources.extend(alert["prvDiaSources"].as_array().unwrap());
        let [t0, t2, t3] = [&run["tasks"][0], &run["tasks"][1], &run["tasks"][2]];
        assert_eq!(t0["alerts"], 1, "{v}: {t0}");
        assert_eq!(t0["damaged"], json!([]), "{v}");
        assert_eq!(t0["accepted"]["RUBIN_RELIABLE"], 1, "{v}: {t0}");
        assert_eq!(
            t0["datapoints"]["inserted"].as_u64(),
            Some(sources.len() as u64)
        );
        assert_eq!(t2["ok"]["T2LsstFluxSummary"], 1, "{v}: {t2}");
        assert_eq!(t3["selected"], 1, "{v}: {t3}");

        let object = alert["diaObject"]["diaObjectId"]
            .as_i64()
            .unwrap()
            .to_string();
        let shown = ampel_json(&["--db", "sqlite:rubin.db", "t2", "show", &object], d);
        let result = &shown[0]["result"];
        assert_eq!(comparable(result), expected_summary(&sources), "{v}");
        let latest = sources
            .iter()
            .max_by(|a, b| {
                a["midpointMjdTai"]
                    .as_f64()
                    .unwrap()
                    .total_cmp(&b["midpointMjdTai"].as_f64().unwrap())
            })
            .unwrap();
        assert_eq!(result["ra"], latest["ra"], "{v}");
        assert_eq!(result["dec"], latest["dec"], "{v}");
    }
}

#[test]
fn an_instance_with_the_light_curve_feature_unit_is_gpl_and_its_image_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let features = repo().join("units/features");
    let manifest = rubin_manifest(
        d,
        &[
            (
                r#"units = ["T3ReportExporter"]"#,
                &format!(
                    "units = [\"T3ReportExporter\"]\n\n[[crate]]\nname = \"ampel-units-features\"\npath = \"{}\"\nunits = [\"T2LcFeatures\"]",
                    features.display()
                ),
            ),
            (
                r#"t2 = [{ unit = "T2LsstFluxSummary" }]"#,
                r#"t2 = [{ unit = "T2LsstFluxSummary" }, { unit = "T2LcFeatures" }]"#,
            ),
        ],
    );
    let archive = d.join("rubin-features.tar");
    build(Path::new(&manifest), &archive, &shared_cache(), &repo());

    // the annotations, `image inspect` and the SBOM name the license and the crates
    let info = ampel_json(&["image", "inspect", archive.to_str().unwrap()], d);
    let annotations = &info["annotations"];
    assert_eq!(
        annotations["org.opencontainers.image.licenses"],
        "GPL-3.0-or-later"
    );
    let copyleft = annotations["io.ampel.copyleft"].as_str().unwrap();
    for c in [
        "ampel-units-features@",
        "light-curve-feature@0.19.0 (GPL-3.0-or-later)",
    ] {
        assert!(copyleft.contains(c), "{copyleft}");
    }
    let shown = text(&ampel(&["image", "inspect", archive.to_str().unwrap()], d).stdout);
    assert!(
        shown.contains("GPL-3.0-or-later: the instance binary links copyleft crates"),
        "{shown}"
    );
    let sbom: Value =
        serde_json::from_slice(&std::fs::read(d.join("rubin-features.spdx.json")).unwrap())
            .unwrap();
    let instance = &sbom["packages"][0];
    assert_eq!(instance["SPDXID"], "SPDXRef-Instance");
    assert_eq!(instance["licenseConcluded"], "GPL-3.0-or-later");
    assert!(sbom["packages"].as_array().unwrap().iter().any(|p| {
        p["name"] == "light-curve-feature" && p["licenseDeclared"] == "GPL-3.0-or-later"
    }));
}
