//! Table layout of the embedded store, its version check and the error mapping.
//!
//! Authoritative columns hold everything a query filters on (ids, codes, leases,
//! channels, tags, times), each with an index; the rest of a document is JSON text,
//! except datapoints and states, which are MessagePack (exact, and several times
//! faster to read back); T2 documents are JSON, and a finished attempt (meta record
//! and result) is appended to the ticket's `out` column as a line of JSON, folded
//! into the document when it is read or rewritten.
//! The layout version lives in `ampel_meta.schema_version`.

use ampel_store::{StoreError, SCHEMA_VERSION};
use rusqlite::{Connection, ErrorCode, OptionalExtension};

/// Every table and index; created in one transaction on first open.
pub(crate) const CREATE: &str = r#"
CREATE TABLE ampel_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE t0 (id INTEGER PRIMARY KEY, body BLOB NOT NULL, attrs BLOB NOT NULL);
CREATE TABLE t0_stock (stock INTEGER NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (stock, id)) WITHOUT ROWID;
CREATE TABLE t1 (seq INTEGER PRIMARY KEY, stock INTEGER NOT NULL, link INTEGER NOT NULL, doc BLOB NOT NULL, UNIQUE (stock, link));
CREATE TABLE t2 (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    stock INTEGER NOT NULL,
    unit TEXT NOT NULL,
    config INTEGER,
    link INTEGER NOT NULL,
    code INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until REAL,
    retry_after REAL,
    doc TEXT NOT NULL,
    out TEXT
);
CREATE UNIQUE INDEX t2_identity ON t2 (stock, unit, IFNULL(config, 'null'), link);
CREATE INDEX t2_claim ON t2 (code, seq);
CREATE INDEX t2_unit ON t2 (unit, code);
CREATE INDEX t2_expired ON t2 (lease_until) WHERE code = -5;
CREATE TABLE stock (stock INTEGER PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE stock_channel (stock INTEGER NOT NULL, channel TEXT NOT NULL, tied REAL NOT NULL, upd REAL NOT NULL, PRIMARY KEY (stock, channel)) WITHOUT ROWID;
CREATE INDEX stock_channel_tied ON stock_channel (channel, tied);
CREATE INDEX stock_channel_upd ON stock_channel (channel, upd);
CREATE TABLE stock_tag (stock INTEGER NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (stock, tag)) WITHOUT ROWID;
CREATE INDEX stock_tag_tag ON stock_tag (tag, stock);
CREATE TABLE journal (seq INTEGER PRIMARY KEY, stock INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE INDEX journal_stock ON journal (stock, seq);
CREATE TABLE t3 (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, process TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX t3_process ON t3 (process, seq);
CREATE TABLE event (run INTEGER PRIMARY KEY, process TEXT NOT NULL, code INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE INDEX event_process ON event (process, run);
CREATE TABLE log (seq INTEGER PRIMARY KEY, run INTEGER NOT NULL, stock INTEGER, channel TEXT, flag INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE INDEX log_run ON log (run);
CREATE INDEX log_stock ON log (stock) WHERE stock IS NOT NULL;
CREATE TABLE trouble (seq INTEGER PRIMARY KEY, run INTEGER NOT NULL, unit TEXT, doc TEXT NOT NULL);
CREATE INDEX trouble_run ON trouble (run);
CREATE TABLE conf (hash INTEGER PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE trace (id INTEGER PRIMARY KEY, unit TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"#;

/// Collections reported by `info`, in display order.
pub(crate) const COLLECTIONS: &[&str] = &[
    "t0", "t1", "t2", "stock", "journal", "t3", "event", "log", "trouble", "conf", "trace",
];

/// Maps SQLite failures to messages that name the file and say what happened.
pub(crate) fn map_err(location: &str, busy_ms: u64, e: rusqlite::Error) -> StoreError {
    let location = location.to_string();
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => StoreError::Locked {
            location,
            waited_ms: busy_ms,
        },
        Some(ErrorCode::ReadOnly) => StoreError::ReadOnly {
            location,
            detail: e.to_string(),
        },
        Some(ErrorCode::NotADatabase) => StoreError::NotAStore {
            location,
            detail: "the file is not an SQLite database".into(),
        },
        Some(ErrorCode::CannotOpen) | Some(ErrorCode::PermissionDenied) => StoreError::Open {
            location,
            detail: e.to_string(),
        },
        _ => StoreError::Backend {
            location,
            detail: e.to_string(),
        },
    }
}

/// Create the layout on an empty database, or check the version of an existing one.
pub(crate) fn ensure(
    conn: &mut Connection,
    location: &str,
    busy_ms: u64,
) -> Result<(), StoreError> {
    let err = |e| map_err(location, busy_ms, e);
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(err)?;
    let has_meta: bool = tx
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'ampel_meta'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_err(err)?
        > 0;
    if !has_meta {
        let others: Vec<String> = {
            let mut stmt = tx
                .prepare(
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name LIMIT 5",
                )
                .map_err(err)?;
            let rows = stmt.query_map([], |r| r.get(0)).map_err(err)?;
            rows.collect::<Result<_, _>>().map_err(err)?
        };
        if !others.is_empty() {
            return Err(StoreError::NotAStore {
                location: location.into(),
                detail: format!(
                    "it has tables ({}) but no ampel_meta table",
                    others.join(", ")
                ),
            });
        }
        tx.execute_batch(CREATE).map_err(err)?;
        tx.execute(
            "INSERT INTO ampel_meta (key, value) VALUES ('schema_version', ?1)",
            [SCHEMA_VERSION.to_string()],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        return Ok(());
    }
    let found: Option<String> = tx
        .query_row(
            "SELECT value FROM ampel_meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(err)?;
    let found: u32 = found
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| StoreError::NotAStore {
            location: location.into(),
            detail: "ampel_meta has no readable schema_version".into(),
        })?;
    drop(tx);
    match found.cmp(&SCHEMA_VERSION) {
        std::cmp::Ordering::Greater => Err(StoreError::SchemaTooNew {
            location: location.into(),
            found,
            supported: SCHEMA_VERSION,
        }),
        std::cmp::Ordering::Less => Err(StoreError::SchemaTooOld {
            location: location.into(),
            found,
            supported: SCHEMA_VERSION,
        }),
        std::cmp::Ordering::Equal => add_t2_out(conn).map_err(err),
    }
}

/// Stores made before T2 attempts were appended to `t2.out` get the column (a
/// metadata-only change in SQLite; their results stay in the documents).
fn add_t2_out(conn: &mut Connection) -> rusqlite::Result<()> {
    let has_out = |conn: &Connection| -> rusqlite::Result<bool> {
        conn.query_row(
            "SELECT count(*) FROM pragma_table_info('t2') WHERE name = 'out'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
    };
    if !has_out(conn)? {
        if let Err(e) = conn.execute_batch("ALTER TABLE t2 ADD COLUMN out TEXT") {
            // another process opening the same store may have added it just now
            if !has_out(conn)? {
                return Err(e);
            }
        }
    }
    Ok(())
}
