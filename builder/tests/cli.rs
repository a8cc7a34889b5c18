//! The `ampel` binary as a user runs it: output, exit codes and error messages.

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
    let out = ampel(&["db", "info", "--json"], dir.path());
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
