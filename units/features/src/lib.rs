//! Light-curve features and parametric fits with the field's own library,
//! `light-curve-feature` (the extractor behind the `light-curve` Python package used
//! by Fink, ANTARES and SNAD).
//!
//! **License: GPL-3.0-or-later**, as `light-curve-feature` is: this crate is kept
//! apart from the other unit crates (BSD-3-Clause) so that an instance is GPL only
//! when its manifest includes it; the image's SBOM and `ampel image inspect` say so.
//!
//! - [`T2LcFeatures`]: per band, the standard features on AB magnitudes and the
//!   Bazin and Villar fits on fluxes in nJy, for ZTF (magnitudes converted to fluxes
//!   with the AB zero point, `ampel_interface::photometry`) and Rubin (fluxes as
//!   they are).

mod photometry;
mod unit;

pub use photometry::{bands, Band, Series};
pub use unit::{BandFeatures, LcFeatures, T2LcFeatures, T2LcFeaturesConfig, DEFAULT_FEATURES};

use ampel_interface::{Registry, RegistryError};

/// Register every unit of this crate.
pub fn register(r: &mut Registry) -> Result<(), RegistryError> {
    r.state_t2::<T2LcFeatures>()?;
    Ok(())
}
