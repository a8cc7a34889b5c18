//! `ZiMuxer`: the supersession logic of Python AMPEL's `ZiMongoMuxer`, without the
//! database access (the runtime passes the stock's stored datapoints in).
//!
//! Datapoints (stored and new) are grouped by `(jd, rcid)`; within a group the
//! highest id is current and every lower id is superseded by the higher ones: it is
//! tagged `SUPERSEDED` and gets one meta record per superseding id (not repeated on
//! re-ingestion). Nothing is deleted. `insert` holds the alert's datapoints not yet
//! stored plus stored ones whose supersession changed; `combine` holds the current
//! datapoint of each group up to the alert's time.

use ampel_interface::serde_json::{json, Value};
use ampel_interface::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The tag of superseded datapoints.
pub const SUPERSEDED: &str = "SUPERSEDED";

/// The supersession muxer.
pub struct ZiMuxer;

impl Unit for ZiMuxer {
    const NAME: &'static str = "ZiMuxer";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SOURCE: &'static str = ampel_interface::crate_source!();
    type Config = NoConfig;
    fn new(_: NoConfig) -> Result<Self, ConfigError> {
        Ok(ZiMuxer)
    }
}

fn key(dp: &DataPoint) -> Result<(u64, i64), UnitError> {
    let jd = dp.body.get("jd").and_then(Value::as_f64);
    let rcid = dp.body.get("rcid").and_then(Value::as_i64);
    match (jd, rcid) {
        (Some(j), Some(r)) => Ok((j.to_bits(), r)),
        _ => Err(UnitError::new(format!(
            "datapoint {} has no jd/rcid",
            dp.id
        ))),
    }
}

fn mark(dp: &mut DataPoint, newer: &[DataPointId]) -> bool {
    let mut changed = dp.tag.insert(SUPERSEDED.to_string());
    for id in newer {
        let known = dp.meta.iter().any(|m| {
            m.extra
                .as_ref()
                .and_then(|e| e.get("superseded_by"))
                .and_then(Value::as_i64)
                == Some(*id)
        });
        if !known {
            let mut m = MetaRecord::new(0, 0.0, Tier::T0, DocumentCode::OK);
            m.extra = Some(json!({ "superseded_by": id }));
            dp.meta.push(m);
            changed = true;
        }
    }
    changed
}

impl Muxer for ZiMuxer {
    fn process(&self, new: &[DataPoint], known: &[DataPoint]) -> Result<MuxResult, UnitError> {
        let Some(latest) = new.first() else {
            return Ok(MuxResult::default());
        };
        let latest_jd = latest
            .body
            .get("jd")
            .and_then(Value::as_f64)
            .unwrap_or(f64::INFINITY);
        let mut groups: BTreeMap<(u64, i64), BTreeSet<DataPointId>> = BTreeMap::new();
        let mut by_id: HashMap<DataPointId, &DataPoint> = HashMap::new();
        for dp in known.iter().chain(new) {
            groups.entry(key(dp)?).or_default().insert(dp.id);
            by_id.entry(dp.id).or_insert(dp);
        }
        let known_ids: BTreeSet<DataPointId> = known.iter().map(|d| d.id).collect();
        let mut superseded: HashMap<DataPointId, Vec<DataPointId>> = HashMap::new();
        let mut current = Vec::new();
        for ids in groups.values() {
            let ids: Vec<DataPointId> = ids.iter().copied().collect();
            for (i, id) in ids.iter().enumerate() {
                if i + 1 < ids.len() {
                    superseded.insert(*id, ids[i + 1..].to_vec());
                }
            }
            current.push(*ids.last().unwrap_or(&0));
        }
        let mut insert = Vec::new();
        let mut updated = Vec::new();
        for dp in new.iter().filter(|d| !known_ids.contains(&d.id)) {
            insert.push(dp.id);
            if let Some(newer) = superseded.get(&dp.id) {
                let mut dp = dp.clone();
                mark(&mut dp, newer);
                updated.push(dp);
            }
        }
        for dp in known {
            if let Some(newer) = superseded.get(&dp.id) {
                let mut dp = dp.clone();
                if mark(&mut dp, newer) {
                    updated.push(dp);
                }
            }
        }
        let combine = current
            .into_iter()
            .filter(|id| {
                by_id
                    .get(id)
                    .and_then(|d| d.body.get("jd"))
                    .and_then(Value::as_f64)
                    .is_some_and(|jd| jd <= latest_jd)
            })
            .collect();
        Ok(MuxResult {
            insert,
            updated,
            combine,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dp(id: i64, jd: f64, rcid: i64) -> DataPoint {
        DataPoint {
            id,
            stock: [1].into(),
            origin: None,
            tag: ["ZTF".to_string()].into(),
            channel: Default::default(),
            excl: Default::default(),
            meta: vec![],
            body: json!({"jd": jd, "rcid": rcid}),
            expiry: None,
        }
    }

    #[test]
    fn reprocessed_photometry_supersedes_and_is_idempotent() {
        let known = vec![dp(100, 1.0, 5), dp(200, 2.0, 5)];
        // the alert brings a reprocessed version of dp 100 (same jd/rcid, higher id)
        let new = vec![dp(300, 3.0, 5), dp(150, 1.0, 5), dp(200, 2.0, 5)];
        let r = ZiMuxer.process(&new, &known).unwrap();
        assert_eq!(
            r.insert,
            vec![300, 150],
            "the alert's datapoints not stored yet"
        );
        let changed: Vec<i64> = r.updated.iter().map(|d| d.id).collect();
        assert_eq!(changed, vec![100], "the superseded stored one");
        let old = &r.updated[0];
        assert!(old.tag.contains(SUPERSEDED));
        assert_eq!(old.meta[0].extra, Some(json!({"superseded_by": 150})));
        let mut combine = r.combine.clone();
        combine.sort();
        assert_eq!(combine, vec![150, 200, 300]);
        // replaying with the stored state updated changes nothing more
        let known2 = vec![
            old.clone(),
            dp(150, 1.0, 5),
            dp(200, 2.0, 5),
            dp(300, 3.0, 5),
        ];
        let r2 = ZiMuxer.process(&new, &known2).unwrap();
        assert!(r2.insert.is_empty() && r2.updated.is_empty(), "{r2:?}");
    }
}
