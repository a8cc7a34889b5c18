//! `T3ReportExporter`: per run, `index.html` (a table of the selected objects: peak
//! magnitude per band, quality scores, fit and feature results, the nearest
//! catalogue source, links, a light-curve plot each), a page per object
//! (`objects/NAME.html`: plot, light-curve table, every T2 result), the plots as
//! SVG (`plots/NAME.svg`), the table as `objects.csv` and `objects.json`; and an
//! index of every run of the report (`<dir>/index.html`, the latest first).
//! ZTF objects are plotted in `magpsf` (upper limits from `diffmaglim`), Rubin
//! objects as AB magnitudes of their positive `psfFlux` (nJy).

use ampel_interface::serde_json::{self as serde_json, json};
use ampel_interface::*;
use ampel_present::page::{fmt, links, object_page, summary, ObjectSummary, STYLE};
use ampel_present::svg::{esc, light_curve_svg};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Config of [`T3ReportExporter`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportConfig {
    /// Sub-directory of the run's output directory.
    pub dir: String,
    /// Page title.
    pub title: String,
    /// Draw an SVG light curve per object.
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

/// Bands in the usual order (u g r i z y), then any others.
fn band_order(bands: &BTreeSet<String>) -> Vec<String> {
    const ORDER: [&str; 6] = ["u", "g", "r", "i", "z", "y"];
    let mut out: Vec<String> = ORDER
        .iter()
        .filter(|b| bands.contains(**b))
        .map(|b| b.to_string())
        .collect();
    out.extend(
        bands
            .iter()
            .filter(|b| !ORDER.contains(&b.as_str()))
            .cloned(),
    );
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

/// The table as CSV: one column per field, `peak_<band>` per band.
fn csv(rows: &[ObjectSummary], bands: &[String]) -> String {
    let mut head = vec![
        "stock",
        "name",
        "channels",
        "ra",
        "dec",
        "ndet",
        "nul",
        "first_mjd",
        "first_date",
        "last_mjd",
        "last_date",
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    head.extend(bands.iter().map(|b| format!("peak_{b}")));
    head.extend(
        [
            "rb",
            "drb",
            "rise_mag_per_day",
            "decline_mag_per_day",
            "fast_riser",
            "bazin_rise_days",
            "bazin_fall_days",
            "nearest_source",
            "page",
        ]
        .map(String::from),
    );
    let mut out = head.join(",") + "\n";
    for r in rows {
        let mut f = vec![
            r.stock.to_string(),
            r.name.clone(),
            r.channels.join(" "),
            opt(&r.ra),
            opt(&r.dec),
            r.ndet.to_string(),
            r.nul.to_string(),
            opt(&r.first_mjd),
            opt(&r.first_date),
            opt(&r.last_mjd),
            opt(&r.last_date),
        ];
        f.extend(bands.iter().map(|b| opt(&r.peak_mag.get(b))));
        f.extend([
            opt(&r.rb),
            opt(&r.drb),
            opt(&r.rise_mag_per_day),
            opt(&r.decline_mag_per_day),
            opt(&r.fast_riser),
            opt(&r.bazin_rise_days),
            opt(&r.bazin_fall_days),
            opt(&r.nearest_source),
            r.page.clone(),
        ]);
        out.push_str(&f.iter().map(|x| csv_field(x)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}

/// `<dir>/index.html`: every run of every report process in `root`, newest first.
fn runs_index(root: &Path, title: &str) -> std::io::Result<()> {
    let mut runs: Vec<(String, u64, String)> = Vec::new();
    for e in std::fs::read_dir(root)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if !e.file_type()?.is_dir() {
            continue;
        }
        if let Some((process, run)) = name.rsplit_once("-run") {
            if let Ok(n) = run.parse::<u64>() {
                runs.push((process.to_string(), n, name.clone()));
            }
        }
    }
    runs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut h = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{t}: runs</title><style>{STYLE}</style></head>\n<body><h1>{t}: runs</h1>\n",
        t = esc(title)
    );
    if let Some((_, _, latest)) = runs.first() {
        let _ = writeln!(
            h,
            "<p>latest: <a href=\"{l}/index.html\">{l}</a></p>",
            l = esc(latest)
        );
    }
    h.push_str("<ul>\n");
    for (process, n, dir) in &runs {
        let _ = writeln!(
            h,
            "<li><a href=\"{}/index.html\">{} run {n}</a></li>",
            esc(dir),
            esc(process)
        );
    }
    h.push_str("</ul></body></html>\n");
    std::fs::write(root.join("index.html"), h)
}

impl T3Unit for T3ReportExporter {
    fn process(&self, ctx: &T3Context, views: &[StockView]) -> Result<T3Output, UnitError> {
        let root = ctx.out_dir.join(&self.0.dir);
        let rel = PathBuf::from(&self.0.dir).join(format!("{}-run{}", ctx.process, ctx.run));
        let dir = ctx.out_dir.join(&rel);
        let io = |what: &str, e: std::io::Error| {
            UnitError::new(format!("cannot write {what} in {}: {e}", dir.display()))
        };
        std::fs::create_dir_all(dir.join("plots")).map_err(|e| io("the report directory", e))?;
        std::fs::create_dir_all(dir.join("objects")).map_err(|e| io("the report directory", e))?;
        let mut rows: Vec<ObjectSummary> = views.iter().map(summary).collect();
        // file names from object names; a repeated one gets the stock id
        let mut used = BTreeSet::new();
        for r in &mut rows {
            if !used.insert(r.page.clone()) {
                r.page = format!("{}-{}.html", r.page.trim_end_matches(".html"), r.stock);
                used.insert(r.page.clone());
            }
        }
        let bands = band_order(
            &rows
                .iter()
                .flat_map(|r| r.peak_mag.keys().cloned())
                .collect(),
        );
        let mut files = vec![
            "index.html".to_string(),
            "objects.csv".to_string(),
            "objects.json".to_string(),
        ];
        let mut html = format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title><style>{STYLE}</style></head>\n<body><p><a href=\"../index.html\">all runs</a></p><h1>{t}</h1>\n<p>process {p}, run {r}, channel {c}, {n} objects; times are MJD and UTC, magnitudes AB; slopes in mag/day (negative: brightening)</p>\n<table><tr><th>object</th><th>channels</th><th>det</th><th>first (UTC)</th><th>last (UTC)</th>",
            t = esc(&self.0.title),
            p = esc(&ctx.process),
            r = ctx.run,
            c = esc(ctx.channel.as_deref().unwrap_or("all")),
            n = rows.len()
        );
        for b in &bands {
            let _ = write!(html, "<th>peak {}</th>", esc(b));
        }
        html.push_str("<th>rb</th><th>drb</th><th>rise</th><th>decline</th><th>fast riser</th><th>Bazin rise (d)</th><th>Bazin fall (d)</th><th>nearest source</th><th>links</th><th>light curve</th></tr>\n");
        for (v, r) in views.iter().zip(&rows) {
            let page = object_page(v, r, "../index.html");
            std::fs::write(dir.join(&r.page), page).map_err(|e| io(&r.page, e))?;
            files.push(r.page.clone());
            let _ = write!(
                html,
                "<tr><td><a href=\"{p}\">{n}</a></td><td>{c}</td><td>{d}</td><td>{f}</td><td>{l}</td>",
                p = esc(&r.page),
                n = esc(&r.name),
                c = esc(&r.channels.join(" ")),
                d = r.ndet,
                f = esc(r.first_date.as_deref().unwrap_or("-")),
                l = esc(r.last_date.as_deref().unwrap_or("-")),
            );
            for b in &bands {
                let _ = write!(html, "<td>{}</td>", fmt(r.peak_mag.get(b).copied(), 2));
            }
            let _ = write!(
                html,
                "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>",
                fmt(r.rb, 2),
                fmt(r.drb, 2),
                fmt(r.rise_mag_per_day, 3),
                fmt(r.decline_mag_per_day, 3),
                r.fast_riser.map_or("-", |f| if f { "yes" } else { "no" }),
                fmt(r.bazin_rise_days, 1),
                fmt(r.bazin_fall_days, 1),
                esc(r.nearest_source.as_deref().unwrap_or("-")),
            );
            for (label, url) in links(r) {
                let _ = write!(html, "<a href=\"{}\">{label}</a> ", esc(&url));
            }
            html.push_str("</td>");
            if self.0.plots {
                let name = format!(
                    "plots/{}",
                    r.page
                        .trim_start_matches("objects/")
                        .replace(".html", ".svg")
                );
                let svg = light_curve_svg(&ampel_present::points::light_curve(&v.t0), &r.name);
                std::fs::write(dir.join(&name), svg).map_err(|e| io(&name, e))?;
                let _ = write!(
                    html,
                    "<td><img src=\"{}\" alt=\"light curve of {}\" width=\"320\"></td>",
                    esc(&name),
                    esc(&r.name)
                );
                files.push(name);
            } else {
                html.push_str("<td></td>");
            }
            html.push_str("</tr>\n");
        }
        html.push_str("</table></body></html>\n");
        std::fs::write(dir.join("index.html"), html).map_err(|e| io("index.html", e))?;
        std::fs::write(dir.join("objects.csv"), csv(&rows, &bands))
            .map_err(|e| io("objects.csv", e))?;
        let json_text =
            serde_json::to_string_pretty(&rows).map_err(|e| UnitError::new(e.to_string()))?;
        std::fs::write(dir.join("objects.json"), json_text).map_err(|e| io("objects.json", e))?;
        runs_index(&root, &self.0.title).map_err(|e| io("the index of runs", e))?;
        let body =
            json!({ "dir": rel.display().to_string(), "objects": rows.len(), "files": files });
        Ok(T3Output {
            updates: vec![],
            document: Some(UnitResult::ok(body)),
        })
    }
}
