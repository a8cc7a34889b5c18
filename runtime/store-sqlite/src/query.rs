//! Reads, T3 stock selection, T3 documents and provenance (run ids, events, logs,
//! trouble, config and trace registries).

use crate::ingest::assemble_stock;
use crate::rows::{DpAttrs, StockAttrs};
use crate::schema::COLLECTIONS;
use crate::{Cached, Ctx};
use ampel_interface::hash::canonical_json;
use ampel_interface::*;
use ampel_store::*;
use rusqlite::types::Value as Sql;
use rusqlite::{params, params_from_iter, OptionalExtension, Transaction};
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, BTreeSet};

pub(crate) fn info(c: &Ctx, tx: &Transaction) -> Result<StoreInfo> {
    let mut counts = BTreeMap::new();
    for col in COLLECTIONS {
        let n: i64 = tx
            .query_row(&format!("SELECT count(*) FROM {col}"), [], |r| r.get(0))
            .map_err(|e| c.err(e))?;
        counts.insert(col.to_string(), n as u64);
    }
    Ok(StoreInfo {
        location: c.location.to_string(),
        schema_version: SCHEMA_VERSION,
        counts,
    })
}

fn dp_from(
    c: &Ctx,
    id: i64,
    body: &[u8],
    attrs: &[u8],
    fields: Option<&crate::project::FieldSet>,
) -> Result<DataPoint> {
    let a: DpAttrs = c.unpack("t0", id, attrs)?;
    let body = match fields.and_then(|f| crate::project::unpack_fields(body, f)) {
        Some(b) => b,
        None => c.unpack("t0", id, body)?,
    };
    Ok(DataPoint {
        id,
        stock: a.stock,
        origin: a.origin,
        tag: a.tag,
        channel: a.channel,
        excl: a.excl,
        meta: a.meta,
        body,
        expiry: a.expiry,
    })
}

/// Datapoints by id; with `fields`, bodies hold only those.
pub(crate) fn datapoints(
    c: &Ctx,
    tx: &Transaction,
    ids: &[DataPointId],
    fields: Option<&BTreeSet<String>>,
) -> Result<Vec<DataPoint>> {
    let mut stmt = tx
        .prepare_cached("SELECT body, attrs FROM t0 WHERE id = ?1")
        .map_err(|e| c.err(e))?;
    let fields = fields.map(crate::project::FieldSet::new);
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let row: Option<(Vec<u8>, Vec<u8>)> = stmt
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(|e| c.err(e))?;
        if let Some((body, attrs)) = row {
            out.push(dp_from(c, *id, &body, &attrs, fields.as_ref())?);
        }
    }
    Ok(out)
}

pub(crate) fn stock_datapoints(
    c: &Ctx,
    tx: &Transaction,
    stock: StockId,
) -> Result<Vec<DataPoint>> {
    let mut stmt = tx
        .prepare_cached(
            "SELECT t0.id, t0.body, t0.attrs FROM t0_stock JOIN t0 ON t0.id = t0_stock.id
             WHERE t0_stock.stock = ?1 ORDER BY t0.id",
        )
        .map_err(|e| c.err(e))?;
    let rows = stmt
        .query_map([stock], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })
        .map_err(|e| c.err(e))?;
    let mut out = Vec::new();
    for row in rows {
        let (id, body, attrs) = row.map_err(|e| c.err(e))?;
        out.push(dp_from(c, id, &body, &attrs, None)?);
    }
    Ok(out)
}

/// Decode every row `(key, json)` of a query.
fn docs<T: DeserializeOwned>(
    c: &Ctx,
    tx: &Transaction,
    collection: &'static str,
    sql: &str,
    args: Vec<Sql>,
) -> Result<Vec<T>> {
    let mut stmt = tx.prepare_cached(sql).map_err(|e| c.err(e))?;
    let rows = stmt
        .query_map(params_from_iter(args), |r| {
            Ok((r.get::<_, Sql>(0)?, r.get::<_, String>(1)?))
        })
        .map_err(|e| c.err(e))?;
    let mut out = Vec::new();
    for row in rows {
        let (key, text) = row.map_err(|e| c.err(e))?;
        out.push(c.dec(collection, format!("{key:?}"), &text)?);
    }
    Ok(out)
}

pub(crate) fn states(
    c: &Ctx,
    tx: &Transaction,
    stock: StockId,
    link: Option<LinkId>,
) -> Result<Vec<T1Document>> {
    let (sql, args) = match link {
        Some(l) => (
            "SELECT seq, doc FROM t1 WHERE stock = ? AND link = ?",
            vec![Sql::Integer(stock), Sql::Integer(l)],
        ),
        None => (
            "SELECT seq, doc FROM t1 WHERE stock = ? ORDER BY seq",
            vec![Sql::Integer(stock)],
        ),
    };
    let mut stmt = tx.prepare_cached(sql).map_err(|e| c.err(e))?;
    let rows = stmt
        .query_map(params_from_iter(args), |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
        })
        .map_err(|e| c.err(e))?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, bytes) = row.map_err(|e| c.err(e))?;
        out.push(c.unpack("t1", seq, &bytes)?);
    }
    Ok(out)
}

pub(crate) fn stock(c: &Ctx, tx: &Transaction, stock: StockId) -> Result<Option<Stock>> {
    let text: Option<String> = tx
        .query_row("SELECT doc FROM stock WHERE stock = ?1", [stock], |r| {
            r.get(0)
        })
        .optional()
        .map_err(|e| c.err(e))?;
    let Some(text) = text else { return Ok(None) };
    let attrs: StockAttrs = c.dec("stock", stock, &text)?;
    assemble_stock(c, tx, stock, attrs).map(Some)
}

/// Builds the selection as one SQL statement over the channel and tag side tables.
pub(crate) fn select_stocks(c: &Ctx, tx: &Transaction, q: &StockSelection) -> Result<Vec<StockId>> {
    let mut clauses: Vec<String> = Vec::new();
    let mut args: Vec<Sql> = Vec::new();
    let text = |v: &String| Sql::Text(v.clone());
    let marks = |n: usize| vec!["?"; n].join(", ");
    if !q.channel_any.is_empty() {
        clauses.push(format!(
            "EXISTS (SELECT 1 FROM stock_channel c WHERE c.stock = s.stock AND c.channel IN ({}))",
            marks(q.channel_any.len())
        ));
        args.extend(q.channel_any.iter().map(text));
    }
    for ch in &q.channel_all {
        clauses.push(
            "EXISTS (SELECT 1 FROM stock_channel c WHERE c.stock = s.stock AND c.channel = ?)"
                .into(),
        );
        args.push(text(ch));
    }
    // time constraints apply to the selected channels' times (any of them), else `any`
    let time_channels = q.time_channels();
    for (column, range) in [("tied", &q.created), ("upd", &q.updated)] {
        if range.is_open() {
            continue;
        }
        let mut cond = format!(
            "EXISTS (SELECT 1 FROM stock_channel c WHERE c.stock = s.stock AND c.channel IN ({})",
            marks(time_channels.len())
        );
        args.extend(time_channels.iter().map(text));
        if let Some(a) = range.after {
            cond.push_str(&format!(" AND c.{column} >= ?"));
            args.push(Sql::Real(a));
        }
        if let Some(b) = range.before {
            cond.push_str(&format!(" AND c.{column} < ?"));
            args.push(Sql::Real(b));
        }
        cond.push(')');
        clauses.push(cond);
    }
    for t in &q.tag_with {
        clauses.push(
            "EXISTS (SELECT 1 FROM stock_tag t WHERE t.stock = s.stock AND t.tag = ?)".into(),
        );
        args.push(text(t));
    }
    if !q.tag_without.is_empty() {
        clauses.push(format!(
            "NOT EXISTS (SELECT 1 FROM stock_tag t WHERE t.stock = s.stock AND t.tag IN ({}))",
            marks(q.tag_without.len())
        ));
        args.extend(q.tag_without.iter().map(text));
    }
    let mut sql = String::from("SELECT s.stock FROM stock s");
    if !clauses.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&clauses.join(" AND "));
    }
    sql.push_str(" ORDER BY s.stock");
    if let Some(n) = q.limit {
        sql.push_str(&format!(" LIMIT {n}"));
    }
    let mut stmt = tx.prepare_cached(&sql).map_err(|e| c.err(e))?;
    let rows = stmt
        .query_map(params_from_iter(args), |r| r.get(0))
        .map_err(|e| c.err(e))?;
    rows.collect::<Result<Vec<StockId>, _>>()
        .map_err(|e| c.err(e))
}

pub(crate) fn insert_t3(c: &Ctx, tx: &Transaction, d: &T3Document) -> Result<()> {
    tx.exec(
        "INSERT INTO t3 (id, process, doc) VALUES (?1, ?2, ?3) ON CONFLICT (id) DO NOTHING",
        params![d.id, d.process, c.enc(d)?],
    )
    .map_err(|e| c.err(e))?;
    Ok(())
}

pub(crate) fn find_t3(c: &Ctx, tx: &Transaction, process: Option<&str>) -> Result<Vec<T3Document>> {
    match process {
        Some(p) => docs(
            c,
            tx,
            "t3",
            "SELECT id, doc FROM t3 WHERE process = ? ORDER BY seq",
            vec![Sql::Text(p.into())],
        ),
        None => docs(c, tx, "t3", "SELECT id, doc FROM t3 ORDER BY seq", vec![]),
    }
}

/// The latest update time of any stock (the `upd` index of `stock_channel`).
pub(crate) fn data_time(c: &Ctx, tx: &Transaction) -> Result<Option<UnixTime>> {
    tx.row("SELECT max(upd) FROM stock_channel", [], |r| r.get(0))
        .map_err(|e| c.err(e))
}

pub(crate) fn next_run_id(c: &Ctx, tx: &Transaction) -> Result<RunId> {
    tx.row(
        "INSERT INTO counter (name, value) VALUES ('run', 1)
         ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
        [],
        |r| r.get(0),
    )
    .map_err(|e| c.err(e))
}

pub(crate) fn record_event(c: &Ctx, tx: &Transaction, e: &Event) -> Result<()> {
    tx.exec(
        "INSERT INTO event (run, process, code, doc) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (run) DO UPDATE SET process = excluded.process, code = excluded.code, doc = excluded.doc",
        params![e.run, e.process, e.code.0, c.enc(e)?],
    )
    .map_err(|e| c.err(e))?;
    Ok(())
}

/// Start a run: the next id and its event, in this transaction.
pub(crate) fn start_run(c: &Ctx, tx: &Transaction, e: &Event) -> Result<RunId> {
    let run = next_run_id(c, tx)?;
    record_event(c, tx, &Event { run, ..e.clone() })?;
    Ok(run)
}

/// Replace run `dead.run`'s event by `new` if it still has `dead`'s code and owner.
pub(crate) fn take_over_run(c: &Ctx, tx: &Transaction, dead: &Event, new: &Event) -> Result<bool> {
    let stored: Option<String> = tx
        .row(
            "SELECT doc FROM event WHERE run = ?1",
            params![dead.run],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| c.err(e))?;
    let Some(text) = stored else {
        return Ok(false);
    };
    let cur: Event = c.dec("event", dead.run, &text)?;
    if cur.code != dead.code || cur.owner != dead.owner {
        return Ok(false);
    }
    record_event(c, tx, new)?;
    Ok(true)
}

pub(crate) fn events(c: &Ctx, tx: &Transaction, q: &EventQuery) -> Result<Vec<Event>> {
    let mut clauses = Vec::new();
    let mut args = Vec::new();
    if let Some(p) = &q.process {
        clauses.push("process = ?".to_string());
        args.push(Sql::Text(p.clone()));
    }
    if let Some(codes) = &q.code {
        clauses.push(format!("code IN ({})", vec!["?"; codes.len()].join(", ")));
        args.extend(codes.iter().map(|c| Sql::Integer(c.0.into())));
    }
    if let Some(r) = q.after_run {
        clauses.push("run > ?".to_string());
        args.push(Sql::Integer(r));
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let sql = match q.last {
        Some(n) => format!("SELECT * FROM (SELECT run, doc FROM event {filter} ORDER BY run DESC LIMIT {n}) ORDER BY run"),
        None => format!("SELECT run, doc FROM event {filter} ORDER BY run"),
    };
    docs(c, tx, "event", &sql, args)
}

pub(crate) fn insert_logs(c: &Ctx, tx: &Transaction, logs: &[LogRecord]) -> Result<()> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO log (run, stock, channel, flag, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(|e| c.err(e))?;
    for l in logs {
        stmt.execute(params![l.run, l.stock, l.channel, l.flag.0, c.enc(l)?])
            .map_err(|e| c.err(e))?;
    }
    Ok(())
}

pub(crate) fn logs(c: &Ctx, tx: &Transaction, q: &LogQuery) -> Result<Vec<LogRecord>> {
    let mut clauses = Vec::new();
    let mut args = Vec::new();
    if let Some(r) = q.run {
        clauses.push("run = ?");
        args.push(Sql::Integer(r));
    }
    if let Some(s) = q.stock {
        clauses.push("stock = ?");
        args.push(Sql::Integer(s));
    }
    if let Some(ch) = &q.channel {
        clauses.push("channel = ?");
        args.push(Sql::Text(ch.clone()));
    }
    if let Some(f) = q.flag {
        clauses.push("(flag & ?) = ?");
        args.push(Sql::Integer(f.0.into()));
        args.push(Sql::Integer(f.0.into()));
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let limit = q.limit.map(|n| format!("LIMIT {n}")).unwrap_or_default();
    docs(
        c,
        tx,
        "log",
        &format!("SELECT seq, doc FROM log {filter} ORDER BY seq {limit}"),
        args,
    )
}

pub(crate) fn insert_trouble(c: &Ctx, tx: &Transaction, t: &TroubleRecord) -> Result<()> {
    tx.exec(
        "INSERT INTO trouble (run, unit, doc) VALUES (?1, ?2, ?3)",
        params![t.run, t.unit, c.enc(t)?],
    )
    .map_err(|e| c.err(e))?;
    Ok(())
}

pub(crate) fn troubles(c: &Ctx, tx: &Transaction, q: &TroubleQuery) -> Result<Vec<TroubleRecord>> {
    let mut clauses = Vec::new();
    let mut args = Vec::new();
    if let Some(r) = q.run {
        clauses.push("run = ?");
        args.push(Sql::Integer(r));
    }
    if let Some(u) = &q.unit {
        clauses.push("unit = ?");
        args.push(Sql::Text(u.clone()));
    }
    if let Some(s) = q.stock {
        clauses.push("json_extract(doc, '$.stock') = ?");
        args.push(Sql::Integer(s));
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    docs(
        c,
        tx,
        "trouble",
        &format!("SELECT seq, doc FROM trouble {filter} ORDER BY seq"),
        args,
    )
}

/// Insert `text` under `key` unless present; present with other content is a conflict.
/// `table` has columns `(key_col, unit?, doc)`; `unit` fills the optional middle column.
fn register_unique(
    c: &Ctx,
    tx: &Transaction,
    what: &'static str,
    key: i64,
    unit: Option<&str>,
    text: String,
) -> Result<()> {
    let (select, insert) = match what {
        "config" => (
            "SELECT doc FROM conf WHERE hash = ?1",
            "INSERT INTO conf (hash, doc) VALUES (?1, ?3)",
        ),
        _ => (
            "SELECT doc FROM trace WHERE id = ?1",
            "INSERT INTO trace (id, unit, doc) VALUES (?1, ?2, ?3)",
        ),
    };
    let existing: Option<String> = tx
        .query_row(select, [key], |r| r.get(0))
        .optional()
        .map_err(|e| c.err(e))?;
    match existing {
        Some(t) if t == text => Ok(()),
        Some(_) => Err(StoreError::Conflict { what, hash: key }),
        None => {
            tx.exec(insert, params![key, unit, text])
                .map_err(|e| c.err(e))?;
            Ok(())
        }
    }
}

pub(crate) fn register_config(
    c: &Ctx,
    tx: &Transaction,
    hash: ConfigHash,
    config: &Body,
) -> Result<()> {
    register_unique(c, tx, "config", hash, None, canonical_json(config))
}

pub(crate) fn get_config(c: &Ctx, tx: &Transaction, hash: ConfigHash) -> Result<Option<Body>> {
    let text: Option<String> = tx
        .query_row("SELECT doc FROM conf WHERE hash = ?1", [hash], |r| r.get(0))
        .optional()
        .map_err(|e| c.err(e))?;
    text.map(|t| c.dec("conf", hash, &t)).transpose()
}

pub(crate) fn register_trace(c: &Ctx, tx: &Transaction, t: &TraceRecord) -> Result<()> {
    let value = serde_json::to_value(t).map_err(|e| StoreError::Backend {
        location: c.location.into(),
        detail: e.to_string(),
    })?;
    register_unique(c, tx, "trace", t.id, Some(&t.unit), canonical_json(&value))
}

pub(crate) fn get_trace(c: &Ctx, tx: &Transaction, id: TraceId) -> Result<Option<TraceRecord>> {
    Ok(docs(
        c,
        tx,
        "trace",
        "SELECT id, doc FROM trace WHERE id = ?",
        vec![Sql::Integer(id)],
    )?
    .pop())
}

pub(crate) fn traces(c: &Ctx, tx: &Transaction) -> Result<Vec<TraceRecord>> {
    docs(
        c,
        tx,
        "trace",
        "SELECT id, doc FROM trace ORDER BY unit, id",
        vec![],
    )
}

fn to_body<T: serde::Serialize>(c: &Ctx, v: &T) -> Result<Body> {
    serde_json::to_value(v).map_err(|e| StoreError::Backend {
        location: c.location.to_string(),
        detail: e.to_string(),
    })
}

/// Stream a whole collection, in key order, as JSON documents.
pub(crate) fn dump(
    c: &Ctx,
    tx: &Transaction,
    collection: &str,
    emit: &mut dyn FnMut(Body) -> Result<()>,
) -> Result<()> {
    let keys = |sql: &str| -> Result<Vec<Sql>> {
        let mut stmt = tx.prepare(sql).map_err(|e| c.err(e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, Sql>(0))
            .map_err(|e| c.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| c.err(e))
    };
    let int = |v: &Sql| if let Sql::Integer(i) = v { *i } else { 0 };
    match collection {
        "t0" => {
            for k in keys("SELECT id FROM t0 ORDER BY id")? {
                for dp in datapoints(c, tx, &[int(&k)], None)? {
                    emit(to_body(c, &dp)?)?;
                }
            }
        }
        "t1" => {
            let mut stmt = tx
                .prepare("SELECT seq, doc FROM t1 ORDER BY stock, link")
                .map_err(|e| c.err(e))?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))
                .map_err(|e| c.err(e))?;
            for row in rows {
                let (seq, bytes) = row.map_err(|e| c.err(e))?;
                let d: T1Document = c.unpack("t1", seq, &bytes)?;
                emit(to_body(c, &d)?)?;
            }
        }
        "t2" => {
            for k in keys("SELECT id FROM t2 ORDER BY id")? {
                if let Sql::Text(id) = k {
                    if let Some(d) = crate::queue::get(c, tx, &id)? {
                        emit(to_body(c, &d)?)?;
                    }
                }
            }
        }
        "stock" => {
            for k in keys("SELECT stock FROM stock ORDER BY stock")? {
                if let Some(s) = stock(c, tx, int(&k))? {
                    emit(to_body(c, &s)?)?;
                }
            }
        }
        "t3" => {
            for d in docs::<T3Document>(c, tx, "t3", "SELECT id, doc FROM t3 ORDER BY id", vec![])?
            {
                emit(to_body(c, &d)?)?;
            }
        }
        "conf" => {
            for (h, body) in docs::<Body>(
                c,
                tx,
                "conf",
                "SELECT hash, doc FROM conf ORDER BY hash",
                vec![],
            )?
            .into_iter()
            .zip(keys("SELECT hash FROM conf ORDER BY hash")?)
            .map(|(b, k)| (int(&k), b))
            {
                emit(serde_json::json!({ "hash": h, "config": body }))?;
            }
        }
        "trace" => {
            for t in docs::<TraceRecord>(
                c,
                tx,
                "trace",
                "SELECT id, doc FROM trace ORDER BY id",
                vec![],
            )? {
                emit(to_body(c, &t)?)?;
            }
        }
        "event" => {
            for e in events(c, tx, &EventQuery::default())? {
                emit(to_body(c, &e)?)?;
            }
        }
        "log" => {
            for l in logs(c, tx, &LogQuery::default())? {
                emit(to_body(c, &l)?)?;
            }
        }
        "trouble" => {
            for t in troubles(c, tx, &TroubleQuery::default())? {
                emit(to_body(c, &t)?)?;
            }
        }
        other => {
            return Err(StoreError::Backend {
                location: c.location.to_string(),
                detail: format!(
                    "unknown collection `{other}` (known: {})",
                    ampel_store::COLLECTIONS
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
        }
    }
    Ok(())
}
