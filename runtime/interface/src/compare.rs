//! Comparisons written in configurations (`{ attribute/field, operator, value }`):
//! the operators of Python AMPEL's filter criteria, shared by `CriteriaFilter`
//! and T3 selection by T2 results, so the same words mean the same everywhere.
//! Numbers compare as numbers (`1` equals `1.0`); an absent or null field holds
//! only for `==` null, `!=` anything else, `not in` and `exists = false`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Comparison operators.
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
    /// Field present and not null (`value` true) or absent/null (`value` false).
    #[serde(rename = "exists")]
    Exists,
    /// String field contains a substring.
    #[serde(rename = "contains")]
    Contains,
}

impl Operator {
    /// What the configured `value` must be for this operator, if it is not that.
    pub fn value_problem(self, value: &Value) -> Option<&'static str> {
        use Operator::*;
        let (ok, expected) = match self {
            Gt | Lt | Ge | Le => (value.is_number(), "a number"),
            In | NotIn => (value.is_array(), "a list"),
            Exists => (value.is_boolean(), "true or false"),
            Contains => (value.is_string(), "a string"),
            Eq | Ne => (
                !value.is_object(),
                "a number, string, boolean, null or list",
            ),
        };
        (!ok).then_some(expected)
    }

    /// Whether a field's value (`None`: absent or null) compares with `value` as
    /// this operator says.
    pub fn holds(self, field: Option<&Value>, value: &Value) -> bool {
        let v = field.filter(|v| !v.is_null());
        let num = |x: &Value| x.as_f64();
        let cmp = |f: fn(f64, f64) -> bool| match (v.and_then(num), num(value)) {
            (Some(a), Some(b)) => f(a, b),
            _ => false,
        };
        let equal = |a: &Value, b: &Value| match (num(a), num(b)) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        };
        let eq = v.is_some_and(|v| equal(v, value)) || (v.is_none() && value.is_null());
        let listed = v.is_some_and(|v| {
            value
                .as_array()
                .is_some_and(|l| l.iter().any(|x| equal(v, x)))
        });
        match self {
            Operator::Gt => cmp(|a, b| a > b),
            Operator::Lt => cmp(|a, b| a < b),
            Operator::Ge => cmp(|a, b| a >= b),
            Operator::Le => cmp(|a, b| a <= b),
            Operator::Eq => eq,
            Operator::Ne => !eq,
            Operator::In => listed,
            Operator::NotIn => !listed,
            Operator::Exists => v.is_some() == value.as_bool().unwrap_or(true),
            Operator::Contains => v
                .and_then(Value::as_str)
                .zip(value.as_str())
                .is_some_and(|(s, sub)| s.contains(sub)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operators_compare_numbers_as_numbers_and_absent_fields_as_absent() {
        let op = |s: &str| serde_json::from_value::<Operator>(json!(s)).unwrap();
        assert!(op("==").holds(Some(&json!(1)), &json!(1.0)));
        assert!(op("<").holds(Some(&json!(-0.5)), &json!(0)));
        assert!(!op("<").holds(Some(&json!("a")), &json!(0)));
        assert!(op("in").holds(Some(&json!(2)), &json!([1, 2.0])));
        assert!(op("not in").holds(None, &json!([1])));
        assert!(op("!=").holds(None, &json!(1)) && op("==").holds(None, &Value::Null));
        assert!(op("exists").holds(None, &json!(false)));
        assert!(op("contains").holds(Some(&json!("ZTF18ab")), &json!("18")));
        assert_eq!(op(">").value_problem(&json!("x")), Some("a number"));
        assert_eq!(op("in").value_problem(&json!([])), None);
        assert!(serde_json::from_value::<Operator>(json!("~")).is_err());
    }
}
