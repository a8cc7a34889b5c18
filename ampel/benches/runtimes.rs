//! Overhead of each runtime over running the instance's job directly, on the ZTF
//! demo image and the 50 real alerts of `tests/data`: the extracted static binary
//! run as `ampel instance run` (direct), then `ampel reproduce` (verify the image,
//! hash the inputs, run, write the run record) under native, oci (runc) and docker
//! (a dockerd of its own; the first run includes `docker load`).
//!
//! Run: `cargo bench -p ampel-builder --bench runtimes` (needs runc and docker.io).

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::Command;
use std::time::Instant;
use support::*;

fn time(mut cmd: Command) -> f64 {
    let t = Instant::now();
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{:?}: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    t.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

const RUNS: usize = 5;

fn main() {
    let (archive, report) = demo_image();
    let alerts = repo().join("tests/data/alerts/ztf/fink-2020-v3.3");
    let dir = tempfile::tempdir().unwrap();
    let cache = shared_cache();
    let rootfs = cache.join("rootfs").join(
        report["manifest_digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:"),
    );
    let reproduce = |runtime: &str, out: &Path, extra: &[String]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ampel"));
        c.args(["reproduce"])
            .arg(archive)
            .arg("--inputs")
            .arg(&alerts)
            .arg("--out")
            .arg(out)
            .args(["--runtime", runtime, "--cache"])
            .arg(&cache)
            .args(extra);
        c
    };
    // first native run extracts the image into the cache
    time(reproduce("native", &dir.path().join("warmup"), &[]));
    let direct = median(
        (0..RUNS)
            .map(|i| {
                let out = dir.path().join(format!("direct{i}"));
                let mut c = Command::new(rootfs.join("usr/local/bin/ampel"));
                c.args(["--json", "instance", "run", "--instance"])
                    .arg(rootfs.join("etc/ampel/instance.json"))
                    .arg("--inputs")
                    .arg(&alerts)
                    .arg("--out")
                    .arg(&out);
                time(c)
            })
            .collect(),
    );
    let mut rows = vec![("direct (the static binary, no checks)".to_string(), direct)];
    for runtime in ["native", "oci"] {
        let t = median(
            (0..RUNS)
                .map(|i| {
                    time(reproduce(
                        runtime,
                        &dir.path().join(format!("{runtime}{i}")),
                        &[],
                    ))
                })
                .collect(),
        );
        rows.push((format!("reproduce --runtime {runtime}"), t));
    }
    let docker = Dockerd::start().expect("dockerd");
    let host = vec!["--docker-host".to_string(), docker.host()];
    let first = time(reproduce("docker", &dir.path().join("docker-first"), &host));
    rows.push((
        "reproduce --runtime docker, first run (docker load)".into(),
        first,
    ));
    let t = median(
        (0..RUNS)
            .map(|i| {
                time(reproduce(
                    "docker",
                    &dir.path().join(format!("docker{i}")),
                    &host,
                ))
            })
            .collect(),
    );
    rows.push(("reproduce --runtime docker (image loaded)".into(), t));
    println!("| run | seconds (median of {RUNS}) | overhead over direct |");
    println!("|---|---:|---:|");
    for (name, t) in rows {
        println!("| {name} | {t:.3} | {:+.3} s |", t - direct);
    }
}
