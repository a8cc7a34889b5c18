//! Photometric conventions the units share, so that every survey's datapoints and
//! every unit's results use one definition: JD = MJD + 2,400,000.5, and AB
//! magnitudes of fluxes in nJy with the zero point 2.5 log10(3631e9) = 31.40007 (AB 0
//! is 3631 Jy; Rubin quotes it rounded as 31.4).

/// JD − MJD.
pub const MJD_TO_JD: f64 = 2_400_000.5;

/// AB zero point of a flux in nJy: 2.5 log10(3631e9).
pub const AB_ZERO_POINT_NJY: f64 = 31.400_065_622_282_23;

/// Magnitudes per unit of ln(flux), 2.5 / ln 10: also the magnitude error of a
/// relative flux error of 1.
pub const MAG_PER_LN_FLUX: f64 = 2.5 / std::f64::consts::LN_10;

/// The AB magnitude of a flux in nJy; `None` unless it is positive and finite.
pub fn ab_mag(flux_njy: f64) -> Option<f64> {
    (flux_njy > 0.0 && flux_njy.is_finite())
        .then(|| AB_ZERO_POINT_NJY - MAG_PER_LN_FLUX * flux_njy.ln())
}

/// The magnitude error of a flux `flux_njy` ± `err_njy`.
pub fn ab_mag_err(flux_njy: f64, err_njy: f64) -> f64 {
    MAG_PER_LN_FLUX * err_njy / flux_njy
}

/// The flux in nJy of an AB magnitude.
pub fn flux_njy(ab_mag: f64) -> f64 {
    10f64.powf(-0.4 * (ab_mag - AB_ZERO_POINT_NJY))
}

/// The flux error of a flux `flux_njy` whose magnitude has the error `mag_err`.
pub fn flux_err_njy(flux_njy: f64, mag_err: f64) -> f64 {
    flux_njy * mag_err / MAG_PER_LN_FLUX
}

/// The signal-to-noise ratio from which a flux is also shown or stored as a
/// magnitude: below it, the magnitude and its error say nothing (a forced
/// measurement at S/N 0.04 is "27.8 ± 27 mag").
pub const MIN_SNR_FOR_MAG: f64 = 3.0;

/// The AB magnitude and its error of a flux in nJy with an optional error: `None`
/// unless the flux is positive and, with an error, at least
/// [`MIN_SNR_FOR_MAG`] times it.
pub fn mag_of_flux(flux_njy: f64, err_njy: Option<f64>) -> Option<(f64, Option<f64>)> {
    if err_njy.is_some_and(|e| flux_njy < MIN_SNR_FOR_MAG * e) {
        return None;
    }
    ab_mag(flux_njy).map(|m| (m, err_njy.map(|e| ab_mag_err(flux_njy, e))))
}

/// A flux in a survey's unit, whose AB zero point is `zero_point` (the magnitude
/// of flux 1), in nJy.
pub fn to_njy(flux: f64, zero_point: f64) -> f64 {
    flux * 10f64.powf(0.4 * (AB_ZERO_POINT_NJY - zero_point))
}

/// The photometry keys of a datapoint of a survey read through a declarative
/// survey mapping (`ampel-units-survey`), beside the survey's own fields:
/// `survey` (its name), `jd`, `band` (a name), `kind` (`detection`, `forced` or
/// `limit`), `mag` and `mag_err` (AB), `flux` and `flux_err` (nJy), `maglim`
/// (limiting magnitude), `access` (the data-rights tag). The supplier writes them;
/// the light-curve views and the feature unit read them with [`survey_point`].
pub mod keys {
    /// The survey's name; its presence marks a mapped datapoint.
    pub const SURVEY: &str = "survey";
    /// Band name.
    pub const BAND: &str = "band";
    /// `detection`, `forced` or `limit`.
    pub const KIND: &str = "kind";
    /// AB magnitude.
    pub const MAG: &str = "mag";
    /// Its error.
    pub const MAG_ERR: &str = "mag_err";
    /// Flux, nJy.
    pub const FLUX: &str = "flux";
    /// Its error, nJy.
    pub const FLUX_ERR: &str = "flux_err";
    /// Limiting magnitude.
    pub const MAGLIM: &str = "maglim";
    /// Data-rights tag.
    pub const ACCESS: &str = "access";
}

/// A mapped survey's measurement, read from the [`keys`] of a datapoint body.
#[derive(Debug, Clone, PartialEq)]
pub struct SurveyPoint {
    /// The survey's name.
    pub survey: String,
    /// Julian date.
    pub jd: f64,
    /// Band name.
    pub band: String,
    /// `detection`, `forced` or `limit`.
    pub kind: String,
    /// AB magnitude and its error.
    pub mag: Option<(f64, Option<f64>)>,
    /// Flux in nJy and its error.
    pub flux: Option<(f64, Option<f64>)>,
    /// Limiting magnitude.
    pub maglim: Option<f64>,
    /// Data-rights tag.
    pub access: Option<String>,
}

/// The mapped-survey photometry of a datapoint body; `None` unless it has the
/// `survey` key and a time.
pub fn survey_point(body: &serde_json::Value) -> Option<SurveyPoint> {
    let s = |k: &str| body.get(k).and_then(serde_json::Value::as_str);
    let n = |k: &str| {
        body.get(k)
            .and_then(serde_json::Value::as_f64)
            .filter(|x| x.is_finite())
    };
    Some(SurveyPoint {
        survey: s(keys::SURVEY)?.to_string(),
        jd: n(crate::TIME_KEY)?,
        band: s(keys::BAND).unwrap_or("?").to_string(),
        kind: s(keys::KIND).unwrap_or("detection").to_string(),
        mag: n(keys::MAG).map(|m| (m, n(keys::MAG_ERR))),
        flux: n(keys::FLUX).map(|f| (f, n(keys::FLUX_ERR))),
        maglim: n(keys::MAGLIM),
        access: s(keys::ACCESS).map(String::from),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fluxcal_to_njy() {
        // SNANA's FLUXCAL (zero point 27.5): flux 1 is magnitude 27.5
        let f = to_njy(1.0, 27.5);
        assert!((ab_mag(f).unwrap() - 27.5).abs() < 1e-12);
        assert!((to_njy(5.0, AB_ZERO_POINT_NJY) - 5.0).abs() < 1e-12);
        assert_eq!(mag_of_flux(29.0, Some(10.0)), None, "S/N 2.9");
        assert_eq!(mag_of_flux(-5.0, None), None);
        let (m, e) = mag_of_flux(30.0, Some(10.0)).unwrap();
        assert!(
            (m - ab_mag(30.0).unwrap()).abs() < 1e-12
                && (e.unwrap() - ab_mag_err(30.0, 10.0)).abs() < 1e-12
        );
    }

    #[test]
    fn survey_points_need_the_survey_key_and_a_time() {
        let b = serde_json::json!({"survey": "ATLAS", "jd": 2460000.5, "band": "o", "mag": 18.0, "mag_err": 0.1});
        let p = survey_point(&b).unwrap();
        assert_eq!((p.band.as_str(), p.kind.as_str()), ("o", "detection"));
        assert_eq!(p.mag, Some((18.0, Some(0.1))));
        assert_eq!(
            survey_point(&serde_json::json!({"jd": 1.0, "mag": 18.0})),
            None
        );
    }

    #[test]
    fn ab_magnitudes_of_fluxes_in_nanojansky() {
        assert!(ab_mag(3631e9).unwrap().abs() < 1e-12, "3631 Jy is AB 0");
        // 3631 nJy is AB 22.5 (to the 5th digit: Rubin's rounded 31.4)
        assert!((ab_mag(3631.0).unwrap() - 22.5).abs() < 1e-4);
        assert_eq!(ab_mag(0.0), None);
        assert_eq!(ab_mag(-5.0), None);
        assert!((flux_njy(ab_mag(1234.5).unwrap()) - 1234.5).abs() < 1e-9);
        assert!((ab_mag_err(100.0, 10.0) - 0.1 * MAG_PER_LN_FLUX).abs() < 1e-15);
        assert!((flux_err_njy(100.0, ab_mag_err(100.0, 10.0)) - 10.0).abs() < 1e-12);
    }
}
