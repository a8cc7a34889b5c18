//! `SurveyAlertSupplier`: a packet of any survey a mapping describes → an
//! [`AmpelAlert`]. The mappings are shipped ones by name (`surveys`), inline
//! tables (`mappings`) or TOML files carried as instance resources (`files`); the
//! first whose `detect` fields the packet has reads it. A packet no mapping fits
//! is refused with what it looks like (see [`crate::detect`]).
//!
//! Each measurement becomes a datapoint body: the survey's record as it is, plus
//! the photometry keys of [`ampel_interface::photometry::keys`] (time as `jd`,
//! band name, AB magnitude (from a flux only at S/N >= 3), flux in nJy, limiting
//! magnitude, kind, access tag;
//! `ra` and `dec` in degrees where the mapping names them)
//! and the datapoint id in `_dp_id`, which the shaper takes out.

use crate::detect::{looks_like, missing};
use crate::mapping::{integer, lookup, number, text, Kind, Measurements, SurveyMapping, TimeScale};
use crate::mapping::{MAX_MAPPING_BYTES, SHIPPED};
use ampel_interface::photometry::MJD_TO_JD;
use ampel_interface::photometry::{flux_err_njy, flux_njy, keys, mag_of_flux, to_njy};
use ampel_interface::serde_json::Value;
use ampel_interface::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;

/// Config of [`SurveyAlertSupplier`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SurveyAlertSupplierConfig {
    /// Shipped mappings by name (`atlas`, `decam-desirt`, `elasticc-v0_9`, `winter`).
    pub surveys: Vec<String>,
    /// Mappings written out in the manifest.
    pub mappings: Vec<SurveyMapping>,
    /// Mapping files (TOML), as `{ resource = "NAME" }` file resources of the
    /// instance, so a rerun reads the same mapping.
    pub files: Vec<ResourceFile>,
}

impl UnitConfig for SurveyAlertSupplierConfig {
    fn validate(&self) -> Vec<FieldProblem> {
        let mut out = Vec::new();
        if self.surveys.is_empty() && self.mappings.is_empty() && self.files.is_empty() {
            out.push(FieldProblem::new(
                "surveys",
                &self.surveys,
                "at least one mapping: a shipped one by name, an inline table or a file",
            ));
        }
        let names: Vec<&str> = SHIPPED.iter().map(|(n, _)| *n).collect();
        for (i, s) in self.surveys.iter().enumerate() {
            if !names.contains(&s.as_str()) {
                out.push(FieldProblem::new(
                    format!("surveys.{i}"),
                    s,
                    format!("a shipped mapping: {}", names.join(", ")),
                ));
            }
        }
        for (i, m) in self.mappings.iter().enumerate() {
            out.extend(m.problems(&format!("mappings.{i}.")));
        }
        out
    }
}

/// Builds alerts of mapped surveys.
pub struct SurveyAlertSupplier {
    mappings: Vec<SurveyMapping>,
}

fn read_mapping(f: &ResourceFile) -> Result<SurveyMapping, String> {
    let path = f.path().map_err(|e| e.to_string())?;
    let mut text = String::new();
    std::fs::File::open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .take(MAX_MAPPING_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("{}: {e}", f.file))?;
    if text.len() as u64 > MAX_MAPPING_BYTES {
        return Err(format!(
            "{}: larger than {MAX_MAPPING_BYTES} bytes; a mapping is a few kB",
            f.file
        ));
    }
    SurveyMapping::from_toml(&text).map_err(|e| format!("{}: {e}", f.file))
}

impl Unit for SurveyAlertSupplier {
    const NAME: &'static str = "SurveyAlertSupplier";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SOURCE: &'static str = ampel_interface::crate_source!();
    type Config = SurveyAlertSupplierConfig;
    fn new(c: SurveyAlertSupplierConfig) -> Result<Self, ConfigError> {
        let mut mappings: Vec<SurveyMapping> = c
            .surveys
            .iter()
            .filter_map(|s| SurveyMapping::shipped(s))
            .collect();
        mappings.extend(c.mappings);
        let mut problems = Vec::new();
        for (i, f) in c.files.iter().enumerate() {
            match read_mapping(f) {
                Ok(m) => {
                    problems.extend(m.problems(&format!("files.{i}: ")));
                    mappings.push(m);
                }
                Err(e) => problems.push(FieldProblem::new(
                    format!("files.{i}"),
                    &f.file,
                    format!("a survey mapping in TOML ({e})"),
                )),
            }
        }
        if !problems.is_empty() {
            return Err(ConfigError {
                unit: Self::NAME.into(),
                problems,
            });
        }
        Ok(SurveyAlertSupplier { mappings })
    }
}

/// The stock id of an object name that is not a number: the first 8 bytes of
/// SHA-256 of the name, big-endian, shifted right by one (a positive `i64`; 1
/// should that be 0).
pub fn stock_of_name(name: &str) -> StockId {
    let d = Sha256::digest(name.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    ((u64::from_be_bytes(b) >> 1) as i64).max(1)
}

/// A negative id from a record's content (canonical JSON, SHA-256, 60 bits).
fn content_id(record: &Value) -> i64 {
    let d = Sha256::digest(hash::canonical_json(record).as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    -((u64::from_be_bytes(b) >> 4) as i64).max(1)
}

fn records<'a>(packet: &'a Value, path: &str) -> Vec<&'a Value> {
    match lookup(packet, packet, path) {
        Some(Value::Array(items)) => items.iter().filter(|r| r.is_object()).collect(),
        Some(r @ Value::Object(_)) => vec![r],
        _ => Vec::new(),
    }
}

/// The keys a measurement record gains as a datapoint body.
type Gains = Vec<(&'static str, Value)>;

/// The value at a measurement path (the first `a|b` alternative present), moved
/// out of the packet: its field is removed from the record holding it.
fn take(packet: &mut Value, path: &str) -> Option<Value> {
    let alt = path
        .split('|')
        .find(|p| lookup(packet, packet, p).is_some())?;
    let alt = alt.strip_prefix("$.").unwrap_or(alt);
    let (parent, last) = match alt.rsplit_once('.') {
        Some((parent, last)) => (Some(parent), last),
        None => (None, alt),
    };
    let mut holder = &mut *packet;
    for part in parent.into_iter().flat_map(|p| p.split('.')) {
        holder = holder.get_mut(part)?;
    }
    holder.as_object_mut()?.remove(last)
}

impl SurveyAlertSupplier {
    /// One measurement record → the keys its datapoint body gains, or why it
    /// cannot be a datapoint.
    fn datapoint(
        m: &SurveyMapping,
        spec: &Measurements,
        packet: &Value,
        record: &Value,
    ) -> Result<Gains, String> {
        let field = |p: &Option<String>| p.as_deref().and_then(|p| lookup(packet, record, p));
        let num = |p: &Option<String>| field(p).and_then(number);
        let t = lookup(packet, record, &spec.time)
            .and_then(number)
            .ok_or_else(|| format!("no time `{}`", spec.time))?;
        let jd = match spec.time_scale {
            TimeScale::Jd => t,
            TimeScale::Mjd => t + MJD_TO_JD,
        };
        let band = lookup(packet, record, &spec.band)
            .map(text)
            .ok_or_else(|| format!("no band `{}`", spec.band))?;
        let band = spec.bands.get(&band).cloned().unwrap_or(band);
        let mut mag = num(&spec.mag).map(|v| (v, num(&spec.mag_err)));
        let mut flux = num(&spec.flux).map(|f| {
            let zp = spec
                .flux_zero_point
                .unwrap_or(ampel_interface::photometry::AB_ZERO_POINT_NJY);
            (to_njy(f, zp), num(&spec.flux_err).map(|e| to_njy(e, zp)))
        });
        let maglim = num(&spec.limit);
        // the other of magnitude and flux, where one gives the other (a flux
        // gives a magnitude only at S/N >= MIN_SNR_FOR_MAG)
        if mag.is_none() {
            mag = flux.and_then(|(f, e)| mag_of_flux(f, e));
        } else if flux.is_none() {
            let (m, e) = mag.unwrap_or_default();
            let f = flux_njy(m);
            flux = Some((f, e.map(|e| flux_err_njy(f, e))));
        }
        let kind = match spec.kind {
            _ if mag.is_none() && flux.is_none() && maglim.is_some() => Kind::Limit,
            _ if mag.is_none() && flux.is_none() => {
                return Err("no magnitude, flux or limiting magnitude".into())
            }
            k => k,
        };
        let id = match field(&spec.id).map(|v| integer(v).ok_or(v)) {
            Some(Ok(id)) if id > 0 => match kind {
                Kind::Detection => id,
                Kind::Forced | Kind::Limit => -id,
            },
            Some(Ok(id)) => return Err(format!("id {id} is not positive")),
            Some(Err(v)) => return Err(format!("id {v} is not an integer")),
            None => content_id(record),
        };
        let access = match &m.access.field {
            Some(f) => lookup(packet, record, f).map(|v| m.access.values.get(&text(v)).cloned()),
            None => None,
        }
        .flatten()
        .or_else(|| m.access.tag.clone())
        .unwrap_or_else(|| m.tag());
        let mut body = Vec::with_capacity(14);
        let mut set = |k: &'static str, v: Value| body.push((k, v));
        set(keys::SURVEY, m.survey.clone().into());
        set(TIME_KEY, jd.into());
        set(keys::BAND, band.into());
        set(
            keys::KIND,
            match kind {
                Kind::Detection => "detection",
                Kind::Forced => "forced",
                Kind::Limit => "limit",
            }
            .into(),
        );
        for (k, ke, v) in [
            (keys::MAG, keys::MAG_ERR, mag),
            (keys::FLUX, keys::FLUX_ERR, flux),
        ] {
            if let Some((x, e)) = v {
                set(k, x.into());
                if let Some(e) = e {
                    set(ke, e.into());
                }
            }
        }
        if let Some(l) = maglim {
            set(keys::MAGLIM, l.into());
        }
        for (k, p) in [("ra", &spec.ra), ("dec", &spec.dec)] {
            if let Some(x) = num(p) {
                set(k, x.into());
            }
        }
        set(keys::ACCESS, access.into());
        set("_dp_id", id.into());
        Ok(body)
    }

    fn read(&self, m: &SurveyMapping, mut packet: Value) -> Result<AmpelAlert, UnitError> {
        let survey = &m.survey;
        let id_value = lookup(&packet, &packet, &m.alert_id).ok_or_else(|| {
            UnitError::new(format!("{survey} packet has no alert id `{}`", m.alert_id))
        })?;
        let id = integer(id_value).ok_or_else(|| {
            UnitError::new(format!(
                "{survey} alert id `{}` = {id_value} is not an integer",
                m.alert_id
            ))
        })?;
        let object = lookup(&packet, &packet, &m.object_id).ok_or_else(|| {
            UnitError::new(format!(
                "{survey} alert {id} has no object id `{}`",
                m.object_id
            ))
        })?;
        let name = text(object);
        let stock = match integer(object) {
            Some(s) if s > 0 => s,
            _ if name.trim().is_empty() => {
                return Err(UnitError::new(format!(
                    "{survey} alert {id}: the object id is empty"
                )))
            }
            _ => stock_of_name(&name),
        };
        // what each record gains, read while the packet is whole (`$.` paths)
        let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
        let mut gains: Vec<Vec<Option<Gains>>> = Vec::new();
        for (i, spec) in m.measurements.iter().enumerate() {
            let recs = records(&packet, &spec.path);
            if i == 0 && recs.is_empty() {
                return Err(UnitError::new(format!(
                    "{survey} alert {id} has no record `{}` (the triggering measurement)",
                    spec.path
                )));
            }
            let mut these = Vec::with_capacity(recs.len());
            for r in recs {
                match Self::datapoint(m, spec, &packet, r) {
                    Ok(keys) => these.push(Some(keys)),
                    Err(e) if i == 0 => {
                        return Err(UnitError::new(format!(
                            "{survey} alert {id}: the triggering measurement `{}`: {e}",
                            spec.path
                        )))
                    }
                    Err(e) => {
                        *skipped.entry(format!("{}: {e}", spec.path)).or_default() += 1;
                        these.push(None);
                    }
                }
            }
            gains.push(these);
        }
        // then the records move out of the packet into their datapoints, the
        // deepest paths first (a group nested in another's record leaves it)
        let mut order: Vec<usize> = (0..m.measurements.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(m.measurements[i].path.matches('.').count()));
        let mut taken: Vec<Option<Value>> = vec![None; order.len()];
        for i in order {
            taken[i] = take(&mut packet, &m.measurements[i].path);
        }
        let mut datapoints = Vec::new();
        for (taken, these) in taken.into_iter().zip(gains) {
            let recs = match taken {
                Some(Value::Array(items)) => items,
                Some(r @ Value::Object(_)) => vec![r],
                _ => Vec::new(),
            };
            let objects = recs.into_iter().filter(Value::is_object);
            for (rec, keys) in objects.zip(these) {
                let (Value::Object(mut body), Some(keys)) = (rec, keys) else {
                    continue;
                };
                for (k, v) in keys {
                    body.insert(k.to_string(), v);
                }
                datapoints.push(Value::Object(body));
            }
        }
        let jd = datapoints
            .first()
            .and_then(|d| d.get(TIME_KEY))
            .and_then(Value::as_f64);
        let mut extra = BTreeMap::new();
        extra.insert("survey".to_string(), Value::from(survey.clone()));
        extra.insert("schema".to_string(), Value::from(m.schema.clone()));
        if let Some(v) = m
            .schema_version
            .as_deref()
            .and_then(|p| lookup(&packet, &packet, p))
        {
            extra.insert("schema_version".to_string(), v.clone());
        }
        if !skipped.is_empty() {
            extra.insert(
                "skipped_measurements".to_string(),
                ampel_interface::serde_json::to_value(&skipped).unwrap_or_default(),
            );
        }
        Ok(AmpelAlert {
            id,
            stock,
            name: Some(name),
            jd,
            datapoints,
            tag: [m.tag()].into(),
            extra,
        })
    }
}

impl AlertSupplier for SurveyAlertSupplier {
    fn supply(&self, packet: Body) -> Result<AmpelAlert, UnitError> {
        if let Some(m) = self.mappings.iter().find(|m| missing(m, &packet).is_none()) {
            return self.read(m, packet);
        }
        let why: Vec<String> = self
            .mappings
            .iter()
            .map(|m| {
                format!(
                    "{} lacks `{}`",
                    m.survey,
                    missing(m, &packet).unwrap_or("?")
                )
            })
            .collect();
        Err(UnitError::new(format!(
            "the packet fits no survey mapping of this supplier ({}): it looks like {}",
            why.join("; "),
            looks_like(&packet)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ampel_interface::serde_json::json;

    fn supplier(surveys: &[&str]) -> SurveyAlertSupplier {
        SurveyAlertSupplier::new(SurveyAlertSupplierConfig {
            surveys: surveys.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn atlas_ids_as_text_and_magnitudes() {
        let packet = json!({"schemavsn": "0.1", "candid": "1010240020045410432", "publisher": "ATLAS",
            "objectId": "1153024491100417500",
            "candidate": {"candid": "1010240020045410432", "RA": 15.66, "Dec": -4.9, "Mag": 18.08,
                "Dmag": 0.129, "mjd": 59897.191954, "filter": "c"}});
        let a = supplier(&["atlas"]).supply(packet).unwrap();
        assert_eq!((a.id, a.stock), (1010240020045410432, 1153024491100417500));
        assert_eq!(a.name.as_deref(), Some("1153024491100417500"));
        assert_eq!(a.tag, ["ATLAS".to_string()].into());
        let dp = &a.datapoints[0];
        assert_eq!(dp["_dp_id"], json!(1010240020045410432i64));
        assert_eq!(
            (dp["band"].as_str(), dp["kind"].as_str()),
            (Some("c"), Some("detection"))
        );
        assert!((dp["jd"].as_f64().unwrap() - 2459897.691954).abs() < 1e-9);
        assert!(
            (ampel_interface::photometry::ab_mag(dp["flux"].as_f64().unwrap()).unwrap() - 18.08)
                .abs()
                < 1e-9
        );
        assert_eq!(a.extra["schema_version"], json!("0.1"));
    }

    #[test]
    fn elasticc_fluxcal_forced_sources_and_object() {
        let src = |id: i64, t: f64, f: f64| {
            json!({"diaSourceId": id, "ccdVisitId": 1, "diaObjectId": 77,
            "midPointTai": t, "filterName": "r", "ra": 1.0, "decl": 2.0, "psFlux": f, "psFluxErr": 10.0, "snr": 5.0})
        };
        let packet = json!({"alertId": 9, "diaSource": src(5, 60001.0, 1000.0),
            "prvDiaSources": [src(4, 60000.0, 500.0)],
            "prvDiaForcedSources": [{"diaForcedSourceId": 4, "ccdVisitId": 1, "diaObjectId": 77,
                "midPointTai": 59999.0, "filterName": "g", "psFlux": 28.0, "psFluxErr": 10.0,
                "totFlux": 0.0, "totFluxErr": 1.0}],
            "diaObject": {"diaObjectId": 77, "ra": 1.0, "decl": 2.0}});
        let a = supplier(&["elasticc-v0_9"]).supply(packet).unwrap();
        assert_eq!((a.id, a.stock), (9, 77));
        let ids: Vec<i64> = a
            .datapoints
            .iter()
            .map(|d| d["_dp_id"].as_i64().unwrap())
            .collect();
        assert_eq!(
            ids,
            vec![5, 4, -4],
            "a forced source's id is negated, apart from the sources'"
        );
        // FLUXCAL 1000 at zero point 27.5 is magnitude 27.5 - 7.5 = 20
        assert!((a.datapoints[0]["mag"].as_f64().unwrap() - 20.0).abs() < 1e-9);
        assert_eq!(a.datapoints[2]["kind"], json!("forced"));
        assert!(
            a.datapoints[2].get("mag").is_none(),
            "S/N 2.8: no magnitude"
        );
        assert!(a.datapoints[2]["flux"].as_f64().unwrap() > 0.0);
    }

    #[test]
    fn winter_names_band_codes_and_decam_limits() {
        let w = json!({"schemavsn": "0.4", "objectid": "WNTR24aaaab", "candid": 12,
            "candidate": {"candid": 12, "jd": 2460400.5, "fid": 2, "magpsf": 16.5, "sigmapsf": 0.05,
                "boardid": 3, "diffmaglim": 18.0},
            "prv_candidates": [{"candid": 11, "jd": 2460399.5, "fid": 1, "magpsf": 16.9, "sigmapsf": 0.07},
                {"candid": null, "jd": 2460398.5, "fid": 1}]});
        let a = supplier(&["winter", "decam-desirt"]).supply(w).unwrap();
        assert_eq!(a.stock, stock_of_name("WNTR24aaaab"));
        assert_eq!(
            a.datapoints.len(),
            2,
            "a record without photometry is skipped"
        );
        assert_eq!(a.datapoints[0]["band"], json!("J"));
        assert_eq!(a.datapoints[1]["band"], json!("Y"));
        assert_eq!(
            a.extra["skipped_measurements"],
            json!({"prv_candidates: no magnitude, flux or limiting magnitude": 1})
        );
        let d = json!({"publisher": "DESIRT", "objectId": "T202310262246005m002526", "candid": 7,
            "candidate": {"mjd": 60243.1, "band": "g", "forcediffimflux": 1.0, "forcediffimfluxunc": 0.1,
                "forcediffimmag": 21.0, "forcediffimmagunc": 0.1, "diffmaglim": 23.0, "ra": 1.0, "dec": 2.0},
            "fp_hists": [{"mjd": 60240.1, "band": "g", "forcediffimflux": 0.01, "forcediffimfluxunc": 0.1,
                "forcediffimmag": null, "forcediffimmagunc": null, "diffmaglim": 23.2}]});
        let a = supplier(&["winter", "decam-desirt"]).supply(d).unwrap();
        assert_eq!(a.datapoints[1]["kind"], json!("limit"));
        assert!(
            a.datapoints[1]["_dp_id"].as_i64().unwrap() < 0,
            "content ids are negative"
        );
        assert_eq!(a.datapoints[1]["maglim"], json!(23.2));
    }

    #[test]
    fn access_by_field_and_refusals_that_name_the_survey() {
        let mut m = SurveyMapping::shipped("winter").unwrap();
        m.access.field = Some("programid".into());
        m.access.values = [("1".to_string(), "WINTER_PUB".to_string())].into();
        m.access.tag = Some("WINTER_PRIV".into());
        let s = SurveyAlertSupplier::new(SurveyAlertSupplierConfig {
            mappings: vec![m],
            ..Default::default()
        })
        .unwrap();
        let w = |p: i64| {
            json!({"objectId": "WNTR24aaaac", "candid": 13, "candidate": {"candid": 13,
            "jd": 2460400.5, "fid": 1, "magpsf": 16.5, "sigmapsf": 0.05, "boardid": 1, "programid": p}})
        };
        assert_eq!(
            s.supply(w(1)).unwrap().datapoints[0]["access"],
            json!("WINTER_PUB")
        );
        assert_eq!(
            s.supply(w(2)).unwrap().datapoints[0]["access"],
            json!("WINTER_PRIV")
        );
        let ztf = json!({"schemavsn": "3.3", "objectId": "ZTF18a", "candid": 1,
            "candidate": {"magpsf": 18.0, "programid": 1, "rb": 0.9, "jd": 2.4e6, "fid": 1}});
        let e = s.supply(ztf).unwrap_err().to_string();
        assert!(e.contains("WINTER lacks `candidate.boardid`"), "{e}");
        assert!(
            e.contains("it looks like a ZTF alert, schema 3.3; ZiAlertSupplier reads it"),
            "{e}"
        );
        let atlas = json!({"candid": "1", "objectId": "2", "candidate": {"Mag": 18.0, "Dmag": 0.1,
            "mjd": 60000.0, "filter": "o"}});
        let e = supplier(&["elasticc-v0_9"])
            .supply(atlas)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("looks like ATLAS (atlas.alert 0.1); the shipped mapping `atlas` reads it"),
            "{e}"
        );
    }

    #[test]
    fn hostile_packets_are_refused_with_a_reason_never_a_panic() {
        let s = supplier(&["atlas", "decam-desirt", "winter", "elasticc-v0_9"]);
        let bad = [
            json!(null),
            json!("text"),
            json!({"alertId": "x", "diaSource": {"diaSourceId": 1, "midPointTai": 1.0,
                "filterName": "r", "psFlux": 1.0}}),
            json!({"alertId": 1, "diaSource": {"diaSourceId": -5, "midPointTai": 1.0,
                "filterName": "r", "psFlux": 1.0}, "diaObject": {"diaObjectId": 3}}),
            json!({"alertId": 1, "diaSource": {"diaSourceId": 5, "midPointTai": "soon",
                "filterName": "r", "psFlux": 1.0}, "diaObject": {"diaObjectId": 3}}),
            json!({"candid": 1, "objectId": "", "candidate": {"Mag": 1.0, "Dmag": 0.1,
                "mjd": 1.0, "filter": "o"}}),
            json!({"candid": 1, "objectId": "A", "candidate": {"forcediffimflux": 1.0,
                "mjd": 1.0, "band": "g"}, "fp_hists": [1, "x", null, {"mjd": "inf", "band": "g"}]}),
        ];
        let mut reasons = Vec::new();
        for p in bad {
            reasons.push(s.supply(p).unwrap_err().to_string());
        }
        assert!(reasons[0].contains("no alert: a JSON null"), "{reasons:?}");
        assert!(
            reasons[2].contains("alert id `alertId` = \"x\" is not an integer"),
            "{reasons:?}"
        );
        assert!(reasons[3].contains("id -5 is not positive"), "{reasons:?}");
        assert!(reasons[4].contains("no time `midPointTai`"), "{reasons:?}");
        assert!(reasons[5].contains("the object id is empty"), "{reasons:?}");
        assert!(
            reasons[6].contains(
                "the triggering measurement `candidate`: no magnitude, flux or limiting magnitude"
            ),
            "{reasons:?}"
        );
    }

    #[test]
    fn nested_groups_are_each_read_once() {
        let m = SurveyMapping::from_toml(
            r#"
            survey = "N"
            schema = "n"
            detect = ["id", "obj", "det"]
            object_id = "obj"
            alert_id = "id"
            [[measurements]]
            path = "det"
            kind = "detection"
            id = "$.id"
            time = "mjd"
            time_scale = "mjd"
            band = "b"
            mag = "m"
            [[measurements]]
            path = "det.history"
            kind = "forced"
            time = "mjd"
            time_scale = "mjd"
            band = "b"
            mag = "m"
            "#,
        )
        .unwrap();
        let s = SurveyAlertSupplier::new(SurveyAlertSupplierConfig {
            mappings: vec![m],
            ..Default::default()
        })
        .unwrap();
        let a = s
            .supply(
                json!({"id": 3, "obj": 4, "det": {"mjd": 2.0, "b": "g", "m": 20.0,
                "history": [{"mjd": 1.0, "b": "g", "m": 21.0}]}}),
            )
            .unwrap();
        assert_eq!(a.datapoints.len(), 2);
        assert_eq!(a.datapoints[0]["_dp_id"], json!(3));
        assert!(
            a.datapoints[0].get("history").is_none(),
            "read once, as its own datapoint"
        );
        assert_eq!(a.datapoints[1]["kind"], json!("forced"));
    }

    #[test]
    fn config_problems_all_at_once() {
        let c = SurveyAlertSupplierConfig {
            surveys: vec!["ztf".into(), "atlas".into(), "decam".into()],
            ..Default::default()
        };
        let fields: Vec<String> = c.validate().into_iter().map(|p| p.field).collect();
        assert_eq!(fields, ["surveys.0", "surveys.2"]);
        assert_eq!(SurveyAlertSupplierConfig::default().validate().len(), 1);
    }
}
