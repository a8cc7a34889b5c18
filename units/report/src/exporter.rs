//! `T3ReportExporter`: one HTML page per run with a table of the selected objects and
//! a light-curve plot per object, plus the same table as CSV and JSON. ZTF objects
//! are summarised from `T2MagSummary` and plotted in `magpsf` (upper limits from
//! `diffmaglim`); Rubin objects from `T2LsstFluxSummary` and plotted as AB
//! magnitudes of their positive `psfFlux` (nJy).

use crate::plot::{light_curve_png, PlotPoint};
use ampel_interface::photometry::{ab_mag, ab_mag_err, MJD_TO_JD};
use ampel_interface::serde_json::{self as serde_json, json, Value};
use ampel_interface::*;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::PathBuf;

/// Config of [`T3ReportExporter`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportConfig {
    /// Sub-directory of the run's output directory.
    pub dir: String,
    /// Page title.
    pub title: String,
    /// Draw a PNG light curve per object.
    pub plots: bool,
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig {
            dir: "report".into(),
            title: "AMPEL report".into(),
            plots: true,
        }
    }
}

impl UnitConfig for ReportConfig {
    fn validate(&self) -> Vec<FieldProblem> {
        let bad = self.dir.is_empty()
            || self.dir.starts_with('/')
            || self.dir.split('/').any(|s| s == "..");
        if bad {
            vec![FieldProblem::new(
                "dir",
                &self.dir,
                "a relative directory inside the output directory",
            )]
        } else {
            vec![]
        }
    }
}

/// The exporter.
pub struct T3ReportExporter(ReportConfig);

impl Unit for T3ReportExporter {
    const NAME: &'static str = "T3ReportExporter";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SOURCE: &'static str = ampel_interface::crate_source!();
    type Config = ReportConfig;
    fn new(c: ReportConfig) -> Result<Self, ConfigError> {
        Ok(T3ReportExporter(c))
    }
}

/// The result of `unit` on the object's latest loaded state, else its last result.
fn latest_result(v: &StockView, unit: &str) -> Option<Value> {
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

/// One table row.
fn row(v: &StockView) -> Value {
    let name = v
        .stock
        .as_ref()
        .and_then(|s| s.name.iter().next().cloned())
        .unwrap_or_else(|| v.id.to_string());
    let summary = latest_result(v, "T2MagSummary");
    let riser = latest_result(v, "T2FastRiser");
    // Rubin: the flux summary (MJD TAI, shown as JD like ZTF's)
    let rubin = latest_result(v, "T2LsstFluxSummary");
    let (ndet, first_jd, last_jd, ra, dec) = match (summary, rubin) {
        (Some(s), _) => (
            s.get("ndet").cloned(),
            s["first_detection"]["jd"].clone(),
            s["last_detection"]["jd"].clone(),
            s["ra"].clone(),
            s["dec"].clone(),
        ),
        (None, Some(r)) => {
            let jd = |k: &str| r[k].as_f64().map_or(Value::Null, |m| json!(m + MJD_TO_JD));
            (
                r.get("num_detections").cloned(),
                jd("first_detection_mjd"),
                jd("last_detection_mjd"),
                r["ra"].clone(),
                r["dec"].clone(),
            )
        }
        (None, None) => Default::default(),
    };
    json!({
        "stock": v.id,
        "name": name,
        "ndet": ndet.unwrap_or_else(|| json!(v.t0.iter().filter(|d| d.id > 0).count())),
        "first_jd": first_jd,
        "last_jd": last_jd,
        "ra": ra,
        "dec": dec,
        "fast_riser": riser.as_ref().map(|r| r["fast_riser"].clone()).unwrap_or(Value::Null),
        "channels": v.stock.as_ref().map(|s| s.channel.iter().cloned().collect::<Vec<_>>()).unwrap_or_default(),
    })
}

fn points(v: &StockView) -> Vec<PlotPoint> {
    v.t0.iter()
        .filter_map(|d| {
            let time = d.body.get("jd")?.as_f64()?;
            let band = match d.body.get("fid").or_else(|| d.body.get("band")) {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => "?".into(),
            };
            if let Some(flux) = d.body.get("psfFlux") {
                // Rubin sources and forced sources: AB magnitudes of positive fluxes
                let flux = flux.as_f64()?;
                let err = d.body.get("psfFluxErr").and_then(Value::as_f64);
                return Some(PlotPoint {
                    time,
                    mag: ab_mag(flux)?,
                    err: err.map(|e| ab_mag_err(flux, e)),
                    band,
                    upper_limit: false,
                });
            }
            if d.id > 0 {
                let mag = d.body.get("magpsf")?.as_f64()?;
                Some(PlotPoint {
                    time,
                    mag,
                    err: d.body.get("sigmapsf").and_then(Value::as_f64),
                    band,
                    upper_limit: false,
                })
            } else {
                let mag = d.body.get("diffmaglim")?.as_f64()?;
                Some(PlotPoint {
                    time,
                    mag,
                    err: None,
                    band,
                    upper_limit: true,
                })
            }
        })
        .collect()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn csv_field(v: &Value) -> String {
    let s = match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| x.to_string())
            })
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    };
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

const COLUMNS: [&str; 9] = [
    "stock",
    "name",
    "ndet",
    "first_jd",
    "last_jd",
    "ra",
    "dec",
    "fast_riser",
    "channels",
];

impl T3Unit for T3ReportExporter {
    fn process(&self, ctx: &T3Context, views: &[StockView]) -> Result<T3Output, UnitError> {
        let rel = PathBuf::from(&self.0.dir).join(format!("{}-run{}", ctx.process, ctx.run));
        let dir = ctx.out_dir.join(&rel);
        let io = |what: &str, e: std::io::Error| {
            UnitError::new(format!("cannot write {what} in {}: {e}", dir.display()))
        };
        std::fs::create_dir_all(dir.join("plots")).map_err(|e| io("the report directory", e))?;
        let rows: Vec<Value> = views.iter().map(row).collect();
        let mut files = vec![
            "index.html".to_string(),
            "objects.csv".to_string(),
            "objects.json".to_string(),
        ];
        let mut html = format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title>\n<style>body{{font-family:sans-serif}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px}}</style></head>\n<body><h1>{t}</h1>\n<p>process {p}, run {r}, channel {c}, {n} objects</p>\n<table><tr>",
            t = esc(&self.0.title),
            p = esc(&ctx.process),
            r = ctx.run,
            c = esc(ctx.channel.as_deref().unwrap_or("all")),
            n = rows.len()
        );
        for c in COLUMNS {
            let _ = write!(html, "<th>{c}</th>");
        }
        html.push_str("<th>light curve</th></tr>\n");
        let mut csv = COLUMNS.join(",") + "\n";
        for (v, r) in views.iter().zip(&rows) {
            html.push_str("<tr>");
            for c in COLUMNS {
                let _ = write!(html, "<td>{}</td>", esc(&csv_field(&r[c])));
            }
            if self.0.plots {
                let png = light_curve_png(&points(v)).map_err(UnitError::new)?;
                let name = format!("plots/{}.png", v.id);
                std::fs::write(dir.join(&name), png).map_err(|e| io(&name, e))?;
                let _ = write!(
                    html,
                    "<td><img src=\"{name}\" alt=\"light curve of {}\" width=\"240\"></td>",
                    esc(&csv_field(&r["name"]))
                );
                files.push(name);
            } else {
                html.push_str("<td></td>");
            }
            html.push_str("</tr>\n");
            csv.push_str(
                &COLUMNS
                    .iter()
                    .map(|c| csv_field(&r[*c]))
                    .collect::<Vec<_>>()
                    .join(","),
            );
            csv.push('\n');
        }
        html.push_str("</table></body></html>\n");
        std::fs::write(dir.join("index.html"), html).map_err(|e| io("index.html", e))?;
        std::fs::write(dir.join("objects.csv"), csv).map_err(|e| io("objects.csv", e))?;
        let json_text =
            serde_json::to_string_pretty(&rows).map_err(|e| UnitError::new(e.to_string()))?;
        std::fs::write(dir.join("objects.json"), json_text).map_err(|e| io("objects.json", e))?;
        let body =
            json!({ "dir": rel.display().to_string(), "objects": rows.len(), "files": files });
        Ok(T3Output {
            updates: vec![],
            document: Some(UnitResult::ok(body)),
        })
    }
}
