//! Catalogue context: `T2CatalogCone` with a catalogue given as a file resource.
//!
//! The catalogue is generated here (no real catalogue can be had from a package
//! registry this project reaches): 20,000 sources at deterministic pseudo-random
//! positions over the sky, and around each of the 50 real fink-2020 ZTF alerts
//! three planted sources due north and south of the triggering detection, at 0.5",
//! 1.5" and 3.0" (distances along a meridian are exactly the declination offsets).
//! The ZTF demo with the unit on each alert's latest detection must return the two
//! planted neighbours within 2" (and any background source a brute-force search
//! finds), with their columns, and the same from the catalogue as Parquet written
//! by pandas; the image built from that manifest carries the catalogue as a
//! content-addressed layer, runs under runc with it, and reproduces.

mod support;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use support::*;

fn alerts() -> PathBuf {
    real_alerts().join("ztf/fink-2020-v3.3")
}

/// (objectId, ra, dec) of each alert's triggering detection.
fn triggers() -> Vec<(String, f64, f64)> {
    let kit = ampel_testkit::TestKit::new(|_| Ok(())).unwrap();
    kit.ztf_alerts(&[alerts()])
        .unwrap()
        .into_iter()
        .map(|a| {
            let dp = &a.datapoints[0];
            (
                a.name.clone().unwrap(),
                dp["ra"].as_f64().unwrap(),
                dp["dec"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// A source of the generated catalogue.
struct Row {
    name: String,
    ra: f64,
    dec: f64,
    kind: &'static str,
    mag: f64,
}

fn catalogue() -> Vec<Row> {
    let mut rows = Vec::new();
    let mut x: u64 = 2026;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    for i in 0..20_000 {
        let (ra, z, mag) = (next() * 360.0, 2.0 * next() - 1.0, 14.0 + 8.0 * next());
        rows.push(Row {
            name: format!("BG{i:05}"),
            ra,
            dec: z.asin().to_degrees(),
            kind: "star",
            mag: (mag * 1000.0).round() / 1000.0,
        });
    }
    for (name, ra, dec) in triggers() {
        for (suffix, offset, kind) in [("a", 0.5, "galaxy"), ("b", -1.5, "qso"), ("c", 3.0, "star")]
        {
            rows.push(Row {
                name: format!("{name}-{suffix}"),
                ra,
                dec: dec + offset / 3600.0,
                kind,
                mag: 19.5,
            });
        }
    }
    rows
}

fn write_catalogue(path: &Path, rows: &[Row]) {
    let mut csv = String::from("name,ra,dec,kind,mag\n");
    for r in rows {
        // `{:?}` writes the shortest text that reads back as the same f64
        csv.push_str(&format!(
            "{},{:?},{:?},{},{}\n",
            r.name, r.ra, r.dec, r.kind, r.mag
        ));
    }
    std::fs::write(path, csv).unwrap();
}

/// The demo manifest with the catalogue as a resource and a channel that takes
/// every alert with the cone unit on its latest detection.
fn manifest(d: &Path) -> String {
    demo_manifest(
        d,
        "catalog.toml",
        &[
            (
                "units = [\"T3ReportExporter\"]",
                &format!(
                    "units = [\"T3ReportExporter\"]\n\n[[crate]]\nname = \"ampel-units-catalog\"\npath = \"{}\"\nunits = [\"T2CatalogCone\"]",
                    repo().join("units/catalog").display()
                ),
            ),
            (
                "schedule = \"every 10s\"\n",
                "schedule = \"every 10s\"\n\n[[channel]]\nname = \"HOSTS\"\naccess = [\"ZTF_PUB\"]\n\
                 filter = { unit = \"CriteriaFilter\", config = { criteria = [{ attribute = \"rb\", operator = \">=\", value = 0.0 }] } }\n\
                 point_t2 = [{ unit = \"T2CatalogCone\", select = \"last\", config = { catalog = { resource = \"hosts\" }, name = \"hosts\", radius_arcsec = 2.0, keep = \"all\", columns = [\"name\", \"kind\", \"mag\"] } }]\n\n\
                 [resources]\nhosts = { file = \"hosts.csv\" }\n",
            ),
        ],
    )
}

fn run_job(d: &Path, manifest: &str, db: &str) -> Value {
    manifest_job(d, db, manifest, &alerts(), &[])
}

/// The cone results of a store, by the object's name of their datapoint.
fn cone_results(d: &Path, db: &str) -> BTreeMap<i64, Value> {
    let out = d.join(format!("dump-{}", db.len()));
    let o = ampel(&["--db", db, "db", "export", out.to_str().unwrap()], d);
    assert!(o.status.success(), "{}", text(&o.stderr));
    std::fs::read_to_string(out.join("t2.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|t| t["unit"] == "T2CatalogCone")
        .map(|t| {
            assert_eq!(t["code"], 0, "{t}");
            let r = t["body"].as_array().unwrap().last().unwrap().clone();
            (t["link"].as_i64().unwrap(), r)
        })
        .collect()
}

#[test]
fn the_cone_search_returns_the_planted_neighbours_and_the_image_carries_the_catalogue() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rows = catalogue();
    let csv = d.join("hosts.csv");
    write_catalogue(&csv, &rows);
    let manifest = manifest(d);
    let run = run_job(d, &manifest, "sqlite:host.db");
    let t2 = &run["tasks"][1];
    let results = cone_results(d, "sqlite:host.db");
    // one per alert: every alert's triggering detection is searched around
    assert_eq!(results.len(), 50, "{run}");
    assert_eq!(
        t2["ok"]["T2CatalogCone"].as_u64(),
        Some(results.len() as u64),
        "{t2}"
    );

    // each result: a brute-force search of the catalogue around the searched
    // position, and the planted neighbours of its object
    let by_name: BTreeMap<&str, &Row> = rows.iter().map(|r| (r.name.as_str(), r)).collect();
    let positions: BTreeMap<(u64, u64), String> = triggers()
        .into_iter()
        .map(|(n, ra, dec)| ((ra.to_bits(), dec.to_bits()), n))
        .collect();
    assert!(by_name.len() == rows.len(), "catalogue names are unique");
    for r in results.values() {
        let (ra, dec) = (r["ra"].as_f64().unwrap(), r["dec"].as_f64().unwrap());
        let mut want: Vec<(f64, &Row)> = rows
            .iter()
            .map(|s| (haversine_arcsec(ra, dec, s.ra, s.dec), s))
            .filter(|(dist, _)| *dist <= 2.0)
            .collect();
        want.sort_by(|a, b| a.0.total_cmp(&b.0));
        let got = r["matches"].as_array().unwrap();
        assert_eq!(r["num_matches"].as_u64(), Some(want.len() as u64), "{r}");
        assert_eq!(got.len(), want.len(), "{r}");
        for (g, (dist, s)) in got.iter().zip(&want) {
            assert_eq!(g["columns"]["name"], s.name.as_str(), "{r}");
            assert_eq!(g["columns"]["kind"], s.kind, "{r}");
            assert!((g["columns"]["mag"].as_f64().unwrap() - s.mag).abs() < 1e-12);
            assert!(
                (g["dist_arcsec"].as_f64().unwrap() - dist).abs() < 1e-6,
                "{r}"
            );
        }
        // searched at a triggering detection: its planted sources, 0.5" then 1.5"
        let planted = &positions[&(ra.to_bits(), dec.to_bits())];
        assert_eq!(got[0]["columns"]["name"], format!("{planted}-a"), "{r}");
        assert_eq!(got[1]["columns"]["name"], format!("{planted}-b"), "{r}");
        assert!((got[0]["dist_arcsec"].as_f64().unwrap() - 0.5).abs() < 1e-6);
        assert!((got[1]["dist_arcsec"].as_f64().unwrap() - 1.5).abs() < 1e-6);
        assert_eq!(r["catalog"], "hosts");
    }

    // the same catalogue as Parquet, written by pandas (pyarrow, snappy): the same
    // results
    let o = std::process::Command::new(ampel_tests::python::notebook_python())
        .args([
            "-c",
            "import pandas as pd, sys; pd.read_csv(sys.argv[1], dtype={'name': str, 'kind': str}).to_parquet(sys.argv[2])",
            csv.to_str().unwrap(),
            d.join("hosts.parquet").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let pq_manifest = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("hosts.csv", "hosts.parquet");
    std::fs::write(d.join("pq.toml"), pq_manifest).unwrap();
    run_job(d, d.join("pq.toml").to_str().unwrap(), "sqlite:pq.db");
    let from_parquet = cone_results(d, "sqlite:pq.db");
    assert_eq!(from_parquet.len(), results.len());
    for (k, r) in &results {
        let p = &from_parquet[k];
        assert_eq!(
            p["matches"].as_array().unwrap().len(),
            r["matches"].as_array().unwrap().len()
        );
        for (a, b) in p["matches"]
            .as_array()
            .unwrap()
            .iter()
            .zip(r["matches"].as_array().unwrap())
        {
            assert_eq!(a["columns"], b["columns"], "{a} {b}");
            assert_eq!(a["dist_arcsec"], b["dist_arcsec"]);
        }
    }

    // the image: the catalogue is a layer of its own, the file at its digest
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        std::fs::read(&csv).unwrap(),
    ));
    let archive = d.join("catalog.tar");
    build(Path::new(&manifest), &archive, &shared_cache(), &repo());
    let info = ampel_json(&["image", "inspect", archive.to_str().unwrap()], d);
    let layers = info["layers"].as_array().unwrap();
    assert_eq!(
        layers.len(),
        4,
        "binary, resources, configuration, provenance"
    );
    assert!(
        layers[1]["created_by"]
            .as_str()
            .unwrap()
            .contains("resource files (1)"),
        "{info}"
    );
    assert_eq!(
        layers[1]["files"],
        serde_json::json!([format!("usr/share/ampel/resources/sha256/{sha}")]),
        "{info}"
    );
    assert_eq!(
        info["config"]["resources"]["hosts"]["sha256"],
        sha.as_str(),
        "{info}"
    );
    let image = ampel_builder::inspect::open(&archive).unwrap();
    let layer = image
        .file(&format!("usr/share/ampel/resources/sha256/{sha}"))
        .unwrap()
        .expect("the catalogue is in the image");
    assert_eq!(
        layer,
        std::fs::read(&csv).unwrap(),
        "the layer holds the very bytes"
    );

    // reproduced from the image alone (the host file gone): native, then under runc
    std::fs::rename(&csv, d.join("moved.csv")).unwrap();
    let rec = |out: &Path| -> Value {
        serde_json::from_slice(&std::fs::read(out.join("run.json")).unwrap()).unwrap()
    };
    let cache = shared_cache();
    let inputs = alerts();
    let reproduce = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "--json",
            "reproduce",
            archive.to_str().unwrap(),
            "--cache",
            cache.to_str().unwrap(),
            "--inputs",
            inputs.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = ampel(&args, d);
        assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    };
    let first = d.join("native");
    reproduce(&first, &[]);
    let db = format!("sqlite:{}", first.join("ampel.db").display());
    assert_eq!(
        cone_results(d, &db),
        results,
        "the image's results are the host's"
    );
    let oci = d.join("oci");
    let expect = first.join("run.json");
    reproduce(
        &oci,
        &["--runtime", "oci", "--expect", expect.to_str().unwrap()],
    );
    assert_eq!(rec(&oci)["verdict"], "REPRODUCED");
}

fn haversine_arcsec(ra1: f64, dec1: f64, ra2: f64, dec2: f64) -> f64 {
    let (d1, d2) = (dec1.to_radians(), dec2.to_radians());
    let a = ((d2 - d1) / 2.0).sin().powi(2)
        + d1.cos() * d2.cos() * ((ra2 - ra1).to_radians() / 2.0).sin().powi(2);
    2.0 * a.sqrt().asin().to_degrees() * 3600.0
}

#[test]
fn a_missing_or_broken_catalogue_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let manifest = manifest(d);
    // no file: the manifest check names the resource and the path
    let o = ampel(&["manifest", "check", &manifest], d);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(
        err.contains("resources.hosts: file `hosts.csv`: no such file"),
        "{err}"
    );
    // a bad row: the check and the job fail before anything is written, naming
    // file, row and column
    std::fs::write(
        d.join("hosts.csv"),
        "name,ra,dec,kind,mag\nA,10,20,star,1\nB,ten,20,star,2\n",
    )
    .unwrap();
    let o = ampel(
        &[
            "--db",
            "sqlite:bad.db",
            "job",
            "--manifest",
            &manifest,
            "--inputs",
            alerts().to_str().unwrap(),
        ],
        d,
    );
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(
        err.contains("hosts.csv: data row 2, column `ra`: `ten` is not a number of degrees"),
        "{err}"
    );
    assert!(!d.join("bad.db").exists(), "nothing written");
    let o = ampel(&["manifest", "check", &manifest], d);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("data row 2"),
        "{}",
        text(&o.stderr)
    );
    // a pinned digest that the file does not have
    let pinned = std::fs::read_to_string(&manifest).unwrap().replace(
        "hosts = { file = \"hosts.csv\" }",
        &format!(
            "hosts = {{ file = \"hosts.csv\", sha256 = \"{}\" }}",
            "ab".repeat(32)
        ),
    );
    std::fs::write(&manifest, pinned).unwrap();
    let o = ampel(&["manifest", "check", &manifest], d);
    let err = text(&o.stderr);
    assert!(err.contains("the manifest pins"), "{err}");
}
