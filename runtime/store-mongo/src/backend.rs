//! MongoDB's URIs and import staging: `mongodb://[user:password@]host[:port]/[prefix][?options]`
//! (or `mongodb+srv://`); an import is staged under the prefix `PREFIX_impPID` on
//! the same server and its collections renamed into the target prefix once checked.

use crate::MongoStore;
use ampel_store::factory::{Backend, OpenMode, Staging};
use ampel_store::{Store, StoreError};

/// MongoDB as a [`Backend`].
#[derive(Debug, Clone, Copy, Default)]
pub struct MongoBackend;

impl Backend for MongoBackend {
    fn name(&self) -> &'static str {
        "MongoDB"
    }
    fn prefixes(&self) -> &'static [&'static str] {
        &["mongodb://", "mongodb+srv://"]
    }
    fn open(&self, uri: &str, _: OpenMode) -> Result<Box<dyn Store>, StoreError> {
        Ok(Box::new(MongoStore::open(uri)?))
    }
    fn stage_import(&self, uri: &str) -> Result<Box<dyn Staging>, StoreError> {
        let target = MongoStore::open(uri)?;
        let prefix = target.prefix().to_string();
        let staging = with_prefix(uri, &format!("{prefix}_imp{}", std::process::id()));
        Ok(Box::new(PrefixStaging {
            staging,
            target_prefix: prefix,
            target,
        }))
    }
}

/// `uri` with its path (the database prefix) replaced by `prefix`.
fn with_prefix(uri: &str, prefix: &str) -> String {
    let (scheme, rest) = uri.split_once("://").unwrap_or(("mongodb", uri));
    let (authority, after) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match after.split_once('?') {
        Some((_, q)) if !q.is_empty() => format!("{scheme}://{authority}/{prefix}?{q}"),
        _ => format!("{scheme}://{authority}/{prefix}"),
    }
}

struct PrefixStaging {
    staging: String,
    target_prefix: String,
    target: MongoStore,
}

impl Staging for PrefixStaging {
    fn uri(&self) -> &str {
        &self.staging
    }
    fn commit(self: Box<Self>) -> Result<(), StoreError> {
        // the (empty) target databases make way for the staged ones
        self.target.drop_all()?;
        MongoStore::open(&self.staging)?.move_into(&self.target_prefix)
    }
    fn discard(self: Box<Self>) {
        if let Ok(st) = MongoStore::open(&self.staging) {
            let _ = st.drop_all();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_staging_prefix_keeps_authority_and_options() {
        assert_eq!(
            super::with_prefix("mongodb://u:p@h:1/Ampel?authSource=admin", "Ampel_imp7"),
            "mongodb://u:p@h:1/Ampel_imp7?authSource=admin"
        );
        assert_eq!(super::with_prefix("mongodb://h", "X"), "mongodb://h/X");
    }
}
