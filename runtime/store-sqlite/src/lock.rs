//! The ingestion lock of an embedded store: an exclusive `flock` on the file
//! `<store>.ingest-lock` beside it, held by a T0 run from start to end. The
//! kernel releases it when the process ends in any way (`kill -9` included), so a
//! lock is never left behind, and while one T0 run holds it, every other T0
//! run recorded as running in this store is known to be dead.

use ampel_store::{IngestLock, Result, StoreError};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

/// Take the ingestion lock of the store at `path`, calling `waiting` once if
/// another process holds it, then waiting for it.
pub(crate) fn ingest(path: &Path, location: &str, waiting: &mut dyn FnMut()) -> Result<IngestLock> {
    let mut name = path.as_os_str().to_owned();
    name.push(".ingest-lock");
    let err = |what: &str, e: std::io::Error| StoreError::Backend {
        location: location.to_string(),
        detail: format!(
            "cannot {what} the ingestion lock {}: {e}",
            Path::new(&name).display()
        ),
    };
    let file: File = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&name)
        .map_err(|e| err("open", e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            waiting();
            file.lock().map_err(|e| err("take", e))?;
        }
        Err(TryLockError::Error(e)) => return Err(err("take", e)),
    }
    Ok(IngestLock(Box::new(file)))
}
