//! The results digest (digest scheme v1): one SHA-256 over a canonical dump of every
//! output document, so an archived reprocessing can be checked bit for bit.
//!
//! Dumped, in this order: `t0`, `t1`, `t2`, `stock`, `t3`, `conf`, `trace`, each in
//! key order (see `ampel_store::COLLECTIONS`). Left out as diagnostics: `event`,
//! `log`, `trouble`. Removed from every document, at any depth, as volatile: the keys
//! `duration` (wall-clock time), `lease` (worker id, wall-clock expiry) and
//! `retry_after` (wall-clock backoff). Everything else is deterministic in archive
//! mode (times come from the data, run ids from the order of tasks).
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

/// Keys removed at any depth before hashing.
pub const VOLATILE: &[&str] = &["duration", "lease", "retry_after"];

/// A results digest and its parts.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ResultsDigest {
    /// `sha256:<hex>` over everything.
    pub digest: String,
    /// Per collection: document count and its own digest.
    pub collections: BTreeMap<String, (u64, String)>,
}

fn strip(v: &mut Body) {
    match v {
        Body::Object(m) => {
            for k in VOLATILE {
                m.remove(*k);
            }
            m.values_mut().for_each(strip);
        }
        Body::Array(a) => a.iter_mut().for_each(strip),
        _ => {}
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
