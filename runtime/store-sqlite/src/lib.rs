//! Embedded store on SQLite: the default backend, no server needed.
//!
//! One file, WAL journal, `BEGIN IMMEDIATE` write transactions and a busy timeout, so
//! several threads and several processes can share a store (threads of one process
//! queue for writing on a [`gate`] instead of SQLite's sleep-and-retry). Every multi-step
//! operation (claim, complete, upsert with merge) runs inside one write transaction,
//! which gives the same atomicity MongoDB gives a single-document update.
//! The layout is in [`schema`]; the operations are grouped in [`ingest`] (upserts),
//! [`queue`] (T2 claims and results) and [`query`] (reads, selection, provenance).

mod backend;
mod gate;
mod ingest;
mod lock;
mod project;
mod query;
mod queue;
mod restore;
mod rows;
mod schema;

pub use backend::SqliteBackend;

use ampel_interface::*;
use ampel_store::*;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use serde::{de::DeserializeOwned, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// Options for opening an embedded store.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// How long a write waits for another writer before failing with `Locked`.
    pub busy_timeout: Duration,
    /// Read the database file through a memory map of up to this many bytes (0:
    /// no map, pages are read into the connection's own cache).
    pub mmap_bytes: u64,
    /// Create the file when it does not exist (false for read-only commands: a
    /// mistyped path is an error naming it, not a new empty store).
    pub create: bool,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            busy_timeout: Duration::from_secs(30),
            mmap_bytes: 0,
            create: true,
        }
    }
}

impl SqliteOptions {
    /// For one of several T2 workers sharing a store: a connection drops its page
    /// cache whenever another one commits, which with several busy workers is
    /// after nearly every batch; through a 1 GiB memory map the pages are read
    /// back from the OS page cache without copying (2 workers: 17-19k -> 20-23k
    /// light-curve summaries/s, see BENCHMARKS.md). Mapped pages count in the
    /// resident set size, so the single-writer T0 path does not use this.
    pub fn for_t2_workers() -> Self {
        SqliteOptions {
            mmap_bytes: 1 << 30,
            ..SqliteOptions::default()
        }
    }
}

/// An embedded store in one SQLite file.
pub struct SqliteStore {
    path: PathBuf,
    location: String,
    busy_ms: u64,
    conn: Mutex<Connection>,
    gate: std::sync::Arc<gate::Gate>,
}

impl SqliteStore {
    /// Open (creating if needed) the store at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, &SqliteOptions::default())
    }

    /// Open with options.
    pub fn open_with(path: impl AsRef<Path>, opts: &SqliteOptions) -> Result<Self> {
        let path: PathBuf = path.as_ref().to_path_buf();
        let location = format!("sqlite:{}", path.display());
        let busy_ms = opts.busy_timeout.as_millis() as u64;
        if let Ok(meta) = std::fs::metadata(&path) {
            if meta.is_dir() {
                return Err(StoreError::Open {
                    location,
                    detail: "it is a directory".into(),
                });
            }
            if meta.permissions().readonly() {
                return Err(StoreError::ReadOnly {
                    location,
                    detail: "the file has no write permission; copy it or chmod u+w".into(),
                });
            }
        } else if !opts.create {
            return Err(StoreError::Open {
                location,
                detail: "no such file; this command reads a store and never creates one \
                         (check the path, or write the store first, e.g. with `ampel t0`)"
                    .into(),
            });
        } else if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if !parent.is_dir() {
                return Err(StoreError::Open {
                    location,
                    detail: format!("directory {} does not exist", parent.display()),
                });
            }
        }
        let err = |e| schema::map_err(&location, busy_ms, e);
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if opts.create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let mut conn = Connection::open_with_flags(&path, flags).map_err(err)?;
        if conn
            .is_readonly(rusqlite::DatabaseName::Main)
            .map_err(err)?
        {
            return Err(StoreError::ReadOnly {
                location,
                detail: "opened read-only by SQLite".into(),
            });
        }
        conn.busy_timeout(opts.busy_timeout).map_err(err)?;
        if opts.mmap_bytes > 0 {
            conn.execute_batch(&format!("PRAGMA mmap_size = {}", opts.mmap_bytes))
                .map_err(err)?;
        }
        conn.set_prepared_statement_cache_capacity(64);
        // 16 KiB pages hold several 2-3 kB alert datapoints each; only effective on a
        // new file (before WAL), ignored on existing stores
        conn.execute_batch("PRAGMA page_size = 16384")
            .map_err(err)?;
        // two processes opening a new file at once: switching it to WAL takes an
        // exclusive lock and SQLite answers BUSY at once rather than wait (its busy
        // handler would deadlock there), so the switch is retried until the timeout
        let started = std::time::Instant::now();
        let mode: String = loop {
            match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)) {
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if matches!(
                        e.code,
                        rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                    ) && started.elapsed() < opts.busy_timeout =>
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                other => break other.map_err(err)?,
            }
        };
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Open {
                location,
                detail: format!("cannot switch to WAL journal (still `{mode}`)"),
            });
        }
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF; PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 4000;")
            .map_err(err)?;
        schema::ensure(&mut conn, &location, busy_ms)?;
        let gate = gate::Gate::for_file(&path);
        Ok(SqliteStore {
            path,
            location,
            busy_ms,
            conn: Mutex::new(conn),
            gate,
        })
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        schema::map_err(&self.location, self.busy_ms, e)
    }

    /// Run `f` in a write transaction (`BEGIN IMMEDIATE`), committing on success.
    fn write<T>(&self, f: impl FnOnce(&Ctx, &Transaction) -> Result<T>) -> Result<T> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        // writers of this process queue on the gate; SQLite's lock orders processes
        let _entered = self
            .gate
            .enter(Duration::from_millis(self.busy_ms))
            .ok_or_else(|| StoreError::Locked {
                location: self.location.clone(),
                waited_ms: self.busy_ms,
            })?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        let out = f(&self.ctx(), &tx)?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(out)
    }

    /// Run `f` on the connection (reads see one consistent snapshot per statement;
    /// multi-statement reads take a deferred transaction).
    fn read<T>(&self, f: impl FnOnce(&Ctx, &Transaction) -> Result<T>) -> Result<T> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(|e| self.err(e))?;
        let out = f(&self.ctx(), &tx)?;
        tx.finish().map_err(|e| self.err(e))?;
        Ok(out)
    }

    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            location: &self.location,
            busy_ms: self.busy_ms,
        }
    }
}

/// `execute` and `query_row` through the statement cache: the hot paths run the same
/// few statements thousands of times, and parsing SQL each time costs more than
/// running it.
pub(crate) trait Cached {
    fn exec<P: rusqlite::Params>(&self, sql: &str, p: P) -> rusqlite::Result<usize>;
    fn row<T, P: rusqlite::Params, F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        p: P,
        f: F,
    ) -> rusqlite::Result<T>;
}

impl Cached for Transaction<'_> {
    fn exec<P: rusqlite::Params>(&self, sql: &str, p: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(p)
    }
    fn row<T, P: rusqlite::Params, F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        p: P,
        f: F,
    ) -> rusqlite::Result<T> {
        self.prepare_cached(sql)?.query_row(p, f)
    }
}

/// What the operation modules need to build errors.
pub(crate) struct Ctx<'a> {
    pub(crate) location: &'a str,
    busy_ms: u64,
}

impl Ctx<'_> {
    pub(crate) fn err(&self, e: rusqlite::Error) -> StoreError {
        schema::map_err(self.location, self.busy_ms, e)
    }

    pub(crate) fn enc<T: Serialize>(&self, v: &T) -> Result<String> {
        serde_json::to_string(v).map_err(|e| StoreError::Backend {
            location: self.location.into(),
            detail: format!("cannot encode document: {e}"),
        })
    }

    /// Datapoint bodies are stored as MessagePack: exact floats, and several times
    /// faster to read back than JSON text.
    pub(crate) fn pack<T: Serialize>(&self, v: &T) -> Result<Vec<u8>> {
        rmp_serde::to_vec_named(v).map_err(|e| StoreError::Backend {
            location: self.location.into(),
            detail: format!("cannot encode document: {e}"),
        })
    }

    pub(crate) fn unpack<T: DeserializeOwned>(
        &self,
        collection: &'static str,
        key: impl ToString,
        bytes: &[u8],
    ) -> Result<T> {
        rmp_serde::from_slice(bytes).map_err(|e| StoreError::Corrupt {
            location: self.location.into(),
            collection,
            key: key.to_string(),
            detail: e.to_string(),
        })
    }

    pub(crate) fn dec<T: DeserializeOwned>(
        &self,
        collection: &'static str,
        key: impl ToString,
        text: &str,
    ) -> Result<T> {
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
            location: self.location.into(),
            collection,
            key: key.to_string(),
            detail: e.to_string(),
        })
    }
}

impl Store for SqliteStore {
    fn describe(&self) -> String {
        self.location.clone()
    }
    fn info(&self) -> Result<StoreInfo> {
        self.read(query::info)
    }
    fn upsert_datapoints(&self, dps: &[DataPoint]) -> Result<UpsertCount> {
        self.write(|c, tx| ingest::datapoints(c, tx, dps))
    }
    fn upsert_states(&self, states: &[T1Document]) -> Result<UpsertCount> {
        self.write(|c, tx| ingest::states(c, tx, states))
    }
    fn upsert_t2(&self, tickets: &[T2Request]) -> Result<UpsertCount> {
        self.write(|c, tx| ingest::t2(c, tx, tickets))
    }
    fn upsert_stocks(&self, stocks: &[StockUpsert]) -> Result<UpsertCount> {
        self.write(|c, tx| ingest::stocks(c, tx, stocks))
    }
    fn get_datapoints(&self, ids: &[DataPointId]) -> Result<Vec<DataPoint>> {
        self.read(|c, tx| query::datapoints(c, tx, ids, None))
    }
    fn get_datapoints_with(
        &self,
        ids: &[DataPointId],
        fields: &std::collections::BTreeSet<String>,
    ) -> Result<Vec<DataPoint>> {
        self.read(|c, tx| query::datapoints(c, tx, ids, Some(fields)))
    }
    fn stock_datapoints(&self, stock: StockId) -> Result<Vec<DataPoint>> {
        self.read(|c, tx| query::stock_datapoints(c, tx, stock))
    }
    fn get_state(&self, stock: StockId, link: LinkId) -> Result<Option<T1Document>> {
        self.read(|c, tx| query::states(c, tx, stock, Some(link)).map(|mut v| v.pop()))
    }
    fn stock_states(&self, stock: StockId) -> Result<Vec<T1Document>> {
        self.read(|c, tx| query::states(c, tx, stock, None))
    }
    fn get_states(&self, keys: &[(StockId, LinkId)]) -> Result<Vec<T1Document>> {
        self.read(|c, tx| {
            let mut out = Vec::with_capacity(keys.len());
            for (s, l) in keys {
                out.extend(query::states(c, tx, *s, Some(*l))?);
            }
            Ok(out)
        })
    }
    fn get_stock(&self, stock: StockId) -> Result<Option<Stock>> {
        self.read(|c, tx| query::stock(c, tx, stock))
    }
    fn get_t2(&self, id: &str) -> Result<Option<T2Document>> {
        self.read(|c, tx| queue::get(c, tx, id))
    }
    fn find_t2(&self, filter: &T2Filter) -> Result<Vec<T2Document>> {
        self.read(|c, tx| queue::find(c, tx, filter))
    }
    fn claim_t2(&self, req: &ClaimRequest) -> Result<Option<T2Document>> {
        Ok(self.claim_t2_many(req, 1)?.pop())
    }
    fn claim_t2_many(&self, req: &ClaimRequest, n: usize) -> Result<Vec<T2Document>> {
        // the claim holds the write lock; the documents are decoded after it
        let raws = self.write(|c, tx| queue::claim_many(c, tx, req, n))?;
        let c = self.ctx();
        raws.into_iter().map(|r| queue::assemble(&c, r)).collect()
    }
    fn complete_t2_many(
        &self,
        items: &[(String, T2Outcome)],
        owner: &str,
    ) -> Result<Vec<Result<()>>> {
        let lines = queue::outcome_lines(&self.ctx(), items)?;
        self.write(|c, tx| queue::complete_many(c, tx, items, &lines, owner))
    }
    fn complete_t2_journaled(
        &self,
        items: &[(String, T2Outcome)],
        owner: &str,
        journals: &[StockChange],
    ) -> Result<Vec<Result<()>>> {
        // encoded first: the write lock is then held for the statements only
        let c = self.ctx();
        let lines = queue::outcome_lines(&c, items)?;
        let docs = ingest::encode_journals(&c, journals)?;
        self.write(|c, tx| {
            let done = queue::complete_many(c, tx, items, &lines, owner)?;
            for (u, d) in journals.iter().zip(&docs) {
                ingest::update_stock_encoded(c, tx, u, d)?;
            }
            Ok(done)
        })
    }
    fn update_stocks(&self, updates: &[StockChange]) -> Result<Vec<bool>> {
        self.write(|c, tx| {
            updates
                .iter()
                .map(|u| ingest::update_stock(c, tx, u))
                .collect()
        })
    }
    fn renew_lease(&self, id: &str, owner: &str, until: UnixTime) -> Result<()> {
        self.write(|c, tx| queue::renew(c, tx, id, owner, until))
    }
    fn complete_t2(&self, id: &str, owner: &str, outcome: &T2Outcome) -> Result<()> {
        self.write(|c, tx| queue::complete(c, tx, id, owner, outcome))
    }
    fn expire_leases(&self, owner: &str) -> Result<usize> {
        self.write(|c, tx| queue::expire(c, tx, owner))
    }
    fn reset_t2(&self, filter: &T2Filter, code: DocumentCode, mode: ResetMode) -> Result<usize> {
        self.write(|c, tx| queue::reset(c, tx, filter, code, mode))
    }
    fn update_stock(&self, update: &StockChange) -> Result<bool> {
        self.write(|c, tx| ingest::update_stock(c, tx, update))
    }
    fn select_stocks(&self, selection: &StockSelection) -> Result<Vec<StockId>> {
        self.read(|c, tx| query::select_stocks(c, tx, selection))
    }
    fn data_time(&self) -> Result<Option<UnixTime>> {
        self.read(query::data_time)
    }
    fn insert_t3(&self, doc: &T3Document) -> Result<()> {
        self.write(|c, tx| query::insert_t3(c, tx, doc))
    }
    fn find_t3(&self, process: Option<&str>) -> Result<Vec<T3Document>> {
        self.read(|c, tx| query::find_t3(c, tx, process))
    }
    fn next_run_id(&self) -> Result<RunId> {
        self.write(query::next_run_id)
    }
    fn record_event(&self, event: &Event) -> Result<()> {
        self.write(|c, tx| query::record_event(c, tx, event))
    }
    fn start_run(&self, event: &Event) -> Result<RunId> {
        self.write(|c, tx| query::start_run(c, tx, event))
    }
    fn take_over_run(&self, dead: &Event, new: &Event) -> Result<bool> {
        self.write(|c, tx| query::take_over_run(c, tx, dead, new))
    }
    fn write_t0_batch(&self, b: &T0Batch) -> Result<T0BatchCount> {
        // one transaction: a process killed at any point leaves all or nothing
        self.write(|c, tx| {
            let counts = T0BatchCount {
                datapoints: ingest::datapoints(c, tx, &b.datapoints)?,
                states: ingest::states(c, tx, &b.states)?,
                tickets: ingest::t2(c, tx, &b.tickets)?,
                stocks: ingest::stocks(c, tx, &b.stocks)?,
            };
            query::insert_logs(c, tx, &b.logs)?;
            for t in &b.troubles {
                query::insert_trouble(c, tx, t)?;
            }
            if let Some(e) = &b.event {
                query::record_event(c, tx, e)?;
            }
            Ok(counts)
        })
    }
    fn lock_ingest(&self, waiting: &mut dyn FnMut()) -> Result<Option<IngestLock>> {
        lock::ingest(&self.path, &self.location, waiting).map(Some)
    }
    fn events(&self, q: &EventQuery) -> Result<Vec<Event>> {
        self.read(|c, tx| query::events(c, tx, q))
    }
    fn insert_logs(&self, logs: &[LogRecord]) -> Result<()> {
        self.write(|c, tx| query::insert_logs(c, tx, logs))
    }
    fn logs(&self, q: &LogQuery) -> Result<Vec<LogRecord>> {
        self.read(|c, tx| query::logs(c, tx, q))
    }
    fn insert_trouble(&self, t: &TroubleRecord) -> Result<()> {
        self.write(|c, tx| query::insert_trouble(c, tx, t))
    }
    fn troubles(&self, q: &TroubleQuery) -> Result<Vec<TroubleRecord>> {
        self.read(|c, tx| query::troubles(c, tx, q))
    }
    fn register_config(&self, hash: ConfigHash, config: &Body) -> Result<()> {
        self.write(|c, tx| query::register_config(c, tx, hash, config))
    }
    fn get_config(&self, hash: ConfigHash) -> Result<Option<Body>> {
        self.read(|c, tx| query::get_config(c, tx, hash))
    }
    fn register_trace(&self, trace: &TraceRecord) -> Result<()> {
        self.write(|c, tx| query::register_trace(c, tx, trace))
    }
    fn get_trace(&self, id: TraceId) -> Result<Option<TraceRecord>> {
        self.read(|c, tx| query::get_trace(c, tx, id))
    }
    fn traces(&self) -> Result<Vec<TraceRecord>> {
        self.read(query::traces)
    }
    fn dump(&self, collection: &str, emit: &mut dyn FnMut(Body) -> Result<()>) -> Result<()> {
        self.read(|c, tx| query::dump(c, tx, collection, emit))
    }
    fn restore(&self, collection: &str, docs: &[Body]) -> Result<()> {
        self.write(|c, tx| restore::restore(c, tx, collection, docs))
    }
}

/// Helpers for tests that need to poke at the file directly (bad-input tests).
pub mod testing {
    use super::*;

    /// Run raw SQL on a file, bypassing all checks (to fake damaged or foreign stores).
    pub fn raw_execute(path: &Path, sql: &str) -> Result<()> {
        let location = path.display().to_string();
        let conn = Connection::open(path).map_err(|e| schema::map_err(&location, 0, e))?;
        conn.execute_batch(sql)
            .map_err(|e| schema::map_err(&location, 0, e))
    }

    /// Hold the store's write lock while `f` runs (to simulate a busy writer).
    pub fn with_write_lock<T>(store: &SqliteStore, f: impl FnOnce() -> T) -> Result<T> {
        store.write(|_, _| Ok(f()))
    }
}
