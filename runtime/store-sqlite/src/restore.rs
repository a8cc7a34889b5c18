//! Restoring dumped documents (`ampel db import`): each collection's documents are
//! inserted as they were dumped, into a fresh store, inside one write transaction
//! per call. Rows, side tables (datapoint stocks, stock channels and tags, journal)
//! and the run-id counter are rebuilt from the typed documents.

use crate::rows::{StockAttrs, T2Attrs};
use crate::{query, Cached, Ctx};
use ampel_interface::*;
use ampel_store::*;
use rusqlite::{params, Transaction};

fn typed<T: serde::de::DeserializeOwned>(
    c: &Ctx,
    collection: &'static str,
    i: usize,
    d: &Body,
) -> Result<T> {
    serde_json::from_value(d.clone()).map_err(|e| StoreError::Corrupt {
        location: c.location.into(),
        collection,
        key: format!("dumped document {}", i + 1),
        detail: e.to_string(),
    })
}

fn all<T: serde::de::DeserializeOwned>(
    c: &Ctx,
    collection: &'static str,
    docs: &[Body],
) -> Result<Vec<T>> {
    docs.iter()
        .enumerate()
        .map(|(i, d)| typed(c, collection, i, d))
        .collect()
}

pub(crate) fn restore(c: &Ctx, tx: &Transaction, collection: &str, docs: &[Body]) -> Result<()> {
    let err = |e| c.err(e);
    match collection {
        "t0" => {
            crate::ingest::datapoints(c, tx, &all::<DataPoint>(c, "t0", docs)?)?;
        }
        "t1" => {
            crate::ingest::states(c, tx, &all::<T1Document>(c, "t1", docs)?)?;
        }
        "t2" => {
            for d in all::<T2Document>(c, "t2", docs)? {
                let attrs = T2Attrs {
                    col: d.col,
                    channel: d.channel,
                    tag: d.tag,
                    meta: d.meta,
                    body: d.body,
                    expiry: d.expiry,
                };
                tx.exec(
                    "INSERT INTO t2 (id, stock, unit, config, link, code, lease_owner, lease_until, retry_after, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    params![
                        d.id,
                        d.stock,
                        d.unit,
                        d.config,
                        d.link,
                        d.code.0,
                        d.lease.as_ref().map(|l| l.owner.clone()),
                        d.lease.as_ref().map(|l| l.until),
                        d.retry_after,
                        c.enc(&attrs)?
                    ],
                )
                .map_err(err)?;
            }
        }
        "stock" => {
            for s in all::<Stock>(c, "stock", docs)? {
                let attrs = StockAttrs {
                    origin: s.origin,
                    name: s.name,
                    body: s.body,
                };
                tx.exec(
                    "INSERT INTO stock (stock, doc) VALUES (?1, ?2)",
                    params![s.stock, c.enc(&attrs)?],
                )
                .map_err(err)?;
                for (ch, t) in &s.ts {
                    tx.exec(
                        "INSERT INTO stock_channel (stock, channel, tied, upd) VALUES (?1, ?2, ?3, ?4)",
                        params![s.stock, ch, t.tied, t.upd],
                    )
                    .map_err(err)?;
                }
                for t in &s.tag {
                    tx.exec(
                        "INSERT INTO stock_tag (stock, tag) VALUES (?1, ?2)",
                        params![s.stock, t],
                    )
                    .map_err(err)?;
                }
                for j in &s.journal {
                    tx.exec(
                        "INSERT INTO journal (stock, doc) VALUES (?1, ?2)",
                        params![s.stock, c.enc(j)?],
                    )
                    .map_err(err)?;
                }
            }
        }
        "t3" => {
            for d in all::<T3Document>(c, "t3", docs)? {
                query::insert_t3(c, tx, &d)?;
            }
        }
        "conf" => {
            for (i, d) in docs.iter().enumerate() {
                let hash = d["hash"].as_i64().ok_or_else(|| StoreError::Corrupt {
                    location: c.location.into(),
                    collection: "conf",
                    key: format!("dumped document {}", i + 1),
                    detail: "no integer `hash`".into(),
                })?;
                query::register_config(c, tx, hash, &d["config"])?;
            }
        }
        "trace" => {
            for t in all::<TraceRecord>(c, "trace", docs)? {
                query::register_trace(c, tx, &t)?;
            }
        }
        "event" => {
            let events = all::<Event>(c, "event", docs)?;
            for e in &events {
                query::record_event(c, tx, e)?;
            }
            if let Some(max) = events.iter().map(|e| e.run).max() {
                tx.exec(
                    "INSERT INTO counter (name, value) VALUES ('run', ?1)
                     ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)",
                    [max],
                )
                .map_err(err)?;
            }
        }
        "log" => query::insert_logs(c, tx, &all::<LogRecord>(c, "log", docs)?)?,
        "trouble" => {
            for t in all::<TroubleRecord>(c, "trouble", docs)? {
                query::insert_trouble(c, tx, &t)?;
            }
        }
        other => {
            return Err(StoreError::Backend {
                location: c.location.into(),
                detail: format!("cannot restore unknown collection `{other}`"),
            })
        }
    }
    Ok(())
}
