//! The MongoDB server of the tests and the MongoDB test backend.
//!
//! [`server_uri`] is `AMPEL_TEST_MONGODB_URI` when set (a real mongod, say), else
//! the URI of a MongoDB-compatible server this process starts once: mongoeco 4.11.0
//! through the project's launcher `tests/mongo/mongoeco_server.py` (in-memory
//! storage, a free port on 127.0.0.1), from the venv `scripts/test` makes in
//! `$AMPEL_TEST_TOOLS/mongoeco-4.11.0`. The launcher exits when this process is gone,
//! so no server outlives its tests. A missing venv fails the test with the command
//! that makes it: MongoDB tests are never skipped.

use ampel_store::conformance::Backend;
use ampel_store::Store;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// The pinned mongoeco version (as in `scripts/test` and the launcher).
pub const MONGOECO_VERSION: &str = "4.11.0";

/// Where `scripts/test` puts the tests' Python venvs: `$AMPEL_TEST_TOOLS`, default
/// `~/.cache/ampel/tools`.
pub fn tools_dir() -> PathBuf {
    std::env::var_os("AMPEL_TEST_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/ampel/tools")
        })
}

/// The Python of the mongoeco venv.
pub fn mongoeco_python() -> PathBuf {
    tools_dir()
        .join(format!("mongoeco-{MONGOECO_VERSION}"))
        .join("bin/python")
}

/// The launcher script.
pub fn launcher() -> PathBuf {
    crate::repo_root().join("tests/mongo/mongoeco_server.py")
}

/// A started launcher: its process and URI.
pub struct Server {
    /// The launcher process (stopped by SIGTERM or when its parent exits).
    pub child: std::process::Child,
    /// `mongodb://127.0.0.1:PORT/?directConnection=true`
    pub uri: String,
}

impl Server {
    /// Start a launcher with `storage` (`memory` or a SQLite file path).
    pub fn start(storage: &str) -> Server {
        Self::launch(storage, None)
    }

    /// Start a launcher that requires SCRAM authentication as `user`/`password`
    /// (defined in `admin`).
    pub fn start_with_user(storage: &str, user: &str, password: &str) -> Server {
        Self::launch(storage, Some(format!("{user}:{password}")))
    }

    fn launch(storage: &str, user: Option<String>) -> Server {
        let python = mongoeco_python();
        assert!(
            python.exists(),
            "the MongoDB tests need the mongoeco venv at {} (run `scripts/test --setup-only`, or set AMPEL_TEST_MONGODB_URI to a mongod)",
            python.display()
        );
        let mut child = Command::new(&python)
            .arg(launcher())
            .args(["--storage", storage])
            .args(user.iter().flat_map(|u| ["--user", u.as_str()]))
            .arg("--parent-pid")
            .arg(std::process::id().to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the launcher's ready line");
        let uri = line
            .trim()
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("the mongoeco launcher did not start: {line:?}"))
            .to_string();
        Server { child, uri }
    }

    /// Stop it (SIGTERM) and wait.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// The server every MongoDB test of this process uses (see the module docs).
pub fn server_uri() -> String {
    static URI: OnceLock<String> = OnceLock::new();
    URI.get_or_init(|| match std::env::var("AMPEL_TEST_MONGODB_URI") {
        Ok(uri) if !uri.is_empty() => uri,
        _ => {
            let server = Server::start("memory");
            let uri = server.uri.clone();
            // lives as long as the process; the launcher exits after it
            std::mem::forget(server);
            uri
        }
    })
    .clone()
}

/// A server of one test's own (the test's load does not slow the others down), or
/// `AMPEL_TEST_MONGODB_URI` when set; stopped when dropped.
pub struct TestServer {
    server: Option<Server>,
    base: String,
}

impl TestServer {
    /// Start one (in-memory storage).
    pub fn own() -> TestServer {
        match std::env::var("AMPEL_TEST_MONGODB_URI") {
            Ok(uri) if !uri.is_empty() => TestServer {
                server: None,
                base: uri,
            },
            _ => {
                let server = Server::start("memory");
                let base = server.uri.clone();
                TestServer {
                    server: Some(server),
                    base,
                }
            }
        }
    }

    /// The URI of the store with database prefix `prefix` (made unique per process).
    pub fn store(&self, prefix: &str) -> String {
        MongoBackend::with_prefix(&self.base, &format!("{prefix}{}", std::process::id()))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop();
        }
    }
}

/// A fresh database prefix on the tests' server, as a store URI.
pub fn fresh_store_uri(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    MongoBackend::with_prefix(&server_uri(), &format!("{tag}{}x{n}", std::process::id()))
}

/// The MongoDB backend on a server: each fresh store is a new database prefix
/// (`ampeltest<pid>x<n>`), dropped when the backend is.
pub struct MongoBackend {
    base: String,
    n: AtomicUsize,
    made: std::sync::Mutex<Vec<String>>,
}

impl MongoBackend {
    /// A backend on `uri` (its path, if any, is replaced by each store's prefix).
    pub fn new(uri: &str) -> Self {
        MongoBackend {
            base: uri.to_string(),
            n: AtomicUsize::new(0),
            made: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// `uri` with its database path set to `prefix`.
    pub fn with_prefix(uri: &str, prefix: &str) -> String {
        let (scheme, rest) = uri.split_once("://").unwrap_or(("mongodb", uri));
        let (authority, after) = match rest.find(['/', '?']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let query = after.split_once('?').map(|(_, q)| q).unwrap_or("");
        if query.is_empty() {
            format!("{scheme}://{authority}/{prefix}")
        } else {
            format!("{scheme}://{authority}/{prefix}?{query}")
        }
    }
}

impl Backend for MongoBackend {
    fn fresh_uri(&self) -> String {
        let n = self.n.fetch_add(1, Ordering::SeqCst);
        let uri = Self::with_prefix(&self.base, &format!("ampeltest{}x{n}", std::process::id()));
        self.made.lock().unwrap().push(uri.clone());
        uri
    }
    fn open(&self, uri: &str) -> Box<dyn Store> {
        ampel_commands::open_store(uri).expect("open store")
    }
}

impl Drop for MongoBackend {
    fn drop(&mut self) {
        for uri in self.made.lock().unwrap().iter() {
            if let Ok(s) = ampel_store_mongo::MongoStore::open(uri) {
                let _ = s.drop_all();
            }
        }
    }
}
