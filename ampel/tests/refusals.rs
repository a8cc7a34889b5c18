//! Config problems are refused before anything runs: every problem at once, one
//! line each, exit 1 (never a panic), and no store is written.

mod support;
use std::path::Path;
use support::{ampel, real_alerts, repo, text};

/// The demo T0 config with its channels replaced by `directives` (TOML).
fn t0_config(dir: &Path, directives: &str) -> String {
    let demo = std::fs::read_to_string(repo().join("manifests/ztf-demo.t0.toml")).unwrap();
    let head = &demo[..demo.find("[[directives]]").unwrap()];
    let path = dir.join("t0.toml");
    std::fs::write(&path, format!("{head}{directives}")).unwrap();
    path.display().to_string()
}

fn refused(out: &std::process::Output) -> String {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "refused with exit 1: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

const BAD_CHANNELS: &str = r#"
[[directives]]
channel = ""
filter = { unit = "CriteriaFilter" }

[[directives]]
channel = "DEMO\u200BBRIGHT"
filter = { unit = "CriteriaFilter" }

[[directives]]
channel = "DEMO\u202EBRIGHT"
filter = { unit = "CriteriaFilter" }

[[directives]]
channel = "DEMO\u0007"
filter = { unit = "CriteriaFilter" }

[[directives]]
channel = "TWICE"
filter = { unit = "CriteriaFilter" }

[[directives]]
channel = "TWICE"
filter = { unit = "CriteriaFiltre" }
"#;

/// Empty names, names with zero-width, bidirectional or control characters, and a
/// channel with two directives (whose counts once merged) were all accepted.
#[test]
fn t0_refuses_bad_channel_names_and_duplicate_directives_before_opening_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = t0_config(dir.path(), BAD_CHANNELS);
    let alerts = real_alerts().join("ztf/fink-2020-v3.3");
    let out = ampel(
        &[
            "--db",
            "sqlite:s.db",
            "t0",
            "--config",
            &cfg,
            "--source",
            alerts.to_str().unwrap(),
        ],
        dir.path(),
    );
    let err = refused(&out);
    for says in [
        "directives[0]: a channel name cannot be empty",
        "directives[1]: channel name \"DEMO\\u{200b}BRIGHT\" contains U+200B",
        "directives[2]: channel name \"DEMO\\u{202e}BRIGHT\" contains U+202E",
        "directives[3]: channel name \"DEMO\\u{7}\" contains U+0007",
        "directives[5]: channel `TWICE` already has a directive (directives[4])",
        "unknown unit `CriteriaFiltre`",
    ] {
        assert!(err.contains(says), "missing {says:?} in:\n{err}");
    }
    assert!(err.lines().count() >= 6, "one line each:\n{err}");
    assert!(!dir.path().join("s.db").exists(), "nothing runs: no store");
}

/// The same names in a manifest are refused by `manifest check`, with positions.
#[test]
fn manifest_check_refuses_invisible_channel_names() {
    let dir = tempfile::tempdir().unwrap();
    let demo = std::fs::read_to_string(repo().join("manifests/ztf-demo.toml"))
        .unwrap()
        .replace(
            "path = \"../units/",
            &format!("path = \"{}/units/", repo().display()),
        )
        .replace("name = \"DEMO_DECENT\"", "name = \"DEMO\\u200BDECENT\"")
        .replace("name = \"DEMO_BRIGHT\"", "name = \"\"");
    let path = dir.path().join("m.toml");
    std::fs::write(&path, demo).unwrap();
    let out = ampel(&["manifest", "check", path.to_str().unwrap()], dir.path());
    let err = refused(&out);
    assert!(err.contains("contains U+200B"), "{err}");
    assert!(err.contains("a channel name cannot be empty"), "{err}");
    assert!(err.contains("m.toml:"), "positions are given: {err}");
}

/// A job whose T3 unit does not exist once failed only after T0 had written the
/// store.
#[test]
fn a_job_with_an_unknown_t3_unit_is_refused_before_t0_runs() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = t0_config(
        dir.path(),
        "[[directives]]\nchannel = \"ALL\"\nfilter = { unit = \"CriteriaFilter\" }\n",
    );
    let job = format!(
        "name = \"j\"\n\n[[task]]\nkind = \"t0\"\nconfig = \"{cfg}\"\nsource = [\"{}\"]\n\n\
         [[task]]\nkind = \"t2\"\nunits = [\"T2NoSuchUnit\"]\n\n\
         [[task]]\nkind = \"t3\"\nprocess = \"r\"\nunits = [{{ unit = \"T3ReportExportr\" }}]\n",
        real_alerts().join("ztf/fink-2020-v3.3").display()
    );
    std::fs::write(dir.path().join("job.toml"), job).unwrap();
    let out = ampel(&["--db", "sqlite:j.db", "job", "job.toml"], dir.path());
    let err = refused(&out);
    assert!(
        err.contains("task 2 (t2)") && err.contains("T2NoSuchUnit"),
        "{err}"
    );
    assert!(
        err.contains("task 3 (t3)") && err.contains("T3ReportExportr"),
        "{err}"
    );
    if dir.path().join("j.db").exists() {
        let info = ampel(&["--json", "--db", "sqlite:j.db", "db", "info"], dir.path());
        let v: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
        let counts = v["counts"].as_object().unwrap();
        assert!(counts.values().all(|n| n == 0), "T0 ran: {v}");
    }
}

/// A live T0 process whose T0 config file is missing once started (and failed
/// only when the process ran).
#[test]
fn serve_refuses_a_live_process_whose_t0_config_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.toml"),
        "[[process]]\nname = \"live\"\ntier = 0\nschedule = \"live\"\nt0_config = \"nope.t0.toml\"\n\
         kafka = { brokers = \"127.0.0.1:9\", topics = [\"t\"], group = \"g\" }\n\n\
         [[process]]\nname = \"live-too\"\ntier = 0\nschedule = \"live\"\n\
         kafka = { brokers = \"127.0.0.1:9\", topics = [\"t\"], group = \"g\" }\n",
    )
    .unwrap();
    let out = ampel(&["serve", "--processes", "p.toml"], dir.path());
    let err = refused(&out);
    assert!(err.contains("nope.t0.toml"), "{err}");
    assert!(
        err.contains("`live-too`") && err.contains("t0_config = \"FILE\""),
        "{err}"
    );
}
