//! `ZiAlertSupplier`: a decoded ZTF packet → [`AmpelAlert`], as Python AMPEL's
//! `ZiAlertSupplier.shape_alert_dict`: datapoints are `candidate` then
//! `prv_candidates`; entries without `candid` are upper limits reduced to
//! `{jd, fid, pid, diffmaglim, programid, pdiffimfilename}` and dropped if
//! `diffmaglim < 0`; the stock is the object name's id; `extra.name` the name.

use crate::id::to_ampel_id;
use ampel_interface::serde_json::{Map, Value};
use ampel_interface::*;

/// Builds ZTF alerts from packets.
pub struct ZiAlertSupplier;

impl Unit for ZiAlertSupplier {
    const NAME: &'static str = "ZiAlertSupplier";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SOURCE: &'static str = ampel_interface::crate_source!();
    type Config = NoConfig;
    fn new(_: NoConfig) -> Result<Self, ConfigError> {
        Ok(ZiAlertSupplier)
    }
}

const UL_KEYS: [&str; 6] = [
    "jd",
    "fid",
    "pid",
    "diffmaglim",
    "programid",
    "pdiffimfilename",
];

impl AlertSupplier for ZiAlertSupplier {
    fn supply(&self, packet: Body) -> Result<AmpelAlert, UnitError> {
        let Value::Object(mut p) = packet else {
            return Err(UnitError::new("ZTF packet is not a record"));
        };
        let name = match p.get("objectId") {
            Some(Value::String(s)) => s.clone(),
            other => {
                return Err(UnitError::new(format!(
                    "ZTF packet has no objectId string (got {other:?})"
                )))
            }
        };
        let stock = to_ampel_id(&name)
            .ok_or_else(|| UnitError::new(format!("`{name}` is not a ZTF object name")))?;
        let candidate = p
            .remove("candidate")
            .filter(Value::is_object)
            .ok_or_else(|| {
                UnitError::new(format!("ZTF packet of {name} has no candidate record"))
            })?;
        // the alert id is the candidate's; brokers' re-writes may drop the
        // alert-level copy
        let id = p
            .get("candid")
            .and_then(Value::as_i64)
            .or_else(|| candidate.get("candid").and_then(Value::as_i64))
            .ok_or_else(|| {
                UnitError::new(format!(
                    "ZTF packet of {name} has no candid (neither at the top nor in candidate)"
                ))
            })?;
        let mut datapoints = vec![candidate];
        if let Some(Value::Array(prv)) = p.remove("prv_candidates") {
            for el in prv {
                let Value::Object(mut m) = el else { continue };
                if m.get("candid").is_some_and(|c| !c.is_null()) {
                    datapoints.push(Value::Object(m));
                    continue;
                }
                if m.get("diffmaglim")
                    .and_then(Value::as_f64)
                    .is_some_and(|d| d < 0.0)
                {
                    continue;
                }
                let mut ul = Map::new();
                for k in UL_KEYS {
                    ul.insert(k.to_string(), m.remove(k).unwrap_or(Value::Null));
                }
                datapoints.push(Value::Object(ul));
            }
        }
        let jd = datapoints.first().and_then(body_jd);
        Ok(AmpelAlert {
            id,
            stock,
            name: Some(name),
            jd,
            datapoints,
            tag: Default::default(),
            extra: Default::default(),
        })
    }

    fn fields(&self) -> Option<std::collections::BTreeSet<String>> {
        // `candid` tells detections from upper limits, `diffmaglim` drops bad ones
        Some(["candid", "diffmaglim"].map(String::from).into())
    }
}
