//! The database layout, as in Python AMPEL: three databases under a prefix —
//! `<prefix>_data` (t0, t1, t2, stock, t3), `<prefix>_var` (event, log, trouble),
//! `<prefix>_ext` (conf, trace, counter, and `layout`, which records the layout
//! version) — with Python AMPEL's indexes **plus a unique index on the T2 identity**
//! (stock, unit, config, link), which makes concurrent upserts safe. Collections and
//! indexes are created when a store is first used; a store written by another
//! layout version is refused.

use mongodb::bson::{doc, Document};

/// Which database a collection lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    /// `<prefix>_data`.
    Data,
    /// `<prefix>_var`.
    Var,
    /// `<prefix>_ext`.
    Ext,
}

/// Database of each collection the store uses.
pub fn db_of(collection: &str) -> Db {
    match collection {
        "event" | "log" | "trouble" => Db::Var,
        "conf" | "trace" | "counter" | "layout" => Db::Ext,
        _ => Db::Data,
    }
}

/// The name of a database of a prefix.
pub fn db_name(prefix: &str, db: Db) -> String {
    match db {
        Db::Data => format!("{prefix}_data"),
        Db::Var => format!("{prefix}_var"),
        Db::Ext => format!("{prefix}_ext"),
    }
}

/// One index: collection, keys, unique, sparse.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexSpec {
    /// Collection.
    pub collection: &'static str,
    /// Keys.
    pub keys: Document,
    /// Unique.
    pub unique: bool,
    /// Sparse.
    pub sparse: bool,
}

fn ix(collection: &'static str, keys: Document, unique: bool, sparse: bool) -> IndexSpec {
    IndexSpec {
        collection,
        keys,
        unique,
        sparse,
    }
}

/// The layout version of a MongoDB store (its `<prefix>_ext.layout` record).
/// 1: the first; 2 (2026-12): config documents flat (`{_id: hash, ...config}`) and
/// the keys also in `t0.id` and `stock.stock`, as Python AMPEL keeps them.
pub const VERSION: u32 = 2;

/// The field that repeats `_id` where Python AMPEL reads a document's key.
pub fn key_field(collection: &str) -> Option<&'static str> {
    match collection {
        "t0" => Some("id"),
        "stock" => Some("stock"),
        _ => None,
    }
}

/// Every index the store needs (besides `_id`).
pub fn indexes() -> Vec<IndexSpec> {
    vec![
        // t0: `_id` is the datapoint id, repeated in `id` (unique, as Python
        // AMPEL's); stock for a stock's datapoints
        ix("t0", doc! {"id": 1}, true, false),
        ix("t0", doc! {"stock": 1}, false, true),
        // t1: one state per (stock, link)
        ix("t1", doc! {"stock": 1, "link": 1}, true, false),
        ix("t1", doc! {"channel": 1}, false, false),
        ix("t1", doc! {"code": 1}, false, true),
        ix("t1", doc! {"stock": 1, "seq": 1}, false, false),
        // t2: the identity is unique (Python AMPEL lacks this); claims in seq order
        ix(
            "t2",
            doc! {"stock": 1, "unit": 1, "config": 1, "link": 1},
            true,
            false,
        ),
        ix("t2", doc! {"stock": 1, "link": 1}, false, false),
        ix("t2", doc! {"channel": 1}, false, false),
        ix("t2", doc! {"code": 1, "seq": 1}, false, false),
        ix("t2", doc! {"seq": 1}, false, false),
        ix("t2", doc! {"lease.until": 1}, false, true),
        // stock: `_id` is the stock id, repeated in `stock` (Python AMPEL's key)
        ix("stock", doc! {"stock": 1}, false, false),
        ix("stock", doc! {"channel": 1}, false, false),
        ix("stock", doc! {"tag": 1}, false, false),
        ix("t3", doc! {"process": 1, "seq": 1}, false, false),
        ix("log", doc! {"run": 1}, false, false),
        ix("log", doc! {"stock": 1}, false, true),
        ix("log", doc! {"channel": 1}, false, true),
        ix("log", doc! {"seq": 1}, false, false),
        ix("event", doc! {"process": 1}, false, false),
        ix("trouble", doc! {"run": 1}, false, false),
        ix("trouble", doc! {"seq": 1}, false, false),
    ]
}

/// The layout record in `<prefix>_ext.layout`.
pub fn layout_record(version: u32) -> Document {
    doc! {"_id": "layout", "version": i64::from(version), "writer": "ampel-rs"}
}

/// A prefix usable in database names (and not too long for MongoDB's 64 bytes).
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    let ok = !prefix.is_empty()
        && prefix.len() <= 48
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "database prefix `{prefix}`: expected 1-48 letters, digits, `_` or `-` (the path of the URI, e.g. mongodb://host/Ampel)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collections_live_where_python_ampel_puts_them() {
        assert_eq!(db_name("Ampel", db_of("t2")), "Ampel_data");
        assert_eq!(db_name("Ampel", db_of("log")), "Ampel_var");
        assert_eq!(db_name("Ampel", db_of("trace")), "Ampel_ext");
        assert_eq!(db_name("run7", db_of("stock")), "run7_data");
    }

    #[test]
    fn the_t2_identity_is_unique() {
        let t2: Vec<_> = indexes()
            .into_iter()
            .filter(|i| i.collection == "t2" && i.unique)
            .collect();
        assert_eq!(t2.len(), 1);
        assert_eq!(
            t2[0].keys,
            doc! {"stock": 1, "unit": 1, "config": 1, "link": 1}
        );
        assert!(indexes()
            .iter()
            .any(|i| i.collection == "t1" && i.unique && i.keys == doc! {"stock": 1, "link": 1}));
        assert_eq!(
            layout_record(1),
            doc! {"_id": "layout", "version": 1_i64, "writer": "ampel-rs"}
        );
    }

    #[test]
    fn prefixes_are_checked() {
        assert!(check_prefix("Ampel").is_ok());
        assert!(check_prefix("bad.name").unwrap_err().contains("`bad.name`"));
        assert!(check_prefix("").is_err());
    }
}
