//! The store trait: every database operation the tiers need, and nothing else.
//!
//! Tiers talk to each other only through a [`Store`]. Each method is shaped so that
//! MongoDB can implement it with single-document atomic updates (an upsert with
//! `$setOnInsert`/`$addToSet`/`$push`/`$min`/`$max`, or one `find_one_and_update`),
//! and no backend detail (SQL, BSON) leaks into the signatures. Backends:
//! `ampel-store-sqlite` (embedded, the default) and `ampel-store-mongo`; each owns
//! its URI scheme and import staging through a [`factory::Backend`].
//! [`conformance`] holds the suite every backend must pass.
//!
//! **Upsert semantics** (all idempotent; replaying an ingestion changes nothing but
//! meta records):
//! - datapoint: insert as given; if it exists, union `stock`, `tag`, `channel`,
//!   `excl`, append `meta`, raise `expiry`; `body` is never overwritten;
//! - state: insert; if it exists, union `channel`, `tag`, append `meta`;
//! - T2: insert with code NEW; if it exists, union `channel`, `tag`, append `meta`,
//!   raise `expiry`; the code is never reset by ingestion;
//! - stock: insert; if it exists, union `tag`, `channel`, `name`, lower
//!   `ts.<ch>.tied`, raise `ts.<ch>.upd` (and `ts.any`), append `journal`.

pub mod conformance;
pub mod factory;
pub mod redact;
mod types;

pub use types::*;

use ampel_interface::{
    Body, ConfigHash, DataPoint, DataPointId, Event, LinkId, LogRecord, RunId, Stock, StockId,
    T1Document, T2Document, T3Document, TraceId, TraceRecord, TroubleRecord, UnixTime,
};

use std::collections::BTreeSet;

/// Result of a store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Schema (layout) version written by this build; stores carry theirs.
pub const SCHEMA_VERSION: u32 = 1;

/// What went wrong in a store. Messages name the store location (path or URI
/// without credentials) and say what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store was written by a newer layout than this build understands.
    #[error("store {location} has layout version {found}, newer than this build supports ({supported}); use a newer ampel")]
    SchemaTooNew {
        /// Path or URI.
        location: String,
        /// Version found.
        found: u32,
        /// Version supported.
        supported: u32,
    },
    /// The store was written by an older layout.
    #[error("store {location} has layout version {found}, older than this build ({supported}); export it with the ampel that wrote it and import it here")]
    SchemaTooOld {
        /// Path or URI.
        location: String,
        /// Version found.
        found: u32,
        /// Version supported.
        supported: u32,
    },
    /// The location holds something that is not an AMPEL store.
    #[error("{location} is not an ampel store: {detail}")]
    NotAStore {
        /// Path or URI.
        location: String,
        /// What was found.
        detail: String,
    },
    /// Another process holds a lock for longer than the busy timeout.
    #[error("store {location} is locked by another process (gave up after {waited_ms} ms)")]
    Locked {
        /// Path or URI.
        location: String,
        /// How long we waited.
        waited_ms: u64,
    },
    /// The store cannot be written.
    #[error("store {location} is read-only: {detail}")]
    ReadOnly {
        /// Path or URI.
        location: String,
        /// Why.
        detail: String,
    },
    /// The store cannot be opened or reached.
    #[error("cannot open store {location}: {detail}")]
    Open {
        /// Path or URI.
        location: String,
        /// Why.
        detail: String,
    },
    /// A store URI could not be understood.
    #[error("invalid store uri `{uri}`: {detail}")]
    BadUri {
        /// The URI (credentials removed).
        uri: String,
        /// What was expected.
        detail: String,
    },
    /// A hash registered twice with different contents.
    #[error("{what} {hash} is already registered with different content (hash collision or changed encoding)")]
    Conflict {
        /// `config` or `trace`.
        what: &'static str,
        /// The hash.
        hash: i64,
    },
    /// The caller no longer holds the lease of a T2 document.
    #[error("lease on t2 document {doc} is not held by worker {owner}")]
    LeaseLost {
        /// T2 document id.
        doc: String,
        /// The worker that thought it held it.
        owner: String,
    },
    /// A stored document could not be decoded.
    #[error("store {location}: corrupt {collection} document {key}: {detail}")]
    Corrupt {
        /// Path or URI.
        location: String,
        /// Collection.
        collection: &'static str,
        /// Key of the document.
        key: String,
        /// Decoder message.
        detail: String,
    },
    /// Any other backend failure.
    #[error("store {location}: {detail}")]
    Backend {
        /// Path or URI.
        location: String,
        /// Backend message.
        detail: String,
    },
}

/// Every database operation the tiers need. Implementations are `Send + Sync` and
/// safe to use from several threads and several processes on one database.
pub trait Store: Send + Sync {
    /// Backend name and location (credentials removed), e.g. `sqlite:/tmp/a.db`.
    fn describe(&self) -> String;
    /// Layout version and document counts.
    fn info(&self) -> Result<StoreInfo>;

    // ---- T0 / T1 ingestion -------------------------------------------------------
    /// Upsert datapoints (see crate docs for semantics), in one batch.
    fn upsert_datapoints(&self, dps: &[DataPoint]) -> Result<UpsertCount>;
    /// Upsert T1 states.
    fn upsert_states(&self, states: &[T1Document]) -> Result<UpsertCount>;
    /// Upsert T2 tickets.
    fn upsert_t2(&self, tickets: &[T2Request]) -> Result<UpsertCount>;
    /// Upsert stocks.
    fn upsert_stocks(&self, stocks: &[StockUpsert]) -> Result<UpsertCount>;

    // ---- reads ------------------------------------------------------------------
    /// Datapoints by id, in the order asked; missing ids are skipped.
    fn get_datapoints(&self, ids: &[DataPointId]) -> Result<Vec<DataPoint>>;
    /// [`get_datapoints`](Store::get_datapoints) with bodies holding only `fields`
    /// (each present exactly when the whole body has it); everything else whole.
    /// Backends that can skip the other fields while decoding override this.
    fn get_datapoints_with(
        &self,
        ids: &[DataPointId],
        fields: &BTreeSet<String>,
    ) -> Result<Vec<DataPoint>> {
        let mut dps = self.get_datapoints(ids)?;
        for dp in &mut dps {
            if let Body::Object(m) = &mut dp.body {
                m.retain(|k, _| fields.contains(k));
            }
        }
        Ok(dps)
    }
    /// All datapoints of a stock, by id.
    fn stock_datapoints(&self, stock: StockId) -> Result<Vec<DataPoint>>;
    /// One state.
    fn get_state(&self, stock: StockId, link: LinkId) -> Result<Option<T1Document>>;
    /// All states of a stock, in insertion order.
    fn stock_states(&self, stock: StockId) -> Result<Vec<T1Document>>;
    /// Several states by (stock, link), in the order asked; missing ones are skipped.
    /// Backends override this to read them in one round trip (T2 batches).
    fn get_states(&self, keys: &[(StockId, LinkId)]) -> Result<Vec<T1Document>> {
        let mut out = Vec::with_capacity(keys.len());
        for (s, l) in keys {
            out.extend(self.get_state(*s, *l)?);
        }
        Ok(out)
    }
    /// One stock, with its journal.
    fn get_stock(&self, stock: StockId) -> Result<Option<Stock>>;
    /// One T2 document by id.
    fn get_t2(&self, id: &str) -> Result<Option<T2Document>>;
    /// T2 documents matching a filter, in insertion order.
    fn find_t2(&self, filter: &T2Filter) -> Result<Vec<T2Document>>;

    // ---- T2 queue ---------------------------------------------------------------
    /// Atomically claim the oldest claimable ticket: code in `req.codes` and not
    /// backing off, or RUNNING with an expired lease. The ticket becomes RUNNING
    /// with a lease for `req.owner` until `req.now + req.lease_seconds`.
    fn claim_t2(&self, req: &ClaimRequest) -> Result<Option<T2Document>>;
    /// Claim up to `n` tickets at once (as [`Store::claim_t2`], oldest first).
    /// Backends override this to do it in one round trip.
    fn claim_t2_many(&self, req: &ClaimRequest, n: usize) -> Result<Vec<T2Document>> {
        let mut out = Vec::new();
        while out.len() < n {
            match self.claim_t2(req)? {
                Some(d) => out.push(d),
                None => break,
            }
        }
        Ok(out)
    }
    /// Extend a lease (heartbeat). Fails with [`StoreError::LeaseLost`] if another
    /// worker reclaimed the ticket.
    fn renew_lease(&self, id: &str, owner: &str, until: ampel_interface::UnixTime) -> Result<()>;
    /// Store the outcome of a claimed ticket and release the lease: set code, append
    /// meta (its `body_index` is set by the store when a body is appended), append
    /// body, add tags, set `retry_after`. Fails with [`StoreError::LeaseLost`] if the
    /// lease is no longer the caller's.
    fn complete_t2(&self, id: &str, owner: &str, outcome: &T2Outcome) -> Result<()>;
    /// Complete several claimed tickets; each entry's result is independent (a lost
    /// lease fails that entry only). Backends override this to write in one batch.
    fn complete_t2_many(
        &self,
        items: &[(String, T2Outcome)],
        owner: &str,
    ) -> Result<Vec<Result<()>>> {
        Ok(items
            .iter()
            .map(|(id, o)| self.complete_t2(id, owner, o))
            .collect())
    }
    /// Let every lease held by `owner` expire now, so its tickets can be claimed
    /// at once (the worker died); returns how many.
    fn expire_leases(&self, owner: &str) -> Result<usize>;
    /// Reset matching T2 documents to `code` (clearing leases and backoff; bodies
    /// too with [`ResetMode::CodeAndBody`]). Returns how many changed.
    fn reset_t2(
        &self,
        filter: &T2Filter,
        code: ampel_interface::DocumentCode,
        mode: ResetMode,
    ) -> Result<usize>;

    // ---- stocks and T3 ----------------------------------------------------------
    /// Journal, tag and name updates on an existing stock; returns false if the
    /// stock does not exist.
    fn update_stock(&self, update: &StockChange) -> Result<bool>;
    /// Several stock updates; returns, per update, whether the stock exists.
    fn update_stocks(&self, updates: &[StockChange]) -> Result<Vec<bool>> {
        updates.iter().map(|u| self.update_stock(u)).collect()
    }
    /// [`Store::complete_t2_many`], then [`Store::update_stocks`] with the stocks'
    /// journal entries for those results. Backends override this to write both in
    /// one transaction (the embedded store: one commit per T2 batch instead of two).
    fn complete_t2_journaled(
        &self,
        items: &[(String, T2Outcome)],
        owner: &str,
        journals: &[StockChange],
    ) -> Result<Vec<Result<()>>> {
        let done = self.complete_t2_many(items, owner)?;
        self.update_stocks(journals)?;
        Ok(done)
    }
    /// Stock ids matching a selection, ascending.
    fn select_stocks(&self, selection: &StockSelection) -> Result<Vec<StockId>>;
    /// The data time of the store: the latest update time of any stock (`None`
    /// when empty). In archive mode, it is "now" for a T3 run (see
    /// `ampel_core::clock`). The default reads every stock; backends answer it
    /// from an index.
    fn data_time(&self) -> Result<Option<UnixTime>> {
        let mut latest: Option<UnixTime> = None;
        for id in self.select_stocks(&StockSelection::default())? {
            if let Some(s) = self.get_stock(id)? {
                for t in s.ts.values() {
                    latest = Some(latest.map_or(t.upd, |l| l.max(t.upd)));
                }
            }
        }
        Ok(latest)
    }
    /// Store a T3 document (idempotent by id).
    fn insert_t3(&self, doc: &T3Document) -> Result<()>;
    /// T3 documents, optionally of one process, in insertion order.
    fn find_t3(&self, process: Option<&str>) -> Result<Vec<T3Document>>;

    // ---- provenance -------------------------------------------------------------
    /// Next global run id (1, 2, 3, ...), unique across processes.
    fn next_run_id(&self) -> Result<RunId>;
    /// Insert or replace the event of a run.
    fn record_event(&self, event: &Event) -> Result<()>;
    /// Start a run: the next run id, and `event` (its `run` replaced) recorded
    /// under it, in one step where the backend can, so a crash cannot use up an
    /// id without an event.
    fn start_run(&self, event: &Event) -> Result<RunId> {
        let run = self.next_run_id()?;
        self.record_event(&Event {
            run,
            ..event.clone()
        })?;
        Ok(run)
    }
    /// Replace the event of run `dead.run` by `new` if the stored event still has
    /// `dead`'s code and owner: a compare-and-swap, so of several processes taking
    /// over one dead run exactly one succeeds. True if replaced.
    fn take_over_run(&self, dead: &Event, new: &Event) -> Result<bool>;
    /// Write one T0 batch: datapoints, states, tickets, stocks, logs, trouble
    /// records, then the run's event (its checkpoint). The embedded store writes
    /// it in one transaction, so a process killed at any point leaves the whole
    /// batch or none of it; this default writes the parts in that order.
    fn write_t0_batch(&self, b: &T0Batch) -> Result<T0BatchCount> {
        let counts = T0BatchCount {
            datapoints: self.upsert_datapoints(&b.datapoints)?,
            states: self.upsert_states(&b.states)?,
            tickets: self.upsert_t2(&b.tickets)?,
            stocks: self.upsert_stocks(&b.stocks)?,
        };
        self.insert_logs(&b.logs)?;
        for t in &b.troubles {
            self.insert_trouble(t)?;
        }
        if let Some(e) = &b.event {
            self.record_event(e)?;
        }
        Ok(counts)
    }
    /// Hold the store's ingestion lock until the returned guard is dropped: T0
    /// runs on one store take turns, so runs started together give the documents
    /// of the same runs one after the other. `waiting` is called once if another
    /// run holds it. `None` where the backend has no such lock.
    fn lock_ingest(&self, waiting: &mut dyn FnMut()) -> Result<Option<IngestLock>> {
        let _ = waiting;
        Ok(None)
    }
    /// Events matching a query, ascending by run id.
    fn events(&self, query: &EventQuery) -> Result<Vec<Event>>;
    /// Append log records.
    fn insert_logs(&self, logs: &[LogRecord]) -> Result<()>;
    /// Log records matching a query, in insertion order.
    fn logs(&self, query: &LogQuery) -> Result<Vec<LogRecord>>;
    /// Append a trouble record.
    fn insert_trouble(&self, trouble: &TroubleRecord) -> Result<()>;
    /// Trouble records matching a query, in insertion order.
    fn troubles(&self, query: &TroubleQuery) -> Result<Vec<TroubleRecord>>;
    /// Register a normalised config under its hash; idempotent; a different config
    /// under the same hash is a [`StoreError::Conflict`].
    fn register_config(&self, hash: ConfigHash, config: &Body) -> Result<()>;
    /// A registered config.
    fn get_config(&self, hash: ConfigHash) -> Result<Option<Body>>;
    /// Register a trace; idempotent; conflicting content is an error.
    fn register_trace(&self, trace: &TraceRecord) -> Result<()>;
    /// A registered trace.
    fn get_trace(&self, id: TraceId) -> Result<Option<TraceRecord>>;
    /// Every registered trace, by unit then id.
    fn traces(&self) -> Result<Vec<TraceRecord>>;

    // ---- dumps ------------------------------------------------------------------
    /// Every document of a collection (one of [`COLLECTIONS`]) as JSON, in the
    /// collection's canonical order (by primary key), passed to `emit` one by one.
    fn dump(&self, collection: &str, emit: &mut dyn FnMut(Body) -> Result<()>) -> Result<()>;
    /// Insert documents exactly as [`Store::dump`] emitted them, in that order, into a
    /// store being imported (fresh: nothing is merged). The run-id counter is kept
    /// above every imported event's run.
    fn restore(&self, collection: &str, docs: &[Body]) -> Result<()>;
}

/// Collections, in dump order, with the key their documents are ordered by.
pub const COLLECTIONS: &[(&str, &str)] = &[
    ("t0", "id"),
    ("t1", "stock, link"),
    ("t2", "id"),
    ("stock", "stock"),
    ("t3", "id"),
    ("conf", "hash"),
    ("trace", "id"),
    ("event", "run"),
    ("log", "insertion"),
    ("trouble", "insertion"),
];
