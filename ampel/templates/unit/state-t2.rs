//! `@UNIT@`: a state T2 unit. For each state (the datapoints a channel may see of
//! one object, combined by the T1 combiner) it gives the number of detections and
//! the peak: the brightest detection's magnitude, band and time. Change `process`
//! to your computation; its result body is what T3 units and `ampel t2 show` see.

use ampel_interface::serde_json::json;
use ampel_interface::*;
use serde::{Deserialize, Serialize};

/// Config of [`@UNIT@`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct @UNIT@Config {
    /// Detections fainter than this magnitude are left out.
    pub max_mag: f64,
}

impl Default for @UNIT@Config {
    fn default() -> Self {
        @UNIT@Config { max_mag: 23.0 }
    }
}

impl UnitConfig for @UNIT@Config {
    fn validate(&self) -> Vec<FieldProblem> {
        if (5.0..=30.0).contains(&self.max_mag) {
            vec![]
        } else {
            vec![FieldProblem::new("max_mag", &self.max_mag, "a magnitude in [5, 30]")]
        }
    }
}

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

impl StateT2 for @UNIT@ {
    fn process(&self, _state: &T1Document, dps: &[DataPoint]) -> Result<UnitResult, UnitError> {
        // detections have positive ids; upper limits negative ones
        let detections: Vec<(&DataPoint, f64)> = dps
            .iter()
            .filter(|d| d.id > 0)
            .filter_map(|d| Some((d, d.body.get("magpsf")?.as_f64()?)))
            .filter(|(_, m)| *m <= self.0.max_mag)
            .collect();
        let Some((peak, mag)) = detections
            .iter()
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.id.cmp(&b.0.id)))
        else {
            return Ok(UnitResult::ok(json!({ "ndet": 0 })));
        };
        Ok(UnitResult::ok(json!({
            "ndet": detections.len(),
            "peak_mag": mag,
            "peak_jd": peak.jd(),
            "peak_band": peak.body.get("fid"),
        })))
    }
}
