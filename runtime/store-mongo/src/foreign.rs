//! Recognising a database another writer made, so that the refusal names it.
//!
//! A prefix with documents but no AMPEL-rs layout record is Python AMPEL's when
//! its datapoints or stocks have their key fields (`t0.id`, `stock.stock`) next to
//! ObjectId `_id`s; its trace records' `env` names the ampel packages that wrote
//! it. A database of ampel-core 0.10 is opened as is (its documents are read by
//! [`crate::python`]); any other is refused with the versions named, and so is data
//! of another tool. Nothing is written to a refused prefix.

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

/// The unit Python AMPEL's AlertConsumer and workers record that ships with
/// ampel-core: its trace `version` is ampel-core's.
const CORE_UNITS: &[&str] = &["MongoIngester", "T2Worker", "T3Processor"];

/// `ampel-core 0.10.6a28, ampel-ztf 0.10.3a9` from trace records: the ampel
/// packages of their `env`, and ampel-core's version from the version of a unit
/// it ships (`MongoIngester`, which every AlertConsumer records).
pub fn versions_of(traces: &[Document]) -> Vec<String> {
    let mut out = std::collections::BTreeSet::new();
    for trace in traces {
        if let Ok(env) = trace.get_document("env") {
            for (k, v) in env {
                let name = k.replace('_', "-");
                if let (true, Bson::String(v)) = (name.starts_with("ampel"), v) {
                    out.insert(format!("{name} {v}"));
                }
            }
        }
        if let (Ok(unit), Ok(v)) = (trace.get_str("unit"), trace.get_str("version")) {
            if CORE_UNITS.contains(&unit) {
                out.insert(format!("ampel-core {v}"));
            }
        }
    }
    out.into_iter().collect()
}

/// The Python AMPEL core releases whose databases this project reads and writes
/// (ampel-core 0.10.x: the layout `python` reads; tested with 0.10.6a28).
pub const KNOWN_CORE: &str = "ampel-core 0.10.";

/// What a prefix holding documents but no AMPEL-rs layout record is.
pub enum Foreign {
    /// Written by a Python AMPEL this project knows (its versions): opened as is.
    KnownPython(Vec<String>),
    /// Anything else: the refusal.
    Refused(StoreError),
}

/// Whether the versions a trace record names are a Python AMPEL this project knows.
pub fn known_python(versions: &[String]) -> bool {
    versions.iter().any(|v| v.starts_with(KNOWN_CORE))
}

impl MongoStore {
    /// What a prefix holding `collection` documents without a layout record is.
    pub(crate) fn foreign_data(&self, collection: &str) -> Result<Foreign, StoreError> {
        let coll = self.coll(collection);
        let sample = self.block(async { coll.find_one(doc! {}).await })?;
        let data = db_name(&self.prefix, Db::Data);
        let python = sample
            .as_ref()
            .is_some_and(|d| is_python_ampel_document(collection, d));
        let detail = if python {
            let traces = self.find_all("trace", doc! {}, doc! {"_id": 1}, Some(10_000))?;
            let versions = versions_of(&traces);
            if known_python(&versions) {
                return Ok(Foreign::KnownPython(versions));
            }
            let which = if versions.is_empty() {
                "no version recorded in its trace records".to_string()
            } else {
                versions.join(", ")
            };
            format!(
                "{data} was written by Python AMPEL ({which}), a version this project does not know: it reads and writes the databases of ampel-core 0.10 (see ARCHITECTURE.md, \"Python AMPEL's layout\"); nothing was written to it"
            )
        } else {
            format!(
                "{data} holds documents in `{collection}` but no AMPEL-rs layout record (written by another tool?); nothing was written to it. A dump of an AMPEL-rs store goes into a fresh prefix with `ampel db import`"
            )
        };
        Ok(Foreign::Refused(StoreError::NotAStore {
            location: self.location.clone(),
            detail,
        }))
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
        let traces = [
            doc! {"env": {"astropy": "7.2.3", "ampel_core": "0.10.6a28", "ampel-ztf": "0.10.3a9"}},
            doc! {"unit": "BasicMultiFilter", "version": "0.10.4a0", "env": {}},
        ];
        let versions = versions_of(&traces);
        assert_eq!(versions, vec!["ampel-core 0.10.6a28", "ampel-ztf 0.10.3a9"]);
        assert!(known_python(&versions));
        // what Python AMPEL's AlertConsumer records: units with their versions
        let consumer = [
            doc! {"unit": "MongoIngester", "version": "0.10.6a28", "env": {}},
            doc! {"unit": "ZiT1Combiner", "version": "0.10.3a9"},
        ];
        assert_eq!(versions_of(&consumer), vec!["ampel-core 0.10.6a28"]);
        let old = [doc! {"unit": "MongoIngester", "version": "0.9.2"}];
        assert!(!known_python(&versions_of(&old)));
        assert!(!known_python(&[]));
    }
}
