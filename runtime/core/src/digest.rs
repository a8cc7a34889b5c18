//! The results digest (digest scheme v2): one SHA-256 over a canonical dump of every
//! output document, so an archived reprocessing can be checked bit for bit, however
//! its work was divided between processes.
//!
//! Dumped, in this order: `t0`, `t1`, `t2`, `stock`, `t3`, `conf`, `trace`, each in
//! key order (see `ampel_store::COLLECTIONS`). Left out as diagnostics: `event`,
//! `log`, `trouble`. Left out of each document as scheduling, not results:
//! - the top-level keys `lease` (worker id, wall-clock expiry), `retry_after`
//!   (wall-clock backoff), `duration` (wall-clock time) and `seq` (the store's
//!   insertion counter, which concurrent writers interleave);
//! - in every entry of the provenance arrays `meta` and `journal`: `run` (which
//!   process did the work) and `duration`; the entries are then sorted by their
//!   canonical JSON, since concurrent processes append them in any order;
//! - `meta` entries of code PENDING_DEPENDENCY (-2001): a worker claimed a tied
//!   T2 before the results it depends on were there, and put it back (with one
//!   worker in claim order that never happens; with several it may).
//!
//! Unit results (`body`) are hashed whole. Everything else is deterministic in
//! archive mode (times come from the data). Scheme v1 (before 2026-12) removed
//! `duration`, `lease` and `retry_after` at any depth, results included, and kept
//! run ids and entry order: a v1 and a v2 digest of one store differ.
//! Encoding: for each collection the line `== <name>`, then one line of canonical
//! JSON (`ampel_interface::hash::canonical_json`) per document, each line ending in
//! `\n`; the digest is `sha256:` and the lower-case hex of the SHA-256 of it all.

use ampel_interface::hash::canonical_json;
use ampel_interface::Body;
use ampel_store::{Store, StoreError};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;

/// Collections that enter the digest, in order.
pub const DIGESTED: &[&str] = &["t0", "t1", "t2", "stock", "t3", "conf", "trace"];

/// Top-level keys removed before hashing.
pub const VOLATILE: &[&str] = &["duration", "lease", "retry_after", "seq"];

/// Provenance arrays whose entries are normalised ([`ENTRY_VOLATILE`] removed,
/// entries sorted).
pub const PROVENANCE: &[&str] = &["meta", "journal"];

/// Keys removed from each provenance entry.
pub const ENTRY_VOLATILE: &[&str] = &["run", "duration"];

/// Codes of provenance entries that record scheduling only (left out).
pub const SCHEDULING_CODES: &[ampel_interface::DocumentCode] =
    &[ampel_interface::DocumentCode::PENDING_DEPENDENCY];

/// A results digest and its parts.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ResultsDigest {
    /// `sha256:<hex>` over everything.
    pub digest: String,
    /// Per collection: document count and its own digest.
    pub collections: BTreeMap<String, (u64, String)>,
}

/// A document as the digest sees it (see the module docs).
fn strip(v: &mut Body) {
    let Body::Object(m) = v else { return };
    for k in VOLATILE {
        m.remove(*k);
    }
    for k in PROVENANCE {
        if let Some(Body::Array(entries)) = m.get_mut(*k) {
            entries.retain(|e| {
                !SCHEDULING_CODES
                    .iter()
                    .any(|c| e.get("code").and_then(Body::as_i64) == Some(i64::from(c.0)))
            });
            for e in entries.iter_mut() {
                if let Body::Object(e) = e {
                    for k in ENTRY_VOLATILE {
                        e.remove(*k);
                    }
                }
            }
            entries.sort_by_cached_key(canonical_json);
        }
    }
}

/// Compute the results digest of a store.
pub fn results_digest(store: &dyn Store) -> Result<ResultsDigest, StoreError> {
    let mut all = Sha256::new();
    let mut collections = BTreeMap::new();
    for name in DIGESTED {
        let mut part = Sha256::new();
        let mut n = 0u64;
        let header = format!("== {name}\n");
        all.update(header.as_bytes());
        store.dump(name, &mut |mut doc| {
            strip(&mut doc);
            let line = canonical_json(&doc) + "\n";
            all.update(line.as_bytes());
            part.update(line.as_bytes());
            n += 1;
            Ok(())
        })?;
        collections.insert(
            name.to_string(),
            (n, format!("sha256:{}", hex(&part.finalize()))),
        );
    }
    Ok(ResultsDigest {
        digest: format!("sha256:{}", hex(&all.finalize())),
        collections,
    })
}

/// Documents of one collection, volatile keys removed, in digest order (used to
/// show the first difference between two runs).
pub fn canonical_lines(store: &dyn Store, collection: &str) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    store.dump(collection, &mut |mut doc| {
        strip(&mut doc);
        out.push(canonical_json(&doc));
        Ok(())
    })?;
    Ok(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scheduling_is_left_out_and_results_are_kept() {
        // two processes did the same work in another order, under other runs
        let mut a = json!({
            "_id": 1, "seq": 7, "lease": {"owner": "h-1-0"},
            "body": [{"duration": 12.5, "ndet": 3}],
            "meta": [{"run": 2, "tier": 0, "ts": 1.0}, {"run": 3, "tier": 2, "ts": 2.0, "duration": 0.1}],
            "journal": [{"run": 3, "unit": "B"}, {"run": 2, "unit": "A"}],
        });
        let mut b = json!({
            "_id": 1, "seq": 9,
            "body": [{"duration": 12.5, "ndet": 3}],
            "meta": [{"run": 5, "tier": 2, "ts": 2.0, "duration": 0.3}, {"run": 6, "tier": 2, "code": -2001}, {"run": 4, "tier": 0, "ts": 1.0}],
            "journal": [{"run": 4, "unit": "A"}, {"run": 5, "unit": "B"}],
        });
        strip(&mut a);
        strip(&mut b);
        assert_eq!(canonical_json(&a), canonical_json(&b));
        // a result named like a volatile key is a result
        assert_eq!(a["body"][0]["duration"], json!(12.5));
        // another result is another digest
        let mut c = b.clone();
        c["body"][0]["ndet"] = json!(4);
        strip(&mut c);
        assert_ne!(canonical_json(&a), canonical_json(&c));
    }
}
