//! Typed documents ↔ stored BSON. Stored documents carry `_id` for the typed key
//! (`id`, `stock`, `run`, ...) and internal fields (`seq`) that the typed documents
//! do not have; reading removes them again. Dumps go through the typed documents,
//! so both backends dump the same JSON and give the same results digest.

use ampel_interface::Body;
use mongodb::bson::{Bson, Document};
use serde::{de::DeserializeOwned, Serialize};

/// Fields only the store uses.
const INTERNAL: &[&str] = &["seq"];

/// A typed document as stored: its key field renamed to `_id`, `extra` added.
pub fn to_stored<T: Serialize>(v: &T, key: &str, extra: Document) -> Result<Document, String> {
    let mut d = mongodb::bson::serialize_to_document(v).map_err(|e| e.to_string())?;
    if key != "_id" {
        let id = d
            .remove(key)
            .ok_or_else(|| format!("document has no `{key}` field"))?;
        d.insert("_id", id);
    }
    d.extend(extra);
    Ok(d)
}

/// A stored document as the typed document: `_id` back to its key field, internal
/// fields removed.
pub fn from_stored<T: DeserializeOwned>(mut d: Document, key: &str) -> Result<T, String> {
    for f in INTERNAL {
        d.remove(*f);
    }
    if key != "_id" {
        if let Some(id) = d.remove("_id") {
            d.insert(key, id);
        }
    }
    mongodb::bson::deserialize_from_document(d).map_err(|e| e.to_string())
}

/// A stored document as JSON (for the config registry, whose documents are
/// `{_id: hash, config}`).
pub fn to_json(b: Bson) -> Result<Body, String> {
    mongodb::bson::deserialize_from_bson(b).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ampel_interface::*;
    use mongodb::bson::doc;

    #[test]
    fn typed_documents_round_trip_with_their_key_as_id() {
        let dp = DataPoint {
            id: -5,
            stock: [1, 2].into(),
            origin: None,
            tag: ["ZTF".to_string()].into(),
            channel: Default::default(),
            excl: Default::default(),
            meta: vec![MetaRecord::new(1, 2.0, Tier::T0, DocumentCode::NEW)],
            body: serde_json::json!({"jd": 2458849.5, "fid": 2, "flags": [1, 2.5, "x", null]}),
            expiry: None,
        };
        let stored = to_stored(&dp, "id", doc! {"seq": 3_i64}).unwrap();
        assert_eq!(stored.get_i64("_id").ok(), Some(-5));
        assert!(!stored.contains_key("id"));
        let back: DataPoint = from_stored(stored, "id").unwrap();
        assert_eq!(back, dp);
        // numbers keep their JSON kind (integer or float) through BSON
        assert_eq!(
            serde_json::to_string(&back.body).unwrap(),
            serde_json::to_string(&dp.body).unwrap()
        );
    }
}
