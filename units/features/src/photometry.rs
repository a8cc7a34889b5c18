//! A state's photometry per band, in both magnitudes and fluxes, from ZTF or Rubin
//! datapoints. Times are MJD; fluxes nJy; magnitudes AB.
//!
//! - ZTF detections (positive ids with `magpsf`, `sigmapsf`, `fid`, `jd`; bands
//!   `g`, `r`, `i` for fid 1, 2, 3): flux = 10^(-0.4 (magpsf - ZP)), flux error =
//!   flux · ln(10)/2.5 · sigmapsf, with ZP = 2.5 log10(3631e9) = 31.40007 (AB 0 is
//!   3631 Jy). Upper limits (negative ids) are left out.
//! - Rubin sources and forced sources (`psfFlux`, `psfFluxErr`, `band`,
//!   `midpointMjdTai`): fluxes as they are; magnitude = ZP − 2.5 log10(flux) and
//!   its error 2.5/ln(10) · err/flux, for positive fluxes only.
//!
//! - Mapped surveys (`photometry::keys`, written by the survey supplier): the
//!   magnitude and the nJy flux they carry, detections and forced photometry.
//!
//! A point needs a finite value and a positive finite error. Within a band points
//! are sorted by time; of points at the same time the one with the smallest error
//! is kept (the feature extractors need increasing times).

use ampel_interface::photometry::{ab_mag, ab_mag_err, flux_err_njy, flux_njy, MJD_TO_JD};
use ampel_interface::photometry::{keys, survey_point};
use ampel_interface::serde_json::Value;
use ampel_interface::DataPoint;
use std::collections::BTreeMap;

/// One series (time, value, error), sorted by time, times distinct.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// MJD.
    pub t: Vec<f64>,
    /// Value.
    pub v: Vec<f64>,
    /// Error (positive).
    pub e: Vec<f64>,
}

impl Series {
    fn from_points(mut points: Vec<(f64, f64, f64)>) -> Series {
        points.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.2.total_cmp(&b.2)));
        points.dedup_by(|later, kept| later.0 == kept.0);
        let mut s = Series::default();
        for (t, v, e) in points {
            s.t.push(t);
            s.v.push(v);
            s.e.push(e);
        }
        s
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.t.len()
    }

    /// No points.
    pub fn is_empty(&self) -> bool {
        self.t.is_empty()
    }

    /// Weights: inverse squared errors.
    pub fn weights(&self) -> Vec<f64> {
        self.e.iter().map(|e| 1.0 / (e * e)).collect()
    }
}

/// One band's photometry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Band {
    /// AB magnitudes.
    pub mag: Series,
    /// Fluxes, nJy.
    pub flux: Series,
}

fn num(body: &Value, key: &str) -> Option<f64> {
    body.get(key)
        .and_then(Value::as_f64)
        .filter(|x| x.is_finite())
}

fn good(value: f64, err: f64) -> bool {
    value.is_finite() && err.is_finite() && err > 0.0
}

/// The points of one datapoint: (band, MJD, magnitude point, flux point).
type Point = (String, f64, Option<(f64, f64)>, Option<(f64, f64)>);

fn ztf(dp: &DataPoint) -> Option<Point> {
    if dp.id <= 0 {
        return None;
    }
    let b = &dp.body;
    let (mag, sigma) = (num(b, "magpsf")?, num(b, "sigmapsf")?);
    let band = match b.get("fid").and_then(Value::as_i64)? {
        1 => "g",
        2 => "r",
        3 => "i",
        _ => return None,
    };
    let flux = flux_njy(mag);
    let flux_err = flux_err_njy(flux, sigma);
    Some((
        band.to_string(),
        num(b, "jd")? - MJD_TO_JD,
        good(mag, sigma).then_some((mag, sigma)),
        good(flux, flux_err).then_some((flux, flux_err)),
    ))
}

fn rubin(dp: &DataPoint) -> Option<Point> {
    let b = &dp.body;
    let (flux, err) = (num(b, "psfFlux")?, num(b, "psfFluxErr")?);
    let band = b.get("band").and_then(Value::as_str)?.to_string();
    let mag = ab_mag(flux).map(|m| (m, ab_mag_err(flux, err)));
    Some((
        band,
        num(b, "midpointMjdTai")?,
        mag.filter(|(m, e)| good(*m, *e)),
        good(flux, err).then_some((flux, err)),
    ))
}

/// A mapped survey's datapoint (`photometry::keys`): detections and forced
/// photometry with a magnitude or a flux; upper limits are left out.
fn mapped(dp: &DataPoint) -> Option<Point> {
    let s = survey_point(&dp.body)?;
    if s.kind == "limit" {
        return None;
    }
    let pair = |p: Option<(f64, Option<f64>)>| match p {
        Some((v, Some(e))) if good(v, e) => Some((v, e)),
        _ => None,
    };
    Some((s.band, s.jd - MJD_TO_JD, pair(s.mag), pair(s.flux)))
}

/// The photometry of a state's datapoints per band (ZTF, Rubin or a mapped
/// survey, by each datapoint's fields).
pub fn bands(dps: &[DataPoint]) -> BTreeMap<String, Band> {
    // per band: magnitude points, flux points (time, value, error)
    type Points = Vec<(f64, f64, f64)>;
    let mut points: BTreeMap<String, (Points, Points)> = BTreeMap::new();
    for dp in dps {
        let p = if dp.body.get(keys::SURVEY).is_some() {
            mapped(dp)
        } else if dp.body.get("psfFlux").is_some() {
            rubin(dp)
        } else {
            ztf(dp)
        };
        let Some((band, t, mag, flux)) = p else {
            continue;
        };
        let entry = points.entry(band).or_default();
        if let Some((m, e)) = mag {
            entry.0.push((t, m, e));
        }
        if let Some((f, e)) = flux {
            entry.1.push((t, f, e));
        }
    }
    points
        .into_iter()
        .map(|(band, (mag, flux))| {
            (
                band,
                Band {
                    mag: Series::from_points(mag),
                    flux: Series::from_points(flux),
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ampel_interface::serde_json::json;

    fn dp(id: i64, body: Value) -> DataPoint {
        DataPoint::shaped(id, 1, Vec::<String>::new(), body)
    }

    #[test]
    fn mapped_surveys_by_their_shared_keys_without_limits() {
        let dps = [
            dp(
                7,
                json!({"survey": "WINTER", "jd": 2460400.5, "band": "J", "kind": "detection",
                    "mag": 16.0, "mag_err": 0.05, "flux": 1.45e6, "flux_err": 6.7e4}),
            ),
            dp(
                -8,
                json!({"survey": "WINTER", "jd": 2460401.5, "band": "J", "kind": "limit", "maglim": 18.0}),
            ),
            dp(
                -9,
                json!({"survey": "WINTER", "jd": 2460402.5, "band": "J", "kind": "forced",
                    "flux": -10.0, "flux_err": 20.0}),
            ),
        ];
        let b = &bands(&dps)["J"];
        assert_eq!(b.mag.t, vec![60400.0]);
        assert_eq!(
            b.flux.t,
            vec![60400.0, 60402.0],
            "a negative forced flux counts"
        );
        assert_eq!(b.flux.v, vec![1.45e6, -10.0]);
    }

    #[test]
    fn ztf_magnitudes_become_fluxes_and_rubin_fluxes_magnitudes() {
        let dps = [
            dp(
                2,
                json!({"fid": 1, "jd": 2460000.5, "magpsf": 22.5, "sigmapsf": 0.1}),
            ),
            dp(
                1,
                json!({"fid": 1, "jd": 2459999.5, "magpsf": 20.0, "sigmapsf": 0.05}),
            ),
            // same time, larger error: dropped
            dp(
                3,
                json!({"fid": 1, "jd": 2460000.5, "magpsf": 22.6, "sigmapsf": 0.3}),
            ),
            dp(-4, json!({"fid": 1, "jd": 2460001.5, "diffmaglim": 20.5})),
            dp(
                5,
                json!({"band": "r", "midpointMjdTai": 60100.0, "psfFlux": 3631.0, "psfFluxErr": 36.31}),
            ),
            dp(
                -6,
                json!({"band": "r", "midpointMjdTai": 60099.0, "psfFlux": -10.0, "psfFluxErr": 5.0}),
            ),
        ];
        let b = bands(&dps);
        let g = &b["g"];
        assert_eq!(g.mag.t, vec![59999.0, 60000.0]);
        assert_eq!(g.mag.v, vec![20.0, 22.5]);
        // AB 22.5 is 3631 nJy (to Rubin's rounded zero point)
        assert!((g.flux.v[1] - 3631.0).abs() / 3631.0 < 1e-4);
        assert!(
            (g.flux.e[1] / g.flux.v[1] - 0.1 / ampel_interface::photometry::MAG_PER_LN_FLUX).abs()
                < 1e-12
        );
        let r = &b["r"];
        assert_eq!(
            r.flux.t,
            vec![60099.0, 60100.0],
            "negative fluxes are fluxes"
        );
        assert_eq!(r.mag.t, vec![60100.0], "but have no magnitude");
        assert!((r.mag.v[0] - 22.5).abs() < 1e-4);
        assert!((r.mag.e[0] - 0.01 * ampel_interface::photometry::MAG_PER_LN_FLUX).abs() < 1e-12);
    }
}
