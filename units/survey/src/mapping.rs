//! The survey mapping: which fields of a survey's alert packet give the object id,
//! the alert id, and for each group of measurements (the triggering one, history
//! arrays, forced photometry, upper limits) the id, time and its scale, band,
//! magnitude or flux with errors and limiting magnitude; and the access tags.
//! Written in TOML (see `mappings/*.toml`, shipped with this crate, or a file
//! resource of the instance), checked as a whole: every problem is reported at
//! once, with the field it is in.
//!
//! Field paths are dotted (`candidate.mjd`), relative to the measurement record;
//! a path starting `$.` starts at the top of the packet (`$.candid`); `a|b` is `a`,
//! or `b` where `a` is absent or null (schema versions that renamed a field).

use ampel_interface::serde_json::Value;
use ampel_interface::FieldProblem;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One survey's alert packets, field by field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurveyMapping {
    /// The survey's name (`ATLAS`); upper-cased, it is the datapoints' survey tag.
    pub survey: String,
    /// The schema this mapping is written against (`elasticc.v0_9`).
    pub schema: String,
    /// Where that schema is published.
    #[serde(default)]
    pub reference: String,
    /// Fields every packet of this schema has: a packet that has them all is
    /// this survey's (and one that lacks one is not).
    pub detect: Vec<String>,
    /// The object id (an integer, digits, or a name such as `WNTR24aaaab`).
    pub object_id: String,
    /// The alert id (an integer or digits).
    pub alert_id: String,
    /// The schema version as the packet states it, if it does.
    #[serde(default)]
    pub schema_version: Option<String>,
    /// The measurements, the triggering one first.
    pub measurements: Vec<Measurements>,
    /// Data rights of the measurements.
    #[serde(default)]
    pub access: Access,
}

/// What a group of measurements is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Detections (positive ids).
    Detection,
    /// Forced photometry (negative ids, as Rubin's forced sources).
    Forced,
    /// Upper limits: a limiting magnitude, no detection (negative ids).
    Limit,
}

/// How a time field counts days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeScale {
    /// Julian date.
    Jd,
    /// Modified Julian date (JD − 2400000.5).
    Mjd,
}

/// A group of measurements: one record or an array of records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Measurements {
    /// Path of the record or the array of records (`candidate`, `prv_candidates`).
    pub path: String,
    /// What they are. A detection record without a magnitude or flux but with a
    /// limiting magnitude is an upper limit.
    pub kind: Kind,
    /// The measurement's id. Without one (or where a record's is null) the id is
    /// made from the record's content (canonical JSON, SHA-256), negative.
    #[serde(default)]
    pub id: Option<String>,
    /// The time.
    pub time: String,
    /// Its scale.
    pub time_scale: TimeScale,
    /// The time system the survey states (`UTC`, `TAI`): shown, not converted.
    #[serde(default)]
    pub time_system: Option<String>,
    /// The band (a name or a code).
    pub band: String,
    /// Band codes to names (`"1" = "Y"`); a code not listed stays as it is.
    #[serde(default)]
    pub bands: BTreeMap<String, String>,
    /// AB magnitude.
    #[serde(default)]
    pub mag: Option<String>,
    /// Its error.
    #[serde(default)]
    pub mag_err: Option<String>,
    /// Flux.
    #[serde(default)]
    pub flux: Option<String>,
    /// Its error.
    #[serde(default)]
    pub flux_err: Option<String>,
    /// The AB magnitude of flux 1 in the survey's unit (31.4 for nJy, 27.5 for
    /// SNANA's FLUXCAL); fluxes are stored in nJy.
    #[serde(default)]
    pub flux_zero_point: Option<f64>,
    /// Limiting magnitude (upper limits).
    #[serde(default)]
    pub limit: Option<String>,
    /// Right ascension, degrees (stored as `ra`).
    #[serde(default)]
    pub ra: Option<String>,
    /// Declination, degrees (stored as `dec`).
    #[serde(default)]
    pub dec: Option<String>,
}

/// Data rights: every measurement gets the tag `tag`, or, if `field` is given, the
/// tag `values` gives for that field's value (`tag` for values not listed).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Access {
    /// The tag (default: the survey tag).
    #[serde(default)]
    pub tag: Option<String>,
    /// A field of the measurement deciding the tag.
    #[serde(default)]
    pub field: Option<String>,
    /// Its values to tags.
    #[serde(default)]
    pub values: BTreeMap<String, String>,
}

/// The mappings shipped with this crate: name, TOML.
pub const SHIPPED: &[(&str, &str)] = &[
    ("atlas", include_str!("../mappings/atlas.toml")),
    (
        "decam-desirt",
        include_str!("../mappings/decam-desirt.toml"),
    ),
    (
        "elasticc-v0_9",
        include_str!("../mappings/elasticc-v0_9.toml"),
    ),
    ("winter", include_str!("../mappings/winter.toml")),
];

/// The largest mapping file read (a mapping is a few kB).
pub const MAX_MAPPING_BYTES: u64 = 1 << 20;

impl SurveyMapping {
    /// A shipped mapping by name.
    pub fn shipped(name: &str) -> Option<SurveyMapping> {
        Self::all_shipped()
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, m)| m.clone())
    }

    /// Every shipped mapping, parsed once per process (refusals ask for them on
    /// every packet no mapping fits).
    pub fn all_shipped() -> &'static [(&'static str, SurveyMapping)] {
        static PARSED: std::sync::OnceLock<Vec<(&'static str, SurveyMapping)>> =
            std::sync::OnceLock::new();
        PARSED.get_or_init(|| {
            SHIPPED
                .iter()
                .map(|(n, text)| (*n, Self::from_toml(text).expect("shipped mappings parse")))
                .collect()
        })
    }

    /// Parse a mapping from TOML text.
    pub fn from_toml(text: &str) -> Result<SurveyMapping, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// The survey tag: the name upper-cased, other characters than letters and
    /// digits as `_` ([`tag_word`]).
    pub fn tag(&self) -> String {
        tag_word(&self.survey)
    }

    /// Every problem of this mapping, fields under `prefix`.
    pub fn problems(&self, prefix: &str) -> Vec<FieldProblem> {
        let mut out = Vec::new();
        let mut bad = |field: String, value: &str, expected: &str| {
            out.push(FieldProblem {
                field: format!("{prefix}{field}"),
                value: Some(format!("{value:?}")),
                expected: expected.into(),
            })
        };
        if self.tag().is_empty() {
            bad("survey".into(), &self.survey, "a survey name");
        }
        if self.detect.is_empty() {
            bad(
                "detect".into(),
                "[]",
                "at least one field every packet of the schema has",
            );
        }
        let mut paths: Vec<(String, &str)> = vec![
            ("object_id".into(), &self.object_id),
            ("alert_id".into(), &self.alert_id),
        ];
        for (i, d) in self.detect.iter().enumerate() {
            paths.push((format!("detect.{i}"), d));
        }
        if self.measurements.is_empty() {
            bad(
                "measurements".into(),
                "[]",
                "at least the triggering measurement",
            );
        }
        for (i, m) in self.measurements.iter().enumerate() {
            let at = |f: &str| format!("measurements.{i}.{f}");
            paths.push((at("path"), &m.path));
            paths.push((at("time"), &m.time));
            paths.push((at("band"), &m.band));
            for (f, p) in [
                ("id", &m.id),
                ("mag", &m.mag),
                ("mag_err", &m.mag_err),
                ("flux", &m.flux),
                ("flux_err", &m.flux_err),
                ("limit", &m.limit),
                ("ra", &m.ra),
                ("dec", &m.dec),
            ] {
                if let Some(p) = p {
                    paths.push((at(f), p));
                }
            }
            if m.mag.is_none() && m.flux.is_none() && m.limit.is_none() {
                bad(
                    at("mag"),
                    "none",
                    "a magnitude, a flux or a limiting magnitude field",
                );
            }
            if m.flux.is_some() && m.flux_zero_point.is_none() {
                bad(
                    at("flux_zero_point"),
                    "none",
                    "the AB magnitude of flux 1 in the survey's unit (31.4 for nJy)",
                );
            }
            if let Some(zp) = m.flux_zero_point.filter(|z| !(0.0..=60.0).contains(z)) {
                bad(
                    at("flux_zero_point"),
                    &zp.to_string(),
                    "an AB zero point, 0 to 60",
                );
            }
            if i == 0 && m.kind != Kind::Detection {
                bad(
                    at("kind"),
                    &format!("{:?}", m.kind).to_lowercase(),
                    "detection (the first measurement is the one that triggered the alert)",
                );
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, m) in self.measurements.iter().enumerate() {
            if !seen.insert(m.path.as_str()) {
                bad(
                    format!("measurements.{i}.path"),
                    &m.path,
                    "a path no other group of measurements has (each record is read once)",
                );
            }
        }
        for (field, p) in paths {
            if !valid_path(p) {
                bad(
                    field,
                    p,
                    "a dotted field path (`candidate.mjd`, or `$.candid` from the packet's top)",
                );
            }
        }
        if let Some(f) = &self.access.field {
            if !valid_path(f) {
                bad("access.field".into(), f, "a dotted field path");
            }
        }
        out
    }
}

/// `ATLAS` for `ATLAS`, `ELASTICC` for `ELAsTiCC`: upper case, other characters
/// than letters and digits as `_` (survey and band tags).
pub fn tag_word(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn valid_path(p: &str) -> bool {
    p.split('|').all(|p| {
        let p = p.strip_prefix("$.").unwrap_or(p);
        !p.is_empty()
            && p.split('.').all(|s| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '/' || c == '-')
            })
    })
}

/// The value at a dotted path from `record` (or from `packet` for `$.` paths),
/// the first of `a|b` alternatives present; null counts as absent.
pub fn lookup<'a>(packet: &'a Value, record: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('|').find_map(|path| {
        let (mut v, rest) = match path.strip_prefix("$.") {
            Some(rest) => (packet, rest),
            None => (record, path),
        };
        for part in rest.split('.') {
            v = v.get(part)?;
        }
        (!v.is_null()).then_some(v)
    })
}

/// An id: an integer, or a string of digits (ATLAS writes its ids as text).
pub fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A number (a float, an integer, or digits in a string).
pub fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|x: &f64| x.is_finite())
}

/// A value as text for band codes and access values (`1`, `"J"`, `true`).
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ampel_interface::serde_json::json;

    #[test]
    fn every_shipped_mapping_parses_and_has_no_problem() {
        for (name, m) in SurveyMapping::all_shipped() {
            assert_eq!(m.problems(""), vec![], "{name}");
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let m = SurveyMapping::from_toml(
            r#"
            survey = "X"
            schema = "x"
            detect = []
            object_id = "a..b"
            alert_id = "id"
            [[measurements]]
            path = "c"
            kind = "forced"
            time = "t"
            time_scale = "mjd"
            band = "b"
            flux = "f"
            "#,
        )
        .unwrap();
        let fields: Vec<String> = m.problems("m.").into_iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            [
                "m.detect",
                "m.measurements.0.flux_zero_point",
                "m.measurements.0.kind",
                "m.object_id"
            ]
        );
    }

    #[test]
    fn paths_from_the_record_or_the_top() {
        let packet = json!({"candid": "123", "c": {"mjd": 60000.5, "n": null}});
        let rec = &packet["c"];
        assert_eq!(lookup(&packet, rec, "mjd"), Some(&json!(60000.5)));
        assert_eq!(
            lookup(&packet, rec, "$.candid").and_then(integer),
            Some(123)
        );
        assert_eq!(lookup(&packet, rec, "n"), None, "null is absent");
        assert_eq!(lookup(&packet, rec, "x.y"), None);
        assert_eq!(lookup(&packet, rec, "n|$.candid"), Some(&json!("123")));
    }
}
