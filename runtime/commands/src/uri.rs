//! Store URIs: `sqlite:PATH` (or a bare path) for the embedded store,
//! `mongodb://...` for MongoDB. Credentials are removed before a URI is shown.

use ampel_store::{Store, StoreError};
use ampel_store_sqlite::SqliteStore;

/// The default store: an embedded file in the working directory.
pub const DEFAULT_DB: &str = "sqlite:ampel.db";

/// Open the store a URI names.
pub fn open_store(uri: &str) -> Result<Box<dyn Store>, StoreError> {
    if let Some(path) = uri
        .strip_prefix("sqlite://")
        .or_else(|| uri.strip_prefix("sqlite:"))
    {
        if path.is_empty() {
            return Err(StoreError::BadUri {
                uri: uri.into(),
                detail: "expected sqlite:PATH, e.g. sqlite:ampel.db".into(),
            });
        }
        return Ok(Box::new(SqliteStore::open(path)?));
    }
    if uri.starts_with("mongodb://") || uri.starts_with("mongodb+srv://") {
        return Err(StoreError::BadUri {
            uri: redact(uri),
            detail: "this build has no MongoDB backend yet; use sqlite:PATH".into(),
        });
    }
    if let Some((scheme, _)) = uri.split_once("://") {
        return Err(StoreError::BadUri {
            uri: redact(uri),
            detail: format!("unknown scheme `{scheme}`; expected sqlite:PATH or mongodb://HOST"),
        });
    }
    Ok(Box::new(SqliteStore::open(uri)?))
}

/// `scheme://user:secret@host` → `scheme://***@host`.
pub fn redact(uri: &str) -> String {
    match uri.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://***@{host}"),
            None => uri.to_string(),
        },
        None => uri.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_shown() {
        assert_eq!(
            redact("mongodb://u:p%40ss@db:27017/x"),
            "mongodb://***@db:27017/x"
        );
        let e = open_store("mongodb://admin:hunter2@127.0.0.1:1")
            .err()
            .unwrap()
            .to_string();
        assert!(
            !e.contains("hunter2") && e.contains("***@127.0.0.1:1"),
            "{e}"
        );
    }

    #[test]
    fn unknown_scheme_and_empty_path() {
        let e = open_store("postgres://x").err().unwrap().to_string();
        assert!(e.contains("unknown scheme `postgres`"), "{e}");
        assert!(open_store("sqlite:")
            .err()
            .unwrap()
            .to_string()
            .contains("expected sqlite:PATH"));
    }
}
