//! Typed unit configuration: parse, fill defaults, reject unknown fields, validate.
//!
//! A unit declares `type Config: UnitConfig`, an ordinary serde struct whose fields
//! have defaults (`#[serde(default)]`). [`resolve_config`] turns the raw JSON given in
//! a manifest into that struct and into its *normalised* JSON (every default filled),
//! which is what the config hash is computed over. Unknown fields are rejected here,
//! whatever attributes the author put on the struct, and every problem found is
//! reported at once, each naming the unit, the field path and the offending value.

use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use std::fmt;

/// Configuration of a unit.
pub trait UnitConfig: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Semantic checks after parsing (ranges, consistency). Return every problem.
    fn validate(&self) -> Vec<FieldProblem> {
        Vec::new()
    }
}

/// The config of a unit that has no parameters: `{}` (anything else is rejected).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoConfig {}

impl UnitConfig for NoConfig {}

/// One problem with one field of a unit's config.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldProblem {
    /// Dotted path of the field (`criteria.0.operator`), empty for the whole config.
    pub field: String,
    /// The offending value, as JSON, if there is one.
    pub value: Option<String>,
    /// What was expected.
    pub expected: String,
}

impl FieldProblem {
    /// A problem with `field` holding `value`.
    pub fn new(
        field: impl Into<String>,
        value: &impl Serialize,
        expected: impl Into<String>,
    ) -> Self {
        FieldProblem {
            field: field.into(),
            value: serde_json::to_string(value).ok(),
            expected: expected.into(),
        }
    }
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = if self.field.is_empty() {
            "(config)"
        } else {
            &self.field
        };
        match &self.value {
            Some(v) => write!(f, "field `{field}` = {v}: {}", self.expected),
            None => write!(f, "field `{field}`: {}", self.expected),
        }
    }
}

/// A unit's config did not validate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ConfigError {
    /// Unit name.
    pub unit: String,
    /// Every problem found.
    pub problems: Vec<FieldProblem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid config for unit `{}`", self.unit)?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

/// A config after validation: the typed value and its normalised JSON.
#[derive(Debug, Clone)]
pub struct Resolved<C> {
    /// Typed config.
    pub config: C,
    /// JSON with every default filled: the input of the config hash.
    pub normalized: Value,
}

/// Parse `raw` (`null` means "all defaults") into `C` for unit `unit`, reporting
/// every problem found: unknown fields (at any depth the defaults reveal), the first
/// type error, and the config's own semantic checks.
pub fn resolve_config<C: UnitConfig>(unit: &str, raw: &Value) -> Result<Resolved<C>, ConfigError> {
    let raw = match raw {
        Value::Null => Value::Object(Default::default()),
        other => other.clone(),
    };
    let err = |problems| ConfigError {
        unit: unit.to_string(),
        problems,
    };
    // the fields a config has, learnt from its defaults (when it has them)
    let known = serde_json::from_value::<C>(Value::Object(Default::default()))
        .ok()
        .and_then(|d| serde_json::to_value(&d).ok());
    let mut problems = Vec::new();
    let mut cleaned = raw.clone();
    if let Some(known) = &known {
        unknown_fields(&raw, known, "", &mut problems);
        strip_unknown(&mut cleaned, known);
    }
    let config: C = match serde_path_to_error::deserialize(&cleaned) {
        Ok(c) => c,
        Err(e) => {
            let field = dotted(e.path());
            let value = lookup(&cleaned, &field).map(|v| v.to_string());
            problems.push(FieldProblem {
                field,
                value,
                expected: e.into_inner().to_string(),
            });
            return Err(err(problems));
        }
    };
    let normalized = serde_json::to_value(&config).map_err(|e| {
        err(vec![FieldProblem {
            field: String::new(),
            value: None,
            expected: e.to_string(),
        }])
    })?;
    let already: Vec<String> = problems.iter().map(|p| p.field.clone()).collect();
    let mut deeper = Vec::new();
    unknown_fields(&raw, &normalized, "", &mut deeper);
    problems.extend(deeper.into_iter().filter(|p| !already.contains(&p.field)));
    problems.extend(config.validate());
    if problems.is_empty() {
        Ok(Resolved { config, normalized })
    } else {
        Err(err(problems))
    }
}

/// Remove from `raw` the object keys that `known` does not have.
fn strip_unknown(raw: &mut Value, known: &Value) {
    if let (Value::Object(r), Value::Object(k)) = (raw, known) {
        r.retain(|key, _| k.contains_key(key));
        for (key, v) in r.iter_mut() {
            if let Some(kv) = k.get(key) {
                strip_unknown(v, kv);
            }
        }
    }
}

/// `criteria[0].operator` → `criteria.0.operator`, the form used everywhere else.
fn dotted(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let parts: Vec<String> = path
        .iter()
        .filter_map(|seg| match seg {
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Map { key } => Some(key.clone()),
            Segment::Enum { variant } => Some(variant.clone()),
            Segment::Unknown => None,
        })
        .collect();
    parts.join(".")
}

fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return Some(v);
    }
    path.split('.').try_fold(v, |cur, seg| match cur {
        Value::Object(m) => m.get(seg),
        Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

/// Report keys present in `raw` but absent from the re-serialised config.
fn unknown_fields(raw: &Value, known: &Value, prefix: &str, out: &mut Vec<FieldProblem>) {
    let path = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match (raw, known) {
        (Value::Object(r), Value::Object(k)) => {
            for (key, rv) in r {
                match k.get(key) {
                    Some(kv) => unknown_fields(rv, kv, &path(key), out),
                    None => {
                        let mut names: Vec<&str> = k.keys().map(String::as_str).collect();
                        names.sort_unstable();
                        out.push(FieldProblem::new(
                            path(key),
                            rv,
                            format!("unknown field; known fields: {}", names.join(", ")),
                        ));
                    }
                }
            }
        }
        (Value::Array(r), Value::Array(k)) => {
            for (i, (rv, kv)) in r.iter().zip(k).enumerate() {
                unknown_fields(rv, kv, &path(&i.to_string()), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Serialize, Deserialize)]
    #[serde(default)]
    struct Cfg {
        min_ndet: u32,
        min_rb: f64,
        inner: Inner,
    }
    #[derive(Debug, Default, Serialize, Deserialize)]
    #[serde(default)]
    struct Inner {
        radius: f64,
    }
    impl Default for Cfg {
        fn default() -> Self {
            Cfg {
                min_ndet: 2,
                min_rb: 0.3,
                inner: Inner::default(),
            }
        }
    }
    impl UnitConfig for Cfg {
        fn validate(&self) -> Vec<FieldProblem> {
            let mut v = Vec::new();
            if !(0.0..=1.0).contains(&self.min_rb) {
                v.push(FieldProblem::new(
                    "min_rb",
                    &self.min_rb,
                    "a number in [0, 1]",
                ));
            }
            v
        }
    }

    #[test]
    fn defaults_are_filled() {
        let r = resolve_config::<Cfg>("F", &json!({"min_ndet": 3})).unwrap();
        assert_eq!(
            r.normalized,
            json!({"min_ndet": 3, "min_rb": 0.3, "inner": {"radius": 0.0}})
        );
        let r = resolve_config::<Cfg>("F", &Value::Null).unwrap();
        assert_eq!(r.config.min_ndet, 2);
    }

    #[test]
    fn every_unknown_field_and_range_problem_is_reported() {
        let e = resolve_config::<Cfg>(
            "F",
            &json!({"min_rb": 2.0, "bogus": 1, "inner": {"radus": 1}}),
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("invalid config for unit `F`"), "{text}");
        assert!(
            text.contains(
                "field `bogus` = 1: unknown field; known fields: inner, min_ndet, min_rb"
            ),
            "{text}"
        );
        assert!(
            text.contains("field `inner.radus` = 1: unknown field; known fields: radius"),
            "{text}"
        );
        assert!(
            text.contains("field `min_rb` = 2.0: a number in [0, 1]"),
            "{text}"
        );
        assert_eq!(e.problems.len(), 3);
    }

    #[test]
    fn wrong_type_names_field_and_value() {
        let e = resolve_config::<Cfg>("F", &json!({"min_ndet": "two", "extra": true})).unwrap_err();
        assert_eq!(e.problems.len(), 2, "{e}");
        let p = e
            .problems
            .iter()
            .find(|p| p.field == "min_ndet")
            .expect("type error reported");
        assert_eq!(p.value.as_deref(), Some("\"two\""));
        assert!(p.expected.contains("expected u32"), "{p}");
        assert!(e
            .problems
            .iter()
            .any(|p| p.field == "extra" && p.expected.starts_with("unknown field")));
    }
}
