//! Surveys without their own crate, read through a declarative survey mapping.
//!
//! - [`SurveyMapping`] (`mapping`): a survey's packet field by field, in TOML; the
//!   shipped ones (`mappings/`): `atlas` (ATLAS, ALeRCE's `atlas` schema 0.1),
//!   `decam-desirt` (DECam, the DESIRT stream), `elasticc-v0_9` (simulated LSST,
//!   ELAsTiCC's `elasticc.v0_9`) and `winter` (WINTER, mirar's `winter.alert`).
//! - [`SurveyAlertSupplier`]: packet → alert through the first mapping the packet
//!   fits; otherwise refused, naming the survey or schema it looks like (`detect`).
//! - [`SurveyDataPointShaper`]: ids and tags of the supplied datapoints.
//! - [`SurveyT1Combiner`]: states of the channel's rights, in time order.
//! - [`SurveyIdMapper`]: object names to stock ids (`WNTR24aaaab` → the stock id
//!   the supplier gives it), so commands take the survey's names.

mod combiner;
pub mod detect;
pub mod mapping;
mod shaper;
mod supplier;

pub use combiner::{SurveyT1Combiner, SurveyT1CombinerConfig};
pub use mapping::SurveyMapping;
pub use shaper::SurveyDataPointShaper;
pub use supplier::{stock_of_name, SurveyAlertSupplier, SurveyAlertSupplierConfig};

use ampel_interface::{Registry, RegistryError, StockId};

/// Object names of mapped surveys → stock ids ([`stock_of_name`]). Numbers are
/// stock ids already, and names starting `ZTF` are left to the ZTF id mapper (so
/// a mistyped ZTF name is refused, not hashed); stock ids do not give names back
/// (they are hashes). Any other name maps, so a mistyped one gives a stock that is
/// not in the store ("not found"), not an error.
pub struct SurveyIdMapper;

impl ampel_interface::Unit for SurveyIdMapper {
    const NAME: &'static str = "SurveyIdMapper";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SOURCE: &'static str = ampel_interface::crate_source!();
    type Config = ampel_interface::NoConfig;
    fn new(_: ampel_interface::NoConfig) -> Result<Self, ampel_interface::ConfigError> {
        Ok(SurveyIdMapper)
    }
}

impl ampel_interface::IdMapper for SurveyIdMapper {
    fn to_stock(&self, name: &str) -> Option<StockId> {
        let name = name.trim();
        (name.chars().any(|c| c.is_ascii_alphabetic()) && !name.starts_with("ZTF"))
            .then(|| stock_of_name(name))
    }
    fn to_name(&self, _: StockId) -> Option<String> {
        None
    }
}

/// Register every unit of this crate.
pub fn register(r: &mut Registry) -> Result<(), RegistryError> {
    r.alert_supplier::<SurveyAlertSupplier>()?;
    r.shaper::<SurveyDataPointShaper>()?;
    r.t1_combiner::<SurveyT1Combiner>()?;
    r.id_mapper::<SurveyIdMapper>()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ampel_interface::IdMapper;

    #[test]
    fn names_not_numbers_nor_ztf() {
        let m = SurveyIdMapper;
        assert_eq!(
            m.to_stock("WNTR24aaaab"),
            Some(stock_of_name("WNTR24aaaab"))
        );
        assert!(m.to_stock("WNTR24aaaab").unwrap() > 0);
        assert_eq!(m.to_stock("ZTF20aabadtj"), None);
        assert_eq!(
            m.to_stock("ZTF2Oaabaesm"),
            None,
            "a ZTF typo is the ZTF mapper's to refuse"
        );
        assert_eq!(m.to_stock("12345"), None);
    }
}
