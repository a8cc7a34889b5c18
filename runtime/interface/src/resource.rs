//! Files an instance carries for its units (catalogues, models), addressed by content.
//!
//! A manifest declares a file resource as `NAME = { file = "path" }` in
//! `[resources]`; a unit config refers to it as `{ resource = "NAME" }` and
//! receives a [`ResourceFile`]: the file's name, SHA-256 and size, never its path.
//! So the file's content is part of the unit's config hash (a changed catalogue is
//! a changed computation; a moved one is not), and an image carries the file in a
//! content-addressed layer (`/usr/share/ampel/resources/sha256/<hex>`).
//!
//! This crate does no I/O: [`ResourceFile::path`] asks the locator the runtime
//! installs ([`set_locator`]), which finds the file (the manifest's own file on the
//! host, the image's layer in a container) and checks its digest and size before
//! handing out the path. A unit then reads the file itself, once, when built.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

/// A file resource as a unit config holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceFile {
    /// The file's name as the manifest gave it (its last path component), for
    /// messages and results.
    pub file: String,
    /// SHA-256 of the content, 64 lower-case hex digits.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// Why a resource file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("resource file `{file}` (sha256 {sha256}): {message}")]
pub struct ResourceError {
    /// The file's name.
    pub file: String,
    /// Its digest.
    pub sha256: String,
    /// What went wrong, and where it was looked for.
    pub message: String,
}

/// Finds a resource file's verified local path.
pub type Locator = dyn Fn(&ResourceFile) -> Result<PathBuf, String> + Send + Sync;

static LOCATOR: RwLock<Option<Arc<Locator>>> = RwLock::new(None);

/// Install the process's locator (the runtime does, before building units).
pub fn set_locator(locator: Arc<Locator>) {
    if let Ok(mut l) = LOCATOR.write() {
        *l = Some(locator);
    }
}

/// Whether a locator is installed.
pub fn has_locator() -> bool {
    LOCATOR.read().map(|l| l.is_some()).unwrap_or(false)
}

impl ResourceFile {
    /// The local path of this exact content (digest and size checked by the
    /// locator), or why there is none.
    pub fn path(&self) -> Result<PathBuf, ResourceError> {
        let err = |message: String| ResourceError {
            file: self.file.clone(),
            sha256: self.sha256.clone(),
            message,
        };
        if self.sha256.len() != 64 || !self.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(err("the digest is not 64 hex digits".into()));
        }
        let locator =
            LOCATOR.read().ok().and_then(|l| l.clone()).ok_or_else(|| {
                err("no resource locator in this process (run by `ampel`)".into())
            })?;
        locator(self).map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_digest_is_refused_before_any_lookup() {
        let r = ResourceFile {
            file: "cat.csv".into(),
            sha256: "../../etc/passwd".into(),
            size: 1,
        };
        let e = r.path().unwrap_err();
        assert!(e.to_string().contains("64 hex digits"), "{e}");
        assert!(e.to_string().contains("cat.csv"), "{e}");
    }
}
