//! Shared helpers of the workspace integration tests (`tests/it`): test backends
//! and paths to fixtures and the shared alert data.

use ampel_store::conformance::Backend;
use ampel_store::Store;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Root of the repository.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The shared real alerts: `$AMPEL_SHARED_DATA/alerts`, by default
/// `../shared/data/alerts` beside the repository.
pub fn shared_alerts() -> PathBuf {
    let data = std::env::var_os("AMPEL_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("..").join("shared").join("data"));
    let p = data.join("alerts");
    assert!(
        p.is_dir(),
        "the shared alert data is missing at {}",
        p.display()
    );
    p
}

/// A fixture file under `tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests").join("fixtures").join(name)
}

/// The embedded backend, each fresh store a new file in a temp dir.
pub struct SqliteBackend {
    dir: tempfile::TempDir,
    n: AtomicUsize,
}

impl SqliteBackend {
    /// A backend with its own temp dir.
    pub fn new() -> Self {
        SqliteBackend {
            dir: tempfile::tempdir().expect("tempdir"),
            n: AtomicUsize::new(0),
        }
    }
}

impl Default for SqliteBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl Backend for SqliteBackend {
    fn fresh_uri(&self) -> String {
        let n = self.n.fetch_add(1, Ordering::SeqCst);
        format!(
            "sqlite:{}",
            self.dir.path().join(format!("store-{n}.db")).display()
        )
    }
    fn open(&self, uri: &str) -> Box<dyn Store> {
        ampel_commands::open_store(uri).expect("open store")
    }
}
