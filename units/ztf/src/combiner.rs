//! `ZiT1Combiner`: a state is the channel's datapoints, except that programid-2
//! (private) datapoints are left out for channels without `ZTF_PRIV` access; such
//! states are tagged `HAS_DATARIGHT_EXCLUSION`.

use ampel_interface::serde_json::Value;
use ampel_interface::*;
use serde::{Deserialize, Serialize};

/// Config of [`ZiT1Combiner`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZiT1CombinerConfig {
    /// Data access rights of the channel (e.g. `ZTF_PUB`, `ZTF_PRIV`).
    pub access: Vec<String>,
}

impl UnitConfig for ZiT1CombinerConfig {}

/// The data-rights combiner.
pub struct ZiT1Combiner {
    private: bool,
}

impl Unit for ZiT1Combiner {
    const NAME: &'static str = "ZiT1Combiner";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SOURCE: &'static str = ampel_interface::crate_source!();
    type Config = ZiT1CombinerConfig;
    fn new(c: ZiT1CombinerConfig) -> Result<Self, ConfigError> {
        Ok(ZiT1Combiner {
            private: c.access.iter().any(|a| a == "ZTF_PRIV"),
        })
    }
}

impl T1Combiner for ZiT1Combiner {
    fn combine(&self, dps: &[&DataPoint]) -> Result<Vec<CombineResult>, UnitError> {
        let kept: Vec<DataPointId> = dps
            .iter()
            .filter(|d| self.private || d.body.get("programid").and_then(Value::as_i64) != Some(2))
            .map(|d| d.id)
            .collect();
        let mut result = CombineResult {
            dps: kept,
            ..Default::default()
        };
        if result.dps.len() != dps.len() {
            result.tag.insert("HAS_DATARIGHT_EXCLUSION".into());
        }
        Ok(vec![result])
    }
}
