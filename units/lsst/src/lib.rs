//! Rubin/LSST units.
//!
//! - [`LsstAlertSupplier`]: packet → alert; datapoints are the `diaSource`, then
//!   `prvDiaSources`, then `prvDiaForcedSources`; the stock is the `diaObjectId`, or
//!   the `ssObjectId` for solar-system sources (whose `diaObjectId` is 0 or null).
//! - [`LsstDataPointShaper`]: sources keep their `diaSourceId`; forced sources get
//!   `−diaForcedSourceId` (the id spaces are separate, so a sign keeps them apart,
//!   as ZTF upper limits are negative). Every body gains `jd` (`midpointMjdTai +
//!   2400000.5`) so time-based units work across surveys. Tags: `LSST`, `LSST_DP`
//!   or `LSST_FP`, and `LSST_<BAND>`.

mod shaper;
mod supplier;

pub use shaper::LsstDataPointShaper;
pub use supplier::LsstAlertSupplier;

use ampel_interface::{Registry, RegistryError};

/// Register every unit of this crate.
pub fn register(r: &mut Registry) -> Result<(), RegistryError> {
    r.alert_supplier::<LsstAlertSupplier>()?;
    r.shaper::<LsstDataPointShaper>()?;
    Ok(())
}
