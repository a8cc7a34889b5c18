//! Opening a store from its URI. Each backend owns its scheme: a [`Backend`] parses
//! its own URIs, opens them, and stages an import (a fresh store beside the target,
//! filled, checked, then switched into place). A [`StoreFactory`] holds the backends
//! a binary was built with and routes a URI to the one whose scheme it carries.
//!
//! Schemes known to AMPEL but not compiled into a binary are refused by name, so an
//! instance built without MongoDB says so instead of "unknown scheme". `secret:NAME`
//! URIs are resolved here, for every backend alike (`AMPEL_SECRET_NAME`, or the key
//! NAME of the JSON object in `AMPEL_SECRETS_FILE`).

use crate::redact::redact;
use crate::{Store, StoreError};

/// How a store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OpenMode {
    /// Create the store if it does not exist (commands that write).
    #[default]
    Create,
    /// The store must exist (commands that only read, and T2 which reads T0's
    /// tickets): a missing embedded file is an error naming it.
    Existing,
    /// Existing, opened for one of several T2 workers (an embedded store is read
    /// through a memory map).
    T2Worker,
}

/// An import being staged: fill the store at [`Staging::uri`], then
/// [`Staging::commit`] switches it into the target's place, or
/// [`Staging::discard`] removes it.
pub trait Staging {
    /// The URI of the staging store.
    fn uri(&self) -> &str;
    /// Replace the (empty) target by the staged store.
    fn commit(self: Box<Self>) -> Result<(), StoreError>;
    /// Remove the staged store (best effort).
    fn discard(self: Box<Self>);
}

/// A store backend: the URIs it owns and how it opens them.
pub trait Backend: Send + Sync {
    /// Shown in messages: `SQLite`, `MongoDB`.
    fn name(&self) -> &'static str;
    /// The URI prefixes it owns (`sqlite:`, `mongodb://`).
    fn prefixes(&self) -> &'static [&'static str];
    /// Does it also take a bare path (no scheme)? One backend does: the embedded one.
    fn takes_bare_paths(&self) -> bool {
        false
    }
    /// Open the store `uri` names (secrets already resolved).
    fn open(&self, uri: &str, mode: OpenMode) -> Result<Box<dyn Store>, StoreError>;
    /// Stage an import into `uri` (secrets already resolved).
    fn stage_import(&self, uri: &str) -> Result<Box<dyn Staging>, StoreError>;
}

/// Schemes of the backends AMPEL has, with what a binary needs to have them.
const KNOWN: &[(&str, &str)] = &[
    ("sqlite:", "the embedded backend"),
    (
        "mongodb://",
        "the MongoDB backend: an instance links it when its manifest says `stores = [\"mongodb\"]` under [instance]",
    ),
    (
        "mongodb+srv://",
        "the MongoDB backend: an instance links it when its manifest says `stores = [\"mongodb\"]` under [instance]",
    ),
];

/// The backends of one binary.
#[derive(Default)]
pub struct StoreFactory {
    backends: Vec<Box<dyn Backend>>,
}

impl std::fmt::Debug for StoreFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.backends.iter().map(|b| b.name()))
            .finish()
    }
}

impl StoreFactory {
    /// No backends yet.
    pub fn new() -> Self {
        StoreFactory::default()
    }

    /// Add a backend.
    pub fn with(mut self, backend: impl Backend + 'static) -> Self {
        self.backends.push(Box::new(backend));
        self
    }

    /// Names of the backends, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.backends.iter().map(|b| b.name()).collect()
    }

    /// The backend for a (resolved) URI.
    fn backend(&self, uri: &str) -> Result<&dyn Backend, StoreError> {
        for b in &self.backends {
            if b.prefixes().iter().any(|p| uri.starts_with(p)) {
                return Ok(b.as_ref());
            }
        }
        let bad = |detail: String| StoreError::BadUri {
            uri: redact(uri),
            detail,
        };
        if let Some((_, needs)) = KNOWN.iter().find(|(p, _)| uri.starts_with(p)) {
            return Err(bad(format!("this binary was built without {needs}")));
        }
        let expected: Vec<String> = self
            .backends
            .iter()
            .flat_map(|b| b.prefixes().iter().map(|p| format!("{p}...")))
            .collect();
        if let Some((scheme, _)) = uri.split_once("://") {
            return Err(bad(format!(
                "unknown scheme `{scheme}`; expected {}",
                expected.join(" or ")
            )));
        }
        self.backends
            .iter()
            .find(|b| b.takes_bare_paths())
            .map(|b| b.as_ref())
            .ok_or_else(|| bad(format!("expected {}", expected.join(" or "))))
    }

    /// Open the store a URI names.
    pub fn open(&self, uri: &str, mode: OpenMode) -> Result<Box<dyn Store>, StoreError> {
        let uri = resolve_secret(uri)?;
        self.backend(&uri)?.open(&uri, mode)
    }

    /// Stage an import into the store a URI names.
    pub fn stage_import(&self, uri: &str) -> Result<Box<dyn Staging>, StoreError> {
        let uri = resolve_secret(uri)?;
        self.backend(&uri)?.stage_import(&uri)
    }
}

/// The URI a `secret:NAME` stands for (other URIs unchanged).
pub fn resolve_secret(uri: &str) -> Result<String, StoreError> {
    let Some(name) = uri.strip_prefix("secret:") else {
        return Ok(uri.to_string());
    };
    let missing = |why: String| {
        StoreError::BadUri {
        uri: uri.into(),
        detail: format!(
            "{why} (set AMPEL_SECRET_{name}, or the key `{name}` in the JSON file named by AMPEL_SECRETS_FILE)"
        ),
    }
    };
    if let Ok(v) = std::env::var(format!("AMPEL_SECRET_{name}")) {
        return Ok(v);
    }
    let path = std::env::var("AMPEL_SECRETS_FILE")
        .map_err(|_| missing(format!("secret `{name}` is not set")))?;
    let text = std::fs::read_to_string(&path)
        .map_err(|e| missing(format!("cannot read secrets file {path}: {e}")))?;
    let map: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| missing(format!("secrets file {path} is not a JSON object: {e}")))?;
    map.get(name)
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .ok_or_else(|| missing(format!("secret `{name}` is not in {path}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake;
    impl Backend for Fake {
        fn name(&self) -> &'static str {
            "fake"
        }
        fn prefixes(&self) -> &'static [&'static str] {
            &["fake:"]
        }
        fn open(&self, uri: &str, _: OpenMode) -> Result<Box<dyn Store>, StoreError> {
            Err(StoreError::BadUri {
                uri: uri.into(),
                detail: "reached the fake backend".into(),
            })
        }
        fn stage_import(&self, uri: &str) -> Result<Box<dyn Staging>, StoreError> {
            self.open(uri, OpenMode::Create).map(|_| unreachable!())
        }
    }

    fn err(f: &StoreFactory, uri: &str) -> String {
        match f.open(uri, OpenMode::Create) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{uri} opened"),
        }
    }

    #[test]
    fn a_uri_goes_to_the_backend_of_its_scheme_and_others_are_named() {
        let f = StoreFactory::new().with(Fake);
        assert!(err(&f, "fake:x").contains("reached the fake backend"));
        let e = err(&f, "mongodb://u:hunter2@db/x");
        assert!(e.contains("built without the MongoDB backend"), "{e}");
        assert!(e.contains("stores = [\"mongodb\"]"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        let e = err(&f, "postgres://db/x");
        assert!(
            e.contains("unknown scheme `postgres`; expected fake:..."),
            "{e}"
        );
        let e = err(&f, "just/a/path");
        assert!(e.contains("expected fake:..."), "{e}");
    }
}
