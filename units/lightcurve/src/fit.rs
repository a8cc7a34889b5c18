//! `T2RiseDeclineFit`: per band, straight lines fitted by weighted least squares
//! (weights 1/σ²) to magnitude against time, on the rise (up to and including the
//! brightest detection) and on the decline (from it on). Times are relative to the
//! brightest detection, so intercepts are magnitudes at the observed peak.

use crate::lightcurve::{LightCurve, PhotometryKeys, Point};
use crate::summary::finite;
use ampel_interface::serde_json::{json, Map, Value};
use ampel_interface::*;

/// A fitted line `y = intercept + slope·x`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Line {
    /// Slope [mag/day]; negative = brightening.
    pub slope: f64,
    /// Standard error of the slope.
    pub slope_err: f64,
    /// Intercept at x = 0.
    pub intercept: f64,
    /// Standard error of the intercept.
    pub intercept_err: f64,
    /// χ² of the fit.
    pub chi2: f64,
    /// Points used.
    pub n: usize,
}

/// Weighted least squares of `y` against `x` with errors `sigma` (all > 0); `None`
/// with fewer than two points or no spread in `x`.
pub fn wls_line(x: &[f64], y: &[f64], sigma: &[f64]) -> Option<Line> {
    if x.len() < 2 {
        return None;
    }
    let (mut s, mut sx, mut sy, mut sxx, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for ((xi, yi), si) in x.iter().zip(y).zip(sigma) {
        let w = 1.0 / (si * si);
        s += w;
        sx += w * xi;
        sy += w * yi;
        sxx += w * xi * xi;
        sxy += w * xi * yi;
    }
    let det = s * sxx - sx * sx;
    if det.abs() <= f64::EPSILON * s * sxx.abs().max(1.0) {
        return None;
    }
    let slope = (s * sxy - sx * sy) / det;
    let intercept = (sxx * sy - sx * sxy) / det;
    let chi2 = x
        .iter()
        .zip(y)
        .zip(sigma)
        .map(|((xi, yi), si)| ((yi - intercept - slope * xi) / si).powi(2))
        .sum();
    Some(Line {
        slope,
        slope_err: (s / det).sqrt(),
        intercept,
        intercept_err: (sxx / det).sqrt(),
        chi2,
        n: x.len(),
    })
}

/// The fit unit.
pub struct T2RiseDeclineFit(PhotometryKeys);

impl Unit for T2RiseDeclineFit {
    const NAME: &'static str = "T2RiseDeclineFit";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SOURCE: &'static str = ampel_interface::crate_source!();
    type Config = PhotometryKeys;
    fn new(c: PhotometryKeys) -> Result<Self, ConfigError> {
        Ok(T2RiseDeclineFit(c))
    }
}

fn line_json(l: &Line) -> Result<Value, UnitError> {
    Ok(json!({
        "slope": finite("slope", l.slope)?,
        "slope_err": finite("slope error", l.slope_err)?,
        "intercept": finite("intercept", l.intercept)?,
        "intercept_err": finite("intercept error", l.intercept_err)?,
        "chi2": finite("chi2", l.chi2)?,
        "ndof": l.n.saturating_sub(2),
        "n": l.n,
    }))
}

fn fit(points: &[&Point], t0: f64) -> Option<Line> {
    let usable: Vec<&&Point> = points
        .iter()
        .filter(|p| p.err.is_some_and(|e| e > 0.0))
        .collect();
    let x: Vec<f64> = usable.iter().map(|p| p.time - t0).collect();
    let y: Vec<f64> = usable.iter().map(|p| p.mag).collect();
    let s: Vec<f64> = usable.iter().map(|p| p.err.unwrap_or(1.0)).collect();
    wls_line(&x, &y, &s)
}

impl StateT2 for T2RiseDeclineFit {
    fn process(&self, _state: &T1Document, dps: &[DataPoint]) -> Result<UnitResult, UnitError> {
        let lc = LightCurve::new(dps, &self.0);
        let mut bands = Map::new();
        for band in lc.bands() {
            let pts: Vec<&Point> = lc.detections.iter().filter(|p| p.band == band).collect();
            let Some(peak) = pts
                .iter()
                .min_by(|a, b| a.mag.total_cmp(&b.mag).then(a.time.total_cmp(&b.time)))
            else {
                continue;
            };
            let t0 = peak.time;
            let rise: Vec<&Point> = pts.iter().filter(|p| p.time <= t0).copied().collect();
            let decline: Vec<&Point> = pts.iter().filter(|p| p.time >= t0).copied().collect();
            let (r, d) = (fit(&rise, t0), fit(&decline, t0));
            // where the rise and decline lines cross, if they make a peak
            let peak_fit = match (r, d) {
                (Some(r), Some(d)) if r.slope < 0.0 && d.slope > 0.0 => Some(finite(
                    "peak time",
                    t0 + (d.intercept - r.intercept) / (r.slope - d.slope),
                )?),
                _ => None,
            };
            bands.insert(
                band,
                json!({
                    "n": pts.len(),
                    "peak_jd": t0,
                    "peak_mag": peak.mag,
                    "rise": r.as_ref().map(line_json).transpose()?,
                    "decline": d.as_ref().map(line_json).transpose()?,
                    "peak_jd_fit": peak_fit,
                }),
            );
        }
        Ok(UnitResult {
            body: Some(json!({ "bands": bands })),
            ..Default::default()
        })
    }

    fn fields(&self) -> Option<std::collections::BTreeSet<String>> {
        Some(self.0.fields())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_line_and_known_errors() {
        let l = wls_line(&[0.0, 1.0, 2.0], &[1.0, 3.0, 5.0], &[1.0, 1.0, 1.0]).unwrap();
        assert!(
            (l.slope - 2.0).abs() < 1e-12 && (l.intercept - 1.0).abs() < 1e-12 && l.chi2 < 1e-20
        );
        // unit weights, x = 0,1,2: var(slope) = S / (S·Sxx − Sx²) = 3 / (3·5 − 9) = 0.5
        assert!((l.slope_err - 0.5f64.sqrt()).abs() < 1e-12);
        assert!(wls_line(&[1.0], &[1.0], &[1.0]).is_none());
        assert!(
            wls_line(&[1.0, 1.0], &[1.0, 2.0], &[1.0, 1.0]).is_none(),
            "no spread in time"
        );
    }
}
