//! `T2LightCurveSummary`: ampel-ztf's unit of that name (ampel-ztf 0.10.3a9,
//! `ampel/ztf/t2/T2LightCurveSummary.py`), ported with its config, its result keys
//! and its reading of the state, so that the name means one thing on both sides of a
//! database shared with Python AMPEL. The test `tests/it/python_units.rs` runs the
//! Python unit on the same states and compares the results.
//!
//! As in Python: photopoints are the state's datapoints with a positive id, upper
//! limits those with a negative id, both in the state's order; the first and the
//! latest photopoint give `first_detection` (jd), `ra_dis`, `dec_dis`,
//! `last_detection` and the `cols` of the latest (null where the latest lacks
//! one); the last upper limit before the first detection that is deeper than
//! `limiting_magnitude` gives `last_significant_nondetection_{jd,fid,diffmaglim}`.

use ampel_interface::serde_json::{Map, Value};
use ampel_interface::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Config of [`T2LightCurveSummary`] (Python's fields and defaults).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct T2LightCurveSummaryConfig {
    /// Fields to extract from the latest detection.
    #[serde(default = "default_cols")]
    pub cols: Vec<String>,
    /// Minimum magnitude (depth) of the non-detection reported.
    #[serde(default = "default_limiting_magnitude")]
    pub limiting_magnitude: f64,
}

fn default_cols() -> Vec<String> {
    [
        "drb",
        "ra",
        "dec",
        "magpsf",
        "sgscore1",
        "distnr",
        "distpsnr1",
    ]
    .map(String::from)
    .to_vec()
}

fn default_limiting_magnitude() -> f64 {
    19.5
}

impl Default for T2LightCurveSummaryConfig {
    fn default() -> Self {
        T2LightCurveSummaryConfig {
            cols: default_cols(),
            limiting_magnitude: default_limiting_magnitude(),
        }
    }
}

impl UnitConfig for T2LightCurveSummaryConfig {
    fn validate(&self) -> Vec<FieldProblem> {
        self.cols
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_empty())
            .map(|(i, c)| FieldProblem::new(format!("cols.{i}"), c, "a body field name"))
            .collect()
    }
}

/// The unit.
pub struct T2LightCurveSummary(T2LightCurveSummaryConfig);

impl Unit for T2LightCurveSummary {
    const NAME: &'static str = "T2LightCurveSummary";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SOURCE: &'static str = ampel_interface::crate_source!();
    type Config = T2LightCurveSummaryConfig;
    fn new(c: T2LightCurveSummaryConfig) -> Result<Self, ConfigError> {
        Ok(T2LightCurveSummary(c))
    }
}

fn field(dp: &DataPoint, key: &str) -> Value {
    dp.body.get(key).cloned().unwrap_or(Value::Null)
}

impl StateT2 for T2LightCurveSummary {
    fn process(&self, _state: &T1Document, dps: &[DataPoint]) -> Result<UnitResult, UnitError> {
        let pps: Vec<&DataPoint> = dps.iter().filter(|d| d.id > 0).collect();
        let mut r = Map::new();
        r.insert("num_detections".into(), Value::from(pps.len()));
        if let (Some(first), Some(latest)) = (pps.first(), pps.last()) {
            let first_jd = field(first, "jd");
            r.insert("first_detection".into(), first_jd.clone());
            r.insert("ra_dis".into(), field(first, "ra"));
            r.insert("dec_dis".into(), field(first, "dec"));
            r.insert("last_detection".into(), field(latest, "jd"));
            for k in &self.0.cols {
                r.insert(k.clone(), field(latest, k));
            }
            let (Some(first_jd), limit) = (first_jd.as_f64(), self.0.limiting_magnitude) else {
                return Err(UnitError::new(format!(
                    "datapoint {} has no numeric jd",
                    first.id
                )));
            };
            let significant = dps.iter().filter(|d| d.id < 0).rfind(|u| {
                let num = |k: &str| u.body.get(k).and_then(Value::as_f64);
                num("jd").is_some_and(|jd| jd < first_jd)
                    && num("diffmaglim").is_some_and(|m| m > limit)
            });
            if let Some(u) = significant {
                for f in ["jd", "fid", "diffmaglim"] {
                    r.insert(format!("last_significant_nondetection_{f}"), field(u, f));
                }
            }
        }
        Ok(UnitResult {
            body: Some(Value::Object(r)),
            ..Default::default()
        })
    }

    fn fields(&self) -> Option<BTreeSet<String>> {
        let mut f: BTreeSet<String> = ["jd", "ra", "dec", "diffmaglim", "fid"]
            .map(String::from)
            .into();
        f.extend(self.0.cols.iter().cloned());
        Some(f)
    }
}
