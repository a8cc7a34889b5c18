//! MongoDB store, with the semantics of the embedded store (the same conformance
//! suite) and Python AMPEL's database layout ([`layout`]).
//!
//! The official `mongodb` driver is async; a [`MongoStore`] owns a small tokio
//! runtime and blocks on it in each [`ampel_store::Store`] method, so the tiers stay
//! synchronous. Every document it sends is built by the pure functions of [`ops`]
//! (unit-tested against expected BSON). Ingestion is bulk, unordered `update`
//! commands of upserts (retried on duplicate-key races); channel merges, claims
//! (with leases), heartbeats and results are single-document atomic updates.
//!
//! Selected by URI: `mongodb://[user:password@]host[:port]/[prefix][?options]` (the
//! path is the database prefix, default `Ampel`; give `authSource=admin` when the
//! user is defined there). Connection and server-selection timeouts default to 5 s.
//! Credentials never appear in errors or in [`ampel_store::Store::describe`].

mod backend;
pub mod convert;
pub mod foreign;
pub mod layout;
pub mod ops;
pub mod python;
mod store;

pub use ampel_store::redact::{redact, scrub, secrets_of};
pub use backend::MongoBackend;

use ampel_store::StoreError;
use futures_util::TryStreamExt;
use layout::{db_name, db_of, Db};
use mongodb::bson::{doc, Document};
use mongodb::options::ClientOptions;
use mongodb::{Client, Collection};
use std::time::Duration;

/// A store in a MongoDB deployment, under one database prefix.
pub struct MongoStore {
    // the client is dropped before the runtime its tasks run on
    client: Client,
    rt: tokio::runtime::Runtime,
    prefix: String,
    location: String,
    secrets: Vec<String>,
}

impl MongoStore {
    /// Connect, check the server answers, and check (or create) the layout.
    pub fn open(uri: &str) -> Result<MongoStore, StoreError> {
        let location = redact(uri);
        let secrets = secrets_of(uri);
        let scrub = |s: String| scrub(&s, &secrets);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("ampel-mongo")
            .build()
            .map_err(|e| StoreError::Open {
                location: location.clone(),
                detail: format!("cannot start the async runtime: {e}"),
            })?;
        let mut opts = rt
            .block_on(async { ClientOptions::parse(uri).await })
            .map_err(|e| StoreError::BadUri {
                uri: location.clone(),
                detail: scrub(e.to_string()),
            })?;
        with_defaults(&mut opts);
        let prefix = opts
            .default_database
            .clone()
            .unwrap_or_else(|| "Ampel".to_string());
        layout::check_prefix(&prefix).map_err(|detail| StoreError::BadUri {
            uri: location.clone(),
            detail,
        })?;
        let guard = rt.enter();
        let client = Client::with_options(opts).map_err(|e| StoreError::BadUri {
            uri: location.clone(),
            detail: scrub(e.to_string()),
        })?;
        drop(guard);
        let store = MongoStore {
            client,
            rt,
            prefix,
            location,
            secrets,
        };
        store.block(async {
            store
                .client
                .database("admin")
                .run_command(doc! {"ping": 1})
                .await
                .map(|_| ())
        })?;
        store.ensure_layout()?;
        Ok(store)
    }

    /// The database prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A driver error as a store error, credentials removed.
    pub(crate) fn err(&self, e: mongodb::error::Error) -> StoreError {
        use mongodb::error::ErrorKind;
        let scrub = |s: String| scrub(&s, &self.secrets);
        let location = self.location.clone();
        match *e.kind {
            ErrorKind::ServerSelection { ref message, .. } => StoreError::Open {
                location,
                detail: format!(
                    "no MongoDB server answered within the server-selection timeout ({}); is the server running and the host:port right?",
                    scrub(selection_failure(message))
                ),
            },
            ErrorKind::Authentication { ref message, .. } => StoreError::Open {
                location,
                detail: format!(
                    "authentication failed (check the user, password and authSource of the URI): {}",
                    scrub(message.clone())
                ),
            },
            ErrorKind::Command(ref c) if c.code == 13 || c.code == 8000 => StoreError::Open {
                location,
                detail: format!("not authorized: {}", scrub(c.message.clone())),
            },
            _ => StoreError::Backend {
                location,
                detail: scrub(e.to_string()),
            },
        }
    }

    pub(crate) fn bad(&self, detail: String) -> StoreError {
        StoreError::Backend {
            location: self.location.clone(),
            detail,
        }
    }

    /// Run a future on the store's runtime, mapping driver errors.
    pub(crate) fn block<T>(
        &self,
        f: impl std::future::Future<Output = mongodb::error::Result<T>>,
    ) -> Result<T, StoreError> {
        self.rt.block_on(f).map_err(|e| self.err(e))
    }

    pub(crate) fn coll(&self, name: &str) -> Collection<Document> {
        self.client
            .database(&db_name(&self.prefix, db_of(name)))
            .collection(name)
    }

    pub(crate) fn db(&self, db: Db) -> mongodb::Database {
        self.client.database(&db_name(&self.prefix, db))
    }

    /// Every document matching `filter`, sorted.
    pub(crate) fn find_all(
        &self,
        name: &str,
        filter: Document,
        sort: Document,
        limit: Option<i64>,
    ) -> Result<Vec<Document>, StoreError> {
        let coll = self.coll(name);
        self.block(async move {
            let mut q = coll.find(filter).sort(sort);
            if let Some(n) = limit {
                q = q.limit(n);
            }
            q.await?.try_collect().await
        })
    }

    /// Reserve `n` consecutive numbers of a counter; returns the first.
    pub(crate) fn reserve(&self, name: &str, n: usize) -> Result<i64, StoreError> {
        let (f, u) = ops::counter_inc(name, n as i64);
        let coll = self.coll("counter");
        let d = self.block(async move {
            coll.find_one_and_update(f, u)
                .upsert(true)
                .return_document(mongodb::options::ReturnDocument::After)
                .await
        })?;
        let value = d
            .and_then(|d| {
                d.get_i64("value")
                    .ok()
                    .or(d.get_i32("value").ok().map(i64::from))
            })
            .ok_or_else(|| self.bad(format!("counter `{name}` has no value")))?;
        Ok(value - n as i64 + 1)
    }

    fn ensure_layout(&self) -> Result<(), StoreError> {
        let rec = self.coll("layout");
        let found = self.block(async { rec.find_one(doc! {"_id": "layout"}).await })?;
        if let Some(d) = found {
            let v = d
                .get_i64("version")
                .ok()
                .or(d.get_i32("version").ok().map(i64::from))
                .unwrap_or(0);
            let supported = i64::from(layout::VERSION);
            return match v.cmp(&supported) {
                std::cmp::Ordering::Equal => Ok(()),
                std::cmp::Ordering::Greater => Err(StoreError::SchemaTooNew {
                    location: self.location.clone(),
                    found: v as u32,
                    supported: layout::VERSION,
                }),
                std::cmp::Ordering::Less => Err(StoreError::SchemaTooOld {
                    location: self.location.clone(),
                    found: v as u32,
                    supported: layout::VERSION,
                }),
            };
        }
        // no layout record: a fresh prefix, a Python AMPEL database, or a database
        // written by something else
        let data = self.db(Db::Data);
        let names = self.block(async { data.list_collection_names().await })?;
        let mut adopted = None;
        for n in ["t0", "t1", "t2", "stock", "t3"] {
            if adopted.is_none() && names.iter().any(|x| x == n) {
                let coll = self.coll(n);
                let count = self.block(async { coll.estimated_document_count().await })?;
                if count > 0 {
                    match self.foreign_data(n)? {
                        foreign::Foreign::KnownPython(versions) => adopted = Some(versions),
                        foreign::Foreign::Refused(e) => return Err(e),
                    }
                }
            }
        }
        for spec in layout::indexes() {
            let coll = self.coll(spec.collection);
            let model = mongodb::IndexModel::builder()
                .keys(spec.keys.clone())
                .options(
                    mongodb::options::IndexOptions::builder()
                        .unique(spec.unique)
                        .sparse(spec.sparse)
                        .build(),
                )
                .build();
            match self
                .rt
                .block_on(async move { coll.create_index(model).await })
            {
                Ok(_) => {}
                // Python AMPEL's own index on the same keys, with other options
                Err(e) if adopted.is_some() && index_conflict(&e) => {}
                Err(e) => return Err(self.err(e)),
            }
        }
        let mut record = layout::layout_record(layout::VERSION);
        if let Some(versions) = adopted {
            record.insert("python_ampel", versions);
        }
        let (f, u) = ops::insert_once("layout", record);
        let rec = self.coll("layout");
        self.block(async move { rec.update_one(f, u).upsert(true).await.map(|_| ()) })
    }

    /// Drop every database of this prefix (for tests and aborted imports).
    pub fn drop_all(&self) -> Result<(), StoreError> {
        for db in [Db::Data, Db::Var, Db::Ext] {
            let d = self.db(db);
            self.block(async move { d.drop().await })?;
        }
        Ok(())
    }

    /// Move every collection of this prefix into `target`'s prefix (which must be
    /// empty), then drop this prefix: the switch at the end of an import.
    pub fn move_into(&self, target: &str) -> Result<(), StoreError> {
        layout::check_prefix(target).map_err(|detail| StoreError::BadUri {
            uri: self.location.clone(),
            detail,
        })?;
        let admin = self.client.database("admin");
        for db in [Db::Data, Db::Var, Db::Ext] {
            let from = db_name(&self.prefix, db);
            let to = db_name(target, db);
            let d = self.db(db);
            let names = self.block(async { d.list_collection_names().await })?;
            for n in names {
                let cmd = doc! {"renameCollection": format!("{from}.{n}"), "to": format!("{to}.{n}"), "dropTarget": false};
                let a = admin.clone();
                self.block(async move { a.run_command(cmd).await.map(|_| ()) })?;
            }
        }
        self.drop_all()
    }
}

/// How long opening a store waits for a server that does not answer, unless the
/// URI says otherwise (`connectTimeoutMS`, `serverSelectionTimeoutMS`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The options a URI leaves open: the timeouts ([`DEFAULT_TIMEOUT`], so an
/// unreachable server is an error within seconds, not the driver's 30 s) and the
/// application name.
pub fn with_defaults(opts: &mut ClientOptions) {
    opts.connect_timeout.get_or_insert(DEFAULT_TIMEOUT);
    opts.server_selection_timeout.get_or_insert(DEFAULT_TIMEOUT);
    opts.app_name.get_or_insert("ampel-rs".to_string());
}

/// An index that exists on the same keys with other options or another name
/// (IndexOptionsConflict, IndexKeySpecsConflict).
fn index_conflict(e: &mongodb::error::Error) -> bool {
    matches!(*e.kind, mongodb::error::ErrorKind::Command(ref c) if c.code == 85 || c.code == 86)
}

/// The reason in a server-selection failure, without the driver's topology dump:
/// the first server error it names (`Connection refused (os error 111)`), or the
/// message's first clause.
pub fn selection_failure(message: &str) -> String {
    if let Some((_, rest)) = message.split_once("Error: Kind: ") {
        let reason = rest.split(", labels:").next().unwrap_or(rest);
        return reason.trim_start_matches("I/O error: ").trim().to_string();
    }
    message
        .split(". Topology:")
        .next()
        .unwrap_or(message)
        .trim()
        .to_string()
}

impl Drop for MongoStore {
    /// Shut the client down on its own runtime: ending its sessions there, while the
    /// runtime still runs (the driver's own drop would spawn that work on a runtime
    /// being torn down, and its connection pool task panics when it is gone).
    fn drop(&mut self) {
        let client = self.client.clone();
        self.rt
            .block_on(async move { client.shutdown().immediate(true).await });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_servers_are_given_up_on_after_seconds_unless_the_uri_says_otherwise() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let parse = |uri: &str| {
            let mut o = rt
                .block_on(async { ClientOptions::parse(uri).await })
                .unwrap();
            with_defaults(&mut o);
            o
        };
        let o = parse("mongodb://127.0.0.1:1/x");
        assert_eq!(o.server_selection_timeout, Some(DEFAULT_TIMEOUT));
        assert_eq!(o.connect_timeout, Some(DEFAULT_TIMEOUT));
        let o = parse("mongodb://127.0.0.1:1/x?serverSelectionTimeoutMS=300");
        assert_eq!(o.server_selection_timeout, Some(Duration::from_millis(300)));
    }

    #[test]
    fn a_selection_failure_is_its_reason_without_the_topology() {
        let driver = "Server selection timeout: No available servers. Topology: { Type: Single, Servers: [ { Address: 127.0.0.1:33177, Type: Unknown, Error: Kind: I/O error: Connection refused (os error 111), labels: {\"RetryableError\"}, source: None, server response: None } ] }";
        assert_eq!(
            selection_failure(driver),
            "Connection refused (os error 111)"
        );
        assert_eq!(
            selection_failure("Server selection timeout: No available servers. Topology: { }"),
            "Server selection timeout: No available servers"
        );
    }
}
