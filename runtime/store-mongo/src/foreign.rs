//! Recognising a database another writer made, so that the refusal names it.
//!
//! A prefix with documents but no AMPEL-rs layout record is refused (nothing is
//! written to it). When it is Python AMPEL's — its key fields (`t0.id`,
//! `stock.stock`) next to ObjectId `_id`s, or its run-id counter without our layout —
//! the message says so and names the versions its trace records give (the
//! `env` of `<prefix>_ext.trace`: the ampel packages that wrote it).

use crate::layout::{db_name, Db};
use crate::MongoStore;
use ampel_store::StoreError;
use mongodb::bson::{doc, Bson, Document};

/// How Python AMPEL's datapoints and stocks look: the key in a field, an ObjectId
/// `_id` (other collections tell nothing: this project's states have ObjectIds too).
pub fn is_python_ampel_document(collection: &str, d: &Document) -> bool {
    let key = match collection {
        "t0" => "id",
        "stock" => "stock",
        _ => return false,
    };
    matches!(d.get("_id"), Some(Bson::ObjectId(_))) && d.contains_key(key)
}

/// `ampel-core 0.10.6a28, ampel-ztf 0.10.3a9` from a trace record's `env`, or the
/// unit versions it names.
pub fn versions_of(trace: &Document) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(env) = trace.get_document("env") {
        for (k, v) in env {
            let name = k.replace('_', "-");
            if name.starts_with("ampel") {
                if let Bson::String(v) = v {
                    out.push(format!("{name} {v}"));
                }
            }
        }
    }
    out.sort();
    out
}

impl MongoStore {
    /// The refusal of a prefix holding `collection` documents without a layout
    /// record.
    pub(crate) fn foreign_data(&self, collection: &str) -> Result<StoreError, StoreError> {
        let coll = self.coll(collection);
        let sample = self.block(async { coll.find_one(doc! {}).await })?;
        let data = db_name(&self.prefix, Db::Data);
        let python = sample
            .as_ref()
            .is_some_and(|d| is_python_ampel_document(collection, d));
        let detail = if python {
            let traces = self.coll("trace");
            let trace =
                self.block(async { traces.find_one(doc! {"env": {"$exists": true}}).await })?;
            let versions = trace.as_ref().map(versions_of).unwrap_or_default();
            let which = if versions.is_empty() {
                "no version recorded in its trace records".to_string()
            } else {
                versions.join(", ")
            };
            format!(
                "{data} was written by Python AMPEL ({which}): this project does not read Python AMPEL's document layout yet (ObjectId keys with the key in `{collection}.{}`, flat conf documents, other meta and journal shapes; see ARCHITECTURE.md, \"Python AMPEL's layout\"); nothing was written to it",
                if collection == "stock" { "stock" } else { "id" }
            )
        } else {
            format!(
                "{data} holds documents in `{collection}` but no AMPEL-rs layout record (written by another tool?); nothing was written to it. A dump of an AMPEL-rs store goes into a fresh prefix with `ampel db import`"
            )
        };
        Ok(StoreError::NotAStore {
            location: self.location.clone(),
            detail,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::oid::ObjectId;

    #[test]
    fn python_ampel_documents_and_versions_are_recognised() {
        let py_t0 = doc! {"_id": ObjectId::new(), "id": 1_i64, "body": {}};
        let rs_t0 = doc! {"_id": 1_i64, "body": {}};
        assert!(is_python_ampel_document("t0", &py_t0));
        assert!(!is_python_ampel_document("t0", &rs_t0));
        let py_stock = doc! {"_id": ObjectId::new(), "stock": 5_i32};
        assert!(is_python_ampel_document("stock", &py_stock));
        assert!(!is_python_ampel_document("stock", &doc! {"_id": 5_i64}));
        assert!(!is_python_ampel_document(
            "t1",
            &doc! {"_id": ObjectId::new()}
        ));
        let trace =
            doc! {"env": {"astropy": "7.2.3", "ampel_core": "0.10.6a28", "ampel-ztf": "0.10.3a9"}};
        assert_eq!(
            versions_of(&trace),
            vec!["ampel-core 0.10.6a28", "ampel-ztf 0.10.3a9"]
        );
    }
}
