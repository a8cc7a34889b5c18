//! Reading what Python AMPEL writes into a shared database, where its fields have
//! another shape than this project's: trace ids that are `null` (its T2 worker's
//! `t2worker`), and a journal entry's `doc` that is a document (the T2 identity
//! `{stock, unit, config, link}`) or an ObjectId rather than a t2 id string.

use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// A trace-id map whose `null` values are left out.
pub fn trace_ids<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, i64>, D::Error> {
    let m: BTreeMap<String, Option<i64>> = BTreeMap::deserialize(d)?;
    Ok(m.into_iter().filter_map(|(k, v)| Some((k, v?))).collect())
}

/// A document reference: a string as is; anything else (a document, an ObjectId
/// as `{"$oid": ...}`) as its JSON text with sorted keys.
pub fn doc_ref<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s),
        // serde_json's maps are sorted (no `preserve_order`): keys come out sorted
        Some(other) => Some(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use crate::documents::{JournalRecord, MetaRecord};
    use serde_json::json;

    #[test]
    fn python_ampels_null_trace_ids_and_document_refs_are_read() {
        let m: MetaRecord = serde_json::from_value(json!({
            "run": 2, "ts": 1796253112, "tier": 2, "code": 0,
            "activity": [{"action": 139264}],
            "traceid": {"t2unit": -5360044686431039811_i64, "t2worker": null}
        }))
        .unwrap();
        assert_eq!(m.traceid.len(), 1);
        assert_eq!(m.ts, 1796253112.0);
        let j: JournalRecord = serde_json::from_value(json!({
            "tier": 2, "ts": 1796253112, "run": 2, "process": "py_t2",
            "action": 262144, "unit": "T2LightCurveSummary",
            "doc": {"unit": "T2LightCurveSummary", "stock": 7362563, "link": 1490493198, "config": 7}
        }))
        .unwrap();
        assert_eq!(
            j.doc.as_deref(),
            Some(r#"{"config":7,"link":1490493198,"stock":7362563,"unit":"T2LightCurveSummary"}"#)
        );
    }
}
