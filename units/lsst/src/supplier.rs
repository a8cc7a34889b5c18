//! `LsstAlertSupplier`: a Rubin alert packet → [`AmpelAlert`], for every alert
//! schema from 7.0 to 11.1 (the alert id is `alertId` before 8.0, `diaSourceId`
//! since).

use ampel_interface::serde_json::Value;
use ampel_interface::*;

/// Builds Rubin alerts from packets.
pub struct LsstAlertSupplier;

impl Unit for LsstAlertSupplier {
    const NAME: &'static str = "LsstAlertSupplier";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SOURCE: &'static str = ampel_interface::crate_source!();
    type Config = NoConfig;
    fn new(_: NoConfig) -> Result<Self, ConfigError> {
        Ok(LsstAlertSupplier)
    }
}

/// The stock of a Rubin alert: `diaObjectId`, else `ssObjectId`.
pub fn stock_of(source: &Value, object: Option<&Value>) -> Option<i64> {
    let nonzero = |v: Option<&Value>| v.and_then(Value::as_i64).filter(|i| *i != 0);
    nonzero(object.and_then(|o| o.get("diaObjectId")))
        .or_else(|| nonzero(source.get("diaObjectId")))
        .or_else(|| nonzero(source.get("ssObjectId")))
}

impl AlertSupplier for LsstAlertSupplier {
    fn supply(&self, packet: Body) -> Result<AmpelAlert, UnitError> {
        let Value::Object(mut p) = packet else {
            return Err(UnitError::new("Rubin packet is not a record"));
        };
        let source = p
            .remove("diaSource")
            .filter(Value::is_object)
            .ok_or_else(|| UnitError::new("Rubin packet has no diaSource record"))?;
        // the alert id: `diaSourceId` since schema 8.0, `alertId` before; a
        // re-write may keep only the source's own `diaSourceId`
        let id = p
            .get("diaSourceId")
            .or_else(|| p.get("alertId"))
            .or_else(|| source.get("diaSourceId"))
            .and_then(Value::as_i64)
            .ok_or_else(|| {
                UnitError::new(
                    "Rubin packet has no diaSourceId (schema 8.0+, at the top or in diaSource) or alertId (before 8.0)",
                )
            })?;
        let stock =
            stock_of(&source, p.get("diaObject").filter(|o| o.is_object())).ok_or_else(|| {
                UnitError::new(format!(
                    "alert {id} has neither a diaObjectId nor an ssObjectId"
                ))
            })?;
        let mut datapoints = vec![source];
        for key in ["prvDiaSources", "prvDiaForcedSources"] {
            if let Some(Value::Array(items)) = p.remove(key) {
                datapoints.extend(items.into_iter().filter(Value::is_object));
            }
        }
        let mut extra = std::collections::BTreeMap::new();
        if let Some(v) = p.remove("lsst_schema_version") {
            extra.insert("schema".to_string(), v);
        }
        let jd = datapoints
            .first()
            .and_then(|d| d.get("midpointMjdTai"))
            .and_then(Value::as_f64)
            .map(|mjd| mjd + ampel_interface::photometry::MJD_TO_JD);
        Ok(AmpelAlert {
            id,
            stock,
            name: Some(stock.to_string()),
            jd,
            datapoints,
            tag: ["LSST".to_string()].into(),
            extra,
        })
    }

    fn fields(&self) -> Option<std::collections::BTreeSet<String>> {
        // the stock, from `diaObject` or `diaSource` (see [`stock_of`])
        Some(
            ["diaObjectId", "ssObjectId", "diaSourceId"]
                .map(String::from)
                .into(),
        )
    }
}
