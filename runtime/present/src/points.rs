//! A light curve as people read it, from stored datapoints of any survey: MJD and
//! UTC date, band names (`g`, `r`, `i` for ZTF's `fid` 1, 2, 3; Rubin's `band`),
//! magnitude and flux with errors, upper limits, the data rights (access tags) and
//! the quality scores. The report, its object pages and `ampel view` show this.
//!
//! ZTF: detections give `magpsf` ± `sigmapsf` (AB) and the flux in nJy it stands
//! for; upper limits `diffmaglim`. Rubin: `psfFlux` ± `psfFluxErr` in nJy and, at
//! S/N >= 3, the AB magnitude; forced photometry (negative ids) is marked.
//! Surveys read through a survey mapping: the shared photometry keys
//! (`photometry::keys`: band name, AB magnitude, nJy flux, limit, kind, access).

use ampel_interface::photometry::{flux_err_njy, flux_njy, mag_of_flux, MJD_TO_JD};
use ampel_interface::photometry::{survey_point, SurveyPoint};
use ampel_interface::serde_json::Value;
use ampel_interface::DataPoint;
use serde::Serialize;

/// One measurement of a light curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LcPoint {
    /// Datapoint id.
    pub id: i64,
    /// Modified Julian date (UTC for ZTF, TAI for Rubin, as the survey gives it).
    pub mjd: f64,
    /// The date, `YYYY-MM-DD hh:mm:ss` (UTC).
    pub date: String,
    /// Band name (`g`, `r`, `i`, `u`, `z`, `y`) or the survey's code.
    pub band: String,
    /// AB magnitude (a detection) or limiting magnitude (an upper limit).
    pub mag: Option<f64>,
    /// Its error.
    pub mag_err: Option<f64>,
    /// Flux in nJy.
    pub flux: Option<f64>,
    /// Its error.
    pub flux_err: Option<f64>,
    /// Not a detection: a limiting magnitude.
    pub upper_limit: bool,
    /// Forced photometry (Rubin `diaForcedSource`).
    pub forced: bool,
    /// Access tags (`ZTF_PUB`, `ZTF_PRIV`, `LSST`, ...): the data rights.
    pub access: Vec<String>,
    /// ZTF `rb`, Rubin `reliability`.
    pub rb: Option<f64>,
    /// ZTF `drb`.
    pub drb: Option<f64>,
}

impl LcPoint {
    /// `detection`, `upper limit` or `forced`.
    pub fn kind(&self) -> &'static str {
        if self.upper_limit {
            "upper limit"
        } else if self.forced {
            "forced"
        } else {
            "detection"
        }
    }
}

/// The band name of a datapoint body.
pub fn band_name(body: &Value) -> String {
    match body.get("band").or_else(|| body.get("fid")) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(1) => "g".into(),
            Some(2) => "r".into(),
            Some(3) => "i".into(),
            _ => n.to_string(),
        },
        _ => "?".into(),
    }
}

/// `YYYY-MM-DD hh:mm:ss` of an MJD (proleptic Gregorian calendar, no leap seconds).
pub fn utc_date(mjd: f64) -> String {
    if !mjd.is_finite() || mjd.abs() > 1e7 {
        return "-".into();
    }
    let secs = ((mjd - 40_587.0) * 86_400.0).round() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // days since 1970-01-01 to a civil date (H. Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// `YYYY-MM-DD hh:mm:ss` (UTC) of a Unix time in seconds (document and run times).
pub fn unix_date(ts: f64) -> String {
    utc_date(ts / 86_400.0 + 40_587.0)
}

fn num(body: &Value, key: &str) -> Option<f64> {
    body.get(key)
        .and_then(Value::as_f64)
        .filter(|x| x.is_finite())
}

/// A datapoint of a mapped survey (see `photometry::keys`).
fn survey(dp: &DataPoint, s: SurveyPoint) -> LcPoint {
    let mjd = s.jd - MJD_TO_JD;
    let upper_limit = s.kind == "limit";
    let (mag, mag_err) = match (s.mag, s.maglim) {
        (Some((m, e)), _) if !upper_limit => (Some(m), e),
        (_, Some(l)) => (Some(l), None),
        (m, None) => (m.map(|m| m.0), m.and_then(|m| m.1)),
    };
    LcPoint {
        id: dp.id,
        mjd,
        date: utc_date(mjd),
        band: s.band,
        mag,
        mag_err,
        flux: s.flux.map(|f| f.0).filter(|_| !upper_limit),
        flux_err: s.flux.and_then(|f| f.1).filter(|_| !upper_limit),
        upper_limit,
        forced: s.kind == "forced",
        access: s.access.into_iter().collect(),
        rb: None,
        drb: None,
    }
}

/// One datapoint as a light-curve point; `None` without a time.
pub fn point(dp: &DataPoint) -> Option<LcPoint> {
    let b = &dp.body;
    if let Some(s) = survey_point(b) {
        return Some(survey(dp, s));
    }
    let mjd = num(b, "midpointMjdTai").or_else(|| num(b, "jd").map(|jd| jd - MJD_TO_JD))?;
    let access = dp
        .tag
        .iter()
        .filter(|t| {
            t.ends_with("_PUB") || t.ends_with("_PRIV") || t.ends_with("_COLLAB") || *t == "LSST"
        })
        .cloned()
        .collect();
    let mut p = LcPoint {
        id: dp.id,
        mjd,
        date: utc_date(mjd),
        band: band_name(b),
        mag: None,
        mag_err: None,
        flux: None,
        flux_err: None,
        upper_limit: false,
        forced: false,
        access,
        rb: num(b, "rb").or_else(|| num(b, "reliability")),
        drb: num(b, "drb"),
    };
    if let Some(flux) = num(b, "psfFlux") {
        let err = num(b, "psfFluxErr");
        p.flux = Some(flux);
        p.flux_err = err;
        let mag = mag_of_flux(flux, err);
        p.mag = mag.map(|m| m.0);
        p.mag_err = mag.and_then(|m| m.1);
        p.forced = dp.id < 0;
    } else if let Some(mag) = num(b, "magpsf") {
        let err = num(b, "sigmapsf");
        p.mag = Some(mag);
        p.mag_err = err;
        let flux = flux_njy(mag);
        p.flux = Some(flux);
        p.flux_err = err.map(|e| flux_err_njy(flux, e));
    } else if let Some(lim) = num(b, "diffmaglim") {
        p.mag = Some(lim);
        p.upper_limit = true;
    } else {
        return None;
    }
    Some(p)
}

/// The light curve of datapoints, in time order (ties by id).
pub fn light_curve(dps: &[DataPoint]) -> Vec<LcPoint> {
    let mut pts: Vec<LcPoint> = dps.iter().filter_map(point).collect();
    pts.sort_by(|a, b| a.mjd.total_cmp(&b.mjd).then(a.id.cmp(&b.id)));
    pts
}

#[cfg(test)]
mod tests {
    use super::*;
    use ampel_interface::serde_json::json;

    #[test]
    fn dates_of_known_mjds() {
        assert_eq!(utc_date(40_587.0), "1970-01-01 00:00:00");
        assert_eq!(utc_date(51_544.5), "2000-01-01 12:00:00");
        // ZTF candidate jd 2458850.0781134 (2020-01-01)
        assert_eq!(
            utc_date(2_458_850.078_113_4 - MJD_TO_JD),
            "2020-01-01 13:52:29"
        );
        assert_eq!(utc_date(60_676.0), "2025-01-01 00:00:00");
        assert_eq!(utc_date(15_020.0), "1900-01-01 00:00:00");
        assert_eq!(utc_date(f64::NAN), "-");
        assert_eq!(unix_date(1_577_836_800.0), "2020-01-01 00:00:00");
    }

    #[test]
    fn mapped_survey_points_limits_and_rights() {
        let det = DataPoint::shaped(
            11,
            1,
            ["ATLAS"],
            json!({"survey": "ATLAS", "jd": 2460300.5, "band": "o", "kind": "detection",
                "mag": 18.0, "mag_err": 0.05, "flux": 230000.0, "access": "ATLAS"}),
        );
        let p = point(&det).unwrap();
        assert_eq!(
            (p.band.as_str(), p.mjd, p.mag, p.mag_err),
            ("o", 60300.0, Some(18.0), Some(0.05))
        );
        assert_eq!(
            (p.access, p.forced, p.upper_limit),
            (vec!["ATLAS".to_string()], false, false)
        );
        let lim = DataPoint::shaped(
            -12,
            1,
            ["DECAM"],
            json!({"survey": "DECam", "jd": 2460301.5, "band": "g", "kind": "limit", "maglim": 23.2}),
        );
        let p = point(&lim).unwrap();
        assert_eq!((p.mag, p.upper_limit, p.flux), (Some(23.2), true, None));
    }

    #[test]
    fn ztf_and_rubin_points() {
        let ztf = DataPoint::shaped(
            5,
            1,
            ["ZTF", "ZTF_PUB"],
            json!({"jd": 2458850.5, "fid": 2, "magpsf": 18.0, "sigmapsf": 0.1, "rb": 0.7, "drb": 0.99}),
        );
        let p = point(&ztf).unwrap();
        assert_eq!((p.band.as_str(), p.mjd, p.mag), ("r", 58850.0, Some(18.0)));
        assert!((p.flux.unwrap() - 3631e9 * 10f64.powf(-7.2)).abs() < 1e-6);
        assert_eq!((p.rb, p.drb, p.upper_limit), (Some(0.7), Some(0.99), false));
        let ul = DataPoint::shaped(
            -5,
            1,
            ["ZTF_PRIV"],
            json!({"jd": 2458850.5, "fid": 1, "diffmaglim": 20.5}),
        );
        let p = point(&ul).unwrap();
        assert_eq!(
            (p.band.as_str(), p.mag, p.upper_limit),
            ("g", Some(20.5), true)
        );
        assert_eq!(p.access, ["ZTF_PRIV"]);
        let rubin = DataPoint::shaped(
            -7,
            2,
            ["LSST"],
            json!({"midpointMjdTai": 60800.25, "band": "i", "psfFlux": -50.0, "psfFluxErr": 10.0}),
        );
        let p = point(&rubin).unwrap();
        assert_eq!((p.mag, p.flux, p.forced), (None, Some(-50.0), true));
        let faint = DataPoint::shaped(
            -8,
            2,
            ["LSST"],
            json!({"midpointMjdTai": 60800.25, "band": "i", "psfFlux": 29.0, "psfFluxErr": 10.0}),
        );
        assert_eq!(point(&faint).unwrap().mag, None, "S/N 2.9: no magnitude");
        assert!(point(&DataPoint::shaped(1, 1, ["ZTF"], json!({"fid": 1}))).is_none());
    }
}
