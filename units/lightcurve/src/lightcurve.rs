//! Photometry extracted from datapoints: detections (id > 0 with a magnitude) and
//! upper limits (id < 0 with a limiting magnitude), by band, time-ordered.

use ampel_interface::serde_json::Value;
use ampel_interface::{DataPoint, FieldProblem, UnitConfig};
use serde::{Deserialize, Serialize};

/// Which body fields hold time, magnitude, error, band, limit and position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PhotometryKeys {
    /// Time (Julian date).
    pub time: String,
    /// Magnitude of a detection.
    pub mag: String,
    /// Magnitude error.
    pub mag_err: String,
    /// Band.
    pub band: String,
    /// Limiting magnitude of an upper limit.
    pub limit: String,
    /// Right ascension [deg].
    pub ra: String,
    /// Declination [deg].
    pub dec: String,
}

impl Default for PhotometryKeys {
    fn default() -> Self {
        PhotometryKeys {
            time: "jd".into(),
            mag: "magpsf".into(),
            mag_err: "sigmapsf".into(),
            band: "fid".into(),
            limit: "diffmaglim".into(),
            ra: "ra".into(),
            dec: "dec".into(),
        }
    }
}

impl PhotometryKeys {
    /// The body fields named: what a unit reading photometry needs of a datapoint.
    pub fn fields(&self) -> std::collections::BTreeSet<String> {
        [
            &self.time,
            &self.mag,
            &self.mag_err,
            &self.band,
            &self.limit,
            &self.ra,
            &self.dec,
        ]
        .into_iter()
        .cloned()
        .collect()
    }
}

impl UnitConfig for PhotometryKeys {
    fn validate(&self) -> Vec<FieldProblem> {
        [
            ("time", &self.time),
            ("mag", &self.mag),
            ("mag_err", &self.mag_err),
            ("band", &self.band),
        ]
        .iter()
        .filter(|(_, v)| v.is_empty())
        .map(|(k, v)| FieldProblem::new(*k, v, "a body field name"))
        .collect()
    }
}

/// One photometric point.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Datapoint id.
    pub id: i64,
    /// Time.
    pub time: f64,
    /// Magnitude (detections) or limiting magnitude (upper limits).
    pub mag: f64,
    /// Magnitude error (detections).
    pub err: Option<f64>,
    /// Band, as text (`1`, `g`, ...).
    pub band: String,
    /// Position (detections).
    pub pos: Option<(f64, f64)>,
}

/// A light curve: detections and upper limits, each time-ordered.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LightCurve {
    /// Detections.
    pub detections: Vec<Point>,
    /// Upper limits.
    pub upper_limits: Vec<Point>,
}

fn band_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "?".into(),
    }
}

impl LightCurve {
    /// Extract from datapoints (points without time or magnitude are skipped).
    pub fn new(dps: &[DataPoint], keys: &PhotometryKeys) -> Self {
        let num = |dp: &DataPoint, k: &str| dp.body.get(k).and_then(Value::as_f64);
        let mut lc = LightCurve::default();
        for dp in dps {
            let Some(time) = num(dp, &keys.time) else {
                continue;
            };
            let band = band_text(dp.body.get(&keys.band));
            if dp.id > 0 {
                if let Some(mag) = num(dp, &keys.mag) {
                    let pos = num(dp, &keys.ra).zip(num(dp, &keys.dec));
                    lc.detections.push(Point {
                        id: dp.id,
                        time,
                        mag,
                        err: num(dp, &keys.mag_err),
                        band,
                        pos,
                    });
                }
            } else if let Some(mag) = num(dp, &keys.limit) {
                lc.upper_limits.push(Point {
                    id: dp.id,
                    time,
                    mag,
                    err: None,
                    band,
                    pos: None,
                });
            }
        }
        let by_time = |a: &Point, b: &Point| a.time.total_cmp(&b.time).then(a.id.cmp(&b.id));
        lc.detections.sort_by(by_time);
        lc.upper_limits.sort_by(by_time);
        lc
    }

    /// Bands with detections, sorted.
    pub fn bands(&self) -> Vec<String> {
        let mut b: Vec<String> = self.detections.iter().map(|p| p.band.clone()).collect();
        b.sort();
        b.dedup();
        b
    }
}
