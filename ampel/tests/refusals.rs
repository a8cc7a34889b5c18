//! Config problems are refused before anything runs: every problem at once, one
//! line each, exit 1 (never a panic), and no store is written.

mod support;
use std::path::Path;
use support::{ampel, real_alerts, repo, text};

/// The demo manifest with its channels and processes replaced by `channels`
/// (TOML), its crate paths made absolute.
fn manifest_with(dir: &Path, channels: &str) -> String {
    let demo = std::fs::read_to_string(repo().join("manifests/ztf-demo.toml"))
        .unwrap()
        .replace(
            "path = \"../units/",
            &format!("path = \"{}/units/", repo().display()),
        );
    let head = &demo[..demo.find("[[channel]]").unwrap()];
    let path = dir.join("m.toml");
    std::fs::write(&path, format!("{head}{channels}")).unwrap();
    path.display().to_string()
}

fn refused(out: &std::process::Output) -> String {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "refused with exit 1: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

const BAD_CHANNELS: &str = r#"
[[channel]]
name = ""
filter = { unit = "CriteriaFilter" }

[[channel]]
name = "DEMO\u200BBRIGHT"
filter = { unit = "CriteriaFilter" }

[[channel]]
name = "DEMO\u202EBRIGHT"
filter = { unit = "CriteriaFilter" }

[[channel]]
name = "DEMO\u0007"
filter = { unit = "CriteriaFilter" }

[[channel]]
name = "TWICE"
filter = { unit = "CriteriaFilter" }

[[channel]]
name = "TWICE"
filter = { unit = "CriteriaFiltre" }
"#;

/// Empty names, names with zero-width, bidirectional or control characters, and a
/// channel with two directives (whose counts once merged) were all accepted.
#[test]
fn t0_refuses_bad_channel_names_and_duplicate_directives_before_opening_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = manifest_with(dir.path(), BAD_CHANNELS);
    let alerts = real_alerts().join("ztf/fink-2020-v3.3");
    let out = ampel(
        &[
            "--db",
            "sqlite:s.db",
            "t0",
            "--manifest",
            &cfg,
            "--source",
            alerts.to_str().unwrap(),
        ],
        dir.path(),
    );
    let err = refused(&out);
    for says in [
        "m.toml:38:8: a channel name cannot be empty",
        "m.toml:42:8: channel name \"DEMO\\u{200b}BRIGHT\" contains U+200B",
        "m.toml:46:8: channel name \"DEMO\\u{202e}BRIGHT\" contains U+202E",
        "m.toml:50:8: channel name \"DEMO\\u{7}\" contains U+0007",
        "m.toml:58:8: channel `TWICE` is declared twice",
        "filter uses unit `CriteriaFiltre`, which no declared crate provides",
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
    let cfg = manifest_with(
        dir.path(),
        "[[channel]]\nname = \"ALL\"\nfilter = { unit = \"CriteriaFilter\" }\n",
    );
    let job = format!(
        "name = \"j\"\n\n[[task]]\nkind = \"t0\"\nmanifest = \"{cfg}\"\nsource = [\"{}\"]\n\n\
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
    // the manifest's own problem (a criteria filter without criteria) with them
    assert!(
        err.contains("task 1 (t0)") && err.contains("at least one criterion"),
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
