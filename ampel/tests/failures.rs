//! Failures are failures: a write that fails is a non-zero exit and the counts say
//! what was stored; a command that only reads never creates a store; a T2 run that
//! leaves tickets failed says so in its exit code.

mod support;
use support::{ampel, demo_manifest, real_alerts, text};

fn fink() -> String {
    real_alerts()
        .join("ztf/fink-2020-v3.3")
        .display()
        .to_string()
}

fn count(db: &std::path::Path, table: &str) -> i64 {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// A store whose writes start failing part-way (SQLite raises an error from a
/// trigger once three stocks exist, as a full disk or a damaged page would) once gave
/// exit 0, and "alerts ingested" counted alerts whose write had failed.
#[test]
fn t0_into_a_store_that_fails_part_way_exits_non_zero_and_counts_what_was_stored() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let uri = format!("sqlite:{}", db.display());
    assert!(ampel(&["--db", &uri, "db", "init"], dir.path())
        .status
        .success());
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER fail_late BEFORE INSERT ON stock \
             WHEN (SELECT count(*) FROM stock) >= 3 \
             BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
        )
        .unwrap();
    // a small batch, so some batches are written before the failure
    let cfg_path = demo_manifest(
        dir.path(),
        "m.toml",
        &[("[t0]\n", "[t0]\nbatch_size = 20\n")],
    );
    let out = ampel(
        &[
            "--db",
            &uri,
            "--json",
            "t0",
            "--manifest",
            &cfg_path,
            "--source",
            &real_alerts().join("ztf").display().to_string(),
        ],
        dir.path(),
    );
    let err = text(&out.stderr);
    assert!(!out.status.success(), "a failed write must fail: {err}");
    assert!(err.contains("database or disk is full"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect(&err);
    let ingested = v["stats"]["ingested"].as_u64().unwrap();
    let stocks = count(&db, "stock");
    assert!(
        ingested > 0 && ingested <= stocks as u64,
        "{ingested} shown, {stocks} stored"
    );
    assert!(
        ingested < 8,
        "8 of the 135 alerts are ingested when nothing fails"
    );
}

/// `--db sqlite:typo.db` once created an empty store and printed an empty table.
#[test]
fn read_only_commands_never_create_a_store() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["db", "info"][..],
        &["digest"],
        &["event"],
        &["log"],
        &["t2", "list"],
        &["t2", "show", "ZTF18aaaaaaa"],
        &["t2", "outdated"],
        &["t2", "run", "--until-empty"],
        &["db", "export", "dump"],
    ] {
        let mut all = vec!["--db", "sqlite:tpyo.db"];
        all.extend_from_slice(args);
        let out = ampel(&all, dir.path());
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{args:?}: {err}");
        assert!(
            err.contains("tpyo.db") && err.contains("no such file"),
            "{args:?}: {err}"
        );
        assert!(!dir.path().join("tpyo.db").exists(), "{args:?} created it");
    }
    // `db init` is the command that creates one
    let out = ampel(&["--db", "sqlite:new.db", "db", "init"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dir.path().join("new.db").exists());
}

/// `t2 run` once marked tickets failed and exited 0.
#[test]
fn a_t2_run_with_failed_tickets_exits_non_zero_and_says_where_to_look() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let uri = format!("sqlite:{}", db.display());
    let t0 = ampel(
        &[
            "--db",
            &uri,
            "t0",
            "--manifest",
            &support::repo()
                .join("manifests/ztf-demo.toml")
                .display()
                .to_string(),
            "--source",
            &fink(),
        ],
        dir.path(),
    );
    assert!(t0.status.success(), "{}", text(&t0.stderr));
    // the unit configurations the tickets name are gone: every ticket fails
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("DELETE FROM conf")
        .unwrap();
    let out = ampel(&["--db", &uri, "t2", "run", "--until-empty"], dir.path());
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("ticket(s) failed") && err.contains("ampel log --errors"),
        "{err}"
    );
    // and the table of counts was printed before
    assert!(
        text(&out.stdout).contains("failures"),
        "{}",
        text(&out.stdout)
    );
}
