//! One writer at a time per database file within a process.
//!
//! SQLite makes a second writer wait by sleeping and retrying (1, 2, 5, 10 … 100 ms)
//! until the lock is free. Threads of one process that share a store (T2 workers,
//! `serve`) instead queue here and are woken the moment the writer commits; the
//! SQLite lock (and its busy timeout) still orders writers of different processes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

/// The gate of one database file.
#[derive(Default)]
pub(crate) struct Gate {
    busy: Mutex<bool>,
    free: Condvar,
}

/// Holds a [`Gate`] until dropped.
pub(crate) struct Entered<'g>(&'g Gate);

impl Gate {
    /// The gate shared by every store of this process on `path`.
    pub(crate) fn for_file(path: &Path) -> Arc<Gate> {
        static GATES: OnceLock<Mutex<HashMap<PathBuf, Arc<Gate>>>> = OnceLock::new();
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let mut gates = GATES
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        gates.entry(key).or_default().clone()
    }

    /// Wait (at most `timeout`) until no other thread of this process writes.
    pub(crate) fn enter(&self, timeout: Duration) -> Option<Entered<'_>> {
        let busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        let (mut busy, waited) = self
            .free
            .wait_timeout_while(busy, timeout, |b| *b)
            .unwrap_or_else(|p| p.into_inner());
        if waited.timed_out() && *busy {
            return None;
        }
        *busy = true;
        Some(Entered(self))
    }
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        *self.0.busy.lock().unwrap_or_else(|p| p.into_inner()) = false;
        self.0.free.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_waits_and_times_out() {
        let g = Gate::default();
        let first = g.enter(Duration::from_millis(10)).expect("free");
        assert!(g.enter(Duration::from_millis(20)).is_none(), "held");
        drop(first);
        assert!(g.enter(Duration::from_millis(10)).is_some(), "free again");
    }
}
