//! `SurveyDataPointShaper`: the datapoints [`crate::SurveyAlertSupplier`] wrote →
//! shaped datapoints. The id is the one the supplier put in `_dp_id` (taken out of
//! the body); tags are the survey tag, the kind (`<SURVEY>_DP` detection,
//! `<SURVEY>_FP` forced photometry, `<SURVEY>_UL` upper limit), the band
//! (`<SURVEY>_<BAND>`) and the access tag.

use crate::mapping::tag_word;
use ampel_interface::photometry::keys;
use ampel_interface::serde_json::Value;
use ampel_interface::*;
use std::collections::BTreeSet;

/// Shapes mapped surveys' datapoints.
pub struct SurveyDataPointShaper;

impl Unit for SurveyDataPointShaper {
    const NAME: &'static str = "SurveyDataPointShaper";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SOURCE: &'static str = ampel_interface::crate_source!();
    type Config = NoConfig;
    fn new(_: NoConfig) -> Result<Self, ConfigError> {
        Ok(SurveyDataPointShaper)
    }
}

impl Shaper for SurveyDataPointShaper {
    fn process(&self, alert: AmpelAlert) -> Result<Vec<ShapedDataPoint>, UnitError> {
        let mut out = Vec::with_capacity(alert.datapoints.len());
        for dp in alert.datapoints {
            let Value::Object(mut body) = dp else {
                return Err(UnitError::new(format!(
                    "alert {}: a datapoint is not a record",
                    alert.id
                )));
            };
            let id = body.remove("_dp_id").and_then(|v| v.as_i64()).ok_or_else(|| {
                UnitError::new(format!(
                    "alert {}: a datapoint has no `_dp_id`: SurveyDataPointShaper shapes what SurveyAlertSupplier supplies",
                    alert.id
                ))
            })?;
            let s = |k: &str| body.get(k).and_then(Value::as_str).map(String::from);
            let survey = tag_word(&s(keys::SURVEY).unwrap_or_default());
            let kind = match s(keys::KIND).as_deref() {
                Some("forced") => "FP",
                Some("limit") => "UL",
                _ => "DP",
            };
            let mut tag: BTreeSet<String> = [survey.clone(), format!("{survey}_{kind}")].into();
            if let Some(band) = s(keys::BAND) {
                tag.insert(format!("{survey}_{}", tag_word(&band)));
            }
            if let Some(a) = s(keys::ACCESS) {
                tag.insert(a);
            }
            out.push(ShapedDataPoint {
                id,
                tag,
                body: Value::Object(body),
            });
        }
        Ok(out)
    }
}
