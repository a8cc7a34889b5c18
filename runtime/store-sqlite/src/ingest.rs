//! Idempotent upserts with channel merge (t0, t1, t2, stock) and stock updates.
//!
//! Each upsert reads the existing row inside the write transaction, merges in Rust
//! and writes back only when something changed; bodies are never overwritten.

use crate::rows::{DpAttrs, StockAttrs, T2Attrs};
use crate::{Cached, Ctx};
use ampel_interface::*;
use ampel_store::*;
use rusqlite::{params, OptionalExtension, Transaction};

use std::collections::{BTreeMap, BTreeSet};

fn union<T: Ord + Clone>(into: &mut BTreeSet<T>, from: &BTreeSet<T>) -> bool {
    let before = into.len();
    into.extend(from.iter().cloned());
    into.len() != before
}

fn max_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

pub(crate) fn datapoints(c: &Ctx, tx: &Transaction, dps: &[DataPoint]) -> Result<UpsertCount> {
    let mut count = UpsertCount::default();
    let err = |e| c.err(e);
    let mut select = tx
        .prepare_cached("SELECT attrs FROM t0 WHERE id = ?1")
        .map_err(err)?;
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO t0 (id, body, attrs) VALUES (?1, ?2, ?3) ON CONFLICT (id) DO NOTHING",
        )
        .map_err(err)?;
    let mut update = tx
        .prepare_cached("UPDATE t0 SET attrs = ?2 WHERE id = ?1")
        .map_err(err)?;
    let mut link = tx
        .prepare_cached("INSERT OR IGNORE INTO t0_stock (stock, id) VALUES (?1, ?2)")
        .map_err(err)?;
    for dp in dps {
        // insert first: a new datapoint (the common case) costs one statement
        let attrs = DpAttrs {
            stock: dp.stock.clone(),
            origin: dp.origin,
            tag: dp.tag.clone(),
            channel: dp.channel.clone(),
            excl: dp.excl.clone(),
            meta: dp.meta.clone(),
            expiry: dp.expiry,
        };
        if insert
            .execute(params![dp.id, c.pack(&dp.body)?, c.pack(&attrs)?])
            .map_err(err)?
            == 1
        {
            for s in &dp.stock {
                link.execute(params![s, dp.id]).map_err(err)?;
            }
            count.inserted += 1;
            continue;
        }
        let bytes: Vec<u8> = select.query_row([dp.id], |r| r.get(0)).map_err(err)?;
        let mut a: DpAttrs = c.unpack("t0", dp.id, &bytes)?;
        let new_stocks: Vec<StockId> = dp.stock.difference(&a.stock).copied().collect();
        let mut changed = union(&mut a.stock, &dp.stock);
        changed |= union(&mut a.tag, &dp.tag);
        changed |= union(&mut a.channel, &dp.channel);
        changed |= union(&mut a.excl, &dp.excl);
        if !dp.meta.is_empty() {
            a.meta.extend(dp.meta.iter().cloned());
            changed = true;
        }
        let expiry = max_opt(a.expiry, dp.expiry);
        changed |= expiry != a.expiry;
        a.expiry = expiry;
        if changed {
            update.execute(params![dp.id, c.pack(&a)?]).map_err(err)?;
        }
        for s in new_stocks {
            link.execute(params![s, dp.id]).map_err(err)?;
        }
        count.updated += 1;
    }
    Ok(count)
}

pub(crate) fn states(c: &Ctx, tx: &Transaction, states: &[T1Document]) -> Result<UpsertCount> {
    let mut count = UpsertCount::default();
    let mut select = tx
        .prepare_cached("SELECT doc FROM t1 WHERE stock = ?1 AND link = ?2")
        .map_err(|e| c.err(e))?;
    for s in states {
        let existing: Option<Vec<u8>> = select
            .query_row(params![s.stock, s.link], |r| r.get(0))
            .optional()
            .map_err(|e| c.err(e))?;
        match existing {
            None => {
                tx.exec(
                    "INSERT INTO t1 (stock, link, doc) VALUES (?1, ?2, ?3)",
                    params![s.stock, s.link, c.pack(s)?],
                )
                .map_err(|e| c.err(e))?;
                count.inserted += 1;
            }
            Some(bytes) => {
                let mut d: T1Document =
                    c.unpack("t1", format!("{}/{}", s.stock, s.link), &bytes)?;
                union(&mut d.channel, &s.channel);
                union(&mut d.tag, &s.tag);
                d.meta.extend(s.meta.iter().cloned());
                tx.exec(
                    "UPDATE t1 SET doc = ?3 WHERE stock = ?1 AND link = ?2",
                    params![s.stock, s.link, c.pack(&d)?],
                )
                .map_err(|e| c.err(e))?;
                count.updated += 1;
            }
        }
    }
    Ok(count)
}

pub(crate) fn t2(c: &Ctx, tx: &Transaction, tickets: &[T2Request]) -> Result<UpsertCount> {
    let mut count = UpsertCount::default();
    let mut select = tx
        .prepare_cached("SELECT doc, out FROM t2 WHERE id = ?1")
        .map_err(|e| c.err(e))?;
    for t in tickets {
        let id = t.identity.doc_id();
        let existing: Option<(String, Option<String>)> = select
            .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(|e| c.err(e))?;
        match existing {
            None => {
                let attrs = T2Attrs {
                    col: t.col,
                    channel: t.channel.clone(),
                    tag: t.tag.clone(),
                    meta: t.meta.iter().cloned().collect(),
                    body: Vec::new(),
                    expiry: t.expiry,
                };
                tx.exec(
                    "INSERT INTO t2 (id, stock, unit, config, link, code, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        id,
                        t.identity.stock,
                        t.identity.unit,
                        t.identity.config,
                        t.identity.link,
                        DocumentCode::NEW.0,
                        c.enc(&attrs)?
                    ],
                )
                .map_err(|e| c.err(e))?;
                count.inserted += 1;
            }
            Some((text, out)) => {
                // appended attempts move into the document first, so meta records
                // stay in the order they were made
                let mut a = crate::queue::fold_out(c, &id, &text, out.as_deref())?;
                union(&mut a.channel, &t.channel);
                union(&mut a.tag, &t.tag);
                a.meta.extend(t.meta.iter().cloned());
                a.expiry = max_opt(a.expiry, t.expiry);
                tx.exec(
                    "UPDATE t2 SET doc = ?2, out = NULL WHERE id = ?1",
                    params![id, c.enc(&a)?],
                )
                .map_err(|e| c.err(e))?;
                count.updated += 1;
            }
        }
    }
    Ok(count)
}

fn tie_channel(
    c: &Ctx,
    tx: &Transaction,
    stock: StockId,
    channel: &str,
    tied: f64,
    upd: f64,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO stock_channel (stock, channel, tied, upd) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (stock, channel) DO UPDATE SET tied = min(tied, excluded.tied), upd = max(upd, excluded.upd)",
    )
    .and_then(|mut s| s.execute(params![stock, channel, tied, upd]))
    .map_err(|e| c.err(e))?;
    Ok(())
}

fn add_tags(c: &Ctx, tx: &Transaction, stock: StockId, tags: &BTreeSet<Tag>) -> Result<()> {
    let mut stmt = tx
        .prepare_cached("INSERT OR IGNORE INTO stock_tag (stock, tag) VALUES (?1, ?2)")
        .map_err(|e| c.err(e))?;
    for t in tags {
        stmt.execute(params![stock, t]).map_err(|e| c.err(e))?;
    }
    Ok(())
}

fn append_journal(
    c: &Ctx,
    tx: &Transaction,
    stock: StockId,
    journal: &[JournalRecord],
) -> Result<()> {
    append_encoded_journal(c, tx, stock, &encode_journal(c, journal)?)
}

/// Journal entries as stored.
fn encode_journal(c: &Ctx, journal: &[JournalRecord]) -> Result<Vec<String>> {
    journal.iter().map(|j| c.enc(j)).collect()
}

/// Journal entries already encoded (see [`update_stock_encoded`]).
fn append_encoded_journal(
    c: &Ctx,
    tx: &Transaction,
    stock: StockId,
    docs: &[String],
) -> Result<()> {
    let mut stmt = tx
        .prepare_cached("INSERT INTO journal (stock, doc) VALUES (?1, ?2)")
        .map_err(|e| c.err(e))?;
    for d in docs {
        stmt.execute(params![stock, d]).map_err(|e| c.err(e))?;
    }
    Ok(())
}

/// The journal entries of each update, encoded (done before a write transaction,
/// so that the write lock is held for the statements only).
pub(crate) fn encode_journals(c: &Ctx, updates: &[StockChange]) -> Result<Vec<Vec<String>>> {
    updates
        .iter()
        .map(|u| encode_journal(c, &u.journal))
        .collect()
}

pub(crate) fn stocks(c: &Ctx, tx: &Transaction, stocks: &[StockUpsert]) -> Result<UpsertCount> {
    let mut count = UpsertCount::default();
    for s in stocks {
        let existing: Option<String> = tx
            .prepare_cached("SELECT doc FROM stock WHERE stock = ?1")
            .and_then(|mut st| st.query_row([s.stock], |r| r.get(0)).optional())
            .map_err(|e| c.err(e))?;
        match existing {
            None => {
                let attrs = StockAttrs {
                    origin: s.origin,
                    name: s.name.clone(),
                    body: None,
                };
                tx.exec(
                    "INSERT INTO stock (stock, doc) VALUES (?1, ?2)",
                    params![s.stock, c.enc(&attrs)?],
                )
                .map_err(|e| c.err(e))?;
                count.inserted += 1;
            }
            Some(text) => {
                let mut a: StockAttrs = c.dec("stock", s.stock, &text)?;
                if union(&mut a.name, &s.name) {
                    tx.exec(
                        "UPDATE stock SET doc = ?2 WHERE stock = ?1",
                        params![s.stock, c.enc(&a)?],
                    )
                    .map_err(|e| c.err(e))?;
                }
                count.updated += 1;
            }
        }
        for ch in s.channel.iter().map(String::as_str).chain([ANY_CHANNEL]) {
            tie_channel(c, tx, s.stock, ch, s.ts, s.ts)?;
        }
        add_tags(c, tx, s.stock, &s.tag)?;
        append_journal(c, tx, s.stock, &s.journal)?;
    }
    Ok(count)
}

fn stock_exists(c: &Ctx, tx: &Transaction, stock: StockId) -> Result<bool> {
    let found = tx
        .row("SELECT 1 FROM stock WHERE stock = ?1", [stock], |_| Ok(()))
        .optional()
        .map_err(|e| c.err(e))?;
    Ok(found.is_some())
}

pub(crate) fn update_stock(c: &Ctx, tx: &Transaction, u: &StockChange) -> Result<bool> {
    update_stock_encoded(c, tx, u, &encode_journal(c, &u.journal)?)
}

/// [`update_stock`] with the journal entries already encoded (`journal`).
pub(crate) fn update_stock_encoded(
    c: &Ctx,
    tx: &Transaction,
    u: &StockChange,
    journal: &[String],
) -> Result<bool> {
    // fast path (T2 journals): only a time bump and journal rows; the bump's row count
    // tells whether the stock exists (every stock has an `any` row)
    let plain = u.add_name.is_empty() && u.add_tag.is_empty() && u.remove_tag.is_empty();
    if let (true, Some((channels, ts))) = (plain, &u.bump_upd) {
        if channels.len() == 1 {
            let ch = channels
                .iter()
                .next()
                .map(String::as_str)
                .unwrap_or(ANY_CHANNEL);
            // rows already as recent are left alone (not rewritten, their index
            // entries not moved): in archive mode a result carries the time of the
            // alert that made its ticket, which the stock already has
            let n = tx
                .exec(
                    "UPDATE stock_channel SET upd = ?3 WHERE stock = ?1 AND channel IN (?2, 'any') AND upd < ?3",
                    params![u.stock, ch, ts],
                )
                .map_err(|e| c.err(e))?;
            if n == 0 && !stock_exists(c, tx, u.stock)? {
                return Ok(false);
            }
            append_encoded_journal(c, tx, u.stock, journal)?;
            return Ok(true);
        }
    }
    if u.add_name.is_empty() {
        if !stock_exists(c, tx, u.stock)? {
            return Ok(false);
        }
    } else {
        let existing: Option<String> = tx
            .row("SELECT doc FROM stock WHERE stock = ?1", [u.stock], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| c.err(e))?;
        let Some(text) = existing else {
            return Ok(false);
        };
        let mut a: StockAttrs = c.dec("stock", u.stock, &text)?;
        if union(&mut a.name, &u.add_name) {
            tx.exec(
                "UPDATE stock SET doc = ?2 WHERE stock = ?1",
                params![u.stock, c.enc(&a)?],
            )
            .map_err(|e| c.err(e))?;
        }
    }
    add_tags(c, tx, u.stock, &u.add_tag)?;
    for t in &u.remove_tag {
        tx.exec(
            "DELETE FROM stock_tag WHERE stock = ?1 AND tag = ?2",
            params![u.stock, t],
        )
        .map_err(|e| c.err(e))?;
    }
    if let Some((channels, ts)) = &u.bump_upd {
        for ch in channels.iter().map(String::as_str).chain([ANY_CHANNEL]) {
            tx.exec(
                "UPDATE stock_channel SET upd = ?3 WHERE stock = ?1 AND channel = ?2 AND upd < ?3",
                params![u.stock, ch, ts],
            )
            .map_err(|e| c.err(e))?;
        }
    }
    // T3 updates: a T3 run taken over after its process died repeats the units
    // that had run, and their entries (same run, time, unit) are kept once
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO journal (stock, doc) SELECT ?1, ?2 \
             WHERE NOT EXISTS (SELECT 1 FROM journal WHERE stock = ?1 AND doc = ?2)",
        )
        .map_err(|e| c.err(e))?;
    for d in journal {
        stmt.execute(params![u.stock, d]).map_err(|e| c.err(e))?;
    }
    Ok(true)
}

/// Assemble a stock from its row, side tables and journal.
pub(crate) fn assemble_stock(
    c: &Ctx,
    tx: &Transaction,
    stock: StockId,
    attrs: StockAttrs,
) -> Result<Stock> {
    let mut ts = BTreeMap::new();
    let mut channel = BTreeSet::new();
    {
        let mut stmt = tx
            .prepare_cached("SELECT channel, tied, upd FROM stock_channel WHERE stock = ?1")
            .map_err(|e| c.err(e))?;
        let rows = stmt
            .query_map([stock], |r| {
                Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(|e| c.err(e))?;
        for row in rows {
            let (ch, tied, upd) = row.map_err(|e| c.err(e))?;
            if ch != ANY_CHANNEL {
                channel.insert(ch.clone());
            }
            ts.insert(ch, StockTimes { tied, upd });
        }
    }
    let tag = {
        let mut stmt = tx
            .prepare_cached("SELECT tag FROM stock_tag WHERE stock = ?1")
            .map_err(|e| c.err(e))?;
        let rows = stmt
            .query_map([stock], |r| r.get(0))
            .map_err(|e| c.err(e))?;
        rows.collect::<Result<BTreeSet<String>, _>>()
            .map_err(|e| c.err(e))?
    };
    let mut journal = Vec::new();
    {
        let mut stmt = tx
            .prepare_cached("SELECT seq, doc FROM journal WHERE stock = ?1 ORDER BY seq")
            .map_err(|e| c.err(e))?;
        let rows = stmt
            .query_map([stock], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(|e| c.err(e))?;
        for row in rows {
            let (seq, text) = row.map_err(|e| c.err(e))?;
            journal.push(c.dec("journal", seq, &text)?);
        }
    }
    Ok(Stock {
        stock,
        origin: attrs.origin,
        tag,
        channel,
        name: attrs.name,
        journal,
        ts,
        body: attrs.body,
    })
}
