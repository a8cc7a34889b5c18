//! `ampel trouble`: the trouble records of a store — damaged inputs (the file and
//! why it could not be read), unit failures (unit, object, document, message) and
//! failed runs — filtered by run, process, unit, object or kind, oldest first.

use crate::args::{stock_of, RuntimeArgs};
use crate::output::{report, table, CommandError, Report};
use crate::uri::open_existing_store;
use ampel_interface::{Registry, TroubleRecord};
use ampel_present::points::unix_date;
use ampel_store::TroubleQuery;
use clap::{Args, ValueEnum};
use comfy_table::Table;
use serde::Serialize;

/// What went wrong, by the record's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TroubleKind {
    /// An input T0 could not read (a damaged or truncated file, a bad packet).
    DamagedInput,
    /// A unit failed on a document.
    Unit,
    /// Anything else (a store failure, a failed run).
    Other,
}

/// The kind of a record: a damaged input has no unit and names its file.
pub fn kind(t: &TroubleRecord) -> TroubleKind {
    match (&t.unit, &t.doc) {
        (Some(_), _) => TroubleKind::Unit,
        (None, Some(_)) if t.tier as u8 == 0 => TroubleKind::DamagedInput,
        _ => TroubleKind::Other,
    }
}

/// `ampel trouble` filters.
#[derive(Debug, Clone, Args)]
pub struct TroubleArgs {
    /// Only this run.
    #[arg(long)]
    pub run: Option<i64>,
    /// Only this process.
    #[arg(long)]
    pub process: Option<String>,
    /// Only this unit.
    #[arg(long)]
    pub unit: Option<String>,
    /// Only this object (a ZTF name, a Rubin diaObjectId or a stock id).
    #[arg(long)]
    pub object: Option<String>,
    /// Only this kind.
    #[arg(long, value_enum)]
    pub kind: Option<TroubleKind>,
    /// At most this many (the first ones).
    #[arg(long, default_value_t = 200)]
    pub limit: usize,
}

/// A trouble record as listed.
#[derive(Debug, Serialize)]
pub struct TroubleRow {
    /// What kind of trouble.
    pub kind: TroubleKind,
    /// The record.
    #[serde(flatten)]
    pub record: TroubleRecord,
}

#[derive(Debug, Serialize)]
#[serde(transparent)]
struct Rows(Vec<TroubleRow>);

/// The table of trouble records.
pub fn trouble_table(records: &[TroubleRecord]) -> Table {
    let mut t = table(&[
        "date (UTC)",
        "kind",
        "process",
        "run",
        "unit",
        "object",
        "document",
        "what went wrong",
    ]);
    for r in records {
        t.add_row(vec![
            unix_date(r.ts),
            format!("{:?}", kind(r)),
            r.process.clone(),
            r.run.to_string(),
            r.unit.clone().unwrap_or_default(),
            r.stock.map(|s| s.to_string()).unwrap_or_default(),
            r.doc.clone().unwrap_or_default(),
            r.message.clone(),
        ]);
    }
    t
}

impl Report for Rows {
    fn table(&self) -> Table {
        let records: Vec<TroubleRecord> = self.0.iter().map(|r| r.record.clone()).collect();
        trouble_table(&records)
    }
}

/// List the trouble records.
pub fn run(registry: &Registry, args: &RuntimeArgs, a: &TroubleArgs) -> Result<(), CommandError> {
    let stock = a
        .object
        .as_deref()
        .map(|o| stock_of(registry, o))
        .transpose()?;
    let store = open_existing_store(&args.db)?;
    let rows: Vec<TroubleRow> = store
        .troubles(&TroubleQuery {
            run: a.run,
            unit: a.unit.clone(),
            stock,
        })?
        .into_iter()
        .filter(|t| a.process.as_ref().is_none_or(|p| &t.process == p))
        .filter(|t| a.kind.is_none_or(|k| kind(t) == k))
        .take(a.limit)
        .map(|record| TroubleRow {
            kind: kind(&record),
            record,
        })
        .collect();
    report(args.json, &Rows(rows))
}
