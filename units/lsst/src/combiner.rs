//! `LsstT1Combiner`: a Rubin state is the channel's sources (`diaSource`s, tag
//! `LSST_DP`) and, unless `forced = false`, its forced sources (`LSST_FP`), in time
//! order (ties by id, so the state and its link do not depend on the order the
//! datapoints arrived in). Rubin alerts carry no per-datapoint data rights, so no
//! datapoint is left out for access reasons.

use ampel_interface::*;
use serde::{Deserialize, Serialize};

/// Config of [`LsstT1Combiner`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LsstT1CombinerConfig {
    /// Include forced photometry (`prvDiaForcedSources`) in states.
    pub forced: bool,
}

impl Default for LsstT1CombinerConfig {
    fn default() -> Self {
        LsstT1CombinerConfig { forced: true }
    }
}

impl UnitConfig for LsstT1CombinerConfig {}

/// The Rubin combiner.
pub struct LsstT1Combiner(LsstT1CombinerConfig);

impl Unit for LsstT1Combiner {
    const NAME: &'static str = "LsstT1Combiner";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SOURCE: &'static str = ampel_interface::crate_source!();
    type Config = LsstT1CombinerConfig;
    fn new(c: LsstT1CombinerConfig) -> Result<Self, ConfigError> {
        Ok(LsstT1Combiner(c))
    }
}

impl T1Combiner for LsstT1Combiner {
    fn combine(&self, dps: &[&DataPoint]) -> Result<Vec<CombineResult>, UnitError> {
        let mut kept: Vec<(f64, DataPointId)> = dps
            .iter()
            .filter(|d| self.0.forced || !d.tag.contains("LSST_FP"))
            .map(|d| (d.jd().unwrap_or(f64::NEG_INFINITY), d.id))
            .collect();
        kept.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut result = CombineResult {
            dps: kept.into_iter().map(|(_, id)| id).collect(),
            ..Default::default()
        };
        result.tag.insert("LSST".into());
        Ok(vec![result])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ampel_interface::serde_json::json;

    fn dp(id: DataPointId, jd: f64, kind: &str) -> DataPoint {
        DataPoint::shaped(id, 1, ["LSST", kind], json!({ "jd": jd }))
    }

    #[test]
    fn states_are_in_time_order_with_or_without_forced_photometry() {
        let (a, b, f) = (
            dp(7, 2.0, "LSST_DP"),
            dp(5, 1.0, "LSST_DP"),
            dp(-3, 1.5, "LSST_FP"),
        );
        let all = LsstT1Combiner::new(Default::default()).unwrap();
        let states = all.combine(&[&a, &f, &b]).unwrap();
        assert_eq!(states.len(), 1);
        assert_eq!(states[0].dps, vec![5, -3, 7]);
        assert!(states[0].tag.contains("LSST"));
        let sources = LsstT1Combiner::new(LsstT1CombinerConfig { forced: false }).unwrap();
        assert_eq!(sources.combine(&[&a, &f, &b]).unwrap()[0].dps, vec![5, 7]);
    }
}
