//! `ampel export`: light curves and T2 results as files a notebook loads directly
//! (pandas, astropy): CSV or Parquet, one row per datapoint or per T2 document,
//! with the object's name, MJD and UTC date, band names, magnitudes and fluxes with
//! their units in the column names (and, in Parquet, in the metadata).
//!
//! Objects are those named, else a channel's, else every stock; with `--channel`
//! each object is seen as that channel sees it (its data rights), as T3 does.

use super::columns::{Columns, Values};
use ampel_commands::{open_existing_store, RuntimeArgs};
use ampel_core::t3::{project, Load, T1Load};
use ampel_interface::{Registry, StockId};
use ampel_present::points::{light_curve, utc_date};
use ampel_store::{StockSelection, T2Filter};
use anyhow::{anyhow, bail, Context};
use clap::{Args, ValueEnum};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum What {
    /// One row per datapoint: detections, upper limits, forced photometry.
    Lightcurves,
    /// One row per T2 document: unit, code, the latest result (JSON; with --unit
    /// also each of its values as a column).
    T2,
}

/// The file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Comma-separated, a header line.
    Csv,
    /// Apache Parquet.
    Parquet,
}

/// `ampel export` arguments.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// lightcurves or t2.
    #[arg(value_enum)]
    pub what: What,
    /// Only these objects (ZTF names, Rubin diaObjectIds or stock ids).
    #[arg(long = "object")]
    pub objects: Vec<String>,
    /// Only the objects of this channel, as the channel sees them.
    #[arg(long)]
    pub channel: Option<String>,
    /// With t2: only this unit, its result's values as columns (`result.ndet`, ...).
    #[arg(long)]
    pub unit: Option<String>,
    /// csv or parquet (default: from the file name's extension).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// The file to write.
    #[arg(long, short)]
    pub out: PathBuf,
}

fn stocks(
    registry: &Registry,
    store: &dyn ampel_store::Store,
    a: &ExportArgs,
) -> anyhow::Result<Vec<StockId>> {
    if !a.objects.is_empty() {
        return a
            .objects
            .iter()
            .map(|o| {
                registry.stock_of(o).ok_or_else(|| {
                    anyhow!("`{o}` is neither a stock id nor an object name this binary knows")
                })
            })
            .collect();
    }
    Ok(store.select_stocks(&StockSelection {
        channel_any: a.channel.iter().cloned().collect(),
        ..Default::default()
    })?)
}

fn name_of(store: &dyn ampel_store::Store, s: StockId) -> anyhow::Result<String> {
    Ok(store
        .get_stock(s)?
        .and_then(|st| st.name.into_iter().next())
        .unwrap_or_else(|| s.to_string()))
}

fn light_curves(
    registry: &Registry,
    store: &dyn ampel_store::Store,
    a: &ExportArgs,
) -> anyhow::Result<Columns> {
    let load = Load {
        t0: true,
        t1: T1Load::None,
        t2: Some(vec![]),
    };
    let (mut obj, mut stock, mut id, mut mjd, mut date, mut band) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let (mut mag, mut mag_err, mut flux, mut flux_err) = (vec![], vec![], vec![], vec![]);
    let (mut ul, mut forced, mut rb, mut drb, mut rights) =
        (vec![], vec![], vec![], vec![], vec![]);
    for s in stocks(registry, store, a)? {
        let Some(v) = project(store, s, a.channel.as_deref(), &load)? else {
            if a.channel.is_some() {
                continue;
            }
            bail!("no stock {s} in the store");
        };
        let name = name_of(store, s)?;
        for p in light_curve(&v.t0) {
            obj.push(Some(name.clone()));
            stock.push(Some(s));
            id.push(Some(p.id));
            mjd.push(Some(p.mjd));
            date.push(Some(utc_date(p.mjd)));
            band.push(Some(p.band));
            mag.push(p.mag);
            mag_err.push(p.mag_err);
            flux.push(p.flux);
            flux_err.push(p.flux_err);
            ul.push(Some(p.upper_limit));
            forced.push(Some(p.forced));
            rb.push(p.rb);
            drb.push(p.drb);
            rights.push(Some(p.access.join(" ")));
        }
    }
    let mut t = Columns::default();
    t.push("object", "the survey's name", Values::Str(obj));
    t.push("stock", "stock id", Values::I64(stock));
    t.push(
        "datapoint",
        "datapoint id (negative: upper limit or forced photometry)",
        Values::I64(id),
    );
    t.push(
        "mjd",
        "d (MJD; UTC for ZTF, TAI for Rubin)",
        Values::F64(mjd),
    );
    t.push("date_utc", "YYYY-MM-DD hh:mm:ss", Values::Str(date));
    t.push("band", "band name", Values::Str(band));
    t.push(
        "mag_ab",
        "mag (AB; the limiting magnitude of an upper limit)",
        Values::F64(mag),
    );
    t.push("mag_err", "mag", Values::F64(mag_err));
    t.push("flux_njy", "nJy", Values::F64(flux));
    t.push("flux_err_njy", "nJy", Values::F64(flux_err));
    t.push("upper_limit", "bool", Values::Bool(ul));
    t.push("forced", "bool", Values::Bool(forced));
    t.push("rb", "ZTF rb, Rubin reliability", Values::F64(rb));
    t.push("drb", "ZTF drb", Values::F64(drb));
    t.push("rights", "access tags", Values::Str(rights));
    Ok(t)
}

/// Every leaf of a JSON value under a dotted path.
fn leaves(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) => m
            .iter()
            .for_each(|(k, x)| leaves(&format!("{prefix}.{k}"), x, out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| leaves(&format!("{prefix}.{i}"), x, out)),
        other => {
            out.insert(prefix.to_string(), other.clone());
        }
    }
}

fn t2_results(
    registry: &Registry,
    store: &dyn ampel_store::Store,
    a: &ExportArgs,
) -> anyhow::Result<Columns> {
    let (mut obj, mut stock, mut id, mut unit, mut kind, mut link) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let (mut code, mut n, mut result) = (vec![], vec![], vec![]);
    let mut flat: Vec<BTreeMap<String, Value>> = vec![];
    for s in stocks(registry, store, a)? {
        let name = name_of(store, s)?;
        let docs = store.find_t2(&T2Filter {
            stock: Some(s),
            unit: a.unit.clone().map(|u| vec![u]),
            ..Default::default()
        })?;
        for d in docs {
            if a.channel.as_ref().is_some_and(|c| !d.channel.contains(c)) {
                continue;
            }
            let last = d.body.last().cloned();
            let mut f = BTreeMap::new();
            if let Some(r) = &last {
                leaves("result", r, &mut f);
            }
            flat.push(f);
            obj.push(Some(name.clone()));
            stock.push(Some(s));
            id.push(Some(d.id));
            unit.push(Some(d.unit));
            kind.push(Some(format!("{:?}", d.col).to_lowercase()));
            link.push(Some(d.link));
            code.push(Some(d.code.to_string()));
            n.push(Some(d.body.len() as i64));
            result.push(last.map(|r| r.to_string()));
        }
    }
    let mut t = Columns::default();
    t.push("object", "the survey's name", Values::Str(obj));
    t.push("stock", "stock id", Values::I64(stock));
    t.push(
        "t2_id",
        "T2 document id (ampel explain ID)",
        Values::Str(id),
    );
    t.push("unit", "unit name", Values::Str(unit));
    t.push("kind", "point, state or stock", Values::Str(kind));
    t.push(
        "link",
        "datapoint id, state link or stock id",
        Values::I64(link),
    );
    t.push("code", "document code", Values::Str(code));
    t.push("results", "results appended", Values::I64(n));
    t.push("result", "the latest result, JSON", Values::Str(result));
    if a.unit.is_some() {
        let keys: std::collections::BTreeSet<String> =
            flat.iter().flat_map(|f| f.keys().cloned()).collect();
        for k in keys {
            let vals: Vec<Option<&Value>> = flat
                .iter()
                .map(|f| f.get(&k).filter(|v| !v.is_null()))
                .collect();
            let values = if vals.iter().flatten().all(|v| v.is_i64()) {
                Values::I64(vals.iter().map(|v| v.and_then(Value::as_i64)).collect())
            } else if vals.iter().flatten().all(|v| v.is_number()) {
                Values::F64(vals.iter().map(|v| v.and_then(Value::as_f64)).collect())
            } else if vals.iter().flatten().all(|v| v.is_boolean()) {
                Values::Bool(vals.iter().map(|v| v.and_then(Value::as_bool)).collect())
            } else {
                Values::Str(
                    vals.iter()
                        .map(|v| {
                            v.map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                        })
                        .collect(),
                )
            };
            t.push(k, "as the unit gives it", values);
        }
    }
    Ok(t)
}

/// Run the export.
pub fn export(registry: &Registry, args: &RuntimeArgs, a: &ExportArgs) -> anyhow::Result<()> {
    let format = match (a.format, a.out.extension().and_then(|e| e.to_str())) {
        (Some(f), _) => f,
        (None, Some("csv")) => Format::Csv,
        (None, Some("parquet")) => Format::Parquet,
        _ => bail!(
            "{}: give --format csv|parquet or a file name ending in .csv or .parquet",
            a.out.display()
        ),
    };
    let store = open_existing_store(&args.db)?;
    let table = match a.what {
        What::Lightcurves => light_curves(registry, store.as_ref(), a)?,
        What::T2 => t2_results(registry, store.as_ref(), a)?,
    };
    match format {
        Format::Csv => {
            let bytes = table.to_csv().context("CSV")?;
            std::fs::write(&a.out, bytes)
                .with_context(|| format!("cannot write {}", a.out.display()))?;
        }
        Format::Parquet => table.write_parquet(&a.out).map_err(|e| anyhow!(e))?,
    }
    let summary = serde_json::json!({
        "file": a.out.display().to_string(),
        "rows": table.rows(),
        "columns": table.0.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
    });
    if args.json {
        println!("{summary}");
    } else {
        println!(
            "{} rows, {} columns written to {}",
            table.rows(),
            table.0.len(),
            a.out.display()
        );
    }
    Ok(())
}
