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

#[cfg(test)]
mod tests {
    use super::*;

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
