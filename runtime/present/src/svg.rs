//! A light curve as an SVG plot a reader can use: MJD on the bottom axis and the
//! UTC date on the top axis at the same ticks, AB magnitude on the left (brighter
//! up), one colour per band with a legend beside the plot (and the number of
//! points), error bars,
//! upper limits as open downward triangles, forced photometry as open circles.
//! Text is SVG text (the browser renders it); coordinates are written with fixed
//! decimals, so the same points give the same bytes.

use crate::points::{utc_date, LcPoint};
use std::collections::BTreeMap;
use std::fmt::Write as _;

const W: f64 = 720.0;
const H: f64 = 380.0;
const LEFT: f64 = 62.0;
const RIGHT: f64 = 104.0;
const TOP: f64 = 48.0;
const BOTTOM: f64 = 46.0;

/// The colour of a band (colour-blind-safe tableau colours, the usual per band).
pub fn band_colour(band: &str) -> &'static str {
    match band {
        "u" => "#9467bd",
        "g" => "#2ca02c",
        "r" => "#d62728",
        "i" => "#ff7f0e",
        "z" => "#8c564b",
        "y" => "#7f7f7f",
        _ => "#1f77b4",
    }
}

/// Escape text for HTML and SVG.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// About `n` round tick values covering `lo..=hi` (steps of 1, 2 or 5 × 10^k).
pub fn ticks(lo: f64, hi: f64, n: usize) -> (Vec<f64>, f64) {
    let span = (hi - lo).abs().max(1e-9);
    let raw = span / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    let out = (first..=last).take(50).map(|k| k as f64 * step).collect();
    (out, step)
}

fn decimals(step: f64) -> usize {
    if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    }
}

/// The plot of `points` (those with a magnitude); `label` names the object.
pub fn light_curve_svg(points: &[LcPoint], label: &str) -> String {
    let pts: Vec<&LcPoint> = points.iter().filter(|p| p.mag.is_some()).collect();
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"light curve of {l}\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"{W}\" height=\"{H}\" fill=\"white\"/>\n",
        l = esc(label)
    );
    let (x0, x1, y0, y1) = (LEFT, W - RIGHT, TOP, H - BOTTOM);
    let _ = writeln!(
        s,
        "<rect class=\"frame\" x=\"{x0}\" y=\"{y0}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#444\"/>",
        x1 - x0,
        y1 - y0
    );
    if pts.is_empty() {
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">no magnitudes to plot</text>\n</svg>",
            W / 2.0,
            H / 2.0
        );
        return s;
    }
    let range = |v: &mut dyn Iterator<Item = f64>, min_span: f64| {
        let (lo, hi) = v.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
        let pad = ((hi - lo) * 0.06).max(min_span / 2.0);
        (lo - pad, hi + pad)
    };
    let (t0, t1) = range(&mut pts.iter().map(|p| p.mjd), 2.0);
    let (m0, m1) = range(
        &mut pts.iter().flat_map(|p| {
            let (m, e) = (p.mag.unwrap_or(0.0), p.mag_err.unwrap_or(0.0));
            [m - e, m + e + if p.upper_limit { 0.15 } else { 0.0 }]
        }),
        0.5,
    );
    let x = |t: f64| x0 + (t - t0) / (t1 - t0) * (x1 - x0);
    let y = |m: f64| y0 + (m - m0) / (m1 - m0) * (y1 - y0);

    // axes: MJD below, the date above at the same ticks, magnitude left
    let (xt, xstep) = ticks(t0, t1, 6);
    let xd = decimals(xstep);
    for t in &xt {
        let px = x(*t);
        let date = utc_date(*t);
        // `-` for a time no calendar date is given for (never sliced blindly)
        let part = if xstep >= 1.0 {
            date.get(..10)
        } else {
            date.get(5..16)
        };
        let date = part.unwrap_or("-");
        let _ = writeln!(
            s,
            "<line x1=\"{px:.1}\" y1=\"{y1}\" x2=\"{px:.1}\" y2=\"{}\" stroke=\"#444\"/><line x1=\"{px:.1}\" y1=\"{y0}\" x2=\"{px:.1}\" y2=\"{y1}\" stroke=\"#eee\"/>\
             <text class=\"xtick\" x=\"{px:.1}\" y=\"{}\" text-anchor=\"middle\">{t:.xd$}</text>\
             <text class=\"datetick\" x=\"{px:.1}\" y=\"{}\" text-anchor=\"middle\">{date}</text>",
            y1 + 5.0,
            y1 + 17.0,
            y0 - 6.0
        );
    }
    let (yt, ystep) = ticks(m0, m1, 6);
    let yd = decimals(ystep);
    for m in &yt {
        let py = y(*m);
        let _ = writeln!(
            s,
            "<line x1=\"{}\" y1=\"{py:.1}\" x2=\"{x0}\" y2=\"{py:.1}\" stroke=\"#444\"/><line x1=\"{x0}\" y1=\"{py:.1}\" x2=\"{x1}\" y2=\"{py:.1}\" stroke=\"#eee\"/>\
             <text class=\"ytick\" x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{m:.yd$}</text>",
            x0 - 5.0,
            x0 - 8.0,
            py + 4.0
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">MJD</text>\
         <text x=\"{:.1}\" y=\"14\" text-anchor=\"middle\">date (UTC)</text>\
         <text x=\"16\" y=\"{:.1}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {:.1})\">magnitude (AB)</text>",
        (x0 + x1) / 2.0,
        H - 8.0,
        (x0 + x1) / 2.0,
        (y0 + y1) / 2.0,
        (y0 + y1) / 2.0
    );

    // points, per band
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut any_ul = false;
    for p in &pts {
        let (px, py, c) = (x(p.mjd), y(p.mag.unwrap_or(0.0)), band_colour(&p.band));
        *counts.entry(p.band.as_str()).or_default() += 1;
        let title = format!(
            "<title>{} {} MJD {:.5} {} {:.3}{}</title>",
            esc(&p.band),
            if p.upper_limit { "upper limit" } else { "mag" },
            p.mjd,
            p.date,
            p.mag.unwrap_or(0.0),
            p.mag_err.map(|e| format!(" ± {e:.3}")).unwrap_or_default()
        );
        if p.upper_limit {
            any_ul = true;
            let _ = writeln!(
                s,
                "<polygon class=\"ul\" points=\"{:.1},{:.1} {:.1},{:.1} {px:.1},{:.1}\" fill=\"none\" stroke=\"{c}\">{title}</polygon>",
                px - 4.5,
                py - 4.0,
                px + 4.5,
                py - 4.0,
                py + 4.0
            );
            continue;
        }
        if let Some(e) = p.mag_err {
            let _ = writeln!(
                s,
                "<line class=\"err\" x1=\"{px:.1}\" y1=\"{:.1}\" x2=\"{px:.1}\" y2=\"{:.1}\" stroke=\"{c}\"/>",
                y(p.mag.unwrap_or(0.0) - e),
                y(p.mag.unwrap_or(0.0) + e)
            );
        }
        let fill = if p.forced { "white" } else { c };
        let _ = writeln!(
            s,
            "<circle class=\"det\" cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"3.5\" fill=\"{fill}\" stroke=\"{c}\">{title}</circle>"
        );
    }

    // legend, right of the frame
    let mut ly = y0 + 10.0;
    let lx = x1 + 14.0;
    for (band, n) in &counts {
        let _ = writeln!(
            s,
            "<circle cx=\"{lx}\" cy=\"{:.1}\" r=\"4\" fill=\"{c}\"/><text class=\"legend\" x=\"{}\" y=\"{:.1}\">{} ({n})</text>",
            ly - 4.0,
            lx + 9.0,
            ly,
            esc(band),
            c = band_colour(band)
        );
        ly += 15.0;
    }
    if any_ul {
        let _ = writeln!(
            s,
            "<polygon points=\"{:.1},{:.1} {:.1},{:.1} {lx},{:.1}\" fill=\"none\" stroke=\"#444\"/><text class=\"legend\" x=\"{}\" y=\"{ly:.1}\">upper limit</text>",
            lx - 4.5,
            ly - 8.0,
            lx + 4.5,
            ly - 8.0,
            ly,
            lx + 9.0
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(mjd: f64, band: &str, mag: f64, ul: bool) -> LcPoint {
        LcPoint {
            id: mjd as i64,
            mjd,
            date: utc_date(mjd),
            band: band.into(),
            mag: Some(mag),
            mag_err: (!ul).then_some(0.1),
            flux: None,
            flux_err: None,
            upper_limit: ul,
            forced: false,
            access: vec![],
            rb: None,
            drb: None,
        }
    }

    #[test]
    fn a_plot_has_axes_dates_legend_error_bars_and_upper_limits() {
        let pts = vec![
            p(58_850.1, "g", 18.0, false),
            p(58_852.3, "r", 17.5, false),
            p(58_855.0, "r", 17.8, false),
            p(58_849.0, "g", 19.5, true),
        ];
        let svg = light_curve_svg(&pts, "ZTF20aaaaaaa");
        assert_eq!(svg, light_curve_svg(&pts, "ZTF20aaaaaaa"), "deterministic");
        for want in [
            ">MJD</text>",
            ">date (UTC)</text>",
            ">magnitude (AB)</text>",
            ">g (2)</text>",
            ">r (2)</text>",
            ">upper limit</text>",
            ">58850</text>",
            ">2020-01-02</text>",
        ] {
            assert!(svg.contains(want), "{want} in {svg}");
        }
        assert_eq!(svg.matches("class=\"det\"").count(), 3);
        assert_eq!(svg.matches("class=\"err\"").count(), 3);
        assert_eq!(svg.matches("class=\"ul\"").count(), 1);
        // brighter is higher: the r point at 17.5 above the g point at 18.0
        let cy = |mjd: &str| -> f64 {
            let i = svg.find(&format!("MJD {mjd}")).unwrap();
            let c = svg[..i].rfind("cy=\"").unwrap();
            svg[c + 4..].split('"').next().unwrap().parse().unwrap()
        };
        assert!(cy("58852.30000") < cy("58850.10000"));
    }

    #[test]
    fn absurd_times_and_magnitudes_still_give_a_plot() {
        // a sample alert with a time far outside any calendar, and extremes
        for mjd in [1e12, -1e12, 0.0, f64::MAX / 4.0] {
            let pts = [p(mjd, "g", 18.0, false), p(mjd + 1.0, "r", 1e6, true)];
            let svg = light_curve_svg(&pts, "x");
            assert!(svg.ends_with("</svg>\n"), "{mjd}");
        }
    }

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let (t, step) = ticks(58_849.3, 58_861.7, 6);
        assert_eq!(step, 5.0);
        assert_eq!(t, [58_850.0, 58_855.0, 58_860.0]);
        let (t, step) = ticks(17.23, 18.91, 6);
        assert!((step - 0.5).abs() < 1e-12, "{step}");
        assert_eq!(t.len(), 3);
        assert!(light_curve_svg(&[], "x").contains("no magnitudes to plot"));
    }
}
