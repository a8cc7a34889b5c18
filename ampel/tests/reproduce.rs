//! `ampel reproduce` and `ampel image run` on the demo image and the real ZTF alerts
//! shipped in the repository: the same results digest under the native, oci (runc)
//! and docker runtimes; changed inputs, tampered images and missing runtimes are
//! refused before anything runs; the run record is written and read back.

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use support::*;

fn alerts() -> PathBuf {
    repo().join("tests/data/alerts/ztf/fink-2020-v3.3")
}

fn reproduce(archive: &Path, extra: &[&str], dir: &Path) -> std::process::Output {
    let cache = shared_cache();
    let mut args = vec![
        "--json",
        "reproduce",
        archive.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    ampel(&args, dir)
}

/// `reproduce` on the alerts of `tests/data`, writing into `out`.
fn reproduce_demo(archive: &Path, out: &Path, extra: &[&str], dir: &Path) -> std::process::Output {
    reproduce_from(archive, &alerts(), out, extra, dir)
}

/// `reproduce` on `inputs`, writing into `out`.
fn reproduce_from(
    archive: &Path,
    inputs: &Path,
    out: &Path,
    extra: &[&str],
    dir: &Path,
) -> std::process::Output {
    let mut args = vec![
        "--inputs",
        inputs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    reproduce(archive, &args, dir)
}

fn record(out: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(out.join("run.json")).unwrap()).unwrap()
}

#[test]
fn native_oci_and_docker_give_the_same_results_digest() {
    let (archive, report) = demo_image();
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("native");
    let out = reproduce_demo(archive, &base, &[], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let first = record(&base);
    let digest = first["results_digest"].as_str().unwrap().to_string();
    assert!(digest.starts_with("sha256:"));
    assert_eq!(first["verdict"], "RECORDED");
    assert_eq!(first["image"]["manifest_digest"], report["manifest_digest"]);
    assert_eq!(first["inputs"].as_array().unwrap().len(), 50);
    // the per-tier summary: every alert read, T2 results, one T3 report
    let tasks = first["tasks"].as_array().unwrap();
    assert_eq!(tasks[0]["alerts"], 50);
    assert!(tasks[1]["processed"].as_u64().unwrap() > 0);
    assert!(base.join("report").is_dir(), "the T3 HTML report");
    let html = report_run(&base.join("report")).join("index.html");
    assert!(std::fs::read_to_string(html).unwrap().contains("<table"));
    let runs = std::fs::read_to_string(base.join("report/index.html")).unwrap();
    assert!(runs.contains("latest: <a href="), "{runs}");
    // the run is also an event of the store
    let events = ampel_json(
        &[
            "--db",
            &format!("sqlite:{}", base.join("ampel.db").display()),
            "event",
            "--process",
            "reproduce",
        ],
        dir.path(),
    );
    assert_eq!(events.as_array().unwrap().len(), 1, "{events}");

    let docker = Dockerd::start().unwrap_or_else(|why| panic!("dockerd must run here: {why}"));
    for (runtime, extra) in [
        ("oci", vec![]),
        ("docker", vec!["--docker-host".to_string(), docker.host()]),
    ] {
        let o = dir.path().join(runtime);
        let mut args = vec![
            "--inputs".to_string(),
            alerts().display().to_string(),
            "--out".into(),
            o.display().to_string(),
            "--runtime".into(),
            runtime.into(),
            "--expect".into(),
            base.join("run.json").display().to_string(),
        ];
        args.extend(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = reproduce(archive, &args, dir.path());
        assert!(
            out.status.success(),
            "{runtime}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        let r = record(&o);
        assert_eq!(r["results_digest"], digest.as_str(), "{runtime}");
        assert_eq!(r["verdict"], "REPRODUCED", "{runtime}");
        assert_eq!(r["runtime"], runtime);
    }
    // the container is gone, the image stays loaded under its config digest
    let ps = docker.docker(&["ps", "-aq"]);
    assert_eq!(text(&ps.stdout).trim(), "", "no container left behind");
    let id = docker.docker(&[
        "image",
        "inspect",
        "-f",
        "{{.Id}}",
        report["config_digest"].as_str().unwrap(),
    ]);
    assert_eq!(
        text(&id.stdout).trim(),
        report["config_digest"].as_str().unwrap()
    );
    // and a plain digest works as the expectation too
    let o = dir.path().join("again");
    let out = reproduce_demo(archive, &o, &["--expect", &digest], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(record(&o)["verdict"], "REPRODUCED");
}

#[test]
fn a_changed_input_or_a_tampered_image_is_refused_before_anything_runs() {
    let (archive, _) = demo_image();
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("ztf-fink-2020-v3.3");
    copy_tree(&alerts(), &inputs);
    let first = dir.path().join("first");
    let out = reproduce_from(archive, &inputs, &first, &[], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    // the run record reads back as one
    let rec = ampel_runner::reproduce::load_record(&first.join("run.json")).unwrap();
    assert_eq!(rec.inputs.len(), 50);
    assert_eq!(rec.exit_code, 0);
    assert_eq!(rec.runtime, "native");
    assert!(rec.host.contains_key("hostname") && !rec.started.is_empty());
    assert_eq!(
        rec.inputs_digest,
        ampel_runner::reproduce::inputs_digest(&rec.inputs)
    );

    // the record given to --expect is never overwritten by the run it checks
    let before = std::fs::read(first.join("run.json")).unwrap();
    let out = reproduce_from(
        archive,
        &inputs,
        &first,
        &["--expect", first.join("run.json").to_str().unwrap()],
        dir.path(),
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("which this run replaces") && err.contains("--out"),
        "{err}"
    );
    assert_eq!(std::fs::read(first.join("run.json")).unwrap(), before);

    // a renamed input folder: the files are matched by content
    let renamed = dir.path().join("alerts-renamed");
    copy_tree(&inputs, &renamed);
    let moved = dir.path().join("moved");
    let out = reproduce_from(
        archive,
        &renamed,
        &moved,
        &["--expect", first.join("run.json").to_str().unwrap()],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("50 input files have other paths"),
        "{}",
        text(&out.stderr)
    );
    let rec = ampel_runner::reproduce::load_record(&moved.join("run.json")).unwrap();
    assert_eq!(rec.verdict, "REPRODUCED");

    // one flipped byte in one alert file
    let victim = inputs.join("1095578115815010005.avro");
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[1000] ^= 0x01;
    std::fs::write(&victim, bytes).unwrap();
    let second = dir.path().join("second");
    let out = reproduce_from(
        archive,
        &inputs,
        &second,
        &["--expect", first.join("run.json").to_str().unwrap()],
        dir.path(),
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "inputs differ: {err}");
    assert!(
        err.contains("input ztf-fink-2020-v3.3/1095578115815010005.avro changed"),
        "{err}"
    );
    assert!(!second.join("ampel.db").exists(), "nothing ran");

    // a tampered image: one flipped byte in the runtime binary layer
    let bad = dir.path().join("bad.tar");
    let mut ar = tar::Archive::new(std::fs::File::open(archive).unwrap());
    let mut w = tar::Builder::new(std::fs::File::create(&bad).unwrap());
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        if data.len() > 1_000_000 {
            data[500_000] ^= 0x01;
        }
        let mut h = e.header().clone();
        w.append_data(&mut h, &name, data.as_slice()).unwrap();
    }
    w.finish().unwrap();
    for runtime in ["native", "oci", "docker"] {
        let o = dir.path().join(format!("tampered-{runtime}"));
        let out = reproduce_demo(&bad, &o, &["--runtime", runtime], dir.path());
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "a failure: {err}");
        assert!(
            err.contains("does not verify; nothing was run") && err.contains("hashes to"),
            "{runtime}: {err}"
        );
        assert!(!o.exists(), "{runtime}: nothing ran");
    }
}

#[test]
fn a_missing_runtime_is_named_before_anything_runs() {
    let (archive, _) = demo_image();
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().join("out");
    let out = ampel(
        &[
            "image",
            "run",
            archive.to_str().unwrap(),
            "--runtime",
            "oci",
            "--oci-runtime",
            "/nonexistent/crun",
            "--out",
            o.to_str().unwrap(),
            "--",
            "--version",
        ],
        dir.path(),
    );
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("the OCI runtime `/nonexistent/crun` cannot run"),
        "{err}"
    );
    let out = ampel(
        &[
            "image",
            "run",
            archive.to_str().unwrap(),
            "--runtime",
            "docker",
            "--docker-host",
            "unix:///nonexistent/docker.sock",
            "--out",
            o.to_str().unwrap(),
            "--",
            "--version",
        ],
        dir.path(),
    );
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("no Docker daemon at unix:///nonexistent/docker.sock"),
        "{err}"
    );
}

#[test]
fn image_run_passes_arguments_and_maps_paths_under_native_and_oci() {
    let (archive, _) = demo_image();
    let dir = tempfile::tempdir().unwrap();
    for runtime in ["native", "oci"] {
        let o = dir.path().join(runtime);
        let out = ampel(
            &[
                "image",
                "run",
                archive.to_str().unwrap(),
                "--runtime",
                runtime,
                "--cache",
                shared_cache().to_str().unwrap(),
                "--input",
                alerts().to_str().unwrap(),
                "--out",
                o.to_str().unwrap(),
                "--",
                "--json",
                "--db",
                "sqlite:/out/x.db",
                "t0",
                "--config",
                "/etc/ampel/instance.json",
                "--source",
                "/inputs/fink-2020-v3.3",
            ],
            dir.path(),
        );
        // the instance config is not a T0 config: the binary names the file and field
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{runtime}");
        assert!(err.contains("instance.json"), "{runtime}: {err}");
        let out = ampel(
            &[
                "image",
                "run",
                archive.to_str().unwrap(),
                "--runtime",
                runtime,
                "--cache",
                shared_cache().to_str().unwrap(),
                "--input",
                alerts().to_str().unwrap(),
                "--out",
                o.to_str().unwrap(),
                "--",
                "--db",
                "sqlite:/out/x.db",
                "instance",
                "run",
                "--inputs",
                "/inputs",
                "--out",
                "/out",
            ],
            dir.path(),
        );
        assert!(out.status.success(), "{runtime}: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains("results digest"), "{runtime}");
        assert!(
            o.join("x.db").is_file(),
            "{runtime}: the store went to /out"
        );
        assert!(o.join("instance-run.json").is_file(), "{runtime}");
    }
}

#[test]
fn different_results_are_shown_by_their_first_differing_documents() {
    let (archive, _) = demo_image();
    let dir = tempfile::tempdir().unwrap();
    let earlier = dir.path().join("earlier");
    let out = reproduce_demo(archive, &earlier, &[], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    // the archived run's store disagrees: its fast-riser results were never computed
    let store =
        ampel_commands::open_store(&format!("sqlite:{}", earlier.join("ampel.db").display()))
            .unwrap();
    let changed = store
        .reset_t2(
            &ampel_store::T2Filter {
                unit: Some(vec!["T2FastRiser".into()]),
                ..Default::default()
            },
            ampel_interface::DocumentCode::NEW,
            ampel_store::ResetMode::CodeAndBody,
        )
        .unwrap();
    assert!(changed > 0);
    let digest = ampel_core::digest::results_digest(store.as_ref())
        .unwrap()
        .digest;
    let rec_path = earlier.join("run.json");
    let mut rec: Value = serde_json::from_slice(&std::fs::read(&rec_path).unwrap()).unwrap();
    rec["results_digest"] = Value::String(digest.clone());
    std::fs::write(&rec_path, serde_json::to_vec_pretty(&rec).unwrap()).unwrap();
    drop(store);

    let now = dir.path().join("now");
    let out = reproduce_demo(
        archive,
        &now,
        &["--expect", rec_path.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "a different result fails the command with its own code"
    );
    assert!(text(&out.stderr).contains(&format!("expected {digest}")));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["record"]["verdict"], "DIFFERENT");
    let diffs = v["differences"].as_array().unwrap();
    assert_eq!(diffs.len(), 1, "only t2 differs: {diffs:?}");
    assert_eq!(diffs[0]["collection"], "t2");
    assert!(diffs[0]["actual"].as_str().unwrap().contains("fast_riser"));
    assert!(!diffs[0]["expected"]
        .as_str()
        .unwrap()
        .contains("fast_riser"));
    // the table form names the collection too
    let out = ampel(
        &[
            "reproduce",
            archive.to_str().unwrap(),
            "--cache",
            shared_cache().to_str().unwrap(),
            "--inputs",
            alerts().to_str().unwrap(),
            "--out",
            dir.path().join("table").to_str().unwrap(),
            "--expect",
            rec_path.to_str().unwrap(),
        ],
        dir.path(),
    );
    let t = text(&out.stdout);
    assert!(
        t.contains("DIFFERENT") && t.contains("first difference in t2:"),
        "{t}"
    );
}
