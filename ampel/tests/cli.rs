//! The `ampel` binary as a user runs it: output, exit codes and error messages.

mod support;

use std::process::{Command, Output};

fn ampel(args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ampel"))
        .args(args)
        .current_dir(dir)
        .env_remove("AMPEL_DB")
        .output()
        .expect("run ampel")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn units_list_json_names_every_unit() {
    let dir = tempfile::tempdir().unwrap();
    let out = ampel(&["units", "list", "--json"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"CriteriaFilter"), "{names:?}");
    assert!(v[0]["digest"].as_str().unwrap().len() == 16);
}

#[test]
fn units_check_reports_every_problem_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = r#"{"min_count": 0, "bogus": 1, "criteria": [{"attribute": "rb", "operator": ">", "value": "x"}]}"#;
    let out = ampel(
        &["units", "check", "CriteriaFilter", "--config", cfg],
        dir.path(),
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("invalid config for unit `CriteriaFilter`"),
        "{err}"
    );
    assert!(err.contains("field `bogus` = 1: unknown field"), "{err}");
    assert!(err.contains("field `min_count` = 0: at least 1"), "{err}");
    assert!(err.contains("field `criteria.0.value` = \"x\""), "{err}");
    let out = ampel(&["units", "check", "CriteriaFiltr"], dir.path());
    assert!(
        text(&out.stderr).contains("unknown unit `CriteriaFiltr` (did you mean CriteriaFilter?)")
    );
}

#[test]
fn units_check_prints_hash_and_trace() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = r#"{"criteria": [{"attribute": "rb", "operator": ">=", "value": 0.3}]}"#;
    let out = ampel(
        &[
            "--json",
            "units",
            "check",
            "CriteriaFilter",
            "--config",
            cfg,
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["config"]["min_count"], 1, "defaults filled");
    let h = v["config_hash"].as_i64().unwrap();
    let again = ampel(
        &["hash", "config", "--json", &v["config"].to_string()],
        dir.path(),
    );
    let a: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(
        a["hash"].as_i64().unwrap(),
        h,
        "config hash is the hash of the normalised config"
    );
}

#[test]
fn db_info_on_the_default_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let out = ampel(&["db", "init", "--json"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["counts"]["t2"], 0);
    assert!(
        dir.path().join("ampel.db").exists(),
        "default store is ./ampel.db"
    );
    let table = text(&ampel(&["db", "info"], dir.path()).stdout);
    assert!(
        table.contains("collection") && table.contains("layout v1"),
        "{table}"
    );
}

#[test]
fn bad_store_paths_give_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("junk.db"), vec![b'x'; 4096]).unwrap();
    let out = ampel(&["db", "info", "--db", "sqlite:junk.db"], dir.path());
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert_eq!(
        err.trim(),
        "error: sqlite:junk.db is not an ampel store: the file is not an SQLite database"
    );
    let out = ampel(
        &["db", "info", "--db", "mongodb://user:secret@127.0.0.1:9/x"],
        dir.path(),
    );
    let err = text(&out.stderr);
    assert!(
        !err.contains("secret") && err.contains("***@127.0.0.1:9"),
        "{err}"
    );
}

#[test]
fn link_hash_matches_python_ampel() {
    let dir = tempfile::tempdir().unwrap();
    // value from tests/fixtures/golden-hashes.json (Python AMPEL)
    let out = ampel(&["--json", "hash", "link", "3", "1", "2"], dir.path());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let golden: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/golden-hashes.json"
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(v["link"], golden["link"][1]["hash"]);
}

#[test]
fn explain_tells_who_made_a_t2_result() {
    let dir = tempfile::tempdir().unwrap();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let alerts = support::real_alerts();
    let job = dir.path().join("demo.job.toml");
    std::fs::write(
        &job,
        format!(
            "name = \"demo\"\n[[task]]\nkind = \"t0\"\nmanifest = {:?}\nsource = [{:?}]\n[[task]]\nkind = \"t2\"\n",
            repo.join("manifests/ztf-demo.toml").display().to_string(),
            alerts.join("ztf/fink-2019-v3.1").display().to_string()
        ),
    )
    .unwrap();
    let out = ampel(&["job", job.to_str().unwrap()], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("results digest"));
    // without a terminal (the test's pipe), each task says what it did when it ends
    let err = text(&out.stderr);
    assert!(
        err.contains("task 1/2 (t0): 31 alerts read, done in"),
        "{err}"
    );
    assert!(err.contains("task 2/2 (t2): "), "{err}");
    assert!(err.contains(" tickets done, done in"), "{err}");
    let events: serde_json::Value =
        serde_json::from_slice(&ampel(&["event", "--json"], dir.path()).stdout).unwrap();
    assert_eq!(events.as_array().unwrap().len(), 2, "one run per task");
    let list: serde_json::Value = serde_json::from_slice(
        &ampel(
            &[
                "--json",
                "t2",
                "list",
                "--unit",
                "T2RiseDeclineFit",
                "--limit",
                "1",
            ],
            dir.path(),
        )
        .stdout,
    )
    .unwrap();
    let id = list[0]["id"].as_str().expect("a T2 document").to_string();
    let out = ampel(&["--json", "explain", &id], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["id"], id.as_str());
    assert_eq!(v["unit"], "T2RiseDeclineFit");
    let history = v["history"].as_array().unwrap();
    assert_eq!(history[0]["process"], "demo#1", "requested by the T0 task");
    let done = history
        .iter()
        .find(|h| h["tier"] == 2)
        .expect("a T2 attempt");
    assert_eq!(done["process"], "demo#2");
    assert_eq!(done["trace"]["t2unit"]["unit"], "T2RiseDeclineFit");
    assert_eq!(
        done["trace"]["t2unit"]["version"],
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(
        done["trace"]["t2unit"]["digest"].as_str().unwrap().len(),
        16
    );
    assert_eq!(v["config"]["mag"], "magpsf", "the configuration is shown");
    assert!(
        !v["journal"].as_array().unwrap().is_empty(),
        "journal entries about the document"
    );
    // the journal's action bits in words
    assert!(v["journal"]
        .as_array()
        .unwrap()
        .iter()
        .any(|j| j["actions"] == serde_json::json!(["T2_ADD_BODY", "T2_SET_CODE"])));
    let table = text(&ampel(&["explain", &id], dir.path()).stdout);
    assert!(
        table.contains("process demo#2") && table.contains("T2RiseDeclineFit"),
        "{table}"
    );
    assert!(
        table.contains("T2_ADD_BODY T2_SET_CODE (action "),
        "{table}"
    );
}

#[test]
fn serve_runs_two_scheduled_processes_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let alerts = support::real_alerts();
    let t0 = ampel(
        &[
            "t0",
            "--manifest",
            repo.join("manifests/ztf-demo.toml").to_str().unwrap(),
            "--source",
            alerts.join("ztf/fink-2019-v3.1").to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(t0.status.success(), "{}", text(&t0.stderr));
    let procs = dir.path().join("procs.toml");
    std::fs::write(
        &procs,
        "[[process]]\nname = \"fast-t2\"\ntier = 2\nschedule = \"every 1s\"\n\n[[process]]\nname = \"fast-report\"\ntier = 3\nschedule = \"* * * * * *\"\nchannel = \"DEMO_BRIGHT\"\nt3_units = [{ unit = \"T3ReportExporter\" }]\n",
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_ampel"))
        .args(["serve", "--processes", procs.to_str().unwrap()])
        .current_dir(dir.path())
        .env_remove("AMPEL_DB")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(3500));
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("stopping: no new runs") && err.contains("stopped cleanly"),
        "{err}"
    );
    let events: serde_json::Value =
        serde_json::from_slice(&ampel(&["event", "--json"], dir.path()).stdout).unwrap();
    for process in ["fast-t2", "fast-report"] {
        let runs: Vec<&serde_json::Value> = events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["process"] == process)
            .collect();
        assert!(runs.len() >= 2, "{process} ran {} times: {err}", runs.len());
        assert!(runs.iter().all(|e| e["code"] == 0), "{process}: {runs:?}");
        // never two runs of one process at once
        for w in runs.windows(2) {
            let end = w[0]["start"].as_f64().unwrap() + w[0]["duration"].as_f64().unwrap();
            assert!(
                end <= w[1]["start"].as_f64().unwrap() + 1e-3,
                "{process} overlapped: {w:?}"
            );
        }
    }
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[process]]\nname = \"x\"\ntier = 1\nschedule = \"at noon\"\nunits = [\"T2Nope\"]\n\n[[process]]\nname = \"y\"\ntier = 3\nschedule = \"every 1m\"\nselect = { since_last_run_of = \"z\" }\nt3_units = [{ unit = \"T3ReportExporter\" }]\n",
    )
    .unwrap();
    let out = ampel(&["serve", "--processes", bad.to_str().unwrap()], dir.path());
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("since_last_run_of names an unknown process `z` (known: x, y)"),
        "{err}"
    );
    assert!(
        err.contains("tier 1 cannot run here")
            && err.contains("unknown unit `T2Nope`")
            && err.contains("`at noon` is neither"),
        "{err}"
    );
}

#[test]
fn manifest_check_reports_every_problem_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let ok = ampel(
        &[
            "manifest",
            "check",
            repo.join("manifests/ztf-demo.toml").to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    let resolved: serde_json::Value = serde_json::from_slice(
        &ampel(
            &[
                "--json",
                "manifest",
                "check",
                repo.join("manifests/ztf-demo.toml").to_str().unwrap(),
            ],
            dir.path(),
        )
        .stdout,
    )
    .unwrap();
    assert_eq!(resolved["t0"]["directives"].as_array().unwrap().len(), 2);
    assert!(
        resolved["live"].is_null(),
        "the archival demo has no live source"
    );
    let resolved: serde_json::Value = serde_json::from_slice(
        &ampel(
            &[
                "--json",
                "manifest",
                "check",
                repo.join("manifests/ztf-live.toml").to_str().unwrap(),
            ],
            dir.path(),
        )
        .stdout,
    )
    .unwrap();
    assert_eq!(resolved["live"]["topics"][0], "ztf_public");
    assert_eq!(
        resolved["live"]["brokers"], "",
        "brokers come from AMPEL_KAFKA_BROKERS"
    );
    assert_eq!(
        resolved["processes"][1]["name"],
        "DEMO_BRIGHT-T3ReportExporter"
    );
    let units = repo.join("units").display().to_string();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        format!(
            r#"[instance]
name = "bad"
version = "0.0.1"

[[crate]]
name = "ampel-units-nope"
path = "{units}/nope"
units = ["X"]

[[crate]]
name = "ampel-units-ztf"
path = "{units}/ztf"
units = ["ZiAlertSupplier", "ZiDataPointShaper", "ZiT1Combiner", "SimpleDecentFilter", "ZiNope"]

[[crate]]
name = "ampel-units-lightcurve"
path = "{units}/lightcurve"
units = ["T2FastRiser"]

[t0]
supplier = {{ unit = "ZiAlertSupplier" }}
shaper = {{ unit = "ZiDataPointShaper" }}
combiner = {{ unit = "ZiT1Combiner" }}

[[channel]]
name = "A"
filter = {{ unit = "SimpleDecentFilter", config = {{ min_rb = 7 }} }}
t2 = [{{ unit = "T2FastRiser" }}, {{ unit = "T2Ghost" }}]
t3 = [{{ unit = "T3ReportExporter", schedule = "at noon" }}]
"#
        ),
    )
    .unwrap();
    let out = ampel(&["manifest", "check", bad.to_str().unwrap()], dir.path());
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("7 problem(s)"), "{err}");
    let f = bad.display().to_string();
    for expected in [
        format!("{f}:6:8: unknown unit crate `ampel-units-nope`"),
        format!("{f}:13:88: crate `ampel-units-ztf` does not export unit `ZiNope`"),
        format!("{f}:27:19: channel `A` filter: invalid config for unit `SimpleDecentFilter`\n  - field `min_rb` = 7.0: a score in [0, 1]"),
        format!("{f}:28:42: channel `A` t2 uses unit `T2Ghost`, which no declared crate provides"),
        format!("{f}:28:16: `T2FastRiser` depends on `T2RiseDeclineFit`, which channel `A` does not request"),
        format!("{f}:29:16: channel `A` t3 uses unit `T3ReportExporter`, which no declared crate provides"),
        format!("{f}:29:47: schedule `at noon` is neither"),
    ] {
        assert!(err.contains(&expected), "missing `{expected}` in:\n{err}");
    }
}

#[test]
fn export_and_import_between_stores_keep_the_results_digest() {
    let dir = tempfile::tempdir().unwrap();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let manifest = repo.join("manifests/ztf-demo.toml");
    let out = ampel(
        &[
            "--db",
            "sqlite:a.db",
            "job",
            "--manifest",
            manifest.to_str().unwrap(),
            "--inputs",
            support::real_alerts().join("ztf").to_str().unwrap(),
            "--out",
            "out",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let digest_of = |db: &str| -> String {
        let o = ampel(&["--json", "digest", db], dir.path());
        assert!(o.status.success(), "{}", text(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["digest"].as_str().unwrap().to_string()
    };
    let a = digest_of("sqlite:a.db");
    let exp = ampel(&["--db", "sqlite:a.db", "db", "export", "dump"], dir.path());
    assert!(exp.status.success(), "{}", text(&exp.stderr));
    let header: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("dump/header.json")).unwrap())
            .unwrap();
    assert_eq!(header["results_digest"], a.as_str());
    assert_eq!(header["layout"], 1);
    let imp = ampel(&["--db", "sqlite:b.db", "db", "import", "dump"], dir.path());
    assert!(imp.status.success(), "{}", text(&imp.stderr));
    assert_eq!(digest_of("sqlite:b.db"), a, "export -> import -> digest");
    // provenance came along, and new runs continue after the imported ones
    let events = |db: &str| -> Vec<i64> {
        let o = ampel(&["--json", "--db", db, "event"], dir.path());
        serde_json::from_slice::<serde_json::Value>(&o.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["run"].as_i64().unwrap())
            .collect()
    };
    let before = events("sqlite:b.db");
    assert_eq!(before, events("sqlite:a.db"));
    let t2 = ampel(
        &["--db", "sqlite:b.db", "t2", "run", "--until-empty"],
        dir.path(),
    );
    assert!(t2.status.success(), "{}", text(&t2.stderr));
    let after = events("sqlite:b.db");
    assert!(
        after.len() > before.len() && after.last() > before.last(),
        "{after:?}"
    );

    // bad input: nothing is imported, nothing is left behind
    let fails = |args: &[&str], expected: &str| {
        let o = ampel(args, dir.path());
        let err = text(&o.stderr);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(err.contains(expected), "{args:?}: {err}");
    };
    fails(
        &["--db", "sqlite:b.db", "db", "import", "dump"],
        "already holds documents; import into a fresh store",
    );
    let t0 = dir.path().join("dump/t0.jsonl");
    let full = std::fs::read_to_string(&t0).unwrap();
    let cut: String = full.lines().skip(1).map(|l| format!("{l}\n")).collect();
    std::fs::write(&t0, cut).unwrap();
    fails(
        &["--db", "sqlite:c.db", "db", "import", "dump"],
        "t0.jsonl: content hashes to",
    );
    std::fs::write(&t0, &full).unwrap();
    let mut newer = header.clone();
    newer["format"] = serde_json::json!(99);
    std::fs::write(dir.path().join("dump/header.json"), newer.to_string()).unwrap();
    fails(
        &["--db", "sqlite:c.db", "db", "import", "dump"],
        "dump format 99 is newer than this ampel reads",
    );
    std::fs::remove_file(dir.path().join("dump/header.json")).unwrap();
    fails(
        &["--db", "sqlite:c.db", "db", "import", "dump"],
        "not a dump, or an export that did not finish",
    );
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".import-"))
        .collect();
    assert!(left.is_empty(), "staging files left: {left:?}");
    if !dir.path().join("c.db").exists() {
        return; // nothing was left, not even an empty store
    }
    let info = ampel(&["--json", "--db", "sqlite:c.db", "db", "info"], dir.path());
    let v: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert!(
        v["counts"].as_object().unwrap().values().all(|n| n == 0),
        "the failed imports left nothing in c.db: {v}"
    );
}

#[test]
fn missing_sources_are_refused_before_anything_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cfg = repo.join("manifests/ztf-demo.toml");
    let out = ampel(
        &[
            "--db",
            "sqlite:t0.db",
            "t0",
            "--manifest",
            cfg.to_str().unwrap(),
            "--source",
            "no-such-dir",
            "--source",
            "typo.avro",
        ],
        dir.path(),
    );
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("source no-such-dir: No such file") && err.contains("source typo.avro"),
        "{err}"
    );
    assert!(!dir.path().join("t0.db").exists(), "no store was created");
    let job = dir.path().join("j.toml");
    std::fs::write(
        &job,
        format!(
            "name = \"j\"\n[[task]]\nkind = \"t0\"\nmanifest = {:?}\nsource = [\"a\", \"b\"]\n",
            cfg.display().to_string()
        ),
    )
    .unwrap();
    let out = ampel(&["--db", "sqlite:j.db", "job", "j.toml"], dir.path());
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("task 1 (t0): source") && err.matches("No such file").count() == 2,
        "{err}"
    );
}

#[test]
fn the_help_says_plainly_that_native_runs_are_not_confined() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["image", "run", "--help"][..], &["reproduce", "--help"]] {
        let out = ampel(args, dir.path());
        let help = text(&out.stdout);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            help.contains("NOT confined") && help.contains("oci") && help.contains("docker"),
            "{args:?}: {help}"
        );
    }
}

#[test]
fn t2_run_with_a_manifest_runs_only_the_units_its_channels_request() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let demo = support::repo().join("manifests/ztf-demo.toml");
    let demo = demo.to_str().unwrap();
    let fink = support::real_alerts().join("ztf/fink-2019-v3.1");
    let t0 = ampel(
        &["t0", "--manifest", demo, "--source", fink.to_str().unwrap()],
        d,
    );
    assert!(t0.status.success(), "{}", text(&t0.stderr));
    // a manifest whose channel requests only the light-curve summary
    let only = support::demo_manifest(
        d,
        "summary.toml",
        &[
            (
                "t2 = [{ unit = \"T2MagSummary\" }, { unit = \"T2RiseDeclineFit\" }, { unit = \"T2FastRiser\" }]\n\n[[channel]]",
                "t2 = [{ unit = \"T2MagSummary\" }]\n\n[[channel]]",
            ),
            (
                "t2 = [{ unit = \"T2MagSummary\" }, { unit = \"T2RiseDeclineFit\" }, { unit = \"T2FastRiser\" }]\nt3",
                "t2 = [{ unit = \"T2MagSummary\" }]\nt3",
            ),
        ],
    );
    // a tied unit without the unit it depends on would wait forever: refused
    let tied = ampel(&["t2", "run", "--until-empty", "--unit", "T2FastRiser"], d);
    assert!(!tied.status.success());
    assert!(
        text(&tied.stderr)
            .contains("--unit T2FastRiser depends on the results of T2RiseDeclineFit"),
        "{}",
        text(&tied.stderr)
    );
    let bad = ampel(
        &[
            "t2",
            "run",
            "--until-empty",
            "--manifest",
            &only,
            "--unit",
            "T2FastRiser",
        ],
        d,
    );
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("--unit T2FastRiser: no channel of"),
        "{}",
        text(&bad.stderr)
    );
    let run = ampel(&["t2", "run", "--until-empty", "--manifest", &only], d);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let list: serde_json::Value =
        serde_json::from_slice(&ampel(&["--json", "t2", "list", "--limit", "10000"], d).stdout)
            .unwrap();
    let rows = list.as_array().unwrap();
    let done = |unit: &str| {
        rows.iter()
            .filter(|r| r["unit"] == unit && r["code"] == 0)
            .count()
    };
    let waiting = |unit: &str| {
        rows.iter()
            .filter(|r| r["unit"] == unit && r["code"] != 0)
            .count()
    };
    assert!(
        done("T2MagSummary") > 0 && waiting("T2MagSummary") == 0,
        "{list}"
    );
    assert!(
        done("T2RiseDeclineFit") == 0 && waiting("T2RiseDeclineFit") > 0,
        "{list}"
    );
}

#[test]
fn completions_and_manual_pages_are_generated_and_load() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let script = ampel(&["completions", "bash"], d);
    assert!(script.status.success());
    let path = d.join("ampel.bash");
    std::fs::write(&path, &script.stdout).unwrap();
    // bash loads it and completes the subcommands
    let o = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {} && complete -p ampel && COMP_WORDS=(ampel vi); COMP_CWORD=1; _ampel ampel vi ampel && echo \"${{COMPREPLY[@]}}\"",
            path.display()
        ))
        .output()
        .unwrap();
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}{}", text(&o.stderr));
    assert!(out.contains("view"), "{out}");
    let man = d.join("man");
    let o = ampel(&["man", "--dir", man.to_str().unwrap()], d);
    assert!(o.status.success(), "{}", text(&o.stderr));
    for page in [
        "ampel.1",
        "ampel-view.1",
        "ampel-trouble.1",
        "ampel-t2-run.1",
        "ampel-image-build.1",
    ] {
        let roff = std::fs::read_to_string(man.join(page)).unwrap();
        assert!(
            roff.starts_with(".ie") || roff.contains(".TH"),
            "{page}: {roff}"
        );
    }
    let view = std::fs::read_to_string(man.join("ampel-view.1")).unwrap();
    assert!(view.contains("ZTF name"), "{view}");
}

#[test]
fn errors_are_json_under_json() {
    let dir = tempfile::tempdir().unwrap();
    let o = ampel(
        &[
            "--json",
            "--db",
            "sqlite:missing.db",
            "view",
            "ZTF18aaudxok",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    let e: serde_json::Value = serde_json::from_slice(&o.stderr)
        .unwrap_or_else(|_| panic!("JSON on stderr: {}", text(&o.stderr)));
    assert_eq!(e["error"]["exit_code"], 1);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("missing.db"),
        "{e}"
    );
    assert!(!dir.path().join("missing.db").exists(), "nothing created");
    // and without --json, one plain line
    let o = ampel(
        &["--db", "sqlite:missing.db", "view", "ZTF18aaudxok"],
        dir.path(),
    );
    assert!(
        text(&o.stderr).starts_with("error: "),
        "{}",
        text(&o.stderr)
    );
}
