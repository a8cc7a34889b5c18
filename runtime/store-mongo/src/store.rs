//! [`Store`] for [`MongoStore`]: each operation sends the documents of [`crate::ops`].

use crate::convert::{from_stored, to_json, to_stored};
use crate::python::{int, normalize, t2_id, t2_key};
use crate::{ops, MongoStore};
use ampel_interface::hash::canonical_json;
use ampel_interface::*;
use ampel_store::*;
use futures_util::future::join_all;
use mongodb::bson::{doc, Bson, Document};

/// Statements per `update` command (well under MongoDB's limits).
const BATCH: usize = 500;

impl MongoStore {
    /// Run upsert statements unordered in batches; duplicate-key races between
    /// concurrent upserts of the same document are retried (the retry matches).
    fn upserts(&self, collection: &str, statements: Vec<Document>) -> Result<UpsertCount> {
        let mut count = UpsertCount::default();
        let db = self.db(crate::layout::db_of(collection));
        for chunk in statements.chunks(BATCH) {
            let mut pending: Vec<Document> = chunk.to_vec();
            for attempt in 0.. {
                let cmd = ops::update_command(collection, pending.clone());
                let d = db.clone();
                let reply = self.block(async move { d.run_command(cmd).await })?;
                let n = reply.get_i32("n").map(i64::from).unwrap_or(0) as usize;
                let upserted = reply.get_array("upserted").map_or(0, Vec::len);
                count.inserted += upserted;
                count.updated += n - upserted.min(n);
                let errors = reply.get_array("writeErrors").cloned().unwrap_or_default();
                if errors.is_empty() {
                    break;
                }
                let mut retry = Vec::new();
                for e in &errors {
                    let e = e.as_document().cloned().unwrap_or_default();
                    let code = e.get_i32("code").unwrap_or(0);
                    let index = e.get_i32("index").unwrap_or(0) as usize;
                    if code != 11000 || attempt >= 5 {
                        return Err(self.bad(format!(
                            "upsert into {collection} failed: {}",
                            e.get_str("errmsg").unwrap_or("write error")
                        )));
                    }
                    retry.push(pending[index].clone());
                }
                pending = retry;
            }
        }
        Ok(count)
    }

    fn one(&self, collection: &str, filter: Document) -> Result<Option<Document>> {
        let coll = self.coll(collection);
        self.block(async move { coll.find_one(filter).await })
    }

    fn typed<T: serde::de::DeserializeOwned>(
        &self,
        collection: &str,
        mut d: Document,
        key: &str,
    ) -> Result<T> {
        let id = format!("{:?}", d.get("_id"));
        normalize(collection, &mut d);
        from_stored(d, key).map_err(|e| StoreError::Corrupt {
            location: self.describe(),
            collection: collection_name(collection),
            key: id,
            detail: e,
        })
    }

    fn insert_docs(&self, collection: &str, docs: Vec<Document>) -> Result<()> {
        if docs.is_empty() {
            return Ok(());
        }
        let coll = self.coll(collection);
        for chunk in docs.chunks(1000) {
            let c = coll.clone();
            let chunk = chunk.to_vec();
            self.block(async move { c.insert_many(chunk).await.map(|_| ()) })?;
        }
        Ok(())
    }

    /// Register `{_id: key, ...fields}` once; the same key with other content is a
    /// conflict (compared as canonical JSON).
    fn register(
        &self,
        collection: &str,
        what: &'static str,
        key: i64,
        fields: Document,
    ) -> Result<()> {
        let wanted =
            canonical_json(&to_json(Bson::Document(fields.clone())).map_err(|e| self.bad(e))?);
        let (f, u) = ops::insert_once(key, fields);
        let coll = self.coll(collection);
        let r = self.block(async move { coll.update_one(f, u).upsert(true).await })?;
        if r.upserted_id.is_some() {
            return Ok(());
        }
        let mut existing = self
            .one(collection, doc! {"_id": key})?
            .ok_or_else(|| self.bad(format!("{what} {key} vanished")))?;
        existing.remove("_id");
        let have = canonical_json(&to_json(Bson::Document(existing)).map_err(|e| self.bad(e))?);
        if have == wanted {
            Ok(())
        } else {
            Err(StoreError::Conflict { what, hash: key })
        }
    }
}

fn collection_name(c: &str) -> &'static str {
    COLLECTIONS
        .iter()
        .map(|(n, _)| *n)
        .find(|n| *n == c)
        .unwrap_or("document")
}

/// The typed key field of each collection (`""`: none, `_id` is the driver's).
fn key_of(collection: &str) -> &'static str {
    match collection {
        "t0" | "t2" | "t3" | "trace" => "id",
        "stock" => "stock",
        "event" => "run",
        "conf" => "hash",
        _ => "",
    }
}

impl Store for MongoStore {
    fn describe(&self) -> String {
        self.location.clone()
    }

    fn info(&self) -> Result<StoreInfo> {
        let mut counts = std::collections::BTreeMap::new();
        for (c, _) in COLLECTIONS {
            let coll = self.coll(c);
            counts.insert(
                c.to_string(),
                self.block(async move { coll.count_documents(doc! {}).await })?,
            );
        }
        Ok(StoreInfo {
            location: self.location.clone(),
            schema_version: ampel_store::SCHEMA_VERSION,
            counts,
        })
    }

    fn upsert_datapoints(&self, dps: &[DataPoint]) -> Result<UpsertCount> {
        let s = dps
            .iter()
            .map(ops::datapoint_upsert)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.bad(e))?;
        self.upserts("t0", s)
    }

    fn upsert_states(&self, states: &[T1Document]) -> Result<UpsertCount> {
        if states.is_empty() {
            return Ok(UpsertCount::default());
        }
        let seq = self.reserve("seq_t1", states.len())?;
        let s = states
            .iter()
            .enumerate()
            .map(|(i, st)| ops::state_upsert(st, seq + i as i64))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.bad(e))?;
        self.upserts("t1", s)
    }

    fn upsert_t2(&self, tickets: &[T2Request]) -> Result<UpsertCount> {
        if tickets.is_empty() {
            return Ok(UpsertCount::default());
        }
        let seq = self.reserve("seq_t2", tickets.len())?;
        let s = tickets
            .iter()
            .enumerate()
            .map(|(i, t)| ops::t2_upsert(t, seq + i as i64))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.bad(e))?;
        self.upserts("t2", s)
    }

    fn upsert_stocks(&self, stocks: &[StockUpsert]) -> Result<UpsertCount> {
        let s = stocks
            .iter()
            .map(ops::stock_upsert)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.bad(e))?;
        self.upserts("stock", s)
    }

    fn get_datapoints(&self, ids: &[DataPointId]) -> Result<Vec<DataPoint>> {
        let found = self.find_all(
            "t0",
            doc! {"id": {"$in": ids.to_vec()}},
            doc! {"id": 1},
            None,
        )?;
        let mut by_id = std::collections::BTreeMap::new();
        for d in found {
            let dp: DataPoint = self.typed("t0", d, "id")?;
            by_id.insert(dp.id, dp);
        }
        Ok(ids.iter().filter_map(|i| by_id.get(i).cloned()).collect())
    }

    fn stock_datapoints(&self, stock: StockId) -> Result<Vec<DataPoint>> {
        self.find_all("t0", doc! {"stock": stock}, doc! {"id": 1}, None)?
            .into_iter()
            .map(|d| self.typed("t0", d, "id"))
            .collect()
    }

    fn get_state(&self, stock: StockId, link: LinkId) -> Result<Option<T1Document>> {
        self.one("t1", doc! {"stock": stock, "link": link})?
            .map(|mut d| {
                d.remove("_id");
                self.typed("t1", d, "")
            })
            .transpose()
    }

    fn stock_states(&self, stock: StockId) -> Result<Vec<T1Document>> {
        self.find_all("t1", doc! {"stock": stock}, doc! {"seq": 1}, None)?
            .into_iter()
            .map(|mut d| {
                d.remove("_id");
                self.typed("t1", d, "")
            })
            .collect()
    }

    fn get_states(&self, keys: &[(StockId, LinkId)]) -> Result<Vec<T1Document>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let any: Vec<Document> = keys
            .iter()
            .map(|(s, l)| doc! {"stock": s, "link": l})
            .collect();
        let mut found = std::collections::BTreeMap::new();
        for mut d in self.find_all("t1", doc! {"$or": any}, doc! {"seq": 1}, None)? {
            d.remove("_id");
            let t: T1Document = self.typed("t1", d, "")?;
            found.insert((t.stock, t.link), t);
        }
        Ok(keys.iter().filter_map(|k| found.remove(k)).collect())
    }

    fn get_stock(&self, stock: StockId) -> Result<Option<Stock>> {
        self.one("stock", doc! {"stock": stock})?
            .map(|d| self.typed("stock", d, "stock"))
            .transpose()
    }

    fn get_t2(&self, id: &str) -> Result<Option<T2Document>> {
        self.one("t2", doc! {"_id": t2_key(id)})?
            .map(|d| self.typed("t2", d, "id"))
            .transpose()
    }

    fn find_t2(&self, filter: &T2Filter) -> Result<Vec<T2Document>> {
        self.find_all("t2", ops::t2_filter(filter), doc! {"seq": 1}, None)?
            .into_iter()
            .map(|d| self.typed("t2", d, "id"))
            .collect()
    }

    fn claim_t2(&self, req: &ClaimRequest) -> Result<Option<T2Document>> {
        let coll = self.coll("t2");
        let (f, u) = (ops::claim_filter(req), ops::claim_update(req));
        let d = self.block(async move {
            coll.find_one_and_update(f, u)
                .sort(doc! {"seq": 1})
                .return_document(mongodb::options::ReturnDocument::After)
                .await
        })?;
        d.map(|d| self.typed("t2", d, "id")).transpose()
    }

    fn claim_t2_many(&self, req: &ClaimRequest, n: usize) -> Result<Vec<T2Document>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        // candidates, then one update over those still claimable, then what we got
        let ids: Vec<String> = self
            .find_all(
                "t2",
                ops::claim_filter(req),
                doc! {"seq": 1},
                Some(n as i64),
            )?
            .iter()
            .filter_map(|d| d.get("_id").and_then(t2_id))
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut f = ops::claim_filter(req);
        let keys: Vec<Bson> = ids.iter().map(|i| t2_key(i)).collect();
        f.insert("_id", doc! {"$in": keys});
        let coll = self.coll("t2");
        let u = ops::claim_update(req);
        self.block(async move { coll.update_many(f, u).await.map(|_| ()) })?;
        self.find_all("t2", ops::claimed_by(&ids, req), doc! {"seq": 1}, None)?
            .into_iter()
            .map(|d| self.typed("t2", d, "id"))
            .collect()
    }

    fn renew_lease(&self, id: &str, owner: &str, until: UnixTime) -> Result<()> {
        let coll = self.coll("t2");
        let (f, u) = (ops::held_by(id, owner), ops::renew_update(until));
        let r = self.block(async move { coll.update_one(f, u).await })?;
        if r.matched_count == 0 {
            return Err(StoreError::LeaseLost {
                doc: id.into(),
                owner: owner.into(),
            });
        }
        Ok(())
    }

    fn complete_t2(&self, id: &str, owner: &str, outcome: &T2Outcome) -> Result<()> {
        self.complete_t2_many(&[(id.to_string(), outcome.clone())], owner)?
            .pop()
            .unwrap_or(Ok(()))
    }

    fn complete_t2_many(
        &self,
        items: &[(String, T2Outcome)],
        owner: &str,
    ) -> Result<Vec<Result<()>>> {
        let coll = self.coll("t2");
        let updates = items
            .iter()
            .map(|(id, o)| Ok((ops::held_by(id, owner), ops::complete_pipeline(o)?)))
            .collect::<Result<Vec<_>, String>>()
            .map_err(|e| self.bad(e))?;
        let results = self.rt.block_on(join_all(updates.into_iter().map(|(f, p)| {
            let c = coll.clone();
            async move { c.update_one(f, p).await }
        })));
        items
            .iter()
            .zip(results)
            .map(|((id, _), r)| match r {
                Err(e) => Err(self.err(e)),
                Ok(r) if r.matched_count == 0 => Ok(Err(StoreError::LeaseLost {
                    doc: id.clone(),
                    owner: owner.into(),
                })),
                Ok(_) => Ok(Ok(())),
            })
            .collect()
    }

    fn expire_leases(&self, owner: &str) -> Result<usize> {
        let coll = self.coll("t2");
        let (f, u) = (ops::leases_of(owner), ops::expire_update());
        let r = self.block(async move { coll.update_many(f, u).await })?;
        Ok(r.modified_count as usize)
    }

    fn reset_t2(&self, filter: &T2Filter, code: DocumentCode, mode: ResetMode) -> Result<usize> {
        let coll = self.coll("t2");
        let (f, p) = (ops::t2_filter(filter), ops::reset_pipeline(code, mode));
        let r = self.block(async move { coll.update_many(f, p).await })?;
        Ok(r.matched_count as usize)
    }

    fn update_stock(&self, update: &StockChange) -> Result<bool> {
        Ok(self
            .update_stocks(std::slice::from_ref(update))?
            .pop()
            .unwrap_or(false))
    }

    fn update_stocks(&self, updates: &[StockChange]) -> Result<Vec<bool>> {
        let coll = self.coll("stock");
        let pipelines = updates
            .iter()
            .map(|u| ops::stock_change_pipeline(u).map(|p| (u.stock, p)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.bad(e))?;
        let results = self
            .rt
            .block_on(join_all(pipelines.into_iter().map(|(stock, p)| {
                let c = coll.clone();
                async move { c.update_one(doc! {"stock": stock}, p).await }
            })));
        results
            .into_iter()
            .map(|r| r.map(|r| r.matched_count > 0).map_err(|e| self.err(e)))
            .collect()
    }

    fn select_stocks(&self, selection: &StockSelection) -> Result<Vec<StockId>> {
        let f = ops::select_filter(selection).map_err(|e| self.bad(e))?;
        Ok(self
            .find_all(
                "stock",
                f,
                doc! {"stock": 1},
                selection.limit.map(|n| n as i64),
            )?
            .iter()
            .filter_map(|d| int(d.get("stock")))
            .collect())
    }

    fn insert_t3(&self, doc: &T3Document) -> Result<()> {
        let seq = self.reserve("seq_t3", 1)?;
        let stored = to_stored(doc, "id", doc! {"seq": seq}).map_err(|e| self.bad(e))?;
        let (f, u) = (doc! {"_id": &doc.id}, doc! {"$setOnInsert": stored});
        let coll = self.coll("t3");
        self.block(async move { coll.update_one(f, u).upsert(true).await.map(|_| ()) })
    }

    fn find_t3(&self, process: Option<&str>) -> Result<Vec<T3Document>> {
        let f = process.map_or(doc! {}, |p| doc! {"process": p});
        self.find_all("t3", f, doc! {"seq": 1}, None)?
            .into_iter()
            .map(|d| self.typed("t3", d, "id"))
            .collect()
    }

    fn next_run_id(&self) -> Result<RunId> {
        self.reserve("current_run_id", 1)
    }

    fn record_event(&self, event: &Event) -> Result<()> {
        let d = to_stored(event, "run", doc! {}).map_err(|e| self.bad(e))?;
        let coll = self.coll("event");
        let run = event.run;
        self.block(async move {
            coll.replace_one(doc! {"_id": run}, d)
                .upsert(true)
                .await
                .map(|_| ())
        })
    }

    fn take_over_run(&self, dead: &Event, new: &Event) -> Result<bool> {
        let f = ops::run_as_read(dead).map_err(|e| self.bad(e))?;
        let d = to_stored(new, "run", doc! {}).map_err(|e| self.bad(e))?;
        let coll = self.coll("event");
        let r = self.block(async move { coll.replace_one(f, d).await })?;
        Ok(r.matched_count == 1)
    }

    fn events(&self, q: &EventQuery) -> Result<Vec<Event>> {
        let f = ops::event_filter(q);
        let mut docs = match q.last {
            Some(n) => {
                let mut v = self.find_all("event", f, doc! {"_id": -1}, Some(n as i64))?;
                v.reverse();
                v
            }
            None => self.find_all("event", f, doc! {"_id": 1}, None)?,
        };
        docs.drain(..)
            .map(|d| self.typed("event", d, "run"))
            .collect()
    }

    fn insert_logs(&self, logs: &[LogRecord]) -> Result<()> {
        if logs.is_empty() {
            return Ok(());
        }
        let seq = self.reserve("seq_log", logs.len())?;
        let docs = logs
            .iter()
            .enumerate()
            .map(|(i, l)| to_stored(l, "_id", doc! {"seq": seq + i as i64}))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.bad(e))?;
        self.insert_docs("log", docs)
    }

    fn logs(&self, q: &LogQuery) -> Result<Vec<LogRecord>> {
        self.find_all(
            "log",
            ops::log_filter(q),
            doc! {"seq": 1},
            q.limit.map(|n| n as i64),
        )?
        .into_iter()
        .map(|mut d| {
            normalize("log", &mut d);
            d.remove("_id");
            self.typed("log", d, "")
        })
        .collect()
    }

    fn insert_trouble(&self, trouble: &TroubleRecord) -> Result<()> {
        let seq = self.reserve("seq_trouble", 1)?;
        let d = to_stored(trouble, "_id", doc! {"seq": seq}).map_err(|e| self.bad(e))?;
        self.insert_docs("trouble", vec![d])
    }

    fn troubles(&self, q: &TroubleQuery) -> Result<Vec<TroubleRecord>> {
        self.find_all("trouble", ops::trouble_filter(q), doc! {"seq": 1}, None)?
            .into_iter()
            .map(|mut d| {
                d.remove("_id");
                self.typed("trouble", d, "")
            })
            .collect()
    }

    fn register_config(&self, hash: ConfigHash, config: &Body) -> Result<()> {
        let mut d = ops::conf_document(hash, config).map_err(|e| self.bad(e))?;
        d.remove("_id");
        self.register("conf", "config", hash, d)
    }

    fn get_config(&self, hash: ConfigHash) -> Result<Option<Body>> {
        self.one("conf", doc! {"_id": hash})?
            .map(|mut d| {
                d.remove("_id");
                to_json(Bson::Document(d)).map_err(|e| self.bad(e))
            })
            .transpose()
    }

    fn register_trace(&self, trace: &TraceRecord) -> Result<()> {
        let mut d = to_stored(trace, "id", doc! {}).map_err(|e| self.bad(e))?;
        d.remove("_id");
        self.register("trace", "trace", trace.id, d)
    }

    fn get_trace(&self, id: TraceId) -> Result<Option<TraceRecord>> {
        self.one("trace", doc! {"_id": id})?
            .map(|d| self.typed("trace", d, "id"))
            .transpose()
    }

    fn traces(&self) -> Result<Vec<TraceRecord>> {
        self.find_all("trace", doc! {}, doc! {"unit": 1, "_id": 1}, None)?
            .into_iter()
            .map(|d| self.typed("trace", d, "id"))
            .collect()
    }

    fn dump(&self, collection: &str, emit: &mut dyn FnMut(Body) -> Result<()>) -> Result<()> {
        let docs = self.find_all(collection, doc! {}, ops::dump_sort(collection), None)?;
        for mut d in docs {
            let body = match collection {
                "t0" => to_body(&self.typed::<DataPoint>(collection, d, "id")?),
                "t1" => {
                    d.remove("_id");
                    to_body(&self.typed::<T1Document>(collection, d, "")?)
                }
                "t2" => to_body(&self.typed::<T2Document>(collection, d, "id")?),
                "stock" => to_body(&self.typed::<Stock>(collection, d, "stock")?),
                "t3" => to_body(&self.typed::<T3Document>(collection, d, "id")?),
                "conf" => {
                    let hash = d.remove("_id").and_then(|h| h.as_i64()).unwrap_or(0);
                    Ok(serde_json::json!({
                        "hash": hash,
                        "config": to_json(Bson::Document(d)).map_err(|e| self.bad(e))?,
                    }))
                }
                "trace" => to_body(&self.typed::<TraceRecord>(collection, d, "id")?),
                "event" => to_body(&self.typed::<Event>(collection, d, "run")?),
                "log" => {
                    normalize("log", &mut d);
                    d.remove("_id");
                    to_body(&self.typed::<LogRecord>(collection, d, "")?)
                }
                "trouble" => {
                    d.remove("_id");
                    to_body(&self.typed::<TroubleRecord>(collection, d, "")?)
                }
                other => return Err(self.bad(format!("unknown collection `{other}`"))),
            }
            .map_err(|e| self.bad(e))?;
            emit(body)?;
        }
        Ok(())
    }

    fn restore(&self, collection: &str, docs: &[Body]) -> Result<()> {
        let key = key_of(collection);
        let with_seq = matches!(collection, "t1" | "t2" | "t3" | "log" | "trouble");
        let start = if with_seq && !docs.is_empty() {
            self.reserve(&format!("seq_{collection}"), docs.len())?
        } else {
            0
        };
        let mut out = Vec::with_capacity(docs.len());
        let mut max_run = None;
        for (i, d) in docs.iter().enumerate() {
            let extra = if with_seq {
                doc! {"seq": start + i as i64}
            } else {
                doc! {}
            };
            let stored = if collection == "conf" {
                ops::conf_document(d["hash"].as_i64().unwrap_or(0), &d["config"])
                    .map_err(|e| self.bad(e))?
            } else {
                if collection == "event" {
                    max_run = max_run.max(d["run"].as_i64());
                }
                let mut stored = to_stored(d, if key.is_empty() { "_id" } else { key }, extra)
                    .map_err(|e| self.bad(e))?;
                // the key where Python AMPEL reads it, as ingestion writes it
                if let (Some(k), Some(id)) =
                    (crate::layout::key_field(collection), stored.get("_id"))
                {
                    let id = id.clone();
                    stored.insert(k, id);
                }
                stored
            };
            out.push(stored);
        }
        self.insert_docs(collection, out)?;
        if let Some(run) = max_run {
            let coll = self.coll("counter");
            self.block(async move {
                coll.update_one(
                    doc! {"_id": "current_run_id"},
                    doc! {"$max": {"value": run}},
                )
                .upsert(true)
                .await
                .map(|_| ())
            })?;
        }
        Ok(())
    }
}

fn to_body<T: serde::Serialize>(v: &T) -> Result<Body, String> {
    serde_json::to_value(v).map_err(|e| e.to_string())
}
