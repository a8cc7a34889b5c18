//! `@UNIT@`: a point T2 unit. For one detection it gives the flux density in
//! microjansky from the PSF magnitude (AB: m = 23.9 - 2.5 log10(F / µJy)), with
//! its error. The manifest chooses which datapoints it runs on (`point_t2 = [{
//! unit = "@UNIT@", select = "last" }]`: each alert's latest detection).

use ampel_interface::serde_json::json;
use ampel_interface::*;
use serde::{Deserialize, Serialize};

/// Config of [`@UNIT@`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct @UNIT@Config {
    /// AB zero point of the flux unit (23.9 for µJy).
    pub zero_point: f64,
}

impl Default for @UNIT@Config {
    fn default() -> Self {
        @UNIT@Config { zero_point: 23.9 }
    }
}

impl UnitConfig for @UNIT@Config {}

/// The unit.
pub struct @UNIT@(@UNIT@Config);

impl Unit for @UNIT@ {
    const NAME: &'static str = "@UNIT@";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SOURCE: &'static str = ampel_interface::crate_source!();
    type Config = @UNIT@Config;
    fn new(c: @UNIT@Config) -> Result<Self, ConfigError> {
        Ok(@UNIT@(c))
    }
}

impl PointT2 for @UNIT@ {
    fn process(&self, dp: &DataPoint) -> Result<UnitResult, UnitError> {
        let (Some(mag), Some(err)) = (
            dp.body.get("magpsf").and_then(|m| m.as_f64()),
            dp.body.get("sigmapsf").and_then(|m| m.as_f64()),
        ) else {
            return Err(UnitError::new(format!("datapoint {} has no magpsf/sigmapsf", dp.id)));
        };
        let flux = 10f64.powf((self.0.zero_point - mag) / 2.5);
        Ok(UnitResult::ok(json!({
            "flux": flux,
            "flux_err": flux * err * std::f64::consts::LN_10 / 2.5,
            "band": dp.body.get("fid"),
        })))
    }
}
