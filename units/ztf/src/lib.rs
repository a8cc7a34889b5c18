//! ZTF units, compatible with Python AMPEL's ampel-ztf: the same stock ids,
//! datapoint ids, upper-limit ids, tags and T1 links for the same alerts.
//!
//! - [`id`]: ZTF object name ↔ stock id ([`ZTFIdMapper`], an id-mapper unit);
//! - [`ZiAlertSupplier`]: packet → alert (candidate + prv_candidates, reduced upper limits);
//! - [`ZiDataPointShaper`]: alert → datapoints (ids, tags, bodies);
//! - [`SimpleDecentFilter`]: the catalogue-free DecentFilter, `max_nbad` applied;
//! - [`ZiMuxer`]: reprocessed photometry supersedes older datapoints (tagged, kept);
//! - [`ZiT1Combiner`]: programid-2 datapoints only for channels with ZTF_PRIV access;
//! - [`T2LightCurveSummary`]: ampel-ztf's state T2 of that name, ported (same
//!   config, same result keys).

mod combiner;
mod filter;
pub mod id;
mod muxer;
mod shaper;
mod summary;
mod supplier;

pub use combiner::{ZiT1Combiner, ZiT1CombinerConfig};
pub use filter::{galactic_latitude, SimpleDecentFilter, SimpleDecentFilterConfig};
pub use id::ZTFIdMapper;
pub use muxer::ZiMuxer;
pub use shaper::{upper_limit_id, ZiDataPointShaper};
pub use summary::{T2LightCurveSummary, T2LightCurveSummaryConfig};
pub use supplier::ZiAlertSupplier;

use ampel_interface::{Registry, RegistryError};

/// Register every unit of this crate.
pub fn register(r: &mut Registry) -> Result<(), RegistryError> {
    r.alert_supplier::<ZiAlertSupplier>()?;
    r.shaper::<ZiDataPointShaper>()?;
    r.alert_filter::<SimpleDecentFilter>()?;
    r.muxer::<ZiMuxer>()?;
    r.t1_combiner::<ZiT1Combiner>()?;
    r.id_mapper::<ZTFIdMapper>()?;
    r.state_t2::<T2LightCurveSummary>()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_inferred_by_the_generic_registration() {
        let mut by_kind = Registry::new();
        register(&mut by_kind).unwrap();
        let mut inferred = Registry::new();
        inferred
            .unit::<ZiAlertSupplier, _>()
            .unwrap()
            .unit::<ZiDataPointShaper, _>()
            .unwrap()
            .unit::<SimpleDecentFilter, _>()
            .unwrap()
            .unit::<ZiMuxer, _>()
            .unwrap()
            .unit::<ZiT1Combiner, _>()
            .unwrap()
            .unit::<ZTFIdMapper, _>()
            .unwrap()
            .unit::<T2LightCurveSummary, _>()
            .unwrap();
        let kinds = |r: &Registry| -> Vec<(String, &'static str)> {
            r.iter()
                .map(|u| (u.name().to_string(), u.kind().as_str()))
                .collect()
        };
        assert_eq!(kinds(&by_kind), kinds(&inferred));
    }
}
