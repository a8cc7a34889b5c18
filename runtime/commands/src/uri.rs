//! The store backends of this binary and the URIs that open them: `sqlite:PATH`
//! (or a bare path) for the embedded store, always; `mongodb://...` when the
//! binary is built with the `mongodb` feature (an instance gets it when its
//! manifest says `stores = ["mongodb"]`); `secret:NAME` for a URI kept as a
//! secret. Each backend parses its own URIs ([`ampel_store::factory`]);
//! credentials are removed before a URI is shown.

use ampel_store::factory::{OpenMode, StoreFactory};
use ampel_store::{Store, StoreError};
use std::sync::OnceLock;

pub use ampel_store::factory::resolve_secret;
pub use ampel_store::redact::redact;

/// The default store: an embedded file in the working directory.
pub const DEFAULT_DB: &str = "sqlite:ampel.db";

/// The backends compiled into this binary.
pub fn stores() -> &'static StoreFactory {
    static STORES: OnceLock<StoreFactory> = OnceLock::new();
    STORES.get_or_init(|| {
        let f = StoreFactory::new().with(ampel_store_sqlite::SqliteBackend);
        #[cfg(feature = "mongodb")]
        let f = f.with(ampel_store_mongo::MongoBackend);
        f
    })
}

/// Open the store a URI names.
pub fn open_store(uri: &str) -> Result<Box<dyn Store>, StoreError> {
    stores().open(uri, OpenMode::Create)
}

/// Open a store that must exist already, for commands that only read (an embedded
/// store file that is missing is an error naming it, never a new empty store).
pub fn open_existing_store(uri: &str) -> Result<Box<dyn Store>, StoreError> {
    stores().open(uri, OpenMode::Existing)
}

/// Open the store a URI names for one of several T2 workers (an embedded store is
/// read through a memory map); it must exist, since T2 works on the tickets T0 wrote.
pub fn open_store_for_t2_workers(uri: &str) -> Result<Box<dyn Store>, StoreError> {
    stores().open(uri, OpenMode::T2Worker)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "mongodb")]
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
