//! `ZiDataPointShaper`: ZTF alert datapoints → datapoints, as Python AMPEL's
//! `ZiDataPointShaper`. Detections keep their `candid` as id and their body minus
//! `candid` and `programpi` (with `pdiffimfilename` cut to its base name, `.fz`
//! removed); upper limits get a negative id from time, readout channel and limiting
//! magnitude ([`upper_limit_id`]) and a reduced body.

use ampel_interface::serde_json::{Map, Value};
use ampel_interface::*;
use std::collections::BTreeSet;

/// JD of 2017-01-01, the origin of upper-limit ids.
pub const JD2017: f64 = 2_457_754.5;

/// Shapes ZTF datapoints.
pub struct ZiDataPointShaper;

impl Unit for ZiDataPointShaper {
    const NAME: &'static str = "ZiDataPointShaper";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SOURCE: &'static str = ampel_interface::crate_source!();
    type Config = NoConfig;
    fn new(_: NoConfig) -> Result<Self, ConfigError> {
        Ok(ZiDataPointShaper)
    }
}

/// The readout channel: `rcid`, or `(pid % 10000) / 100` when absent.
fn rcid(m: &Map<String, Value>) -> Option<i64> {
    match m.get("rcid").and_then(Value::as_i64) {
        Some(r) => Some(r),
        None => m
            .get("pid")
            .and_then(Value::as_i64)
            .map(|pid| pid.rem_euclid(10_000).div_euclid(100)),
    }
}

/// Python AMPEL's upper-limit id:
/// `int((JD2017 − jd)·10⁶)·10⁷ − rcid·10⁵ − round(diffmaglim·1000)` (round half to even).
pub fn upper_limit_id(jd: f64, rcid: i64, diffmaglim: f64) -> i64 {
    ((JD2017 - jd) * 1_000_000.0) as i64 * 10_000_000
        - rcid * 100_000
        - (diffmaglim * 1000.0).round_ties_even() as i64
}

/// Tags of a datapoint by program and filter (ampel-ztf's `tags` table).
fn tags(programid: i64, fid: i64) -> Result<BTreeSet<String>, UnitError> {
    let band = match fid {
        1 => "ZTF_G",
        2 => "ZTF_R",
        3 => "ZTF_I",
        other => return Err(UnitError::new(format!("unknown ZTF filter id fid={other}"))),
    };
    let access: &[&str] = match programid {
        1 => &["ZTF_PUB"],
        2 => &["ZTF_PRIV"],
        0 | 3 => &["ZTF_PUB", "ZTF_PRIV"],
        other => return Err(UnitError::new(format!("unknown ZTF programid {other}"))),
    };
    Ok(["ZTF", band]
        .iter()
        .chain(access)
        .map(|s| s.to_string())
        .collect())
}

fn int(m: &Map<String, Value>, k: &str) -> Result<i64, UnitError> {
    m.get(k)
        .and_then(Value::as_i64)
        .ok_or_else(|| UnitError::new(format!("datapoint has no integer `{k}`")))
}

fn float(m: &Map<String, Value>, k: &str) -> Result<f64, UnitError> {
    m.get(k)
        .and_then(Value::as_f64)
        .ok_or_else(|| UnitError::new(format!("datapoint has no number `{k}`")))
}

impl Shaper for ZiDataPointShaper {
    fn process(&self, alert: AmpelAlert) -> Result<Vec<ShapedDataPoint>, UnitError> {
        let mut out = Vec::with_capacity(alert.datapoints.len());
        for dp in alert.datapoints {
            let Value::Object(mut m) = dp else {
                return Err(UnitError::new(format!(
                    "alert {}: a datapoint is not a map",
                    alert.id
                )));
            };
            let tag = tags(int(&m, "programid")?, int(&m, "fid")?)?;
            let candid = m.get("candid").and_then(Value::as_i64).filter(|c| *c != 0);
            if let Some(id) = candid {
                if let Some(Value::String(f)) = m.get_mut("pdiffimfilename") {
                    *f = f.rsplit('/').next().unwrap_or_default().replace(".fz", "");
                }
                m.remove("candid");
                m.remove("programpi");
                out.push(ShapedDataPoint {
                    id,
                    tag,
                    body: Value::Object(m),
                });
            } else {
                let (jd, lim) = (float(&m, "jd")?, float(&m, "diffmaglim")?);
                let rc = rcid(&m)
                    .ok_or_else(|| UnitError::new("upper limit has neither rcid nor pid"))?;
                let mut body = Map::new();
                body.insert("jd".into(), Value::from(jd));
                body.insert("diffmaglim".into(), Value::from(lim));
                body.insert("rcid".into(), Value::from(rc));
                body.insert("fid".into(), m.remove("fid").unwrap_or(Value::Null));
                body.insert(
                    "programid".into(),
                    m.remove("programid").unwrap_or(Value::Null),
                );
                out.push(ShapedDataPoint {
                    id: upper_limit_id(jd, rc, lim),
                    tag,
                    body: Value::Object(body),
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_docstring_upper_limit() {
        // ZiDataPointShaperBase.ul_identity docstring example
        let pid: i64 = 335_240_532_815;
        let rc = (pid % 10_000) / 100;
        assert_eq!(
            upper_limit_id(2_458_089.740_532_4, rc, 19.024_799_346_923_828),
            -3_352_405_322_819_025
        );
    }
}
