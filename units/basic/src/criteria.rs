//! `CriteriaFilter`: accept alerts whose datapoints meet a list of
//! `{attribute, operator, value}` criteria, combined with `all` or `any`, evaluated
//! on the latest datapoint or over the history (at least `min_count` datapoints).

use ampel_interface::serde_json::Value;
use ampel_interface::*;
use serde::{Deserialize, Serialize};

/// Comparison operators (Python AMPEL's filter operators).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operator {
    /// Greater than.
    #[serde(rename = ">")]
    Gt,
    /// Less than.
    #[serde(rename = "<")]
    Lt,
    /// Greater or equal.
    #[serde(rename = ">=")]
    Ge,
    /// Less or equal.
    #[serde(rename = "<=")]
    Le,
    /// Equal.
    #[serde(rename = "==")]
    Eq,
    /// Not equal.
    #[serde(rename = "!=")]
    Ne,
    /// Value is one of a list.
    #[serde(rename = "in")]
    In,
    /// Value is none of a list.
    #[serde(rename = "not in")]
    NotIn,
    /// Attribute present and not null (`value` true) or absent/null (`value` false).
    #[serde(rename = "exists")]
    Exists,
    /// String attribute contains a substring.
    #[serde(rename = "contains")]
    Contains,
}

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
            let field = format!("criteria.{i}.value");
            let ok = match c.operator {
                Operator::Gt | Operator::Lt | Operator::Ge | Operator::Le => c.value.is_number(),
                Operator::In | Operator::NotIn => c.value.is_array(),
                Operator::Exists => c.value.is_boolean(),
                Operator::Contains => c.value.is_string(),
                Operator::Eq | Operator::Ne => !c.value.is_object(),
            };
            if !ok {
                let expected = match c.operator {
                    Operator::Gt | Operator::Lt | Operator::Ge | Operator::Le => "a number",
                    Operator::In | Operator::NotIn => "a list",
                    Operator::Exists => "true or false",
                    Operator::Contains => "a string",
                    Operator::Eq | Operator::Ne => "a number, string, boolean, null or list",
                };
                p.push(FieldProblem::new(
                    field,
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
    let v = dp.get(&c.attribute).filter(|v| !v.is_null());
    let num = |x: &Value| x.as_f64();
    let cmp = |f: fn(f64, f64) -> bool| match (v.and_then(num), num(&c.value)) {
        (Some(a), Some(b)) => f(a, b),
        _ => false,
    };
    let equal = |a: &Value, b: &Value| match (num(a), num(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    };
    match c.operator {
        Operator::Gt => cmp(|a, b| a > b),
        Operator::Lt => cmp(|a, b| a < b),
        Operator::Ge => cmp(|a, b| a >= b),
        Operator::Le => cmp(|a, b| a <= b),
        Operator::Eq => v.is_some_and(|v| equal(v, &c.value)) || (v.is_none() && c.value.is_null()),
        Operator::Ne => {
            !(v.is_some_and(|v| equal(v, &c.value)) || (v.is_none() && c.value.is_null()))
        }
        Operator::In => v.is_some_and(|v| {
            c.value
                .as_array()
                .is_some_and(|l| l.iter().any(|x| equal(v, x)))
        }),
        Operator::NotIn => !v.is_some_and(|v| {
            c.value
                .as_array()
                .is_some_and(|l| l.iter().any(|x| equal(v, x)))
        }),
        Operator::Exists => v.is_some() == c.value.as_bool().unwrap_or(true),
        Operator::Contains => v
            .and_then(Value::as_str)
            .zip(c.value.as_str())
            .is_some_and(|(s, sub)| s.contains(sub)),
    }
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
