//! `@UNIT@`: an alert filter. It accepts an alert when its light curve has at
//! least `min_detections` detections and its triggering detection is brighter
//! than `max_magpsf`. Change `process` to your selection; keep every parameter in
//! the config struct, so that it is part of the config hash and of provenance.

use ampel_interface::*;
use serde::{Deserialize, Serialize};

/// Config of [`@UNIT@`]: every field has a default, unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct @UNIT@Config {
    /// Fewest detections (datapoints with a magnitude) an alert must carry.
    pub min_detections: usize,
    /// Faintest magnitude of the triggering detection (`magpsf`).
    pub max_magpsf: f64,
}

impl Default for @UNIT@Config {
    fn default() -> Self {
        @UNIT@Config {
            min_detections: 3,
            max_magpsf: 19.5,
        }
    }
}

impl UnitConfig for @UNIT@Config {
    fn validate(&self) -> Vec<FieldProblem> {
        let mut out = Vec::new();
        if self.min_detections == 0 {
            out.push(FieldProblem::new("min_detections", &self.min_detections, "at least 1"));
        }
        if !(5.0..=30.0).contains(&self.max_magpsf) {
            out.push(FieldProblem::new("max_magpsf", &self.max_magpsf, "a magnitude in [5, 30]"));
        }
        out
    }
}

/// The filter.
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

/// Detections among an alert's datapoints (those with a magnitude).
pub fn detections(alert: &AmpelAlert) -> usize {
    alert
        .datapoints
        .iter()
        .filter(|d| d.get("magpsf").is_some_and(|m| m.is_number()))
        .count()
}

impl AlertFilter for @UNIT@ {
    fn process(&self, alert: &AmpelAlert) -> Result<FilterDecision, UnitError> {
        let trigger = alert
            .datapoints
            .first()
            .and_then(|d| d.get("magpsf"))
            .and_then(|m| m.as_f64());
        Ok(match trigger {
            Some(mag) if mag <= self.0.max_magpsf && detections(alert) >= self.0.min_detections => {
                FilterDecision::Accept
            }
            _ => FilterDecision::Reject(None),
        })
    }
}
