//! `ampel image push|pull` against Debian's docker-registry on 127.0.0.1: the digest
//! survives the round trip (skopeo agrees), a second push uploads no blob (counted
//! from the registry's log), a pulled archive verifies, is byte-identical to the one
//! pushed, reproduces the same results, and Docker pulls and runs it; registry
//! errors are clear and leave nothing half-written in the cache.

mod support;

use serde_json::Value;
use std::path::Path;
use support::*;

fn alerts() -> std::path::PathBuf {
    repo().join("tests/data/alerts/ztf/fink-2020-v3.3")
}

#[test]
fn push_pull_verify_reproduce_keeps_every_digest() {
    let (archive, report) = demo_image();
    let digest = report["manifest_digest"].as_str().unwrap();
    let reg = Registry::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let tagged = format!("{}/ampel/ztf-demo:1.0.0", reg.addr);
    let first = ampel_json(
        &["image", "push", archive.to_str().unwrap(), &tagged],
        dir.path(),
    );
    assert_eq!(first["manifest_digest"], digest);
    assert_eq!(
        first["uploaded"].as_array().unwrap().len(),
        4,
        "config and three layers"
    );
    let uploads = reg.blob_uploads();
    assert!(uploads >= 8, "POST + PATCH(es) + PUT per blob: {uploads}");
    // skopeo sees the archive's digest
    let out = tool("skopeo")
        .args(["inspect", "--tls-verify=false"])
        .arg(format!("docker://{tagged}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "skopeo: {}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["Digest"], digest);
    // pushing again uploads nothing: the registry's log shows no new upload request
    let again = ampel_json(
        &["image", "push", archive.to_str().unwrap(), &tagged],
        dir.path(),
    );
    assert_eq!(again["uploaded"].as_array().unwrap().len(), 0);
    assert_eq!(again["present"].as_array().unwrap().len(), 4);
    assert_eq!(
        reg.blob_uploads(),
        uploads,
        "no blob uploaded the second time"
    );
    // pull by digest: verified, byte-identical
    let by_digest = format!("{}/ampel/ztf-demo@{digest}", reg.addr);
    let pulled = dir.path().join("pulled.tar");
    let p = ampel_json(
        &["image", "pull", &by_digest, "-o", pulled.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(p["verified"], true);
    assert_eq!(p["pull"]["manifest_digest"], digest);
    assert!(
        std::fs::read(&pulled).unwrap() == std::fs::read(archive).unwrap(),
        "the pulled archive is the one pushed"
    );
    let v = ampel(&["image", "verify", pulled.to_str().unwrap()], dir.path());
    assert!(v.status.success(), "{}", text(&v.stderr));
    // reproduce straight from the registry reference, against a local run
    let cache = dir.path().join("cache");
    let local = dir.path().join("local");
    let out = ampel(
        &[
            "reproduce",
            archive.to_str().unwrap(),
            "--inputs",
            alerts().to_str().unwrap(),
            "--out",
            local.to_str().unwrap(),
            "--cache",
            cache.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let remote = dir.path().join("remote");
    let out = ampel(
        &[
            "--json",
            "reproduce",
            &by_digest,
            "--inputs",
            alerts().to_str().unwrap(),
            "--out",
            remote.to_str().unwrap(),
            "--cache",
            cache.to_str().unwrap(),
            "--expect",
            local.join("run.json").to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["record"]["verdict"], "REPRODUCED");
    assert_eq!(r["record"]["image"]["manifest_digest"], digest);
    let hex = digest.trim_start_matches("sha256:");
    assert!(cache.join("pulled").join(format!("{hex}.tar")).is_file());
    // Debian's Docker pulls the pushed image and runs it
    let d = Dockerd::start().unwrap_or_else(|why| panic!("dockerd must run here: {why}"));
    let out = d.docker(&["pull", &by_digest]);
    assert!(
        out.status.success(),
        "docker pull: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let out = d.docker(&["run", "--rm", "--network", "none", &by_digest, "--version"]);
    assert!(out.status.success(), "docker run: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "ampel 0.1.0");
    let id = d.docker(&["image", "inspect", "-f", "{{.Id}}", &by_digest]);
    assert_eq!(
        text(&id.stdout).trim(),
        report["config_digest"].as_str().unwrap()
    );
}

fn no_leftovers(cache: &Path) {
    let pulled = cache.join("pulled");
    let left: Vec<String> = std::fs::read_dir(&pulled)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "half-written files in the cache: {left:?}");
}

#[test]
fn registry_errors_are_clear_and_leave_nothing_half_written() {
    let (archive, report) = demo_image();
    let digest = report["manifest_digest"].as_str().unwrap();
    let reg = Registry::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let tagged = format!("{}/ampel/ztf-demo:1.0.0", reg.addr);
    ampel_json(
        &["image", "push", archive.to_str().unwrap(), &tagged],
        dir.path(),
    );
    let run_ref = |reference: &str| {
        ampel(
            &[
                "reproduce",
                reference,
                "--inputs",
                alerts().to_str().unwrap(),
                "--out",
                dir.path().join("out").to_str().unwrap(),
                "--cache",
                cache.to_str().unwrap(),
            ],
            dir.path(),
        )
    };
    let wrong = format!("sha256:{}", "a".repeat(64));
    for (reference, expected) in [
        (
            format!("{}/ampel/no-such-repo@{digest}", reg.addr),
            "not found in",
        ),
        (
            format!("{}/ampel/ztf-demo@{wrong}", reg.addr),
            "not found in",
        ),
        (
            format!("127.0.0.1:1/ampel/ztf-demo@{digest}"),
            "cannot reach registry 127.0.0.1:1",
        ),
        (format!("{}/ampel/ztf-demo:1.0.0", reg.addr), "by digest"),
    ] {
        let out = run_ref(&reference);
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{reference}");
        assert!(err.contains(expected), "{reference}: {err}");
        no_leftovers(&cache);
        assert!(
            !dir.path().join("out").exists(),
            "nothing ran for {reference}"
        );
    }
    // a blob whose bytes do not match its digest (damaged in the registry's storage)
    let config = report["config_digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:");
    let stored = reg
        .dir
        .path()
        .join("data/docker/registry/v2/blobs/sha256")
        .join(&config[..2])
        .join(config)
        .join("data");
    let mut bytes = std::fs::read(&stored).unwrap();
    bytes[100] ^= 0x01;
    std::fs::write(&stored, bytes).unwrap();
    let by_digest = format!("{}/ampel/ztf-demo@{digest}", reg.addr);
    let out = run_ref(&by_digest);
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!("blob sha256:{config}")) && err.contains("nothing was written"),
        "{err}"
    );
    no_leftovers(&cache);
    let target = dir.path().join("pulled.tar");
    let out = ampel(
        &["image", "pull", &by_digest, "-o", target.to_str().unwrap()],
        dir.path(),
    );
    assert!(!out.status.success());
    assert!(!target.exists(), "no half-written archive");
    let stray: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".ampel-pull-"))
        .collect();
    assert!(stray.is_empty(), "temporary pull directories left");
}

#[test]
fn credentials_come_from_the_environment_or_docker_config_and_are_never_shown() {
    let (archive, _) = demo_image();
    let reg = Registry::start(&[("alice", "s3cret-Pa55")]);
    let dir = tempfile::tempdir().unwrap();
    let tagged = format!("{}/ampel/ztf-demo:1.0.0", reg.addr);
    let push = |envs: &[(&str, &str)]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_ampel"));
        c.args(["image", "push", archive.to_str().unwrap(), &tagged])
            .current_dir(dir.path())
            .env("DOCKER_CONFIG", dir.path().join("docker"))
            .env_remove("AMPEL_REGISTRY_USERNAME")
            .env_remove("AMPEL_REGISTRY_PASSWORD");
        for (k, v) in envs {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let out = push(&[]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("requires authentication"),
        "{}",
        text(&out.stderr)
    );
    let out = push(&[
        ("AMPEL_REGISTRY_USERNAME", "alice"),
        ("AMPEL_REGISTRY_PASSWORD", "not-the-password"),
    ]);
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("refused authentication as `alice`"), "{err}");
    assert!(!err.contains("not-the-password"));
    let out = push(&[
        ("AMPEL_REGISTRY_USERNAME", "alice"),
        ("AMPEL_REGISTRY_PASSWORD", "s3cret-Pa55"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout) + &text(&out.stderr);
    assert!(!shown.contains("s3cret-Pa55"));
    // from ~/.docker/config.json (here $DOCKER_CONFIG), as `docker login` writes it
    std::fs::create_dir_all(dir.path().join("docker")).unwrap();
    std::fs::write(
        dir.path().join("docker/config.json"),
        serde_json::json!({"auths": {reg.addr.clone(): {"auth": "YWxpY2U6czNjcmV0LVBhNTU="}}})
            .to_string(),
    )
    .unwrap();
    let out = push(&[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!(text(&out.stdout) + &text(&out.stderr)).contains("s3cret"));
    assert!(
        !reg.log().contains("s3cret-Pa55"),
        "not even the registry logs it"
    );
}
