//! Archival jobs are reproducible: the same job over the real ZTF alerts gives the
//! same results digest twice in one process and once more in a fresh process.

use ampel_core::job::{load_job, run_job};
use std::process::Command;

fn job_file(dir: &std::path::Path) -> std::path::PathBuf {
    let manifest = ampel_tests::repo_root()
        .join("manifests")
        .join("ztf-demo.toml");
    let src = ampel_tests::real_alerts().join("ztf");
    let text = format!(
        "name = \"repro\"\n[[task]]\nkind = \"t0\"\nmanifest = {:?}\nsource = [{:?}]\n[[task]]\nkind = \"t2\"\n[[task]]\nkind = \"t3\"\nprocess = \"report\"\nselect = {{ channel_any = [\"DEMO_BRIGHT\"] }}\nunits = [{{ unit = \"T3ReportExporter\", channel = \"DEMO_BRIGHT\" }}]\n",
        manifest.display().to_string(),
        src.display().to_string()
    );
    let path = dir.join("repro.job.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Run `job` (whose file is in `dir`) against `store` with the test units.
fn run_in(
    job: &ampel_core::job::JobConfig,
    dir: &std::path::Path,
    store: &dyn ampel_store::Store,
) -> Result<ampel_core::job::JobReport, ampel_core::job::JobError> {
    let registry = ampel_tests::units::registry();
    run_job(job, dir, &registry, store, dir, &ampel_core::Silent, &|m| {
        ampel_manifest::t0_for_binary(m, &registry)
    })
}

#[test]
fn the_same_job_gives_the_same_digest_in_one_process_and_in_another() {
    let dir = tempfile::tempdir().unwrap();
    let file = job_file(dir.path());
    let job = load_job(&file).unwrap();
    let mut digests = Vec::new();
    for i in 0..2 {
        let store = ampel_commands::open_store(&format!(
            "sqlite:{}",
            dir.path().join(format!("run{i}.db")).display()
        ))
        .unwrap();
        let report = run_in(&job, dir.path(), store.as_ref()).unwrap();
        assert!(
            report.digest.collections["t2"].0 > 0,
            "the job made T2 results"
        );
        digests.push(report.digest.digest);
    }
    let out = Command::new(env!("CARGO_BIN_EXE_ampel-test-job"))
        .args([
            format!("sqlite:{}", dir.path().join("fresh.db").display()),
            file.display().to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    digests.push(String::from_utf8(out.stdout).unwrap().trim().to_string());
    assert!(digests[0].starts_with("sha256:") && digests[0].len() == 71);
    assert_eq!(digests[0], digests[1], "same process");
    assert_eq!(digests[0], digests[2], "fresh process");
}

#[test]
fn a_job_refuses_a_store_that_is_not_fresh_and_reports_config_positions() {
    let dir = tempfile::tempdir().unwrap();
    let file = job_file(dir.path());
    let job = load_job(&file).unwrap();
    let uri = format!("sqlite:{}", dir.path().join("used.db").display());
    let store = ampel_commands::open_store(&uri).unwrap();
    let first = run_in(&job, dir.path(), store.as_ref()).unwrap();
    // run again on its own store, the job resumes: every task finished, nothing
    // is done again and the digest is the same
    let again = run_in(&job, dir.path(), store.as_ref()).unwrap();
    assert_eq!(again.digest, first.digest);
    // a store holding anything else is not a job's to resume
    let other = ampel_core::job::JobConfig {
        name: "another".into(),
        ..job.clone()
    };
    let e = run_in(&other, dir.path(), store.as_ref())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("fresh, empty store") && e.contains("used.db"),
        "{e}"
    );
    let bad = dir.path().join("bad.job.toml");
    std::fs::write(&bad, "name = \"x\"\n[[task]]\nkind = \"t9\"\n").unwrap();
    let e = load_job(&bad).unwrap_err().to_string();
    assert!(
        e.contains("bad.job.toml:3:8") && e.contains("unknown variant `t9`"),
        "{e}"
    );
}
