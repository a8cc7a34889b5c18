//! `CriteriaFilter`: accept alerts whose datapoints meet a list of
//! `{attribute, operator, value}` criteria, combined with `all` or `any`, evaluated
//! on the latest datapoint or over the history (at least `min_count` datapoints).

use ampel_interface::serde_json::Value;
use ampel_interface::*;
use serde::{Deserialize, Serialize};

/// Comparison operators (Python AMPEL's filter operators), shared with the rest
/// of AMPEL.
pub use ampel_interface::compare::Operator;

/// One criterion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    /// Datapoint field, e.g. `magpsf`.
    pub attribute: String,
    /// Operator.
    pub operator: Operator,
    /// Value compared with.
    pub value: Value,
}

/// How criteria combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Combine {
    /// Every criterion must hold.
    #[default]
    All,
    /// At least one must hold.
    Any,
}

/// What the criteria are evaluated on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Over {
    /// The triggering (first) datapoint.
    #[default]
    Latest,
    /// Every datapoint; accept if at least `min_count` match.
    History,
}

/// Config of [`CriteriaFilter`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CriteriaFilterConfig {
    /// Criteria.
    pub criteria: Vec<Criterion>,
    /// How they combine.
    pub combine: Combine,
    /// What they are evaluated on.
    pub over: Over,
    /// With `over = "history"`: how many datapoints must match.
    pub min_count: usize,
}

impl Default for CriteriaFilterConfig {
    fn default() -> Self {
        CriteriaFilterConfig {
            criteria: Vec::new(),
            combine: Combine::All,
            over: Over::Latest,
            min_count: 1,
        }
    }
}

impl UnitConfig for CriteriaFilterConfig {
    fn validate(&self) -> Vec<FieldProblem> {
        let mut p = Vec::new();
        if self.criteria.is_empty() {
            p.push(FieldProblem::new(
                "criteria",
                &self.criteria,
                "at least one criterion",
            ));
        }
        if self.min_count == 0 {
            p.push(FieldProblem::new(
                "min_count",
                &self.min_count,
                "at least 1",
            ));
        }
        for (i, c) in self.criteria.iter().enumerate() {
            if let Some(expected) = c.operator.value_problem(&c.value) {
                p.push(FieldProblem::new(
                    format!("criteria.{i}.value"),
                    &c.value,
                    format!("{expected} for operator {:?}", c.operator),
                ));
            }
            if c.attribute.is_empty() {
                p.push(FieldProblem::new(
                    format!("criteria.{i}.attribute"),
                    &c.attribute,
                    "a field name",
                ));
            }
        }
        p
    }
}

/// A filter defined by configuration alone.
pub struct CriteriaFilter(CriteriaFilterConfig);

impl Unit for CriteriaFilter {
    const NAME: &'static str = "CriteriaFilter";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SOURCE: &'static str = ampel_interface::crate_source!();
    type Config = CriteriaFilterConfig;
    fn new(config: CriteriaFilterConfig) -> Result<Self, ConfigError> {
        Ok(CriteriaFilter(config))
    }
}

fn holds(c: &Criterion, dp: &Value) -> bool {
    c.operator.holds(dp.get(&c.attribute), &c.value)
}

impl CriteriaFilter {
    fn matches(&self, dp: &Value) -> bool {
        match self.0.combine {
            Combine::All => self.0.criteria.iter().all(|c| holds(c, dp)),
            Combine::Any => self.0.criteria.iter().any(|c| holds(c, dp)),
        }
    }
}

impl AlertFilter for CriteriaFilter {
    fn process(&self, alert: &AmpelAlert) -> Result<FilterDecision, UnitError> {
        let accepted = match self.0.over {
            Over::Latest => alert.datapoints.first().is_some_and(|dp| self.matches(dp)),
            Over::History => {
                alert
                    .datapoints
                    .iter()
                    .filter(|dp| self.matches(dp))
                    .count()
                    >= self.0.min_count
            }
        };
        Ok(if accepted {
            FilterDecision::Accept
        } else {
            FilterDecision::Reject(None)
        })
    }

    fn fields(&self) -> Option<std::collections::BTreeSet<String>> {
        Some(
            self.0
                .criteria
                .iter()
                .map(|c| c.attribute.clone())
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ampel_interface::serde_json::json;

    fn alert(dps: Vec<Value>) -> AmpelAlert {
        AmpelAlert {
            id: 1,
            stock: 1,
            name: None,
            jd: None,
            datapoints: dps,
            tag: Default::default(),
            extra: Default::default(),
        }
    }

    fn filter(cfg: Value) -> CriteriaFilter {
        CriteriaFilter::new(
            resolve_config::<CriteriaFilterConfig>("CriteriaFilter", &cfg)
                .unwrap()
                .config,
        )
        .unwrap()
    }

    #[test]
    fn latest_with_all_and_any() {
        let f = filter(json!({"criteria": [
            {"attribute": "rb", "operator": ">=", "value": 0.5},
            {"attribute": "isdiffpos", "operator": "in", "value": ["t", "1"]}]}));
        assert!(f
            .process(&alert(vec![json!({"rb": 0.7, "isdiffpos": "t"})]))
            .unwrap()
            .accepted());
        assert!(!f
            .process(&alert(vec![json!({"rb": 0.7, "isdiffpos": "f"})]))
            .unwrap()
            .accepted());
        assert!(
            !f.process(&alert(vec![json!({"isdiffpos": "t"})]))
                .unwrap()
                .accepted(),
            "missing attribute fails >="
        );
        let any = filter(json!({"combine": "any", "criteria": [
            {"attribute": "rb", "operator": ">=", "value": 0.5},
            {"attribute": "magpsf", "operator": "<", "value": 18}]}));
        assert!(any
            .process(&alert(vec![json!({"rb": 0.1, "magpsf": 17.2})]))
            .unwrap()
            .accepted());
        assert!(!any.process(&alert(vec![])).unwrap().accepted());
    }

    #[test]
    fn history_counts_matching_datapoints() {
        let f = filter(json!({"over": "history", "min_count": 2,
            "criteria": [{"attribute": "magpsf", "operator": "exists", "value": true}]}));
        let two = alert(vec![
            json!({"magpsf": 18.0}),
            json!({"diffmaglim": 20.0}),
            json!({"magpsf": 19.0}),
        ]);
        assert!(f.process(&two).unwrap().accepted());
        let one = alert(vec![json!({"magpsf": 18.0}), json!({"magpsf": null})]);
        assert!(!f.process(&one).unwrap().accepted());
    }

    #[test]
    fn every_config_problem_is_named() {
        let e = resolve_config::<CriteriaFilterConfig>(
            "CriteriaFilter",
            &json!({"min_count": 0, "criteria": [{"attribute": "rb", "operator": ">", "value": "high"}]}),
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(text.contains("field `min_count` = 0: at least 1"), "{text}");
        assert!(
            text.contains("field `criteria.0.value` = \"high\": a number for operator Gt"),
            "{text}"
        );
        let e = resolve_config::<CriteriaFilterConfig>(
            "CriteriaFilter",
            &json!({"criteria": [{"attribute": "rb", "operator": "~"}]}),
        )
        .unwrap_err();
        assert_eq!(e.problems[0].field, "criteria.0.operator");
    }
}
