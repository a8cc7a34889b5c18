//! The T2 queue: reads, leased claims, heartbeats, results and resets.
//!
//! A claim picks the oldest ticket (by insertion) that is claimable or whose lease
//! has expired, and marks it RUNNING with a lease, inside one `BEGIN IMMEDIATE`
//! transaction: no two workers, threads or processes, can get the same ticket.

use crate::rows::T2Attrs;
use crate::{Cached, Ctx};
use ampel_interface::*;
use ampel_store::*;
use rusqlite::types::Value as Sql;
use rusqlite::{params, params_from_iter, OptionalExtension, Row, Transaction};

const COLUMNS: &str =
    "seq, id, stock, unit, config, link, code, lease_owner, lease_until, retry_after, doc, out";

pub(crate) struct RawT2 {
    seq: i64,
    id: String,
    stock: i64,
    unit: String,
    config: Option<i64>,
    link: i64,
    code: i32,
    lease_owner: Option<String>,
    lease_until: Option<f64>,
    retry_after: Option<f64>,
    doc: String,
    out: Option<String>,
}

fn raw(r: &Row) -> rusqlite::Result<RawT2> {
    Ok(RawT2 {
        seq: r.get(0)?,
        id: r.get(1)?,
        stock: r.get(2)?,
        unit: r.get(3)?,
        config: r.get(4)?,
        link: r.get(5)?,
        code: r.get(6)?,
        lease_owner: r.get(7)?,
        lease_until: r.get(8)?,
        retry_after: r.get(9)?,
        doc: r.get(10)?,
        out: r.get(11)?,
    })
}

/// One attempt's meta record and result, as appended to the `out` column: a JSON
/// object per line, so that finishing a ticket appends text instead of parsing and
/// rewriting the document.
#[derive(serde::Deserialize)]
struct Appended {
    meta: MetaRecord,
    #[serde(default)]
    body: Option<Body>,
}

/// [`Appended`] as written (borrowing the outcome's parts).
#[derive(serde::Serialize)]
struct Appending<'a> {
    meta: &'a MetaRecord,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a Body>,
}

/// The document with the appended attempts of `out` moved into it, in order (a
/// result's meta gets `body_index`, its position in the body list).
pub(crate) fn fold_out(c: &Ctx, id: &str, text: &str, out: Option<&str>) -> Result<T2Attrs> {
    let mut a: T2Attrs = c.dec("t2", id, text)?;
    for line in out.unwrap_or_default().lines() {
        let Appended { mut meta, body } = c.dec("t2", id, line)?;
        if let Some(body) = body {
            meta.body_index = Some(a.body.len());
            a.body.push(body);
        }
        a.meta.push(meta);
    }
    Ok(a)
}

pub(crate) fn assemble(c: &Ctx, r: RawT2) -> Result<T2Document> {
    let a = fold_out(c, &r.id, &r.doc, r.out.as_deref())?;
    Ok(T2Document {
        id: r.id,
        stock: r.stock,
        unit: r.unit,
        config: r.config,
        link: r.link,
        col: a.col,
        channel: a.channel,
        tag: a.tag,
        code: DocumentCode(r.code),
        meta: a.meta,
        body: a.body,
        lease: match (r.lease_owner, r.lease_until) {
            (Some(owner), Some(until)) => Some(Lease { owner, until }),
            _ => None,
        },
        retry_after: r.retry_after,
        expiry: a.expiry,
    })
}

pub(crate) fn get(c: &Ctx, tx: &Transaction, id: &str) -> Result<Option<T2Document>> {
    let row = tx
        .prepare_cached(&format!("SELECT {COLUMNS} FROM t2 WHERE id = ?1"))
        .and_then(|mut s| s.query_row([id], raw).optional())
        .map_err(|e| c.err(e))?;
    row.map(|r| assemble(c, r)).transpose()
}

fn in_list(column: &str, n: usize) -> String {
    format!("{column} IN ({})", vec!["?"; n].join(", "))
}

/// Filter on the indexed columns in SQL, the rest in Rust.
pub(crate) fn find(c: &Ctx, tx: &Transaction, f: &T2Filter) -> Result<Vec<T2Document>> {
    let mut clauses = Vec::new();
    let mut args: Vec<Sql> = Vec::new();
    if let Some(s) = f.stock {
        clauses.push("stock = ?".to_string());
        args.push(Sql::Integer(s));
    }
    if let Some(units) = &f.unit {
        clauses.push(in_list("unit", units.len()));
        args.extend(units.iter().map(|u| Sql::Text(u.clone())));
    }
    if let Some(codes) = &f.code {
        clauses.push(in_list("code", codes.len()));
        args.extend(codes.iter().map(|c| Sql::Integer(c.0.into())));
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM t2 {} {} ORDER BY seq",
        if clauses.is_empty() { "" } else { "WHERE" },
        clauses.join(" AND ")
    );
    let mut stmt = tx.prepare_cached(&sql).map_err(|e| c.err(e))?;
    let rows = stmt
        .query_map(params_from_iter(args), raw)
        .map_err(|e| c.err(e))?;
    let mut out = Vec::new();
    for r in rows {
        let doc = assemble(c, r.map_err(|e| c.err(e))?)?;
        if f.matches(&doc) {
            out.push(doc);
        }
    }
    Ok(out)
}

/// Claim up to `n` tickets with three statements: the oldest claimable seqs, the
/// oldest expired leases, then one `UPDATE … RETURNING` over the chosen rows, which
/// hands back their columns, oldest first (decoded by the caller once the write
/// lock is released).
pub(crate) fn claim_many(
    c: &Ctx,
    tx: &Transaction,
    req: &ClaimRequest,
    n: usize,
) -> Result<Vec<RawT2>> {
    let unit_clause = req
        .units
        .as_ref()
        .map(|u| format!("AND {}", in_list("unit", u.len())))
        .unwrap_or_default();
    let unit_args = || -> Vec<Sql> {
        req.units
            .iter()
            .flatten()
            .map(|u| Sql::Text(u.clone()))
            .collect()
    };
    let seqs = |sql: String, args: Vec<Sql>| -> Result<Vec<i64>> {
        let mut stmt = tx.prepare_cached(&sql).map_err(|e| c.err(e))?;
        let rows = stmt
            .query_map(params_from_iter(args), |r| r.get(0))
            .map_err(|e| c.err(e))?;
        rows.collect::<Result<Vec<i64>, _>>().map_err(|e| c.err(e))
    };
    let mut chosen = Vec::new();
    if !req.codes.is_empty() {
        let mut args: Vec<Sql> = req.codes.iter().map(|c| Sql::Integer(c.0.into())).collect();
        args.push(Sql::Real(req.now));
        args.extend(unit_args());
        chosen = seqs(
            format!(
                "SELECT seq FROM t2 WHERE {} AND (retry_after IS NULL OR retry_after <= ?) {unit_clause} ORDER BY seq LIMIT {n}",
                in_list("code", req.codes.len())
            ),
            args,
        )?;
    }
    let mut args = vec![Sql::Real(req.now)];
    args.extend(unit_args());
    chosen.extend(seqs(format!("SELECT seq FROM t2 WHERE code = -5 AND lease_until < ? {unit_clause} ORDER BY seq LIMIT {n}"), args)?);
    chosen.sort_unstable();
    chosen.truncate(n);
    if chosen.is_empty() {
        return Ok(Vec::new());
    }
    let until = req.now + req.lease_seconds;
    let sql = format!(
        "UPDATE t2 SET code = -5, lease_owner = ?, lease_until = ?, retry_after = NULL WHERE {} RETURNING {COLUMNS}",
        in_list("seq", chosen.len())
    );
    let mut args = vec![Sql::Text(req.owner.clone()), Sql::Real(until)];
    args.extend(chosen.iter().map(|s| Sql::Integer(*s)));
    let mut stmt = tx.prepare_cached(&sql).map_err(|e| c.err(e))?;
    let rows = stmt
        .query_map(params_from_iter(args), raw)
        .map_err(|e| c.err(e))?;
    let mut raws = rows
        .collect::<Result<Vec<RawT2>, _>>()
        .map_err(|e| c.err(e))?;
    raws.sort_unstable_by_key(|r| r.seq);
    Ok(raws)
}

pub(crate) fn renew(
    c: &Ctx,
    tx: &Transaction,
    id: &str,
    owner: &str,
    until: UnixTime,
) -> Result<()> {
    let n = tx
        .execute(
            "UPDATE t2 SET lease_until = ?3 WHERE id = ?1 AND lease_owner = ?2 AND code = -5",
            params![id, owner, until],
        )
        .map_err(|e| c.err(e))?;
    if n == 0 {
        return Err(lease_lost(id, owner));
    }
    Ok(())
}

/// Let every lease `owner` holds expire (its worker died).
pub(crate) fn expire(c: &Ctx, tx: &Transaction, owner: &str) -> Result<usize> {
    tx.execute(
        "UPDATE t2 SET lease_until = 0 WHERE lease_owner = ?1 AND code = -5",
        params![owner],
    )
    .map_err(|e| c.err(e))
}

/// The ticket `id` is no longer leased by `owner`.
fn lease_lost(id: &str, owner: &str) -> StoreError {
    StoreError::LeaseLost {
        doc: id.into(),
        owner: owner.into(),
    }
}

/// The line [`complete`] appends for each outcome that adds no tags (`None` for
/// the others), encoded before the write transaction so that the write lock is
/// held for the statements only.
pub(crate) fn outcome_lines(c: &Ctx, items: &[(String, T2Outcome)]) -> Result<Vec<Option<String>>> {
    items.iter().map(|(_, o)| outcome_line(c, o)).collect()
}

fn outcome_line(c: &Ctx, o: &T2Outcome) -> Result<Option<String>> {
    if !(o.tag.is_empty() && o.meta.body_index.is_none()) {
        return Ok(None);
    }
    let mut line = c.enc(&Appending {
        meta: &o.meta,
        body: o.body.as_ref(),
    })?;
    line.push('\n');
    Ok(Some(line))
}

/// [`complete`] for each item, with its line from [`outcome_lines`]; a lost lease
/// fails that item only.
pub(crate) fn complete_many(
    c: &Ctx,
    tx: &Transaction,
    items: &[(String, T2Outcome)],
    lines: &[Option<String>],
    owner: &str,
) -> Result<Vec<Result<()>>> {
    let mut out = Vec::with_capacity(items.len());
    for ((id, o), line) in items.iter().zip(lines) {
        let done = match line {
            Some(line) => append_outcome(c, tx, id, owner, o, line),
            None => rewrite_outcome(c, tx, id, owner, o),
        };
        match done {
            Err(e @ StoreError::LeaseLost { .. }) => out.push(Err(e)),
            Err(e) => return Err(e),
            Ok(()) => out.push(Ok(())),
        }
    }
    Ok(out)
}

/// Finish a claimed ticket with `o` (checking that `owner` still holds the lease).
pub(crate) fn complete(
    c: &Ctx,
    tx: &Transaction,
    id: &str,
    owner: &str,
    o: &T2Outcome,
) -> Result<()> {
    match outcome_line(c, o)? {
        Some(line) => append_outcome(c, tx, id, owner, o, &line),
        None => rewrite_outcome(c, tx, id, owner, o),
    }
}

/// [`complete`] with tags to add: the document is read (appended attempts folded
/// in), extended and written back whole.
fn rewrite_outcome(c: &Ctx, tx: &Transaction, id: &str, owner: &str, o: &T2Outcome) -> Result<()> {
    let row: Option<(Option<String>, i32, String, Option<String>)> = tx
        .query_row(
            "SELECT lease_owner, code, doc, out FROM t2 WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()
        .map_err(|e| c.err(e))?;
    let lost = || lease_lost(id, owner);
    let Some((lease_owner, code, text, out)) = row else {
        return Err(lost());
    };
    if lease_owner.as_deref() != Some(owner) || code != DocumentCode::RUNNING.0 {
        return Err(lost());
    }
    let mut a = fold_out(c, id, &text, out.as_deref())?;
    let mut meta = o.meta.clone();
    if let Some(body) = &o.body {
        meta.body_index = Some(a.body.len());
        a.body.push(body.clone());
    }
    a.meta.push(meta);
    a.tag.extend(o.tag.iter().cloned());
    tx.exec(
        "UPDATE t2 SET code = ?2, lease_owner = NULL, lease_until = NULL, retry_after = ?3, doc = ?4, out = NULL WHERE id = ?1",
        params![id, o.code.0, o.retry_after, c.enc(&a)?],
    )
    .map_err(|e| c.err(e))?;
    Ok(())
}

/// [`complete`] without tags to add: the meta record and the result appended to
/// the `out` column as one line of JSON, in one statement that also checks the
/// lease, so the document is neither read nor re-encoded (nor parsed by SQLite).
fn append_outcome(
    c: &Ctx,
    tx: &Transaction,
    id: &str,
    owner: &str,
    o: &T2Outcome,
    line: &str,
) -> Result<()> {
    let n = tx
        .exec(
            "UPDATE t2 SET code = ?2, lease_owner = NULL, lease_until = NULL, retry_after = ?3, \
             out = IFNULL(out, '') || ?4 WHERE id = ?1 AND lease_owner = ?5 AND code = -5",
            params![id, o.code.0, o.retry_after, line, owner],
        )
        .map_err(|e| c.err(e))?;
    if n == 0 {
        return Err(lease_lost(id, owner));
    }
    Ok(())
}

pub(crate) fn reset(
    c: &Ctx,
    tx: &Transaction,
    f: &T2Filter,
    code: DocumentCode,
    mode: ResetMode,
) -> Result<usize> {
    let docs = find(c, tx, f)?;
    for d in &docs {
        let mut a = T2Attrs {
            col: d.col,
            channel: d.channel.clone(),
            tag: d.tag.clone(),
            meta: d.meta.clone(),
            body: d.body.clone(),
            expiry: d.expiry,
        };
        if mode == ResetMode::CodeAndBody {
            a.body.clear();
            a.meta.iter_mut().for_each(|m| m.body_index = None);
        }
        tx.exec(
            "UPDATE t2 SET code = ?2, lease_owner = NULL, lease_until = NULL, retry_after = NULL, doc = ?3, out = NULL WHERE id = ?1",
            params![d.id, code.0, c.enc(&a)?],
        )
        .map_err(|e| c.err(e))?;
    }
    Ok(docs.len())
}
