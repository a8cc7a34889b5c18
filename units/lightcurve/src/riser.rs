//! `T2FastRiser`: tied to `T2RiseDeclineFit` on the same state; flags a light curve
//! whose rise in some band is faster than `min_rise_rate` mag/day at a significance
//! of at least `min_significance` σ.

use ampel_interface::serde_json::{json, Value};
use ampel_interface::*;
use serde::{Deserialize, Serialize};

/// Config of [`T2FastRiser`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct T2FastRiserConfig {
    /// Minimum brightening rate [mag/day].
    pub min_rise_rate: f64,
    /// Minimum |slope| / slope error.
    pub min_significance: f64,
    /// Config of the `T2RiseDeclineFit` this depends on (`null`: its defaults).
    pub fit_config: Value,
}

impl Default for T2FastRiserConfig {
    fn default() -> Self {
        T2FastRiserConfig {
            min_rise_rate: 0.25,
            min_significance: 3.0,
            fit_config: Value::Null,
        }
    }
}

impl UnitConfig for T2FastRiserConfig {
    fn validate(&self) -> Vec<FieldProblem> {
        let mut p = Vec::new();
        if self.min_rise_rate <= 0.0 {
            p.push(FieldProblem::new(
                "min_rise_rate",
                &self.min_rise_rate,
                "a positive rate [mag/day]",
            ));
        }
        if self.min_significance < 0.0 {
            p.push(FieldProblem::new(
                "min_significance",
                &self.min_significance,
                "at least 0",
            ));
        }
        p
    }
}

/// The fast-riser flag.
pub struct T2FastRiser(T2FastRiserConfig);

impl Unit for T2FastRiser {
    const NAME: &'static str = "T2FastRiser";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SOURCE: &'static str = ampel_interface::crate_source!();
    type Config = T2FastRiserConfig;
    fn new(c: T2FastRiserConfig) -> Result<Self, ConfigError> {
        Ok(T2FastRiser(c))
    }
}

impl Tied for T2FastRiser {
    fn dependencies(&self) -> Vec<T2Dependency> {
        vec![T2Dependency {
            unit: "T2RiseDeclineFit".into(),
            config: self.0.fit_config.clone(),
            kind: T2Kind::State,
            link: DependencyLink::Same,
        }]
    }
}

impl TiedStateT2 for T2FastRiser {
    fn process(
        &self,
        _: &T1Document,
        _: &[DataPoint],
        deps: &[T2View],
    ) -> Result<UnitResult, UnitError> {
        let fit = deps
            .iter()
            .find(|d| d.unit == "T2RiseDeclineFit")
            .and_then(|d| d.result.as_ref())
            .ok_or_else(|| UnitError::new("no T2RiseDeclineFit result"))?;
        let mut best: Option<(String, f64, f64)> = None;
        if let Some(bands) = fit["bands"].as_object() {
            for (band, b) in bands {
                let (Some(slope), Some(err)) =
                    (b["rise"]["slope"].as_f64(), b["rise"]["slope_err"].as_f64())
                else {
                    continue;
                };
                let significance = if err > 0.0 {
                    slope.abs() / err
                } else {
                    f64::INFINITY
                };
                if -slope >= self.0.min_rise_rate
                    && significance >= self.0.min_significance
                    && best.as_ref().is_none_or(|(_, s, _)| slope < *s)
                {
                    best = Some((band.clone(), slope, significance.min(1e9)));
                }
            }
        }
        let body = match &best {
            Some((band, slope, sig)) => {
                json!({ "fast_riser": true, "band": band, "rise_rate": -slope, "significance": sig })
            }
            None => json!({ "fast_riser": false }),
        };
        let mut r = UnitResult {
            body: Some(body),
            ..Default::default()
        };
        if best.is_some() {
            r.tag.insert("FAST_RISER".into());
        }
        Ok(r)
    }

    fn fields(&self) -> Option<std::collections::BTreeSet<String>> {
        // the fit's result is all it reads
        Some(Default::default())
    }
}
