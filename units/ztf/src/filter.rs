//! `SimpleDecentFilter`: the general-purpose ZTF filter of Ampel-HU-astro, without
//! catalogue queries. In order: number of detections (`magpsf` set) and their time
//! span; required fields of the latest detection present; positive subtraction;
//! real-bogus (`rb`, `drb`); FWHM, elongation, |magdiff|; bad pixels (`max_nbad`,
//! which Python AMPEL declares but ignores); archive time span; distance to known
//! solar-system objects; galactic latitude; PS1 star veto; PS1 confusion.

use ampel_interface::serde_json::{Map, Value};
use ampel_interface::*;
use serde::{Deserialize, Serialize};

/// Config of [`SimpleDecentFilter`], with Ampel-HU-astro's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimpleDecentFilterConfig {
    /// Minimum number of detections.
    pub min_ndet: usize,
    /// Minimum detection time span [days].
    pub min_tspan: f64,
    /// Maximum detection time span [days].
    pub max_tspan: f64,
    /// Minimum archive time span (`jdendhist − jdstarthist`) [days], exclusive.
    pub min_archive_tspan: f64,
    /// Maximum archive time span [days], exclusive.
    pub max_archive_tspan: f64,
    /// Minimum real-bogus score.
    pub min_rb: f64,
    /// Minimum deep-learning real-bogus score (0 disables).
    pub min_drb: f64,
    /// Maximum FWHM [pix].
    pub max_fwhm: f64,
    /// Maximum elongation.
    pub max_elong: f64,
    /// Maximum |magap − magpsf| [mag].
    pub max_magdiff: f64,
    /// Maximum bad pixels in the 5×5 stamp (negative disables).
    pub max_nbad: i64,
    /// Minimum distance to the nearest solar-system object [arcsec].
    pub min_sso_dist: f64,
    /// Minimum |galactic latitude| [deg] (0 disables).
    pub min_gal_lat: f64,
    /// PS1 star veto radius [arcsec].
    pub ps1_sgveto_rad: f64,
    /// PS1 star veto star-galaxy score threshold.
    pub ps1_sgveto_th: f64,
    /// PS1 confusion radius [arcsec].
    pub ps1_confusion_rad: f64,
    /// PS1 confusion star-galaxy tolerance around 0.5.
    pub ps1_confusion_sg_tol: f64,
}

impl Default for SimpleDecentFilterConfig {
    fn default() -> Self {
        SimpleDecentFilterConfig {
            min_ndet: 2,
            min_tspan: 0.02,
            max_tspan: 25.0,
            min_archive_tspan: 0.0,
            max_archive_tspan: 1e5,
            min_rb: 0.3,
            min_drb: 0.0,
            max_fwhm: 5.0,
            max_elong: 1.4,
            max_magdiff: 0.4,
            max_nbad: 0,
            min_sso_dist: 20.0,
            min_gal_lat: 0.0,
            ps1_sgveto_rad: 2.0,
            ps1_sgveto_th: 0.8,
            ps1_confusion_rad: 1.0,
            ps1_confusion_sg_tol: 0.5,
        }
    }
}

impl UnitConfig for SimpleDecentFilterConfig {
    fn validate(&self) -> Vec<FieldProblem> {
        let mut p = Vec::new();
        if self.min_tspan > self.max_tspan {
            p.push(FieldProblem::new(
                "min_tspan",
                &self.min_tspan,
                format!("at most max_tspan ({})", self.max_tspan),
            ));
        }
        if self.min_archive_tspan > self.max_archive_tspan {
            p.push(FieldProblem::new(
                "min_archive_tspan",
                &self.min_archive_tspan,
                format!("at most max_archive_tspan ({})", self.max_archive_tspan),
            ));
        }
        for (name, v) in [("min_rb", self.min_rb), ("min_drb", self.min_drb)] {
            if !(0.0..=1.0).contains(&v) {
                p.push(FieldProblem::new(name, &v, "a score in [0, 1]"));
            }
        }
        p
    }
}

/// The filter.
pub struct SimpleDecentFilter(SimpleDecentFilterConfig);

impl Unit for SimpleDecentFilter {
    const NAME: &'static str = "SimpleDecentFilter";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SOURCE: &'static str = ampel_interface::crate_source!();
    type Config = SimpleDecentFilterConfig;
    fn new(c: SimpleDecentFilterConfig) -> Result<Self, ConfigError> {
        Ok(SimpleDecentFilter(c))
    }
}

/// Fields the latest detection must carry (non-null).
const REQUIRED: [&str; 15] = [
    "fwhm",
    "elong",
    "magdiff",
    "nbad",
    "distpsnr1",
    "sgscore1",
    "distpsnr2",
    "sgscore2",
    "distpsnr3",
    "sgscore3",
    "isdiffpos",
    "ra",
    "dec",
    "rb",
    "ssdistnr",
];

/// Galactic latitude [deg] of ICRS coordinates [deg] (Hipparcos ICRS→Galactic
/// rotation; agrees with astropy to about 10⁻⁵ deg).
pub fn galactic_latitude(ra: f64, dec: f64) -> f64 {
    let (ra, dec) = (ra.to_radians(), dec.to_radians());
    let (x, y, z) = (dec.cos() * ra.cos(), dec.cos() * ra.sin(), dec.sin());
    let zg =
        -0.867_666_149_019_004_7 * x - 0.198_076_373_431_201_5 * y + 0.455_983_776_175_066_9 * z;
    zg.clamp(-1.0, 1.0).asin().to_degrees()
}

fn num(m: &Map<String, Value>, k: &str) -> f64 {
    m.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN)
}

impl AlertFilter for SimpleDecentFilter {
    fn process(&self, alert: &AmpelAlert) -> Result<FilterDecision, UnitError> {
        let c = &self.0;
        let reject = Ok(FilterDecision::Reject(None));
        let det_jds: Vec<f64> = alert
            .datapoints
            .iter()
            .filter(|d| d.get("magpsf").is_some_and(|m| !m.is_null()))
            .filter_map(|d| d.get("jd").and_then(Value::as_f64))
            .collect();
        if det_jds.len() < c.min_ndet {
            return reject;
        }
        let span = det_jds.iter().cloned().fold(f64::MIN, f64::max)
            - det_jds.iter().cloned().fold(f64::MAX, f64::min);
        if !(c.min_tspan <= span && span <= c.max_tspan) {
            return reject;
        }
        let Some(Value::Object(l)) = alert.datapoints.first() else {
            return reject;
        };
        if REQUIRED
            .iter()
            .any(|k| l.get(*k).is_none_or(Value::is_null))
        {
            return reject;
        }
        if matches!(
            l.get("isdiffpos").and_then(Value::as_str),
            Some("f") | Some("0")
        ) {
            return reject;
        }
        if num(l, "rb") < c.min_rb {
            return reject;
        }
        if c.min_drb > 0.0
            && l.get("drb")
                .and_then(Value::as_f64)
                .is_some_and(|d| d < c.min_drb)
        {
            return reject;
        }
        if num(l, "fwhm") > c.max_fwhm
            || num(l, "elong") > c.max_elong
            || num(l, "magdiff").abs() > c.max_magdiff
        {
            return reject;
        }
        if c.max_nbad >= 0 && num(l, "nbad") > c.max_nbad as f64 {
            return reject;
        }
        if let (Some(end), Some(start)) = (
            l.get("jdendhist").and_then(Value::as_f64),
            l.get("jdstarthist").and_then(Value::as_f64),
        ) {
            let archive = end - start;
            if !(c.min_archive_tspan < archive && archive < c.max_archive_tspan) {
                return reject;
            }
        }
        let sso = num(l, "ssdistnr");
        if (0.0..c.min_sso_dist).contains(&sso) {
            return reject;
        }
        if galactic_latitude(num(l, "ra"), num(l, "dec")).abs() < c.min_gal_lat {
            return reject;
        }
        if num(l, "distpsnr1") < c.ps1_sgveto_rad && num(l, "sgscore1") > c.ps1_sgveto_th {
            return reject;
        }
        let very_close = ["distpsnr1", "distpsnr2", "distpsnr3"]
            .iter()
            .map(|k| num(l, k))
            .fold(f64::MIN, f64::max)
            < c.ps1_confusion_rad;
        let confused = ["sgscore1", "sgscore2", "sgscore3"]
            .iter()
            .map(|k| (num(l, k) - 0.5).abs())
            .fold(f64::MIN, f64::max)
            < c.ps1_confusion_sg_tol;
        if very_close && confused {
            return reject;
        }
        Ok(FilterDecision::Accept)
    }

    fn fields(&self) -> Option<std::collections::BTreeSet<String>> {
        let read = ["magpsf", "jd", "drb", "jdendhist", "jdstarthist"];
        Some(
            REQUIRED
                .iter()
                .chain(&read)
                .map(|k| k.to_string())
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn galactic_latitude_of_known_points() {
        // the north galactic pole and the galactic centre (J2000, IAU)
        assert!((galactic_latitude(192.859_48, 27.128_25) - 90.0).abs() < 1e-3);
        assert!(galactic_latitude(266.404_99, -28.936_17).abs() < 1e-3);
    }
}
