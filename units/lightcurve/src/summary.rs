//! `T2MagSummary`: what a light curve looks like at a glance.

use crate::lightcurve::{LightCurve, PhotometryKeys};
use ampel_interface::serde_json::{json, Map, Value};
use ampel_interface::*;

/// The summary unit.
pub struct T2MagSummary(PhotometryKeys);

impl Unit for T2MagSummary {
    const NAME: &'static str = "T2MagSummary";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SOURCE: &'static str = ampel_interface::crate_source!();
    type Config = PhotometryKeys;
    fn new(c: PhotometryKeys) -> Result<Self, ConfigError> {
        Ok(T2MagSummary(c))
    }
}

impl StateT2 for T2MagSummary {
    fn process(&self, _state: &T1Document, dps: &[DataPoint]) -> Result<UnitResult, UnitError> {
        let lc = LightCurve::new(dps, &self.0);
        let (Some(first), Some(last)) = (lc.detections.first(), lc.detections.last()) else {
            return Ok(UnitResult {
                body: Some(json!({ "ndet": 0 })),
                ..Default::default()
            });
        };
        let mut peak = Map::new();
        for band in lc.bands() {
            let best = lc
                .detections
                .iter()
                .filter(|p| p.band == band)
                .min_by(|a, b| a.mag.total_cmp(&b.mag).then(a.time.total_cmp(&b.time)));
            if let Some(p) = best {
                peak.insert(band, json!({ "mag": p.mag, "jd": p.time, "id": p.id }));
            }
        }
        let latest_pos = lc.detections.iter().rev().find_map(|p| p.pos);
        let last_ul = lc.upper_limits.iter().rfind(|u| u.time < last.time);
        let mut body = json!({
            "ndet": lc.detections.len(),
            "nul": lc.upper_limits.len(),
            "first_detection": { "jd": first.time, "mag": first.mag, "band": first.band },
            "last_detection": { "jd": last.time, "mag": last.mag, "band": last.band },
            "duration": last.time - first.time,
            "peak": peak,
        });
        if let Some((ra, dec)) = latest_pos {
            body["ra"] = json!(ra);
            body["dec"] = json!(dec);
        }
        if let Some(u) = last_ul {
            body["last_upper_limit"] = json!({ "jd": u.time, "mag": u.mag, "band": u.band });
        }
        Ok(UnitResult {
            body: Some(body),
            ..Default::default()
        })
    }

    fn fields(&self) -> Option<std::collections::BTreeSet<String>> {
        Some(self.0.fields())
    }
}

/// Finite-number check shared by the units of this crate.
pub(crate) fn finite(name: &str, x: f64) -> Result<Value, UnitError> {
    if x.is_finite() {
        Ok(json!(x))
    } else {
        Err(UnitError::bad_result(format!(
            "computed a non-finite {name} ({x})"
        )))
    }
}
