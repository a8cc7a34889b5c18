//! Which survey a packet looks like, so a packet no mapping fits is refused with a
//! message that names what it is: ZTF and Rubin (read by their own suppliers),
//! every shipped mapping's schema, or, failing all, its top-level fields.

use crate::mapping::{lookup, SurveyMapping};
use ampel_interface::serde_json::Value;

/// The first `detect` field of `mapping` the packet lacks, if any.
pub fn missing<'a>(mapping: &'a SurveyMapping, packet: &Value) -> Option<&'a str> {
    mapping
        .detect
        .iter()
        .find(|f| lookup(packet, packet, f).is_none())
        .map(String::as_str)
}

fn version(packet: &Value, key: &str) -> String {
    match packet.get(key) {
        Some(Value::String(s)) => format!(", schema {s}"),
        Some(Value::Number(n)) => format!(", schema {n}"),
        _ => String::new(),
    }
}

/// What the packet looks like, as words: `a ZTF alert (schema 3.3; read it
/// with ZiAlertSupplier)`, `WINTER (winter.alert 0.1-0.4)`, or its top-level fields.
pub fn looks_like(packet: &Value) -> String {
    let has = |p: &str| lookup(packet, packet, p).is_some();
    if has("objectId")
        && has("candid")
        && has("candidate.magpsf")
        && has("candidate.programid")
        && has("candidate.rb")
        && !has("candidate.boardid")
    {
        return format!(
            "a ZTF alert{}; ZiAlertSupplier reads it",
            version(packet, "schemavsn")
        );
    }
    if has("diaSource.midpointMjdTai") || has("diaSource.midPointMjdTai") {
        return format!(
            "a Rubin alert{}; LsstAlertSupplier reads it",
            version(packet, "lsst_schema_version")
        );
    }
    for (name, m) in SurveyMapping::all_shipped() {
        if missing(m, packet).is_none() {
            return format!(
                "{} ({}); the shipped mapping `{name}` reads it",
                m.survey, m.schema
            );
        }
    }
    match packet {
        Value::Object(o) => {
            let mut keys: Vec<&str> = o.keys().map(String::as_str).collect();
            let more = keys.len().saturating_sub(12);
            keys.truncate(12);
            format!(
                "no survey known here; its top-level fields are {}{}",
                keys.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            )
        }
        other => format!("no alert: a JSON {}", kind(other)),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ampel_interface::serde_json::json;

    #[test]
    fn ztf_rubin_shipped_and_unknown() {
        let ztf = json!({"schemavsn": "3.3", "objectId": "ZTF18a", "candid": 1,
            "candidate": {"magpsf": 18.0, "programid": 1, "rb": 0.9, "jd": 2.4e6, "fid": 1}});
        assert!(looks_like(&ztf).starts_with("a ZTF alert, schema 3.3"));
        let rubin = json!({"diaSource": {"midpointMjdTai": 60000.0}, "lsst_schema_version": "9.0"});
        assert!(looks_like(&rubin).starts_with("a Rubin alert, schema 9.0"));
        let elasticc = json!({"alertId": 1, "diaSource": {"diaSourceId": 2, "midPointTai": 60000.0,
            "filterName": "r", "psFlux": 10.0}});
        assert!(looks_like(&elasticc).starts_with("ELAsTiCC (elasticc.v0_9)"));
        let winter = json!({"candid": 1, "objectid": "WNTR24aaaab", "candidate": {"magpsf": 17.0,
            "fid": 2, "jd": 2.46e6, "boardid": 3, "programid": 1, "rb": 0.5}});
        assert!(
            looks_like(&winter).starts_with("WINTER"),
            "{}",
            looks_like(&winter)
        );
        assert_eq!(
            looks_like(&json!({"b": 1, "a": 2})),
            "no survey known here; its top-level fields are a, b"
        );
        assert_eq!(looks_like(&json!([1])), "no alert: a JSON array");
    }
}
