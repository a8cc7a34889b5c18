//! `T2CatalogCone`: the catalogue sources around a datapoint's position.
//!
//! A point T2 (usually on the first detection: `select = "first"` in the
//! channel's `point_t2`). Its catalogue is a file resource of the instance
//! (`catalog = { resource = "NAME" }`), so the config hash covers the catalogue's
//! content and an image carries the very bytes. The catalogue is read and indexed
//! once per process (shared by every config naming the same content and columns).

use crate::index::{depth_for, Catalog, Columns};
use ampel_interface::serde_json::{Map, Value};
use ampel_interface::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// Which sources within the radius a result keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Keep {
    /// The nearest one.
    Nearest,
    /// All, nearest first, up to `max_matches`.
    All,
}

fn default_radius() -> f64 {
    2.0
}
fn default_keep() -> Keep {
    Keep::Nearest
}
fn default_max() -> usize {
    20
}
fn ra() -> String {
    "ra".into()
}
fn dec() -> String {
    "dec".into()
}

/// Config of [`T2CatalogCone`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct T2CatalogConeConfig {
    /// The catalogue: `{ resource = "NAME" }` naming a file resource (CSV with a
    /// header line, or Parquet: told apart by content).
    pub catalog: ResourceFile,
    /// The catalogue's name in results (default: its file name).
    #[serde(default)]
    pub name: Option<String>,
    /// Cone radius, arcseconds (0 < r <= 36000).
    #[serde(default = "default_radius")]
    pub radius_arcsec: f64,
    /// `nearest` (default) or `all`.
    #[serde(default = "default_keep")]
    pub keep: Keep,
    /// With `all`: at most this many matches, nearest first (`num_matches` counts all).
    #[serde(default = "default_max")]
    pub max_matches: usize,
    /// The catalogue's right ascension column, degrees.
    #[serde(default = "ra")]
    pub ra_column: String,
    /// The catalogue's declination column, degrees.
    #[serde(default = "dec")]
    pub dec_column: String,
    /// Catalogue columns returned with each match.
    #[serde(default)]
    pub columns: Vec<String>,
    /// The datapoint body's right ascension key, degrees.
    #[serde(default = "ra")]
    pub ra_key: String,
    /// The datapoint body's declination key, degrees.
    #[serde(default = "dec")]
    pub dec_key: String,
}

impl UnitConfig for T2CatalogConeConfig {
    fn validate(&self) -> Vec<FieldProblem> {
        let mut p = Vec::new();
        if !(self.radius_arcsec > 0.0 && self.radius_arcsec <= 36_000.0) {
            p.push(FieldProblem::new(
                "radius_arcsec",
                &self.radius_arcsec,
                "a radius in arcseconds, more than 0 and at most 36000 (10 degrees)",
            ));
        }
        if self.max_matches == 0 {
            p.push(FieldProblem::new("max_matches", &0, "at least 1"));
        }
        p
    }
}

/// One catalogue source in the cone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConeMatch {
    /// Angular distance from the datapoint's position, arcseconds.
    pub dist_arcsec: f64,
    /// The source's data row in the catalogue file (1 = first after the header).
    pub row: u64,
    /// The source's right ascension, degrees.
    pub ra: f64,
    /// The source's declination, degrees.
    pub dec: f64,
    /// The returned columns (numbers where the text is one, null where empty).
    pub columns: Map<String, Value>,
}

/// The result of [`T2CatalogCone`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConeResult {
    /// The catalogue's name.
    pub catalog: String,
    /// Right ascension searched around (the datapoint's), degrees.
    pub ra: f64,
    /// Declination searched around, degrees.
    pub dec: f64,
    /// Cone radius, arcseconds.
    pub radius_arcsec: f64,
    /// Sources within the radius (all of them, whatever `keep` kept).
    pub num_matches: usize,
    /// The kept sources, nearest first (ties by row).
    pub matches: Vec<ConeMatch>,
}

/// The catalogue cross-match unit.
pub struct T2CatalogCone {
    config: T2CatalogConeConfig,
    catalog: Arc<Catalog>,
}

type CacheKey = (String, u8, String, String, Vec<String>);
static CACHE: Mutex<BTreeMap<CacheKey, Arc<Catalog>>> = Mutex::new(BTreeMap::new());

fn load(c: &T2CatalogConeConfig) -> Result<Arc<Catalog>, String> {
    let depth = depth_for(c.radius_arcsec);
    let key = (
        c.catalog.sha256.clone(),
        depth,
        c.ra_column.clone(),
        c.dec_column.clone(),
        c.columns.clone(),
    );
    if let Some(cat) = CACHE.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return Ok(cat);
    }
    let path = c.catalog.path().map_err(|e| e.to_string())?;
    let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() as u64 != c.catalog.size {
        return Err(format!(
            "{} changed while being read ({} bytes, expected {})",
            path.display(),
            bytes.len(),
            c.catalog.size
        ));
    }
    let cols = Columns {
        ra: &c.ra_column,
        dec: &c.dec_column,
        returned: &c.columns,
    };
    let cat = if crate::parquet::is_parquet(&bytes) {
        crate::parquet::from_parquet(&c.catalog.file, bytes, &cols, depth)
    } else {
        Catalog::from_csv(&c.catalog.file, &bytes, &cols, depth)
    };
    let cat = Arc::new(cat.map_err(|e| e.to_string())?);
    if let Ok(mut m) = CACHE.lock() {
        m.insert(key, cat.clone());
    }
    Ok(cat)
}

impl Unit for T2CatalogCone {
    const NAME: &'static str = "T2CatalogCone";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SOURCE: &'static str = ampel_interface::crate_source!();
    type Config = T2CatalogConeConfig;
    fn new(config: T2CatalogConeConfig) -> Result<Self, ConfigError> {
        let catalog = load(&config).map_err(|e| ConfigError {
            unit: Self::NAME.into(),
            problems: vec![FieldProblem::new("catalog", &config.catalog, e)],
        })?;
        Ok(T2CatalogCone { config, catalog })
    }
}

impl T2CatalogCone {
    /// The cone search around a position in degrees.
    pub fn search(&self, ra: f64, dec: f64) -> ConeResult {
        let c = &self.config;
        let hits = self.catalog.cone(ra, dec, c.radius_arcsec);
        let keep = match c.keep {
            Keep::Nearest => 1,
            Keep::All => c.max_matches,
        };
        ConeResult {
            catalog: c.name.clone().unwrap_or_else(|| c.catalog.file.clone()),
            ra,
            dec,
            radius_arcsec: c.radius_arcsec,
            num_matches: hits.len(),
            matches: hits
                .iter()
                .take(keep)
                .map(|h| ConeMatch {
                    dist_arcsec: h.dist_arcsec,
                    row: h.source.row,
                    ra: h.source.ra,
                    dec: h.source.dec,
                    columns: self.catalog.values(h.source),
                })
                .collect(),
        }
    }
}

impl PointT2 for T2CatalogCone {
    fn process(&self, dp: &DataPoint) -> Result<UnitResult, UnitError> {
        let c = &self.config;
        let get = |k: &str| {
            dp.body
                .get(k)
                .and_then(Value::as_f64)
                .filter(|x| x.is_finite())
        };
        let (Some(ra), Some(dec)) = (get(&c.ra_key), get(&c.dec_key)) else {
            return Err(UnitError::bad_result(format!(
                "datapoint {} has no position in `{}`/`{}` (degrees)",
                dp.id, c.ra_key, c.dec_key
            )));
        };
        if !(-90.0..=90.0).contains(&dec) {
            return Err(UnitError::bad_result(format!(
                "datapoint {}: `{}` = {dec} is outside -90..90",
                dp.id, c.dec_key
            )));
        }
        Ok(UnitResult::ok(finite_body(&self.search(ra, dec))?))
    }

    fn fields(&self) -> Option<BTreeSet<String>> {
        Some([self.config.ra_key.clone(), self.config.dec_key.clone()].into())
    }
}
