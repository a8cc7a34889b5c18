//! `LsstDataPointShaper`: Rubin sources and forced sources → datapoints.

use ampel_interface::serde_json::Value;
use ampel_interface::*;
use std::collections::BTreeSet;

use ampel_interface::photometry::MJD_TO_JD;

/// Shapes Rubin datapoints.
pub struct LsstDataPointShaper;

impl Unit for LsstDataPointShaper {
    const NAME: &'static str = "LsstDataPointShaper";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SOURCE: &'static str = ampel_interface::crate_source!();
    type Config = NoConfig;
    fn new(_: NoConfig) -> Result<Self, ConfigError> {
        Ok(LsstDataPointShaper)
    }
}

impl Shaper for LsstDataPointShaper {
    fn process(&self, alert: AmpelAlert) -> Result<Vec<ShapedDataPoint>, UnitError> {
        let mut out = Vec::with_capacity(alert.datapoints.len());
        for dp in alert.datapoints {
            let Value::Object(mut m) = dp else { continue };
            let (id, kind) = match (
                m.get("diaSourceId").and_then(Value::as_i64),
                m.get("diaForcedSourceId").and_then(Value::as_i64),
            ) {
                (Some(id), _) => (id, "LSST_DP"),
                (None, Some(id)) => (-id, "LSST_FP"),
                _ => {
                    return Err(UnitError::new(format!(
                        "alert {}: a datapoint has neither diaSourceId nor diaForcedSourceId",
                        alert.id
                    )))
                }
            };
            let mut tag: BTreeSet<String> = ["LSST".to_string(), kind.to_string()].into();
            if let Some(band) = m.get("band").and_then(Value::as_str) {
                tag.insert(format!("LSST_{}", band.to_uppercase()));
            }
            let mjd = m
                .get("midpointMjdTai")
                .and_then(Value::as_f64)
                .ok_or_else(|| UnitError::new(format!("datapoint {id} has no midpointMjdTai")))?;
            m.insert(TIME_KEY.into(), Value::from(mjd + MJD_TO_JD));
            out.push(ShapedDataPoint {
                id,
                tag,
                body: Value::Object(m),
            });
        }
        Ok(out)
    }
}
