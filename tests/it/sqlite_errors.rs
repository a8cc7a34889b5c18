//! Bad input for the embedded store: each gives one clear message naming the path.

use ampel_store::{Store, StoreError};
use ampel_store_sqlite::{SqliteOptions, SqliteStore};
use std::time::Duration;

fn expect_err(r: Result<SqliteStore, StoreError>) -> StoreError {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

#[test]
fn newer_schema_is_refused_with_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    drop(SqliteStore::open(&path).unwrap());
    rusqlite_free_update(
        &path,
        "UPDATE ampel_meta SET value = '99' WHERE key = 'schema_version'",
    );
    let e = expect_err(SqliteStore::open(&path));
    let msg = e.to_string();
    assert!(
        matches!(
            e,
            StoreError::SchemaTooNew {
                found: 99,
                supported: 1,
                ..
            }
        ),
        "{msg}"
    );
    assert!(
        msg.contains(&path.display().to_string()) && msg.contains("newer"),
        "{msg}"
    );
}

#[test]
fn foreign_sqlite_file_and_garbage_are_not_stores() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    rusqlite_free_update(&path, "CREATE TABLE users (id INTEGER)");
    let msg = expect_err(SqliteStore::open(&path)).to_string();
    assert!(
        msg.contains("is not an ampel store") && msg.contains("users"),
        "{msg}"
    );
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![b'x'; 8192]).unwrap();
    let msg = expect_err(SqliteStore::open(&junk)).to_string();
    assert!(
        msg.contains("not an SQLite database") && msg.contains("junk.db"),
        "{msg}"
    );
}

#[test]
fn read_only_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ro.db");
    drop(SqliteStore::open(&path).unwrap());
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&path, perms).unwrap();
    let msg = expect_err(SqliteStore::open(&path)).to_string();
    assert!(msg.contains("read-only") && msg.contains("ro.db"), "{msg}");
}

#[test]
fn missing_directory_is_reported() {
    let msg = expect_err(SqliteStore::open("/nonexistent-dir-ampel/x.db")).to_string();
    assert!(
        msg.contains("directory /nonexistent-dir-ampel does not exist"),
        "{msg}"
    );
}

#[test]
fn locked_store_times_out_with_a_clear_error_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.db");
    let store = SqliteStore::open(&path).unwrap();
    store
        .upsert_datapoints(&[ampel_store::conformance::dp(1, 1, &["A"], 1)])
        .unwrap();
    // another process-like connection holds the write lock
    let blocker = SqliteStore::open(&path).unwrap();
    let opts = SqliteOptions {
        busy_timeout: Duration::from_millis(200),
        ..SqliteOptions::default()
    };
    let waiting = SqliteStore::open_with(&path, &opts).unwrap();
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        s.spawn(move || {
            hold_write_lock(&blocker, tx, done_rx);
        });
        rx.recv().unwrap();
        let err = waiting
            .upsert_datapoints(&[ampel_store::conformance::dp(2, 1, &["A"], 2)])
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, StoreError::Locked { waited_ms: 200, .. }),
            "{msg}"
        );
        assert!(
            msg.contains("locked.db") && msg.contains("locked by another process"),
            "{msg}"
        );
        done_tx.send(()).unwrap();
    });
    assert_eq!(
        store.get_datapoints(&[1, 2]).unwrap().len(),
        1,
        "earlier data kept, failed batch absent"
    );
}

/// Holds the store's write lock (a claim transaction that never ends) until told.
fn hold_write_lock(
    store: &SqliteStore,
    ready: std::sync::mpsc::Sender<()>,
    done: std::sync::mpsc::Receiver<()>,
) {
    let _ = ampel_store_sqlite::testing::with_write_lock(store, || {
        ready.send(()).unwrap();
        done.recv().unwrap();
    });
}

fn rusqlite_free_update(path: &std::path::Path, sql: &str) {
    ampel_store_sqlite::testing::raw_execute(path, sql).unwrap();
}

/// A store made before attempts were appended to `t2.out` gets the column when
/// opened, and its tickets are claimed and finished as usual.
#[test]
fn a_store_without_the_t2_out_column_is_upgraded_on_open() {
    use ampel_interface::{DocumentCode, MetaRecord, Tier};
    use ampel_store::{conformance::ticket, ClaimRequest, T2Outcome};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let st = SqliteStore::open(&path).unwrap();
    st.upsert_t2(&[ticket(7, "U", 3, &["A"])]).unwrap();
    drop(st);
    rusqlite_free_update(&path, "ALTER TABLE t2 DROP COLUMN out");
    let st = SqliteStore::open(&path).unwrap();
    let claimed = st
        .claim_t2(&ClaimRequest::new("w", 10.0, 60.0))
        .unwrap()
        .expect("the old ticket is claimable");
    let outcome = T2Outcome {
        code: DocumentCode::OK,
        meta: MetaRecord::new(1, 10.0, Tier::T2, DocumentCode::OK),
        body: Some(serde_json::json!({"x": 1})),
        tag: Default::default(),
        retry_after: None,
    };
    st.complete_t2(&claimed.id, "w", &outcome).unwrap();
    let doc = st.get_t2(&claimed.id).unwrap().unwrap();
    assert_eq!(doc.code, DocumentCode::OK);
    assert_eq!(doc.body, vec![serde_json::json!({"x": 1})]);
    assert_eq!(doc.meta.last().and_then(|m| m.body_index), Some(0));
}

/// Processes opening a new store file at the same moment once failed at random
/// with "locked" at once: switching the new file to WAL is answered BUSY without
/// waiting. Eight connections open each of 20 new files together.
#[test]
fn connections_opening_a_new_file_together_all_open_it() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..20 {
        let path = dir.path().join(format!("new-{round}.db"));
        let barrier = std::sync::Barrier::new(8);
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        ampel_store_sqlite::SqliteStore::open(&path).map(|_| ())
                    })
                })
                .collect();
            for h in handles {
                if let Err(e) = h.join().unwrap() {
                    panic!("round {round}: {e}");
                }
            }
        });
    }
}
