//! `T2LsstFluxSummary`: a Rubin light curve at a glance, in fluxes. Per band: the
//! detections (`diaSource`s) and forced measurements, the peak detection (highest
//! `psfFlux`) with its AB magnitude, and the latest detection; overall: counts,
//! first and last detection (MJD TAI), duration, the latest position and the best
//! `reliability`. Fluxes are Rubin's `psfFlux` / `psfFluxErr` in nJy; the AB
//! magnitude of a flux f in nJy is `ZP - 2.5 log10(f)` with ZP = 2.5 log10(3631e9)
//! = 31.40007 (AB 0 is 3631 Jy), only for positive fluxes. Detections with a null or
//! non-finite flux count as detections and are never a peak.

use ampel_interface::photometry::{ab_mag, MJD_TO_JD};
use ampel_interface::serde_json::Value;
use ampel_interface::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The result of [`T2LsstFluxSummary`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FluxSummary {
    /// Detections (`diaSource`s) in the state.
    pub num_detections: usize,
    /// Forced measurements (`diaForcedSource`s) in the state.
    pub num_forced: usize,
    /// MJD (TAI) of the first detection.
    pub first_detection_mjd: Option<f64>,
    /// MJD (TAI) of the last detection.
    pub last_detection_mjd: Option<f64>,
    /// Last minus first detection, days (0 for one).
    pub duration_days: Option<f64>,
    /// Right ascension of the latest detection, degrees.
    pub ra: Option<f64>,
    /// Declination of the latest detection, degrees.
    pub dec: Option<f64>,
    /// The highest `reliability` of the detections.
    pub max_reliability: Option<f64>,
    /// Per band (`u`, `g`, `r`, `i`, `z`, `y`).
    pub bands: BTreeMap<String, BandFlux>,
}

/// One band of a [`FluxSummary`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BandFlux {
    /// Detections in the band.
    pub num_detections: usize,
    /// Forced measurements in the band.
    pub num_forced: usize,
    /// The detection with the highest flux.
    pub peak: Option<FluxPoint>,
    /// AB magnitude of the peak flux (positive fluxes only).
    pub peak_mag: Option<f64>,
    /// The latest detection.
    pub latest: Option<FluxPoint>,
}

/// One measurement.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FluxPoint {
    /// MJD (TAI).
    pub mjd: f64,
    /// `psfFlux`, nJy.
    pub flux: f64,
    /// `psfFluxErr`, nJy.
    pub flux_err: Option<f64>,
    /// flux / flux_err.
    pub snr: Option<f64>,
}

/// The Rubin flux summary unit.
pub struct T2LsstFluxSummary;

impl Unit for T2LsstFluxSummary {
    const NAME: &'static str = "T2LsstFluxSummary";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SOURCE: &'static str = ampel_interface::crate_source!();
    type Config = NoConfig;
    fn new(_: NoConfig) -> Result<Self, ConfigError> {
        Ok(T2LsstFluxSummary)
    }
}

const FIELDS: &[&str] = &[
    "band",
    "psfFlux",
    "psfFluxErr",
    "midpointMjdTai",
    "ra",
    "dec",
    "reliability",
    TIME_KEY,
];

fn num(body: &Value, key: &str) -> Option<f64> {
    body.get(key)
        .and_then(Value::as_f64)
        .filter(|x| x.is_finite())
}

/// A datapoint's time (MJD TAI), band and flux point.
fn point(dp: &DataPoint) -> Option<(f64, String, Option<FluxPoint>)> {
    let mjd = num(&dp.body, "midpointMjdTai").or_else(|| dp.jd().map(|jd| jd - MJD_TO_JD))?;
    let band = dp.body.get("band").and_then(Value::as_str)?.to_string();
    let flux = num(&dp.body, "psfFlux").map(|flux| {
        let flux_err = num(&dp.body, "psfFluxErr");
        FluxPoint {
            mjd,
            flux,
            flux_err,
            snr: flux_err.filter(|e| *e > 0.0).map(|e| flux / e),
        }
    });
    Some((mjd, band, flux))
}

impl StateT2 for T2LsstFluxSummary {
    fn process(&self, _state: &T1Document, dps: &[DataPoint]) -> Result<UnitResult, UnitError> {
        let mut bands: BTreeMap<String, BandFlux> = BTreeMap::new();
        let mut detections: Vec<(f64, &DataPoint)> = Vec::new();
        let mut num_forced = 0;
        for dp in dps {
            let Some((mjd, band, flux)) = point(dp) else {
                continue;
            };
            let b = bands.entry(band).or_insert(BandFlux {
                num_detections: 0,
                num_forced: 0,
                peak: None,
                peak_mag: None,
                latest: None,
            });
            if dp.tag.contains("LSST_FP") {
                b.num_forced += 1;
                num_forced += 1;
                continue;
            }
            b.num_detections += 1;
            detections.push((mjd, dp));
            if let Some(p) = flux {
                if b.peak.is_none_or(|q| p.flux > q.flux) {
                    b.peak = Some(p);
                    b.peak_mag = ab_mag(p.flux);
                }
                if b.latest.is_none_or(|q| p.mjd >= q.mjd) {
                    b.latest = Some(p);
                }
            }
        }
        detections.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.id.cmp(&b.1.id)));
        let first = detections.first().map(|d| d.0);
        let last = detections.last().map(|d| d.0);
        let latest_pos = detections
            .iter()
            .rev()
            .find_map(|(_, d)| Some((num(&d.body, "ra")?, num(&d.body, "dec")?)));
        let summary = FluxSummary {
            num_detections: detections.len(),
            num_forced,
            first_detection_mjd: first,
            last_detection_mjd: last,
            duration_days: first.zip(last).map(|(f, l)| l - f),
            ra: latest_pos.map(|p| p.0),
            dec: latest_pos.map(|p| p.1),
            max_reliability: detections
                .iter()
                .filter_map(|(_, d)| num(&d.body, "reliability"))
                .reduce(f64::max),
            bands,
        };
        let body = ampel_interface::serde_json::to_value(&summary)
            .map_err(|e| UnitError::bad_result(format!("cannot encode the summary: {e}")))?;
        Ok(UnitResult::ok(body))
    }

    fn fields(&self) -> Option<BTreeSet<String>> {
        Some(FIELDS.iter().map(|f| f.to_string()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ampel_interface::serde_json::json;

    fn dp(id: DataPointId, kind: &str, body: Value) -> DataPoint {
        DataPoint::shaped(id, 1, ["LSST", kind], body)
    }

    #[test]
    fn peaks_latest_counts_and_magnitudes_per_band() {
        let state = T1Document {
            stock: 1,
            link: 1,
            dps: vec![],
            channel: Default::default(),
            tag: Default::default(),
            code: DocumentCode::OK,
            meta: vec![],
            body: vec![],
        };
        let dps = [
            dp(
                1,
                "LSST_DP",
                json!({"band": "g", "midpointMjdTai": 60000.0, "psfFlux": 3631.0, "psfFluxErr": 363.1, "ra": 1.0, "dec": 2.0, "reliability": 0.4}),
            ),
            dp(
                2,
                "LSST_DP",
                json!({"band": "g", "midpointMjdTai": 60002.5, "psfFlux": 1000.0, "psfFluxErr": 100.0, "ra": 1.5, "dec": 2.5, "reliability": 0.9}),
            ),
            dp(
                3,
                "LSST_DP",
                json!({"band": "r", "midpointMjdTai": 60001.0, "psfFlux": null, "psfFluxErr": null}),
            ),
            dp(
                -4,
                "LSST_FP",
                json!({"band": "g", "midpointMjdTai": 59990.0, "psfFlux": 99999.0, "psfFluxErr": 10.0}),
            ),
        ];
        let out = T2LsstFluxSummary.process(&state, &dps).unwrap();
        let body = out.body.unwrap();
        assert_eq!(body["num_detections"], 3);
        assert_eq!(body["num_forced"], 1);
        assert_eq!(body["first_detection_mjd"], 60000.0);
        assert_eq!(body["duration_days"], 2.5);
        assert_eq!(
            (body["ra"].as_f64(), body["dec"].as_f64()),
            (Some(1.5), Some(2.5))
        );
        assert_eq!(body["max_reliability"], 0.9);
        let g = &body["bands"]["g"];
        assert_eq!(g["num_detections"], 2);
        assert_eq!(g["num_forced"], 1, "forced points are never the peak");
        assert_eq!(g["peak"]["flux"], 3631.0);
        assert_eq!(g["peak"]["snr"], 10.0);
        // 3631 nJy is AB 22.5 (to the 5th digit: Rubin's "31.4" zero point)
        assert!((g["peak_mag"].as_f64().unwrap() - 22.5).abs() < 1e-4);
        assert_eq!(g["latest"]["mjd"], 60002.5);
        let r = &body["bands"]["r"];
        assert_eq!(r["num_detections"], 1);
        assert!(r["peak"].is_null() && r["peak_mag"].is_null());
    }
}
