//! The embedded backend's URIs and import staging: `sqlite:PATH` (or
//! `sqlite://PATH`, or a bare path); an import is staged in `PATH.import-PID`
//! beside the target and renamed over it once checked.

use crate::{SqliteOptions, SqliteStore};
use ampel_store::factory::{Backend, OpenMode, Staging};
use ampel_store::{Store, StoreError};
use std::path::PathBuf;

/// The embedded store as a [`Backend`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SqliteBackend;

/// The file a `sqlite:` URI (or bare path) names.
fn path_of(uri: &str) -> Result<PathBuf, StoreError> {
    let path = uri
        .strip_prefix("sqlite://")
        .or_else(|| uri.strip_prefix("sqlite:"))
        .unwrap_or(uri);
    if path.is_empty() {
        return Err(StoreError::BadUri {
            uri: uri.into(),
            detail: "expected sqlite:PATH, e.g. sqlite:ampel.db".into(),
        });
    }
    Ok(PathBuf::from(path))
}

impl Backend for SqliteBackend {
    fn name(&self) -> &'static str {
        "SQLite"
    }
    fn prefixes(&self) -> &'static [&'static str] {
        &["sqlite:"]
    }
    fn takes_bare_paths(&self) -> bool {
        true
    }
    fn open(&self, uri: &str, mode: OpenMode) -> Result<Box<dyn Store>, StoreError> {
        let opts = match mode {
            OpenMode::Create => SqliteOptions::default(),
            OpenMode::Existing => SqliteOptions {
                create: false,
                ..SqliteOptions::default()
            },
            OpenMode::T2Worker => SqliteOptions {
                create: false,
                ..SqliteOptions::for_t2_workers()
            },
        };
        Ok(Box::new(SqliteStore::open_with(path_of(uri)?, &opts)?))
    }
    fn stage_import(&self, uri: &str) -> Result<Box<dyn Staging>, StoreError> {
        let target = path_of(uri)?;
        let staging = PathBuf::from(format!(
            "{}.import-{}",
            target.display(),
            std::process::id()
        ));
        Ok(Box::new(FileStaging {
            uri: format!("sqlite:{}", staging.display()),
            staging,
            target,
        }))
    }
}

struct FileStaging {
    uri: String,
    staging: PathBuf,
    target: PathBuf,
}

fn remove_with_wal(path: &std::path::Path, main: bool) {
    let suffixes: &[&str] = if main {
        &["", "-wal", "-shm"]
    } else {
        &["-wal", "-shm"]
    };
    for suffix in suffixes {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

impl Staging for FileStaging {
    fn uri(&self) -> &str {
        &self.uri
    }
    fn commit(self: Box<Self>) -> Result<(), StoreError> {
        // fold the WAL into the staging file before it moves
        drop(SqliteStore::open(&self.staging)?);
        remove_with_wal(&self.target, false);
        std::fs::rename(&self.staging, &self.target).map_err(|e| StoreError::Backend {
            location: self.target.display().to_string(),
            detail: format!(
                "cannot move the staged import {} here: {e}",
                self.staging.display()
            ),
        })?;
        remove_with_wal(&self.staging, false);
        Ok(())
    }
    fn discard(self: Box<Self>) {
        remove_with_wal(&self.staging, true);
    }
}
