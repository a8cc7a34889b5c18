//! Light-curve T2 units over ZTF-style photometry (field names configurable).
//!
//! - [`T2MagSummary`]: detections, first/last detection, peak magnitude per
//!   band, latest position, last upper limit;
//! - [`T2RiseDeclineFit`]: per band, weighted least squares of magnitude against time
//!   before and after the brightest point: slopes, errors, χ², peak time estimate;
//! - [`T2FastRiser`]: tied to the fit, flags significant fast rises.

mod fit;
mod lightcurve;
mod riser;
mod summary;

pub use fit::{wls_line, Line, T2RiseDeclineFit};
pub use lightcurve::{LightCurve, PhotometryKeys, Point};
pub use riser::{T2FastRiser, T2FastRiserConfig};
pub use summary::T2MagSummary;

use ampel_interface::{Registry, RegistryError};

/// Register every unit of this crate.
pub fn register(r: &mut Registry) -> Result<(), RegistryError> {
    r.state_t2::<T2MagSummary>()?;
    r.state_t2::<T2RiseDeclineFit>()?;
    r.tied_state_t2::<T2FastRiser>()?;
    Ok(())
}
