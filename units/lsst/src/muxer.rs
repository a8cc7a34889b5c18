//! `LsstMuxer`: a Rubin alert's datapoints with those already stored for the
//! object, so a state holds the whole light curve known at the alert's time even
//! when a packet carries no history (broker rewrites such as Fink's drop
//! `prvDiaSources`). `insert`: the alert's datapoints not stored yet; `combine`:
//! stored and new datapoints up to the alert's latest time (a reprocessing of
//! older alerts does not see later data). Rubin measurements are not superseded,
//! so nothing is tagged or updated.

use ampel_interface::*;
use std::collections::BTreeSet;

/// The Rubin muxer.
pub struct LsstMuxer;

impl Unit for LsstMuxer {
    const NAME: &'static str = "LsstMuxer";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SOURCE: &'static str = ampel_interface::crate_source!();
    type Config = NoConfig;
    fn new(_: NoConfig) -> Result<Self, ConfigError> {
        Ok(LsstMuxer)
    }
}

impl Muxer for LsstMuxer {
    fn process(&self, new: &[DataPoint], known: &[DataPoint]) -> Result<MuxResult, UnitError> {
        let stored: BTreeSet<DataPointId> = known.iter().map(|d| d.id).collect();
        let until = new
            .iter()
            .filter_map(DataPoint::jd)
            .reduce(f64::max)
            .unwrap_or(f64::INFINITY);
        let mut combine: BTreeSet<DataPointId> = new.iter().map(|d| d.id).collect();
        combine.extend(
            known
                .iter()
                .filter(|d| d.jd().is_some_and(|jd| jd <= until))
                .map(|d| d.id),
        );
        Ok(MuxResult {
            insert: new
                .iter()
                .map(|d| d.id)
                .filter(|id| !stored.contains(id))
                .collect(),
            updated: Vec::new(),
            combine: combine.into_iter().collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ampel_interface::serde_json::json;

    fn dp(id: DataPointId, jd: f64) -> DataPoint {
        DataPoint::shaped(id, 1, ["LSST"], json!({ "jd": jd }))
    }

    #[test]
    fn stored_history_up_to_the_alert_joins_the_state() {
        let known = [dp(1, 10.0), dp(2, 11.0), dp(9, 30.0)];
        let new = [dp(2, 11.0), dp(3, 12.0)];
        let r = LsstMuxer.process(&new, &known).unwrap();
        assert_eq!(r.insert, vec![3], "datapoint 2 is stored already");
        assert_eq!(r.combine, vec![1, 2, 3], "9 is later than the alert");
        assert!(r.updated.is_empty());
    }
}
