//! `SurveyT1Combiner`: a state of a mapped survey is the channel's datapoints whose
//! access tag (`access` in the body) is among the channel's rights, in time order
//! (ties by id); forced photometry and upper limits unless turned off. A state
//! that left a datapoint out for its rights is tagged `HAS_DATARIGHT_EXCLUSION`.

use ampel_interface::photometry::keys;
use ampel_interface::serde_json::Value;
use ampel_interface::*;
use serde::{Deserialize, Serialize};

/// Config of [`SurveyT1Combiner`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SurveyT1CombinerConfig {
    /// The channel's data rights (filled from the channel).
    pub access: Vec<String>,
    /// Include forced photometry.
    pub forced: bool,
    /// Include upper limits.
    pub limits: bool,
}

impl Default for SurveyT1CombinerConfig {
    fn default() -> Self {
        SurveyT1CombinerConfig {
            access: Vec::new(),
            forced: true,
            limits: true,
        }
    }
}

impl UnitConfig for SurveyT1CombinerConfig {}

/// The mapped-survey combiner.
pub struct SurveyT1Combiner(SurveyT1CombinerConfig);

impl Unit for SurveyT1Combiner {
    const NAME: &'static str = "SurveyT1Combiner";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SOURCE: &'static str = ampel_interface::crate_source!();
    type Config = SurveyT1CombinerConfig;
    fn new(c: SurveyT1CombinerConfig) -> Result<Self, ConfigError> {
        Ok(SurveyT1Combiner(c))
    }
}

impl T1Combiner for SurveyT1Combiner {
    fn combine(&self, dps: &[&DataPoint]) -> Result<Vec<CombineResult>, UnitError> {
        let c = &self.0;
        let mut excluded = false;
        let mut kept: Vec<(f64, DataPointId)> = Vec::new();
        for d in dps {
            let s = |k: &str| d.body.get(k).and_then(Value::as_str);
            if let Some(a) = s(keys::ACCESS) {
                if !c.access.iter().any(|x| x == a) {
                    excluded = true;
                    continue;
                }
            }
            match s(keys::KIND) {
                Some("forced") if !c.forced => continue,
                Some("limit") if !c.limits => continue,
                _ => {}
            }
            kept.push((d.jd().unwrap_or(f64::NEG_INFINITY), d.id));
        }
        kept.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut result = CombineResult {
            dps: kept.into_iter().map(|(_, id)| id).collect(),
            ..Default::default()
        };
        if excluded {
            result.tag.insert("HAS_DATARIGHT_EXCLUSION".into());
        }
        Ok(vec![result])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ampel_interface::serde_json::json;

    fn dp(id: DataPointId, jd: f64, kind: &str, access: &str) -> DataPoint {
        DataPoint::shaped(
            id,
            1,
            ["X"],
            json!({ "jd": jd, "kind": kind, "access": access }),
        )
    }

    #[test]
    fn rights_kinds_and_time_order() {
        let dps = [
            dp(3, 3.0, "detection", "X_PUB"),
            dp(1, 1.0, "detection", "X_PRIV"),
            dp(-2, 2.0, "limit", "X_PUB"),
            dp(-4, 0.5, "forced", "X_PUB"),
        ];
        let refs: Vec<&DataPoint> = dps.iter().collect();
        let public = SurveyT1Combiner::new(SurveyT1CombinerConfig {
            access: vec!["X_PUB".into()],
            ..Default::default()
        })
        .unwrap();
        let r = &public.combine(&refs).unwrap()[0];
        assert_eq!(r.dps, vec![-4, -2, 3]);
        assert!(r.tag.contains("HAS_DATARIGHT_EXCLUSION"));
        let all = SurveyT1Combiner::new(SurveyT1CombinerConfig {
            access: vec!["X_PUB".into(), "X_PRIV".into()],
            forced: false,
            limits: false,
        })
        .unwrap();
        let r = &all.combine(&refs).unwrap()[0];
        assert_eq!(r.dps, vec![1, 3]);
        assert!(r.tag.is_empty());
    }
}
