//! Store URIs: `sqlite:PATH` (or a bare path) for the embedded store,
//! `mongodb://[user:password@]host[:port]/[prefix][?options]` (or `mongodb+srv://`)
//! for MongoDB, and `secret:NAME` for a URI kept as a secret (`AMPEL_SECRET_NAME`, or
//! the key NAME of the JSON object in `AMPEL_SECRETS_FILE`), so that credentials
//! need not be on the command line. Credentials are removed before a URI is shown.

use ampel_store::{Store, StoreError};
use ampel_store_sqlite::{SqliteOptions, SqliteStore};

/// The default store: an embedded file in the working directory.
pub const DEFAULT_DB: &str = "sqlite:ampel.db";

/// The URI a `secret:NAME` stands for (other URIs unchanged).
pub fn resolve_secret(uri: &str) -> Result<String, StoreError> {
    let Some(name) = uri.strip_prefix("secret:") else {
        return Ok(uri.to_string());
    };
    let missing = |why: String| {
        StoreError::BadUri {
        uri: uri.into(),
        detail: format!("{why} (set AMPEL_SECRET_{name}, or the key `{name}` in the JSON file named by AMPEL_SECRETS_FILE)"),
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

/// Open the store a URI names.
pub fn open_store(uri: &str) -> Result<Box<dyn Store>, StoreError> {
    open_store_with(uri, &SqliteOptions::default())
}

/// Open a store that must exist already, for commands that only read (an embedded
/// store file that is missing is an error naming it, never a new empty store).
pub fn open_existing_store(uri: &str) -> Result<Box<dyn Store>, StoreError> {
    open_store_with(
        uri,
        &SqliteOptions {
            create: false,
            ..SqliteOptions::default()
        },
    )
}

/// Open the store a URI names for one of several T2 workers (an embedded store is
/// read through a memory map; see [`SqliteOptions::for_t2_workers`]); it must
/// exist, since T2 works on the tickets T0 wrote.
pub fn open_store_for_t2_workers(uri: &str) -> Result<Box<dyn Store>, StoreError> {
    let opts = SqliteOptions {
        create: false,
        ..SqliteOptions::for_t2_workers()
    };
    open_store_with(uri, &opts)
}

/// Open the store a URI names; `sqlite` applies to an embedded store.
fn open_store_with(uri: &str, sqlite: &SqliteOptions) -> Result<Box<dyn Store>, StoreError> {
    let resolved = resolve_secret(uri)?;
    let uri = resolved.as_str();
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
        return Ok(Box::new(SqliteStore::open_with(path, sqlite)?));
    }
    if uri.starts_with("mongodb://") || uri.starts_with("mongodb+srv://") {
        return Ok(Box::new(ampel_store_mongo::MongoStore::open(uri)?));
    }
    if let Some((scheme, _)) = uri.split_once("://") {
        return Err(StoreError::BadUri {
            uri: redact(uri),
            detail: format!("unknown scheme `{scheme}`; expected sqlite:PATH or mongodb://HOST"),
        });
    }
    Ok(Box::new(SqliteStore::open_with(uri, sqlite)?))
}

/// A URI as it may be shown: `user:password@` and every credential-bearing query
/// parameter replaced by `***` (see `ampel_store_mongo::redact`).
pub fn redact(uri: &str) -> String {
    ampel_store_mongo::redact(uri)
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
        assert_eq!(
            redact("mongodb://u:p@ss@db:27017/x?authSource=admin"),
            "mongodb://***@db:27017/x?authSource=admin"
        );
        // nothing listens on port 1: the server-selection timeout names the host only
        let e = open_store("mongodb://admin:hunter2@127.0.0.1:1/?serverSelectionTimeoutMS=300")
            .err()
            .unwrap()
            .to_string();
        assert!(
            !e.contains("hunter2") && e.contains("***@127.0.0.1:1"),
            "{e}"
        );
        assert!(e.contains("no MongoDB server answered"), "{e}");
        // secrets in query parameters: a password, a TLS key password, an AWS token
        let uri = "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300&password=hunter3&tlsCertificateKeyFilePassword=hunter4&authMechanismProperties=AWS_SESSION_TOKEN:hunter5";
        let e = open_store(uri).err().unwrap().to_string();
        for s in ["hunter3", "hunter4", "hunter5"] {
            assert!(!e.contains(s) && !redact(uri).contains(s), "{e}");
        }
    }

    #[test]
    fn uris_can_be_secrets() {
        std::env::set_var("AMPEL_SECRET_TEST_DB_URI", "sqlite:/nonexistent-dir/x.db");
        let e = open_store("secret:TEST_DB_URI").err().unwrap().to_string();
        assert!(e.contains("/nonexistent-dir"), "{e}");
        let e = open_store("secret:NO_SUCH_SECRET_XYZ")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("AMPEL_SECRET_NO_SUCH_SECRET_XYZ"), "{e}");
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
