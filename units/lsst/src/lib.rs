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
//! - [`LsstMuxer`]: the alert's datapoints with the object's stored ones, up to
//!   the alert's time (packets without history still give whole light curves).
//! - [`LsstT1Combiner`]: a state is the channel's sources and forced sources, in
//!   time order.
//! - [`T2LsstFluxSummary`]: per band, detections, forced measurements, the peak
//!   and latest detection in nJy with the peak's AB magnitude.

mod combiner;
mod flux;
mod muxer;
mod shaper;
mod supplier;

pub use combiner::{LsstT1Combiner, LsstT1CombinerConfig};
pub use flux::{BandFlux, FluxPoint, FluxSummary, T2LsstFluxSummary};
pub use muxer::LsstMuxer;
pub use shaper::LsstDataPointShaper;
pub use supplier::LsstAlertSupplier;

use ampel_interface::{Registry, RegistryError};

/// Register every unit of this crate.
pub fn register(r: &mut Registry) -> Result<(), RegistryError> {
    r.alert_supplier::<LsstAlertSupplier>()?;
    r.shaper::<LsstDataPointShaper>()?;
    r.muxer::<LsstMuxer>()?;
    r.t1_combiner::<LsstT1Combiner>()?;
    r.state_t2::<T2LsstFluxSummary>()?;
    Ok(())
}
