//! One object as a reader wants it: a summary row (peak magnitude per band,
//! quality scores, fit and feature results, the nearest catalogue source, links to
//! the brokers and archives) and a page (the plot, the light curve as a table, every
//! T2 result in full with its document id and code).

use crate::points::{light_curve, utc_date, LcPoint};
use crate::svg::{esc, light_curve_svg};
use ampel_interface::serde_json::{self as serde_json, Value};
use ampel_interface::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The summary of one object (a row of the report's table, CSV and JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectSummary {
    /// Stock id.
    pub stock: StockId,
    /// The survey's name (ZTF `objectId`, Rubin `diaObjectId`), else the stock id.
    pub name: String,
    /// The survey, for a survey read through a survey mapping (its datapoints'
    /// `survey`); `None` for ZTF and Rubin.
    pub survey: Option<String>,
    /// Channels of the stock.
    pub channels: Vec<String>,
    /// Position of the latest detection, degrees.
    pub ra: Option<f64>,
    /// Position of the latest detection, degrees.
    pub dec: Option<f64>,
    /// Detections.
    pub ndet: usize,
    /// Upper limits.
    pub nul: usize,
    /// First detection, MJD.
    pub first_mjd: Option<f64>,
    /// Its date (UTC).
    pub first_date: Option<String>,
    /// Last detection, MJD.
    pub last_mjd: Option<f64>,
    /// Its date (UTC).
    pub last_date: Option<String>,
    /// Brightest detection per band, AB magnitude.
    pub peak_mag: BTreeMap<String, f64>,
    /// `rb` (ZTF) or `reliability` (Rubin) of the latest detection.
    pub rb: Option<f64>,
    /// `drb` of the latest detection (ZTF schema 3.3 and later).
    pub drb: Option<f64>,
    /// `T2RiseDeclineFit`: rise slope, mag/day, in the band with most points.
    pub rise_mag_per_day: Option<f64>,
    /// `T2RiseDeclineFit`: decline slope, mag/day, in that band.
    pub decline_mag_per_day: Option<f64>,
    /// `T2FastRiser`.
    pub fast_riser: Option<bool>,
    /// `T2LcFeatures`: Bazin rise time, days, in the band with most points.
    pub bazin_rise_days: Option<f64>,
    /// `T2LcFeatures`: Bazin fall time, days, in that band.
    pub bazin_fall_days: Option<f64>,
    /// `T2CatalogCone`: the nearest source (its `name` column, else its row) and
    /// the distance in arcseconds.
    pub nearest_source: Option<String>,
    /// The object's page, relative to the report.
    pub page: String,
}

/// The result of `unit` on the object's latest loaded state, else its last result.
pub fn latest_result(v: &StockView, unit: &str) -> Option<Value> {
    let latest = v.t1.last().map(|s| s.link);
    let done: Vec<&T2View> =
        v.t2.iter()
            .filter(|t| t.unit == unit && t.result.is_some())
            .collect();
    done.iter()
        .find(|t| Some(t.link) == latest)
        .or(done.last())
        .and_then(|t| t.result.clone())
}

/// The object's name: the survey's, else the stock id.
pub fn object_name(v: &StockView) -> String {
    v.stock
        .as_ref()
        .and_then(|s| s.name.iter().next().cloned())
        .unwrap_or_else(|| v.id.to_string())
}

/// A file name for the object: its name with anything but letters, digits, `-`
/// and `_` replaced.
pub fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The band of a per-band result with the most points (`n`, `flux_points`).
fn busiest<'a>(bands: &'a Value, count: &str) -> Option<&'a Value> {
    bands
        .as_object()?
        .values()
        .max_by_key(|b| b.get(count).and_then(Value::as_u64).unwrap_or(0))
}

/// The summary of an object.
pub fn summary(v: &StockView) -> ObjectSummary {
    let name = object_name(v);
    let lc = light_curve(&v.t0);
    let det: Vec<&LcPoint> = lc.iter().filter(|p| !p.upper_limit && !p.forced).collect();
    let mut peak_mag: BTreeMap<String, f64> = BTreeMap::new();
    for p in &det {
        if let Some(m) = p.mag {
            let e = peak_mag.entry(p.band.clone()).or_insert(m);
            *e = e.min(m);
        }
    }
    let latest_dp = det.last().and_then(|p| v.t0.iter().find(|d| d.id == p.id));
    let pos = |k: &str| {
        latest_dp
            .and_then(|d| d.body.get(k))
            .and_then(Value::as_f64)
    };
    let fit = latest_result(v, "T2RiseDeclineFit");
    let fit_band = fit.as_ref().and_then(|f| busiest(&f["bands"], "n"));
    let slope = |k: &str| fit_band.and_then(|b| b[k]["slope"].as_f64());
    let feats = latest_result(v, "T2LcFeatures");
    let feat_band = feats
        .as_ref()
        .and_then(|f| busiest(&f["bands"], "flux_points"));
    let bazin = |k: &str| feat_band.and_then(|b| b["bazin"][k].as_f64());
    let nearest = latest_result(v, "T2CatalogCone").and_then(|r| {
        let m = r["matches"].get(0)?;
        let id = m["columns"]
            .get("name")
            .and_then(|n| n.as_str().map(str::to_string))
            .unwrap_or_else(|| format!("row {}", m["row"]));
        Some(format!("{id} ({:.2}\")", m["dist_arcsec"].as_f64()?))
    });
    ObjectSummary {
        stock: v.id,
        page: format!("objects/{}.html", file_stem(&name)),
        name,
        survey: v
            .t0
            .iter()
            .find_map(|d| d.body.get("survey").and_then(Value::as_str))
            .map(String::from),
        channels: v
            .stock
            .as_ref()
            .map(|s| s.channel.iter().cloned().collect())
            .unwrap_or_default(),
        ra: pos("ra"),
        dec: pos("dec"),
        ndet: det.len(),
        nul: lc.iter().filter(|p| p.upper_limit).count(),
        first_mjd: det.first().map(|p| p.mjd),
        first_date: det.first().map(|p| p.date.clone()),
        last_mjd: det.last().map(|p| p.mjd),
        last_date: det.last().map(|p| p.date.clone()),
        peak_mag,
        rb: det.last().and_then(|p| p.rb),
        drb: det.last().and_then(|p| p.drb),
        rise_mag_per_day: slope("rise"),
        decline_mag_per_day: slope("decline"),
        fast_riser: latest_result(v, "T2FastRiser").and_then(|r| r["fast_riser"].as_bool()),
        bazin_rise_days: bazin("bazin_fit_rise_time"),
        bazin_fall_days: bazin("bazin_fit_fall_time"),
        nearest_source: nearest,
    }
}

/// Links to the object at the brokers and archives: by name (Fink, Lasair,
/// ALeRCE for ZTF names; Lasair for Rubin ids; none for mapped surveys, whose
/// names those brokers do not know) and by position (TNS and SIMBAD, 5").
pub fn links(s: &ObjectSummary) -> Vec<(&'static str, String)> {
    let (name, ra, dec) = (s.name.as_str(), s.ra, s.dec);
    let mut out = Vec::new();
    let own = s.survey.is_none();
    if own && name.starts_with("ZTF") {
        out.push(("Fink", format!("https://fink-portal.org/{name}")));
        out.push((
            "Lasair",
            format!("https://lasair-ztf.lsst.ac.uk/objects/{name}/"),
        ));
        out.push(("ALeRCE", format!("https://alerce.online/object/{name}")));
    } else if own && name.bytes().all(|b| b.is_ascii_digit()) {
        out.push((
            "Lasair",
            format!("https://lasair.lsst.ac.uk/objects/{name}/"),
        ));
    }
    if let (Some(ra), Some(dec)) = (ra, dec) {
        out.push((
            "TNS",
            format!("https://www.wis-tns.org/search?ra={ra:.6}&decl={dec:.6}&radius=5&coords_unit=arcsec"),
        ));
        out.push((
            "SIMBAD",
            format!("https://simbad.cds.unistra.fr/simbad/sim-coo?Coord={ra:.6}%20{dec:+.6}&Radius=5&Radius.unit=arcsec"),
        ));
    }
    out
}

/// A number with `d` decimals, or a dash.
pub fn fmt(v: Option<f64>, d: usize) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{x:.d$}"))
}

/// The style every page of the report shares.
pub const STYLE: &str = "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 7px;text-align:left}th{background:#f4f4f4}pre{background:#f8f8f8;padding:6px;overflow-x:auto;max-width:100em}";

/// The page of one object; `back` links to the table it came from.
pub fn object_page(v: &StockView, s: &ObjectSummary, back: &str) -> String {
    let lc = light_curve(&v.t0);
    let mut h = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{n}</title><style>{STYLE}</style></head>\n<body><p><a href=\"{b}\">back to the table</a></p>\n<h1>{n}</h1>\n<p>stock {id}; channels {c}; RA {ra}, Dec {dec} (deg); {nd} detections, {nu} upper limits",
        n = esc(&s.name),
        b = esc(back),
        id = s.stock,
        c = esc(&s.channels.join(", ")),
        ra = fmt(s.ra, 6),
        dec = fmt(s.dec, 6),
        nd = s.ndet,
        nu = s.nul,
    );
    if let (Some(a), Some(b)) = (&s.first_date, &s.last_date) {
        let _ = write!(h, "; first {a}, last {b} (UTC)");
    }
    h.push_str("</p>\n<p class=\"links\">");
    for (label, url) in links(s) {
        let _ = write!(h, "<a href=\"{}\">{label}</a> ", esc(&url));
    }
    h.push_str("</p>\n");
    h.push_str(&light_curve_svg(&lc, &s.name));
    h.push_str("<h2>Light curve</h2>\n<table class=\"lc\"><tr><th>MJD</th><th>date (UTC)</th><th>band</th><th>mag</th><th>± mag</th><th>flux (nJy)</th><th>± flux</th><th>kind</th><th>rb</th><th>drb</th><th>data rights</th><th>datapoint</th></tr>\n");
    for p in &lc {
        let kind = p.kind();
        let _ = writeln!(
            h,
            "<tr><td>{:.5}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{kind}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            p.mjd,
            utc_date(p.mjd),
            esc(&p.band),
            fmt(p.mag, 3),
            fmt(p.mag_err, 3),
            fmt(p.flux, 1),
            fmt(p.flux_err, 1),
            fmt(p.rb, 3),
            fmt(p.drb, 3),
            esc(&p.access.join(" ")),
            p.id
        );
    }
    h.push_str("</table>\n<h2>T2 results</h2>\n");
    for t in &v.t2 {
        let body = t
            .result
            .as_ref()
            .map(|r| serde_json::to_string_pretty(r).unwrap_or_default())
            .unwrap_or_else(|| "(no result)".into());
        let _ =
            writeln!(
            h,
            "<h3 class=\"t2\">{u}</h3><p>{kind:?} T2 on {link}, code {code}{cfg}</p><pre>{b}</pre>",
            u = esc(&t.unit),
            kind = t.kind,
            link = t.link,
            code = t.code.0,
            cfg = t.config.map(|c| format!(", config {c}")).unwrap_or_default(),
            b = esc(&body)
        );
    }
    h.push_str("</body></html>\n");
    h
}
