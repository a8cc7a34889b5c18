//! The documents this backend sends, built by pure functions: every filter, update,
//! pipeline and command statement of every store operation. They are unit-tested
//! against expected BSON (this machine cannot run a MongoDB server), and the
//! backend only sends what these return.
//!
//! Conventions: `_id` is the datapoint id, the T2 document id, the stock id, the T3
//! document id, the config hash, the trace id or the run id; datapoints and stocks
//! are found by their key fields `id` and `stock` (which repeat `_id`), and T2
//! tickets are upserted by their identity, so that the documents Python AMPEL wrote
//! (ObjectId `_id`s) are found too; `seq` (from a counter)
//! orders documents by insertion where the store promises insertion order.
//! Ingestion statements are unordered `update` command entries (`{q, u, upsert}`);
//! claims and results are single-document updates; updates whose result depends on
//! stored values (appending a body and recording its index, tag add + remove) are
//! update pipelines (MongoDB 4.2+). Values from units are wrapped in `$literal` so
//! that nothing in a result is read as an operator or a field path.

use crate::python::t2_key;
use ampel_interface::*;
use ampel_store::*;
use mongodb::bson::{doc, Bson, Document};
use serde::Serialize;

/// A value as BSON; the only failure is a number BSON cannot hold (u64 > i64::MAX).
pub fn bson<T: Serialize + ?Sized>(v: &T) -> Result<Bson, String> {
    mongodb::bson::serialize_to_bson(v).map_err(|e| e.to_string())
}

fn array<T: Serialize>(items: impl IntoIterator<Item = T>) -> Result<Bson, String> {
    items
        .into_iter()
        .map(|i| bson(&i))
        .collect::<Result<Vec<_>, _>>()
        .map(Bson::Array)
}

/// A channel name usable as a field-name component (`ts.<channel>`).
pub fn check_channel(ch: &str) -> Result<(), String> {
    if ch.is_empty() || ch.contains('.') || ch.starts_with('$') || ch.contains('\0') {
        Err(format!(
            "channel name `{ch}` cannot be stored in MongoDB (no `.`, no leading `$`)"
        ))
    } else {
        Ok(())
    }
}

/// One statement of an `update` command.
fn upsert(q: Document, u: Document) -> Document {
    doc! {"q": q, "u": u, "upsert": true}
}

/// Upsert statement of a datapoint: the body (and `id`, the key where Python AMPEL
/// reads it) only on insert; stocks, tags, channels, exclusions unioned; meta
/// appended; expiry raised.
pub fn datapoint_upsert(dp: &DataPoint) -> Result<Document, String> {
    let mut on_insert = doc! {"_id": dp.id, "body": bson(&dp.body)?};
    if let Some(o) = dp.origin {
        on_insert.insert("origin", o);
    }
    let mut u = doc! {
        "$setOnInsert": on_insert,
        "$addToSet": {
            "stock": {"$each": array(&dp.stock)?},
            "tag": {"$each": array(&dp.tag)?},
            "channel": {"$each": array(&dp.channel)?},
            "excl": {"$each": array(&dp.excl)?},
        },
        "$push": {"meta": {"$each": array(&dp.meta)?}},
    };
    if let Some(e) = dp.expiry {
        u.insert("$max", doc! {"expiry": e});
    }
    Ok(upsert(doc! {"id": dp.id}, u))
}

/// Upsert statement of a T1 state (identity: stock and link).
pub fn state_upsert(s: &T1Document, seq: i64) -> Result<Document, String> {
    Ok(upsert(
        doc! {"stock": s.stock, "link": s.link},
        doc! {
            "$setOnInsert": {
                "dps": array(&s.dps)?,
                "code": s.code.0,
                "body": array(&s.body)?,
                "seq": seq,
            },
            "$addToSet": {
                "channel": {"$each": array(&s.channel)?},
                "tag": {"$each": array(&s.tag)?},
            },
            "$push": {"meta": {"$each": array(&s.meta)?}},
        },
    ))
}

/// Upsert statement of a T2 ticket: NEW on insert, never reset by ingestion.
pub fn t2_upsert(t: &T2Request, seq: i64) -> Result<Document, String> {
    let id = &t.identity;
    let mut u = doc! {
        "$setOnInsert": {
            "_id": id.doc_id(),
            "col": t.col.as_str(),
            "code": DocumentCode::NEW.0,
            "body": [],
            "seq": seq,
        },
        "$addToSet": {
            "channel": {"$each": array(&t.channel)?},
            "tag": {"$each": array(&t.tag)?},
        },
        "$push": {"meta": {"$each": array(&t.meta)?}},
    };
    if let Some(e) = t.expiry {
        u.insert("$max", doc! {"expiry": e});
    }
    Ok(upsert(
        doc! {
            "stock": id.stock,
            "unit": &id.unit,
            "config": id.config.map_or(Bson::Null, Bson::Int64),
            "link": id.link,
        },
        u,
    ))
}

/// Upsert statement of a stock: `stock` (the key where Python AMPEL reads it) on
/// insert; channels, tags and names unioned; `ts.<ch>.tied` lowered and
/// `ts.<ch>.upd` raised for each channel and `any`; journal appended.
pub fn stock_upsert(s: &StockUpsert) -> Result<Document, String> {
    let mut min = Document::new();
    let mut max = Document::new();
    for ch in s.channel.iter().map(String::as_str).chain([ANY_CHANNEL]) {
        check_channel(ch)?;
        min.insert(format!("ts.{ch}.tied"), s.ts);
        max.insert(format!("ts.{ch}.upd"), s.ts);
    }
    let mut on_insert = doc! {"_id": s.stock};
    if let Some(o) = s.origin {
        on_insert.insert("origin", o);
    }
    let u = doc! {
        "$setOnInsert": on_insert,
        "$addToSet": {
            "channel": {"$each": array(&s.channel)?},
            "tag": {"$each": array(&s.tag)?},
            "name": {"$each": array(&s.name)?},
        },
        "$min": min,
        "$max": max,
        "$push": {"journal": {"$each": array(&s.journal)?}},
    };
    Ok(upsert(doc! {"stock": s.stock}, u))
}

/// The `update` command running `statements` unordered on `collection`.
pub fn update_command(collection: &str, statements: Vec<Document>) -> Document {
    doc! {"update": collection, "updates": statements, "ordered": false}
}

/// Tickets a worker may claim: a claimable code and not backing off, or RUNNING
/// with an expired lease; optionally only some units.
pub fn claim_filter(req: &ClaimRequest) -> Document {
    let codes: Vec<i32> = req.codes.iter().map(|c| c.0).collect();
    let mut f = doc! {
        "$or": [
            {
                "code": {"$in": codes},
                "$or": [{"retry_after": Bson::Null}, {"retry_after": {"$lte": req.now}}],
            },
            {"code": DocumentCode::RUNNING.0, "lease.until": {"$lt": req.now}},
        ]
    };
    if let Some(units) = &req.units {
        f.insert("unit", doc! {"$in": units.clone()});
    }
    f
}

/// The claim itself: RUNNING, leased to the owner until `now + lease_seconds`.
pub fn claim_update(req: &ClaimRequest) -> Document {
    doc! {
        "$set": {
            "code": DocumentCode::RUNNING.0,
            "lease": {"owner": &req.owner, "until": req.now + req.lease_seconds},
        },
        "$unset": {"retry_after": ""},
    }
}

/// The tickets a batch claim obtained (step three of a batch claim).
pub fn claimed_by(ids: &[String], req: &ClaimRequest) -> Document {
    let keys: Vec<Bson> = ids.iter().map(|i| t2_key(i)).collect();
    doc! {
        "_id": {"$in": keys},
        "code": DocumentCode::RUNNING.0,
        "lease.owner": &req.owner,
        "lease.until": req.now + req.lease_seconds,
    }
}

/// The ticket, if `owner` still holds its lease.
pub fn held_by(id: &str, owner: &str) -> Document {
    doc! {"_id": t2_key(id), "code": DocumentCode::RUNNING.0, "lease.owner": owner}
}

/// Heartbeat: extend the lease.
pub fn renew_update(until: UnixTime) -> Document {
    doc! {"$set": {"lease.until": until}}
}

/// Store an outcome and release the lease, as one pipeline update: the meta record
/// gets the index of the body it appends (the current body count).
pub fn complete_pipeline(o: &T2Outcome) -> Result<Vec<Document>, String> {
    let meta = bson(&o.meta)?;
    let meta_entry = match &o.body {
        Some(_) => Bson::Document(doc! {"$mergeObjects": [
            {"$literal": meta},
            {"body_index": {"$size": {"$ifNull": ["$body", []]}}},
        ]}),
        None => Bson::Document(doc! {"$literal": meta}),
    };
    let mut set = doc! {
        "code": o.code.0,
        "tag": {"$setUnion": [{"$ifNull": ["$tag", []]}, {"$literal": array(&o.tag)?}]},
        "meta": {"$concatArrays": [{"$ifNull": ["$meta", []]}, [meta_entry]]},
        "lease": "$$REMOVE",
        "retry_after": o.retry_after.map_or(Bson::String("$$REMOVE".into()), Bson::Double),
    };
    if let Some(body) = &o.body {
        set.insert(
            "body",
            doc! {"$concatArrays": [{"$ifNull": ["$body", []]}, [{"$literal": bson(body)?}]]},
        );
    }
    Ok(vec![doc! {"$set": set}])
}

/// The filter of a [`T2Filter`].
pub fn t2_filter(f: &T2Filter) -> Document {
    let mut d = Document::new();
    if let Some(s) = f.stock {
        d.insert("stock", s);
    }
    if let Some(u) = &f.unit {
        d.insert("unit", doc! {"$in": u.clone()});
    }
    match f.config {
        Some(Some(h)) => {
            d.insert("config", h);
        }
        Some(None) => {
            d.insert("config", Bson::Null);
        }
        None => {}
    }
    if let Some(l) = &f.link {
        d.insert("link", doc! {"$in": l.clone()});
    }
    if let Some(c) = &f.channel {
        d.insert("channel", doc! {"$in": c.clone()});
    }
    if let Some(c) = &f.code {
        let codes: Vec<i32> = c.iter().map(|c| c.0).collect();
        d.insert("code", doc! {"$in": codes});
    }
    d
}

/// Reset to `code`: leases and backoff cleared; bodies and their indexes too with
/// [`ResetMode::CodeAndBody`].
pub fn reset_pipeline(code: DocumentCode, mode: ResetMode) -> Vec<Document> {
    match mode {
        ResetMode::CodeOnly => vec![
            doc! {"$set": {"code": code.0}},
            doc! {"$unset": ["lease", "retry_after"]},
        ],
        ResetMode::CodeAndBody => vec![
            doc! {"$set": {"code": code.0, "body": []}},
            doc! {"$unset": ["lease", "retry_after", "meta.body_index"]},
        ],
    }
}

/// Journal, tag, name and time changes of one stock, as one pipeline update (tags
/// can be added and removed in the same update). Only channels the stock is already
/// tied to get their `upd` raised.
pub fn stock_change_pipeline(u: &StockChange) -> Result<Vec<Document>, String> {
    let mut set = doc! {
        "tag": {"$setDifference": [
            {"$setUnion": [{"$ifNull": ["$tag", []]}, {"$literal": array(&u.add_tag)?}]},
            {"$literal": array(&u.remove_tag)?},
        ]},
        "name": {"$setUnion": [{"$ifNull": ["$name", []]}, {"$literal": array(&u.add_name)?}]},
        "journal": {"$concatArrays": [{"$ifNull": ["$journal", []]}, {"$literal": array(&u.journal)?}]},
    };
    if let Some((channels, ts)) = &u.bump_upd {
        let mut bumped = Document::new();
        for ch in channels.iter().map(String::as_str).chain([ANY_CHANNEL]) {
            check_channel(ch)?;
            let path = format!("$ts.{ch}");
            bumped.insert(
                ch,
                doc! {"$cond": [
                    {"$ifNull": [&path, false]},
                    {"tied": format!("{path}.tied"), "upd": {"$max": [format!("{path}.upd"), ts]}},
                    "$$REMOVE",
                ]},
            );
        }
        set.insert(
            "ts",
            doc! {"$mergeObjects": [{"$ifNull": ["$ts", {}]}, bumped]},
        );
    }
    Ok(vec![doc! {"$set": set}])
}

fn range(field: &str, r: &TimeRange) -> Document {
    let mut cond = Document::new();
    if let Some(a) = r.after {
        cond.insert("$gte", a);
    }
    if let Some(b) = r.before {
        cond.insert("$lt", b);
    }
    doc! {field: cond}
}

/// The stocks a [`StockSelection`] picks (sorted by id, limited, by the caller).
/// Time constraints apply to the selected channels' times (any of them), else `any`.
pub fn select_filter(q: &StockSelection) -> Result<Document, String> {
    let mut and: Vec<Document> = Vec::new();
    if !q.channel_any.is_empty() {
        and.push(doc! {"channel": {"$in": q.channel_any.clone()}});
    }
    if !q.channel_all.is_empty() {
        and.push(doc! {"channel": {"$all": q.channel_all.clone()}});
    }
    let time_channels = q.time_channels();
    for (field, r) in [("tied", &q.created), ("upd", &q.updated)] {
        if r.is_open() {
            continue;
        }
        let mut any = Vec::new();
        for ch in &time_channels {
            check_channel(ch)?;
            any.push(range(&format!("ts.{ch}.{field}"), r));
        }
        and.push(doc! {"$or": any});
    }
    if !q.tag_with.is_empty() {
        and.push(doc! {"tag": {"$all": q.tag_with.clone()}});
    }
    if !q.tag_without.is_empty() {
        and.push(doc! {"tag": {"$nin": q.tag_without.clone()}});
    }
    Ok(if and.is_empty() {
        Document::new()
    } else {
        doc! {"$and": and}
    })
}

/// The filter of an [`EventQuery`] (sorted by run by the caller).
pub fn event_filter(q: &EventQuery) -> Document {
    let mut d = Document::new();
    if let Some(p) = &q.process {
        d.insert("process", p);
    }
    if let Some(c) = &q.code {
        let codes: Vec<i32> = c.iter().map(|c| c.0).collect();
        d.insert("code", doc! {"$in": codes});
    }
    if let Some(r) = q.after_run {
        d.insert("_id", doc! {"$gt": r});
    }
    d
}

/// A run's event as it was read (same code and owner): the filter of a takeover,
/// so of several processes taking over one dead run exactly one matches.
pub fn run_as_read(dead: &Event) -> Result<Document, String> {
    Ok(doc! {"_id": dead.run, "code": dead.code.0, "owner": bson(&dead.owner)?})
}

/// The tickets leased to `owner`.
pub fn leases_of(owner: &str) -> Document {
    doc! {"code": DocumentCode::RUNNING.0, "lease.owner": owner}
}

/// Let a lease expire now.
pub fn expire_update() -> Document {
    doc! {"$set": {"lease.until": 0.0}}
}

/// The filter of a [`LogQuery`].
pub fn log_filter(q: &LogQuery) -> Document {
    let mut d = Document::new();
    if let Some(r) = q.run {
        d.insert("run", r);
    }
    if let Some(s) = q.stock {
        d.insert("stock", s);
    }
    if let Some(c) = &q.channel {
        d.insert("channel", c);
    }
    if let Some(f) = q.flag {
        d.insert("flag", doc! {"$bitsAllSet": i64::from(f.0)});
    }
    d
}

/// The filter of a [`TroubleQuery`].
pub fn trouble_filter(q: &TroubleQuery) -> Document {
    let mut d = Document::new();
    if let Some(r) = q.run {
        d.insert("run", r);
    }
    if let Some(u) = &q.unit {
        d.insert("unit", u);
    }
    if let Some(s) = q.stock {
        d.insert("stock", s);
    }
    d
}

/// A config registry document as Python AMPEL keeps it: `{_id: hash, ...config}`.
/// A config must be an object without an `_id` field.
pub fn conf_document(hash: i64, config: &Body) -> Result<Document, String> {
    let Bson::Document(mut d) = bson(config)? else {
        return Err(format!("config {hash} is not an object: {config}"));
    };
    if d.contains_key("_id") {
        return Err(format!(
            "config {hash} has a field `_id`, which the config registry keeps for the hash"
        ));
    }
    d.insert("_id", hash);
    Ok(d)
}

/// Register a document under `_id` only if it is not there yet.
pub fn insert_once(id: impl Into<Bson>, fields: Document) -> (Document, Document) {
    (doc! {"_id": id.into()}, doc! {"$setOnInsert": fields})
}

/// Reserve `n` numbers of the counter `name`; the update returns the new value, so
/// the block is `value - n + 1 ..= value`.
pub fn counter_inc(name: &str, n: i64) -> (Document, Document) {
    (doc! {"_id": name}, doc! {"$inc": {"value": n}})
}

/// The sort of each collection's dump (the canonical order of the results digest).
pub fn dump_sort(collection: &str) -> Document {
    match collection {
        "t1" => doc! {"stock": 1, "link": 1},
        "log" | "trouble" => doc! {"seq": 1},
        "t0" => doc! {"id": 1},
        "stock" => doc! {"stock": 1},
        _ => doc! {"_id": 1},
    }
}

#[cfg(test)]
mod tests;
