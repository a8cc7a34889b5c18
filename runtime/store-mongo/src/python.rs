//! Reading documents Python AMPEL (ampel-core 0.10) wrote into a shared database
//! as this project's typed documents. Each rule turns one of Python AMPEL's shapes
//! into this project's, so both writers' documents read alike; nothing is changed
//! in the database. ARCHITECTURE.md ("Python AMPEL's layout") lists the fields.
//!
//! - `t0`, `stock`: an ObjectId `_id` beside the key field (`id`, `stock`) is
//!   dropped; the key field is the key.
//! - `t2`: an ObjectId `_id` is the ticket id as its 24 hex digits ([`t2_key`]
//!   turns such an id back into the ObjectId for queries); no `col` reads as a
//!   state ticket (a stock ticket when `link` is the stock).
//! - `t1`: no `code` reads as 0 (OK).
//! - `expiry` dates read as Unix seconds.
//! - meta records: no `tier` reads as the collection's tier of ingestion (0), no or
//!   `null` `code` as 0; activity `channel`/`tag` strings read as one-element sets;
//!   other top-level fields (`alert`, `link`, `upsert`, `tag`) move into `extra`.
//! - stock journal entries: `channel`/`tag` strings as sets; no `process` reads as
//!   `"(not recorded)"` (Python AMPEL's T0 does not record it); other top-level
//!   fields (`alert`, `upsert`, `link`) move into `extra`.
//! - events: an ObjectId `_id` beside `run` is dropped; no `start` reads as the
//!   ObjectId's creation second.
//! - log records in Python AMPEL's compact keys (`r`, `f`, `m`, `s`, `c`, `u`) read
//!   as run, flag, message, stock, channel and extra; their time is the ObjectId's.

use mongodb::bson::{oid::ObjectId, Bson, Document};

/// The `_id` to query for a T2 ticket id: Python AMPEL's tickets have ObjectIds
/// (24 hex digits), this project's a 32-hex-digit string.
pub fn t2_key(id: &str) -> Bson {
    match (id.len(), ObjectId::parse_str(id)) {
        (24, Ok(oid)) => Bson::ObjectId(oid),
        _ => Bson::String(id.to_string()),
    }
}

/// A stored T2 `_id` as the ticket id (see [`t2_key`]).
pub fn t2_id(b: &Bson) -> Option<String> {
    match b {
        Bson::String(s) => Some(s.clone()),
        Bson::ObjectId(oid) => Some(oid.to_hex()),
        _ => None,
    }
}

/// An integer however Python stored it (int32 where it fits).
pub fn int(b: Option<&Bson>) -> Option<i64> {
    match b? {
        Bson::Int64(v) => Some(*v),
        Bson::Int32(v) => Some(i64::from(*v)),
        _ => None,
    }
}

const META_FIELDS: &[&str] = &[
    "run",
    "ts",
    "tier",
    "code",
    "duration",
    "traceid",
    "activity",
    "body_index",
    "retry_after",
    "extra",
];

const JOURNAL_FIELDS: &[&str] = &[
    "tier", "ts", "run", "process", "channel", "unit", "doc", "action", "code", "tag", "traceid",
    "extra",
];

/// Read a document of `collection` in this project's shape (see the module docs).
pub fn normalize(collection: &str, d: &mut Document) {
    let python_id = matches!(d.get("_id"), Some(Bson::ObjectId(_)));
    match collection {
        "t0" if python_id && d.contains_key("id") => {
            d.remove("_id");
        }
        "stock" if python_id && d.contains_key("stock") => {
            d.remove("_id");
        }
        "t1" if !d.contains_key("code") => {
            d.insert("code", 0_i32);
        }
        "t2" => {
            if let Some(Bson::ObjectId(oid)) = d.get("_id") {
                let hex = oid.to_hex();
                d.insert("_id", hex);
            }
            if !d.contains_key("col") {
                let stock_ticket =
                    int(d.get("link")).is_some() && int(d.get("link")) == int(d.get("stock"));
                d.insert("col", if stock_ticket { "stock" } else { "state" });
            }
        }
        "event" if python_id && d.contains_key("run") => {
            if let Some(Bson::ObjectId(oid)) = d.remove("_id") {
                if !d.contains_key("start") {
                    d.insert("start", oid.timestamp().timestamp_millis() as f64 / 1000.0);
                }
            }
        }
        "log" if d.contains_key("r") && !d.contains_key("run") => python_log(d),
        _ => {}
    }
    if let Some(Bson::DateTime(t)) = d.get("expiry") {
        let secs = t.timestamp_millis() as f64 / 1000.0;
        d.insert("expiry", secs);
    }
    if let Ok(meta) = d.get_array_mut("meta") {
        for m in meta.iter_mut() {
            if let Bson::Document(m) = m {
                meta_record(m);
            }
        }
    }
    if collection == "stock" {
        if let Ok(journal) = d.get_array_mut("journal") {
            for j in journal.iter_mut() {
                if let Bson::Document(j) = j {
                    journal_record(j);
                }
            }
        }
    }
}

fn meta_record(m: &mut Document) {
    if !m.contains_key("tier") {
        m.insert("tier", 0_i32);
    }
    if matches!(m.get("code"), None | Some(Bson::Null)) {
        m.insert("code", 0_i32);
    }
    if let Ok(activity) = m.get_array_mut("activity") {
        for a in activity.iter_mut() {
            if let Bson::Document(a) = a {
                set_of_strings(a, "channel");
                set_of_strings(a, "tag");
            }
        }
    }
    move_into_extra(m, META_FIELDS);
}

fn journal_record(j: &mut Document) {
    if !j.contains_key("process") {
        j.insert("process", "(not recorded)");
    }
    set_of_strings(j, "channel");
    set_of_strings(j, "tag");
    move_into_extra(j, JOURNAL_FIELDS);
}

/// A string field as a one-element array; `null` as an empty one.
fn set_of_strings(d: &mut Document, field: &str) {
    match d.get(field) {
        Some(Bson::String(s)) => {
            let s = s.clone();
            d.insert(field, vec![Bson::String(s)]);
        }
        Some(Bson::Null) => {
            d.insert(field, Bson::Array(Vec::new()));
        }
        _ => {}
    }
}

/// Fields the typed record does not have, moved into its `extra` document.
fn move_into_extra(d: &mut Document, known: &[&str]) {
    let other: Vec<String> = d
        .keys()
        .filter(|k| !known.contains(&k.as_str()))
        .cloned()
        .collect();
    if other.is_empty() {
        return;
    }
    let mut extra = match d.remove("extra") {
        Some(Bson::Document(e)) => e,
        _ => Document::new(),
    };
    for k in other {
        if let Some(v) = d.remove(&k) {
            extra.entry(k).or_insert(v);
        }
    }
    d.insert("extra", extra);
}

/// A log record in Python AMPEL's compact keys, in this project's.
fn python_log(d: &mut Document) {
    let ts = match d.get("_id") {
        Some(Bson::ObjectId(oid)) => oid.timestamp().timestamp_millis() as f64 / 1000.0,
        _ => 0.0,
    };
    let mut out = Document::new();
    out.insert("ts", ts);
    out.insert("run", int(d.get("r")).unwrap_or(0));
    out.insert("flag", int(d.get("f")).unwrap_or(0));
    if let Some(s) = int(d.get("s")) {
        out.insert("stock", s);
    }
    match d.get("c") {
        Some(Bson::String(c)) => {
            out.insert("channel", c.clone());
        }
        Some(Bson::Array(c)) => {
            let names: Vec<String> = c
                .iter()
                .filter_map(|c| c.as_str().map(String::from))
                .collect();
            out.insert("channel", names.join(","));
        }
        _ => {}
    }
    let msg = match d.get("m") {
        Some(Bson::String(m)) => m.clone(),
        Some(Bson::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    out.insert("msg", msg);
    if let Some(u) = d.get("u").filter(|u| !matches!(u, Bson::Null)) {
        out.insert("extra", u.clone());
    }
    *d = out;
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::{doc, DateTime};

    /// Python AMPEL's documents, as the interop measurement recorded them
    /// (stock 496388897 = ZTF18acpxdyo).
    #[test]
    fn python_ampels_documents_read_in_this_projects_shape() {
        let oid = ObjectId::parse_str("6b0ff94a34e8ed7edb3c6ba9").unwrap();
        let mut t0 = doc! {
            "_id": oid, "id": 1095578116115010003_i64, "stock": [496388897_i32],
            "channel": ["CHAN_BASIC"], "tag": ["ZTF", "ZTF_PUB", "ZTF_R"],
            "expiry": DateTime::from_millis(1_804_762_569_000),
            "meta": [{"ts": 1796208969_i32, "run": 1_i32, "alert": 1095578116115010003_i64,
                      "activity": [{"action": 2048_i32, "channel": "CHAN_BASIC"}],
                      "traceid": {"shaper": 7847553849035634526_i64}}],
            "body": {"jd": 2458850.0781134, "fid": 2_i32},
        };
        normalize("t0", &mut t0);
        assert!(!t0.contains_key("_id"));
        assert_eq!(t0.get_f64("expiry").unwrap(), 1_804_762_569.0);
        let m = t0.get_array("meta").unwrap()[0].as_document().unwrap();
        assert_eq!(m.get_i32("tier").unwrap(), 0);
        assert_eq!(m.get_i32("code").unwrap(), 0);
        assert_eq!(
            m.get_document("extra").unwrap(),
            &doc! {"alert": 1095578116115010003_i64}
        );
        let a = m.get_array("activity").unwrap()[0].as_document().unwrap();
        assert_eq!(
            a.get_array("channel").unwrap(),
            &vec![Bson::from("CHAN_BASIC")]
        );

        let mut t2 = doc! {"_id": oid, "stock": 496388897_i32, "link": 990406863_i32,
        "unit": "T2LightCurveSummary", "config": Bson::Null, "code": -1_i32};
        normalize("t2", &mut t2);
        assert_eq!(t2.get_str("_id").unwrap(), "6b0ff94a34e8ed7edb3c6ba9");
        assert_eq!(t2.get_str("col").unwrap(), "state");
        assert_eq!(t2_key("6b0ff94a34e8ed7edb3c6ba9"), Bson::ObjectId(oid));
        assert_eq!(
            t2_key("69febbc0df1f3c1a32f1cf8a597f3a38"),
            Bson::from("69febbc0df1f3c1a32f1cf8a597f3a38")
        );
        let mut stock_t2 = doc! {"_id": oid, "stock": 5_i32, "link": 5_i32};
        normalize("t2", &mut stock_t2);
        assert_eq!(stock_t2.get_str("col").unwrap(), "stock");

        let mut stock = doc! {"_id": oid, "stock": 496388897_i32,
        "journal": [{"ts": 1796208969_i32, "run": 1_i32, "tier": 0_i32, "channel": "CHAN_BASIC",
                     "alert": 1095578116115010003_i64, "action": 335560961_i32,
                     "traceid": {"alertconsumer": Bson::Null}, "upsert": [1_i64], "link": 990406863_i32}]};
        normalize("stock", &mut stock);
        assert!(!stock.contains_key("_id"));
        let j = stock.get_array("journal").unwrap()[0]
            .as_document()
            .unwrap();
        assert_eq!(j.get_str("process").unwrap(), "(not recorded)");
        assert_eq!(
            j.get_array("channel").unwrap(),
            &vec![Bson::from("CHAN_BASIC")]
        );
        assert_eq!(
            j.get_document("extra").unwrap().keys().collect::<Vec<_>>(),
            ["alert", "upsert", "link"]
        );

        let mut t1 = doc! {"stock": 1_i32, "link": 2_i32, "meta": [{"run": 1_i32, "ts": 1_i32, "tier": 0_i32,
        "code": Bson::Null, "tag": "HAS_DATARIGHT_EXCLUSION"}]};
        normalize("t1", &mut t1);
        assert_eq!(t1.get_i32("code").unwrap(), 0);
        let m = t1.get_array("meta").unwrap()[0].as_document().unwrap();
        assert_eq!(m.get_i32("code").unwrap(), 0);
        assert_eq!(
            m.get_document("extra").unwrap(),
            &doc! {"tag": "HAS_DATARIGHT_EXCLUSION"}
        );

        let mut event = doc! {"_id": oid, "process": "py_t0", "code": 0_i32, "run": 1_i32,
        "duration": 2.037, "ret": 50_i32, "tier": 0_i32};
        normalize("event", &mut event);
        assert!(!event.contains_key("_id"));
        assert_eq!(
            event.get_f64("start").unwrap(),
            oid.timestamp().timestamp_millis() as f64 / 1000.0
        );

        let mut log = doc! {"_id": oid, "r": 1_i32, "f": 8481_i32, "u": Bson::Null,
        "m": "Using custom iter_max: 10000000"};
        normalize("log", &mut log);
        assert_eq!(log.get_i64("run").unwrap(), 1);
        assert_eq!(log.get_i64("flag").unwrap(), 8481);
        assert_eq!(
            log.get_str("msg").unwrap(),
            "Using custom iter_max: 10000000"
        );
        assert!(!log.contains_key("extra"));
    }

    #[test]
    fn this_projects_documents_are_left_as_they_are() {
        let mut t0 = doc! {"_id": 5_i64, "id": 5_i64, "meta": [{"run": 1_i64, "ts": 1.5, "tier": 0_i32, "code": 0_i32,
        "activity": [{"action": 1_i64, "channel": ["A"], "tag": []}], "extra": {"alert": 1_i64}}]};
        let before = t0.clone();
        normalize("t0", &mut t0);
        assert_eq!(t0, before);
        let mut t2 = doc! {"_id": "69febbc0df1f3c1a32f1cf8a597f3a38", "col": "point", "link": 3_i64, "stock": 1_i64};
        let before = t2.clone();
        normalize("t2", &mut t2);
        assert_eq!(t2, before);
    }
}
