//! T3 selection by T2 results (Python AMPEL's `T3FilteringStockSelector.t2_filter`):
//! a stock is selected when, for every condition, the latest result of the named
//! T2 unit on that stock has a body field that compares as asked. Only T2
//! documents of the selection's channels count, so a channel never selects by
//! another channel's results.

pub use ampel_interface::compare::Operator;
use ampel_interface::{Body, DocumentCode, StockId};
use ampel_store::{Store, StoreError, T2Filter};
use serde::{Deserialize, Serialize};

/// One condition on the latest result of a T2 unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct T2Match {
    /// The T2 unit.
    pub unit: String,
    /// A field of its result body; `a.b` reaches into nested objects.
    pub field: String,
    /// How the field compares with `value` (the operators of `CriteriaFilter`).
    pub operator: Operator,
    /// The value (a number, string or boolean; a list for `in`).
    pub value: Body,
}

impl T2Match {
    /// Whether a result body satisfies the condition.
    pub fn matches(&self, body: &Body) -> bool {
        let field = self.field.split('.').try_fold(body, |b, k| b.get(k));
        self.operator.holds(field, &self.value)
    }
}

/// The stocks of `stocks` whose latest T2 results (of documents in `channels`,
/// any channel if empty; successful ones only) satisfy every condition.
pub fn filter_by_t2(
    store: &dyn Store,
    stocks: Vec<StockId>,
    conditions: &[T2Match],
    channels: &[String],
) -> Result<Vec<StockId>, StoreError> {
    if conditions.is_empty() {
        return Ok(stocks);
    }
    let mut out = Vec::new();
    'stocks: for s in stocks {
        for c in conditions {
            let docs = store.find_t2(&T2Filter {
                stock: Some(s),
                unit: Some(vec![c.unit.clone()]),
                channel: (!channels.is_empty()).then(|| channels.to_vec()),
                code: Some(vec![DocumentCode::OK]),
                ..Default::default()
            })?;
            // the latest result: the current one of the document last updated
            let latest = docs
                .iter()
                .filter_map(|d| Some((d.meta.last()?.ts, d.current_result()?)))
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, b)| b);
            if !latest.is_some_and(|b| c.matches(b)) {
                continue 'stocks;
            }
        }
        out.push(s);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(op: &str, value: Body) -> T2Match {
        serde_json::from_value(
            json!({ "unit": "U", "field": "fit.slope", "operator": op, "value": value }),
        )
        .unwrap()
    }

    #[test]
    fn conditions_compare_nested_fields() {
        let body = json!({ "fit": { "slope": -0.5, "band": "g" } });
        assert!(m("<", json!(0)).matches(&body));
        assert!(!m(">=", json!(0)).matches(&body));
        assert!(m("==", json!(-0.5)).matches(&body));
        assert!(m("in", json!([1, -0.5])).matches(&body));
        assert!(
            !m("<", json!("x")).matches(&body),
            "a string does not order"
        );
        assert!(
            !m("<", json!(0)).matches(&json!({ "fit": {} })),
            "missing field"
        );
        assert!(serde_json::from_value::<T2Match>(
            json!({ "unit": "U", "field": "f", "operator": "~", "value": 1 })
        )
        .is_err());
    }
}
