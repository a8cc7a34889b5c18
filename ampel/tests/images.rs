//! `ampel image build|inspect|verify|diff` on the real demo manifest: reproducible
//! archives, accepted by skopeo, umoci, runc and Docker; tampering detected; a
//! configuration-only change touches only configuration and provenance; unit crates
//! the builder does not know are checked by the binary built from them; editing a
//! helper file of a unit crate makes the results of its units outdated. Where unit
//! crates may come from: `crate_sources.rs`. The live image (MongoDB linked)
//! reproduces on a MongoDB store the run it recorded on the embedded one.

mod support;

use serde_json::Value;
use std::io::Read;
use std::path::Path;
use support::*;

#[test]
fn the_demo_builds_to_byte_identical_archives_from_two_directories() {
    let (first, report) = demo_image();
    assert_eq!(report["units"].as_array().unwrap().len(), 11);
    // another copy of the sources, another cache (a cold build), another output name
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("elsewhere/ampel-src");
    copy_tree(&repo(), &src);
    let out = dir.path().join("out/renamed.tar");
    let again = build(
        &src.join("manifests/ztf-demo.toml"),
        &out,
        &dir.path().join("fresh-cache"),
        &src,
    );
    assert_eq!(
        again["cached"], false,
        "the second build compiled from scratch"
    );
    assert_eq!(again["build_key"], report["build_key"]);
    assert_eq!(again["manifest_digest"], report["manifest_digest"]);
    let (a, b) = (std::fs::read(first).unwrap(), std::fs::read(&out).unwrap());
    assert!(a == b, "archives differ ({} vs {} bytes)", a.len(), b.len());
    // the SBOM and provenance beside the archives are identical too
    for ext in ["spdx.json", "provenance.json"] {
        let x = std::fs::read(first.with_extension(ext)).unwrap();
        let y = std::fs::read(out.with_file_name(format!("renamed.{ext}"))).unwrap();
        assert_eq!(x, y, "{ext}");
    }
}

#[test]
fn the_image_carries_its_metadata_sbom_and_provenance() {
    let (archive, report) = demo_image();
    let dir = tempfile::tempdir().unwrap();
    let info = ampel_json(&["image", "inspect", archive.to_str().unwrap()], dir.path());
    assert_eq!(info["manifest_digest"], report["manifest_digest"]);
    let ann = &info["annotations"];
    for k in ["title", "version", "revision", "source", "created"] {
        assert!(
            ann[format!("org.opencontainers.image.{k}")].is_string(),
            "annotation {k} in {ann}"
        );
    }
    assert_eq!(ann["org.opencontainers.image.title"], "ztf-demo");
    // no copyleft crate: no instance license (see rubin.rs for a GPL instance)
    assert!(
        ann.get("org.opencontainers.image.licenses").is_none(),
        "{ann}"
    );
    let shown = text(&ampel(&["image", "inspect", archive.to_str().unwrap()], dir.path()).stdout);
    assert!(shown.contains("no copyleft crate"), "{shown}");
    assert!(ann["io.ampel.units"]
        .as_str()
        .unwrap()
        .contains("T2RiseDeclineFit@0.1.0+"));
    let layers: Vec<&str> = info["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["created_by"].as_str().unwrap())
        .collect();
    assert_eq!(
        layers.len(),
        3,
        "binary, configuration, provenance: {layers:?}"
    );
    assert_eq!(
        info["config"]["t0"]["directives"].as_array().unwrap().len(),
        2
    );
    // the SBOM lists every crate of the lock with its checksum
    let sbom: Value =
        serde_json::from_slice(&std::fs::read(archive.with_extension("spdx.json")).unwrap())
            .unwrap();
    assert_eq!(sbom["spdxVersion"], "SPDX-2.3");
    let pkgs = sbom["packages"].as_array().unwrap();
    let rusqlite = pkgs.iter().find(|p| p["name"] == "rusqlite").unwrap();
    assert_eq!(rusqlite["checksums"][0]["algorithm"], "SHA256");
    assert_eq!(rusqlite["licenseDeclared"], "MIT");
    assert!(pkgs.iter().any(|p| p["name"] == "ampel-units-ztf"));
    // an archival instance links neither the MongoDB driver nor librdkafka: its
    // manifest declares no MongoDB store and no live source
    for absent in [
        "mongodb",
        "bson",
        "ampel-store-mongo",
        "rdkafka",
        "rdkafka-sys",
        "ampel-kafka",
    ] {
        assert!(
            !pkgs.iter().any(|p| p["name"] == absent),
            "the demo's SBOM lists {absent}"
        );
    }
    // the provenance names the manifest, the lock and the toolchain
    let prov: Value =
        serde_json::from_slice(&std::fs::read(archive.with_extension("provenance.json")).unwrap())
            .unwrap();
    assert_eq!(prov["predicateType"], "https://slsa.dev/provenance/v1");
    let def = &prov["predicate"]["buildDefinition"];
    let manifest = std::fs::read(repo().join("manifests/ztf-demo.toml")).unwrap();
    assert_eq!(
        format!(
            "sha256:{}",
            def["externalParameters"]["manifest"]["digest"]["sha256"]
                .as_str()
                .unwrap()
        ),
        ampel_images::sha256_digest(&manifest)
    );
    let deps = def["resolvedDependencies"].as_array().unwrap();
    assert!(deps.iter().any(|d| d["name"] == "Cargo.lock"));
    assert!(deps.iter().any(|d| d["annotations"]["version"]
        .as_str()
        .is_some_and(|v| v.starts_with("rustc 1."))));
}

#[test]
fn skopeo_umoci_and_runc_accept_the_image() {
    let (archive, report) = demo_image();
    let out = tool("skopeo")
        .arg("inspect")
        .arg(format!("oci-archive:{}", archive.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "skopeo: {}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["Digest"], report["manifest_digest"]);
    assert_eq!(v["Labels"]["org.opencontainers.image.title"], "ztf-demo");

    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    ampel_images::archive::unpack(archive, &layout).unwrap();
    let bundle = dir.path().join("bundle");
    let out = tool("umoci")
        .arg("unpack")
        .arg("--image")
        .arg(format!("{}:1.0.0", layout.display()))
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(out.status.success(), "umoci unpack: {}", text(&out.stderr));
    let cfg_path = bundle.join("config.json");
    let mut cfg: Value = serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
    assert_eq!(cfg["process"]["user"]["uid"], 65532, "non-root user");
    assert_eq!(cfg["process"]["args"][0], "/usr/local/bin/ampel");
    cfg["process"]["terminal"] = Value::Bool(false);
    cfg["process"]["args"] = serde_json::json!(["/usr/local/bin/ampel", "--version"]);
    std::fs::write(&cfg_path, serde_json::to_vec(&cfg).unwrap()).unwrap();
    let root = dir.path().join("runc-root");
    let out = tool("runc")
        .arg("--root")
        .arg(&root)
        .args(["run", "--bundle"])
        .arg(&bundle)
        .arg(format!("ampel-test-{}", std::process::id()))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "runc run: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout).trim(), "ampel 0.1.0");
}

#[test]
fn docker_loads_the_archive_and_runs_it_by_image_id() {
    let (archive, report) = demo_image();
    let d = match Dockerd::start() {
        Ok(d) => d,
        Err(why) => panic!("dockerd must run for this test: {why}"),
    };
    let out = d.docker(&["load", "-i", archive.to_str().unwrap()]);
    assert!(out.status.success(), "docker load: {}", text(&out.stderr));
    let id = report["config_digest"].as_str().unwrap();
    let out = d.docker(&["image", "inspect", "-f", "{{.Id}}", id]);
    assert_eq!(text(&out.stdout).trim(), id, "{}", text(&out.stderr));
    let out = d.docker(&["run", "--rm", "--network", "none", id, "--version"]);
    assert!(out.status.success(), "docker run: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "ampel 0.1.0");
}

/// Copy an archive, flipping one byte of one entry.
fn tampered(archive: &Path, entry: &str, to: &Path) {
    let mut input = tar::Archive::new(std::fs::File::open(archive).unwrap());
    let mut out = tar::Builder::new(std::fs::File::create(to).unwrap());
    for e in input.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        if name == entry {
            let i = data.len() / 2;
            data[i] ^= 0x01;
        }
        let mut h = e.header().clone();
        out.append_data(&mut h, &name, data.as_slice()).unwrap();
    }
    out.finish().unwrap();
}

#[test]
fn verify_inspect_and_diff_detect_a_flipped_byte_in_any_blob() {
    let (archive, _) = demo_image();
    let dir = tempfile::tempdir().unwrap();
    let ok = ampel(&["image", "verify", archive.to_str().unwrap()], dir.path());
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    let blobs: Vec<String> = tar::Archive::new(std::fs::File::open(archive).unwrap())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .filter(|p| p.starts_with("blobs/sha256/") && p.len() > "blobs/sha256/".len())
        .collect();
    assert_eq!(blobs.len(), 5, "manifest, config, three layers: {blobs:?}");
    for blob in &blobs {
        let bad = dir.path().join("bad.tar");
        tampered(archive, blob, &bad);
        let digest = format!("sha256:{}", blob.trim_start_matches("blobs/sha256/"));
        for args in [
            vec!["image", "verify", bad.to_str().unwrap()],
            vec!["image", "inspect", bad.to_str().unwrap()],
            vec![
                "image",
                "diff",
                archive.to_str().unwrap(),
                bad.to_str().unwrap(),
            ],
        ] {
            let out = ampel(&args, dir.path());
            let err = text(&out.stderr);
            assert!(
                !out.status.success(),
                "{args:?} accepted a flipped byte in {blob}"
            );
            assert!(
                err.contains(&digest) && err.contains("hashes to"),
                "{args:?} on {blob}: {err}"
            );
        }
    }
}

#[test]
fn a_threshold_change_rebuilds_nothing_and_diff_shows_exactly_it() {
    let (archive, _) = demo_image();
    let dir = tempfile::tempdir().unwrap();
    let text_in = std::fs::read_to_string(repo().join("manifests/ztf-demo.toml")).unwrap();
    let units = repo().join("units");
    let variant = text_in.replace("min_rb = 0.3", "min_rb = 0.5").replace(
        "path = \"../units/",
        &format!("path = \"{}/", units.display()),
    );
    assert_ne!(variant, text_in);
    let manifest = dir.path().join("ztf-demo.toml");
    std::fs::write(&manifest, variant).unwrap();
    let out = dir.path().join("ztf-demo-rb05.tar");
    let report = build(&manifest, &out, &shared_cache(), &repo());
    assert_eq!(report["cached"], true, "nothing recompiled: {report}");
    let diff = ampel_json(
        &[
            "image",
            "diff",
            archive.to_str().unwrap(),
            out.to_str().unwrap(),
        ],
        dir.path(),
    );
    let changes: Vec<(String, String, Value, Value)> = diff["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["scope"].as_str().unwrap().to_string(),
                c["path"].as_str().unwrap().to_string(),
                c["before"].clone(),
                c["after"].clone(),
            )
        })
        .collect();
    let scopes: Vec<&str> = changes.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(
        scopes,
        ["channel DEMO_DECENT", "layer 2", "layer 3"],
        "exactly the threshold, the configuration layer and the provenance layer: {changes:?}"
    );
    assert_eq!(changes[0].1, "filter.config.min_rb");
    assert_eq!(
        (changes[0].2.as_f64(), changes[0].3.as_f64()),
        (Some(0.3), Some(0.5))
    );
    // the human table says the same
    let table = ampel(
        &[
            "image",
            "diff",
            archive.to_str().unwrap(),
            out.to_str().unwrap(),
        ],
        dir.path(),
    );
    let t = text(&table.stdout);
    assert!(
        t.contains("filter.config.min_rb") && t.contains("3 change(s)"),
        "{t}"
    );
}

#[test]
fn units_of_other_crates_are_checked_by_the_binary_built_from_them() {
    let dir = tempfile::tempdir().unwrap();
    let ext = ext_crate(dir.path());
    let cache = shared_cache();
    let run_build = |m: &Path| {
        let _g = build_lock();
        ampel(
            &[
                "image",
                "build",
                m.to_str().unwrap(),
                "-o",
                dir.path().join("ext.tar").to_str().unwrap(),
                "--cache",
                cache.to_str().unwrap(),
            ],
            dir.path(),
        )
    };
    // a unit the crate does not export: named, with the crate
    let m = ext_manifest(
        dir.path(),
        &ext,
        r#""ExtThreshold", "ExtMissing""#,
        r#"filter = { unit = "ExtThreshold" }"#,
    );
    let check = ampel(&["manifest", "check", m.to_str().unwrap()], dir.path());
    assert!(
        check.status.success(),
        "deferred to the build: {}",
        text(&check.stderr)
    );
    assert!(text(&check.stdout).contains("checked after the build"));
    let out = run_build(&m);
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("crate `ampel-units-testext` does not export a unit type `ExtMissing`"),
        "{err}"
    );
    // a bad config and a dependency cycle, found by the built binary, both at once
    let m = ext_manifest(
        dir.path(),
        &ext,
        r#""ExtThreshold", "ExtCycleA", "ExtCycleB""#,
        r#"filter = { unit = "ExtThreshold", config = { threshold = 7 } }
t2 = [{ unit = "ExtCycleA" }, { unit = "ExtCycleB" }]"#,
    );
    let out = run_build(&m);
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("2 problem(s)"), "{err}");
    assert!(
        err.contains("field `threshold` = 7.0: a score in [0, 1]"),
        "{err}"
    );
    assert!(
        err.contains("T2 dependency cycle in channel `EXT`: ExtCycleA → ExtCycleB → ExtCycleA"),
        "{err}"
    );
    // fixed: the same binary (cached) goes into an image
    let m = ext_manifest(
        dir.path(),
        &ext,
        r#""ExtThreshold", "ExtCycleA", "ExtCycleB""#,
        r#"filter = { unit = "ExtThreshold", config = { threshold = 0.7 } }"#,
    );
    let out = run_build(&m);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let info = ampel_json(
        &[
            "image",
            "inspect",
            dir.path().join("ext.tar").to_str().unwrap(),
        ],
        dir.path(),
    );
    let ext_unit = unit_info(&info, "ExtThreshold");
    assert_eq!(ext_unit["version"], "0.3.1");
    assert_eq!(ext_unit["crate"], "ampel-units-testext");
}

#[test]
fn editing_a_helper_file_of_a_unit_crate_makes_its_results_outdated() {
    let dir = tempfile::tempdir().unwrap();
    let ext = ext_crate(dir.path());
    let cache = shared_cache();
    let m = ext_manifest(
        dir.path(),
        &ext,
        r#""ExtThreshold", "ExtCount""#,
        r#"filter = { unit = "ExtThreshold", config = { threshold = 0.0 } }
t2 = [{ unit = "ExtCount" }]"#,
    );
    let image = |name: &str| {
        let out = dir.path().join(name);
        let _g = build_lock();
        let b = ampel(
            &[
                "image",
                "build",
                m.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
                "--cache",
                cache.to_str().unwrap(),
            ],
            dir.path(),
        );
        assert!(b.status.success(), "{}", text(&b.stderr));
        out
    };
    let results = dir.path().join("results");
    let run = |image: &Path, args: &[&str]| {
        let mut all = vec![
            "image",
            "run",
            image.to_str().unwrap(),
            "--runtime",
            "native",
            "--cache",
            cache.to_str().unwrap(),
            "--out",
            results.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        ampel(&all, dir.path())
    };
    let alerts = real_alerts().join("ztf/fink-2020-v3.3");
    let a = image("a.tar");
    let mut args = vec!["--input", alerts.to_str().unwrap(), "--"];
    args.extend(["instance", "run", "--inputs", "/inputs", "--out", "/out"]);
    let first = run(&a, &args);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let outdated = |image: &Path| -> Vec<Value> {
        let o = run(
            image,
            &[
                "--",
                "--db",
                "sqlite:/out/ampel.db",
                "--json",
                "t2",
                "outdated",
            ],
        );
        assert!(o.status.success(), "{}", text(&o.stderr));
        serde_json::from_slice::<Vec<Value>>(&o.stdout).unwrap()
    };
    assert_eq!(outdated(&a), Vec::<Value>::new(), "nothing changed yet");
    // only the helper changes: the unit's own code is the same
    let helper = ext.join("src/scale.rs");
    let edited = std::fs::read_to_string(&helper)
        .unwrap()
        .replace("FACTOR: f64 = 1.0", "FACTOR: f64 = 2.0");
    std::fs::write(&helper, edited).unwrap();
    let b = image("b.tar");
    let found = outdated(&b);
    assert!(!found.is_empty(), "the edited helper made nothing outdated");
    assert!(found.iter().all(|r| r["unit"] == "ExtCount"), "{found:?}");
    let (was, now) = (
        &found[0]["made_by"]["digest"],
        &found[0]["current"]["digest"],
    );
    assert!(
        was.is_string() && now.is_string() && was != now,
        "{was} {now}"
    );
}

#[test]
fn mongodb_and_kafka_are_linked_only_where_the_manifest_uses_them_and_reproduce_on_mongodb() {
    let (demo, _) = demo_image();
    let dir = tempfile::tempdir().unwrap();
    let cache = shared_cache();
    // `db info` on a MongoDB URI where nothing listens, by an image's binary
    let mongo_info = |image: &Path, out: &str| {
        let out = ampel(
            &[
                "image",
                "run",
                image.to_str().unwrap(),
                "--runtime",
                "native",
                "--cache",
                cache.to_str().unwrap(),
                "--out",
                dir.path().join(out).to_str().unwrap(),
                "--",
                "--db",
                "mongodb://127.0.0.1:1/x?serverSelectionTimeoutMS=300",
                "db",
                "info",
            ],
            dir.path(),
        );
        assert!(!out.status.success());
        text(&out.stderr)
    };
    // the demo's binary names the manifest line it lacks
    let err = mongo_info(demo, "o1");
    assert!(
        err.contains("built without the MongoDB backend") && err.contains("stores = [\"mongodb\"]"),
        "{err}"
    );
    // the live manifest (stores = ["mongodb"], a [live] section) gets both
    let live = dir.path().join("ztf-live.tar");
    let report = build(
        &repo().join("manifests/ztf-live.toml"),
        &live,
        &cache,
        &repo(),
    );
    assert!(report["manifest_digest"].is_string(), "{report}");
    let sbom: Value =
        serde_json::from_slice(&std::fs::read(live.with_extension("spdx.json")).unwrap()).unwrap();
    let names: Vec<&str> = sbom["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for present in ["mongodb", "ampel-store-mongo", "rdkafka", "ampel-kafka"] {
        assert!(names.contains(&present), "ztf-live lacks {present}");
    }
    // and its binary reaches for the server
    let err = mongo_info(&live, "o2");
    assert!(err.contains("no MongoDB server answered"), "{err}");
    // ... and reproduces on a MongoDB store what it records on the embedded one
    let server = ampel_tests::mongo::TestServer::own();
    let alerts = repo().join("tests/data/alerts/ztf/fink-2020-v3.3");
    let reproduce = |out: &str, extra: &[&str]| {
        let out_dir = dir.path().join(out);
        let mut args = vec![
            "--json",
            "reproduce",
            live.to_str().unwrap(),
            "--inputs",
            alerts.to_str().unwrap(),
            "--cache",
            cache.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = ampel(&args, dir.path());
        assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
        let run: Value =
            serde_json::from_slice(&std::fs::read(out_dir.join("run.json")).unwrap()).unwrap();
        run
    };
    let recorded = reproduce("sqlite-run", &[]);
    assert_eq!(recorded["verdict"], "RECORDED");
    let mongo = server.store("reproduce");
    let expect = dir.path().join("sqlite-run/run.json");
    let again = reproduce(
        "mongo-run",
        &["--store", &mongo, "--expect", expect.to_str().unwrap()],
    );
    assert_eq!(again["verdict"], "REPRODUCED", "{again}");
    assert_eq!(again["results_digest"], recorded["results_digest"]);
    assert!(
        again["tasks"][1]["processed"].as_u64().unwrap() > 0,
        "{again}"
    );
}
