//! `ampel view OBJECT`: everything the store knows about one object, as a reader
//! wants it — the summary (position, counts, first and last detection, peak
//! magnitude per band, scores, fit results), links to brokers and archives, the
//! light curve (MJD and UTC date, band names, magnitude and flux with errors, upper
//! limits, data rights), every T2 document in full with its id (for `ampel
//! explain`), the journal with its actions in words, logs and trouble records.
//! The object is a ZTF name, a Rubin diaObjectId or a stock id; `--json` gives the
//! same as one typed document.

use crate::args::{stock_of, RuntimeArgs};
use crate::output::{table, CommandError};
use crate::uri::open_existing_store;
use ampel_core::t3::{project, Load, T1Load};
use ampel_interface::{
    DocumentCode, JournalActionCode, LogRecord, Registry, T2Kind, TroubleRecord,
};
use ampel_present::page::{links, summary, ObjectSummary};
use ampel_present::points::{light_curve, unix_date, LcPoint};
use ampel_store::{LogQuery, T2Filter, TroubleQuery};
use serde::Serialize;
use std::io::Write;

/// A link to the object elsewhere.
#[derive(Debug, Serialize)]
pub struct Link {
    /// Broker or archive.
    pub label: &'static str,
    /// Address.
    pub url: String,
}

/// A T2 document as shown.
#[derive(Debug, Serialize)]
pub struct T2Shown {
    /// Document id (give it to `ampel explain`).
    pub id: String,
    /// Unit.
    pub unit: String,
    /// On a datapoint, a state or the stock.
    pub kind: T2Kind,
    /// The datapoint id, state link or stock id.
    pub link: i64,
    /// Code, with its name.
    pub code: DocumentCode,
    /// Results appended so far.
    pub results: usize,
    /// The latest result, in full.
    pub result: Option<serde_json::Value>,
}

/// A journal entry with its actions in words.
#[derive(Debug, Serialize)]
pub struct JournalShown {
    /// UTC time.
    pub date: String,
    /// Tier.
    pub tier: u8,
    /// Process and run.
    pub process: String,
    /// Run id.
    pub run: i64,
    /// Channels.
    pub channels: Vec<String>,
    /// The unit, for T2 and T3 entries.
    pub unit: Option<String>,
    /// What was done (`T2_ADD_CHANNEL`, ...; the bits of `action`).
    pub actions: Vec<&'static str>,
    /// The raw action bits.
    pub action: u64,
}

/// Everything about one object.
#[derive(Debug, Serialize)]
pub struct ObjectView {
    /// The summary row (as in the report).
    pub summary: ObjectSummary,
    /// Links by name and position.
    pub links: Vec<Link>,
    /// The light curve, in time order.
    pub light_curve: Vec<LcPoint>,
    /// Every T2 document of the stock.
    pub t2: Vec<T2Shown>,
    /// The stock's journal, oldest first.
    pub journal: Vec<JournalShown>,
    /// Log records of the stock.
    pub logs: Vec<LogRecord>,
    /// Trouble records of the stock.
    pub trouble: Vec<TroubleRecord>,
}

/// The names of the bits set in a journal action.
pub fn action_words(a: JournalActionCode) -> Vec<&'static str> {
    JournalActionCode::ALL
        .iter()
        .filter(|(_, c)| c.0 != 0 && a.contains(*c))
        .map(|(n, _)| *n)
        .collect()
}

/// Load the view of one object.
pub fn load(registry: &Registry, db: &str, object: &str) -> Result<ObjectView, CommandError> {
    let stock = stock_of(registry, object)?;
    let store = open_existing_store(db)?;
    let load = Load {
        t0: true,
        t1: T1Load::All,
        t2: None,
    };
    let view = project(store.as_ref(), stock, None, &load)?.ok_or_else(|| {
        CommandError::Usage(format!(
            "no object `{object}` (stock {stock}) in {}; `ampel t2 list` shows the stocks there are",
            crate::uri::redact(db)
        ))
    })?;
    let s = summary(&view);
    let t2 = store
        .find_t2(&T2Filter {
            stock: Some(stock),
            ..Default::default()
        })?
        .into_iter()
        .map(|d| T2Shown {
            results: d.body.len(),
            result: d.body.last().cloned(),
            id: d.id,
            unit: d.unit,
            kind: d.col,
            link: d.link,
            code: d.code,
        })
        .collect();
    let journal = view
        .stock
        .as_ref()
        .map(|st| {
            st.journal
                .iter()
                .map(|j| JournalShown {
                    date: unix_date(j.ts),
                    tier: j.tier as u8,
                    process: j.process.clone(),
                    run: j.run,
                    channels: j.channel.iter().cloned().collect(),
                    unit: j.unit.clone(),
                    actions: action_words(j.action),
                    action: j.action.0,
                })
                .collect()
        })
        .unwrap_or_default();
    let logs = store.logs(&LogQuery {
        stock: Some(stock),
        limit: Some(1000),
        ..Default::default()
    })?;
    let trouble = store.troubles(&TroubleQuery {
        stock: Some(stock),
        ..Default::default()
    })?;
    Ok(ObjectView {
        links: links(&s)
            .into_iter()
            .map(|(label, url)| Link { label, url })
            .collect(),
        light_curve: light_curve(&view.t0),
        summary: s,
        t2,
        journal,
        logs,
        trouble,
    })
}

fn num(v: Option<f64>, d: usize) -> String {
    ampel_present::page::fmt(v, d)
}

/// Print the view: sections of tables, or one JSON document.
pub fn run(registry: &Registry, args: &RuntimeArgs, object: &str) -> Result<(), CommandError> {
    let v = load(registry, &args.db, object)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let text = serde_json::to_string_pretty(&v).map_err(|e| CommandError::Io(e.into()))?;
        writeln!(out, "{text}")?;
        return Ok(());
    }
    let s = &v.summary;
    writeln!(out, "{} (stock {})", s.name, s.stock)?;
    writeln!(
        out,
        "channels {}; RA {} Dec {} (deg); {} detections, {} upper limits",
        s.channels.join(", "),
        num(s.ra, 6),
        num(s.dec, 6),
        s.ndet,
        s.nul
    )?;
    if let (Some(a), Some(b)) = (&s.first_date, &s.last_date) {
        writeln!(out, "first detection {a}, last {b} (UTC)")?;
    }
    let peaks: Vec<String> = s
        .peak_mag
        .iter()
        .map(|(b, m)| format!("{b} {m:.2}"))
        .collect();
    if !peaks.is_empty() {
        writeln!(out, "peak magnitude: {}", peaks.join(", "))?;
    }
    for l in &v.links {
        writeln!(out, "{:<8} {}", l.label, l.url)?;
    }
    let mut lc = table(&[
        "MJD",
        "date (UTC)",
        "band",
        "mag",
        "± mag",
        "flux (nJy)",
        "± flux",
        "kind",
        "rb",
        "drb",
        "rights",
        "datapoint",
    ]);
    for p in &v.light_curve {
        let kind = p.kind();
        lc.add_row(vec![
            format!("{:.5}", p.mjd),
            p.date.clone(),
            p.band.clone(),
            num(p.mag, 3),
            num(p.mag_err, 3),
            num(p.flux, 1),
            num(p.flux_err, 1),
            kind.into(),
            num(p.rb, 3),
            num(p.drb, 3),
            p.access.join(" "),
            p.id.to_string(),
        ]);
    }
    writeln!(out, "\nlight curve\n{lc}")?;
    let mut t2 = table(&["T2 document", "unit", "on", "link", "code", "latest result"]);
    for d in &v.t2 {
        t2.add_row(vec![
            d.id.clone(),
            d.unit.clone(),
            format!("{:?}", d.kind).to_lowercase(),
            d.link.to_string(),
            d.code.to_string(),
            d.result
                .as_ref()
                .map(|r| serde_json::to_string_pretty(r).unwrap_or_default())
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    writeln!(
        out,
        "\nT2 results (ampel explain ID tells who made one)\n{t2}"
    )?;
    let mut j = table(&[
        "date (UTC)",
        "tier",
        "process",
        "run",
        "channels",
        "unit",
        "actions",
    ]);
    for e in &v.journal {
        j.add_row(vec![
            e.date.clone(),
            format!("T{}", e.tier),
            e.process.clone(),
            e.run.to_string(),
            e.channels.join(" "),
            e.unit.clone().unwrap_or_default(),
            e.actions.join(" "),
        ]);
    }
    writeln!(out, "\njournal\n{j}")?;
    if !v.logs.is_empty() {
        let mut l = table(&["date (UTC)", "run", "channel", "message"]);
        for r in &v.logs {
            l.add_row(vec![
                unix_date(r.ts),
                r.run.to_string(),
                r.channel.clone().unwrap_or_default(),
                r.msg.clone(),
            ]);
        }
        writeln!(out, "\nlogs\n{l}")?;
    }
    if !v.trouble.is_empty() {
        writeln!(
            out,
            "\ntrouble\n{}",
            crate::trouble::trouble_table(&v.trouble)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_actions_are_named() {
        let a = JournalActionCode::T0_ADD_CHANNEL | JournalActionCode::T1_ADD_CHANNEL;
        assert_eq!(action_words(a), ["T0_ADD_CHANNEL", "T1_ADD_CHANNEL"]);
        assert!(action_words(JournalActionCode::NONE).is_empty());
    }
}
