//! Unit loading: name + raw config → validated instance, with provenance recorded.
//!
//! **Invariant:** a unit's config hash and trace id are registered in the store
//! before the unit runs, so every document it produces can be explained later.

use ampel_interface::{
    CheckedConfig, ConfigError, Registry, RegistryError, UnitInstance, UnitKind,
};
use ampel_store::{Store, StoreError};
use serde_json::Value;

/// Loading failed.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// Unknown unit or wrong kind.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// Invalid config.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Store failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A unit asked for by a configuration: name, raw config, required kind.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitRequest {
    /// Where the request comes from (e.g. `channel CHAN_A, t2_compute[1]`).
    pub origin: String,
    /// Unit name.
    pub unit: String,
    /// Raw config (`null`: defaults).
    pub config: Value,
    /// Kind the caller needs, if any.
    pub kind: Option<UnitKind>,
}

/// Check many unit requests, reporting every problem at once, each prefixed with its
/// origin.
pub fn check_units(
    registry: &Registry,
    requests: &[UnitRequest],
) -> Result<Vec<CheckedConfig>, Vec<String>> {
    let mut ok = Vec::new();
    let mut problems = Vec::new();
    for r in requests {
        let found = match r.kind {
            Some(k) => registry.get_kind(&r.unit, k),
            None => registry.get(&r.unit),
        };
        match found
            .map_err(CoreError::from)
            .and_then(|u| u.check(&r.config).map_err(CoreError::from))
        {
            Ok(c) => ok.push(c),
            Err(e) => problems.push(format!("{}: {e}", r.origin)),
        }
    }
    if problems.is_empty() {
        Ok(ok)
    } else {
        Err(problems)
    }
}

/// A unit ready to run, with its provenance.
#[derive(Debug)]
pub struct Loaded {
    /// The instance.
    pub instance: UnitInstance,
    /// Its checked config, hash and trace.
    pub checked: CheckedConfig,
}

/// Builds units and records their provenance.
pub struct UnitLoader<'a> {
    registry: &'a Registry,
    store: &'a dyn Store,
}

impl<'a> UnitLoader<'a> {
    /// A loader over a registry and a store.
    pub fn new(registry: &'a Registry, store: &'a dyn Store) -> Self {
        UnitLoader { registry, store }
    }

    /// Build unit `name` of `kind` from `config`, registering config and trace.
    pub fn load(&self, name: &str, kind: UnitKind, config: &Value) -> Result<Loaded, CoreError> {
        let unit = self.registry.get_kind(name, kind)?;
        let (instance, checked) = unit.instantiate(config)?;
        self.store
            .register_config(checked.hash, &checked.normalized)?;
        self.store.register_trace(&checked.trace)?;
        Ok(Loaded { instance, checked })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ampel_interface::*;
    use serde::{Deserialize, Serialize};
    use serde_json::json;

    #[derive(Serialize, Deserialize, Default)]
    #[serde(default)]
    struct Cfg {
        threshold: f64,
    }
    impl UnitConfig for Cfg {}
    struct Count(f64);
    impl Unit for Count {
        const NAME: &'static str = "Count";
        const VERSION: &'static str = "1.0.0";
        const SOURCE: &'static str = "struct Count;";
        type Config = Cfg;
        fn new(c: Cfg) -> Result<Self, ConfigError> {
            Ok(Count(c.threshold))
        }
    }
    impl StockT2 for Count {
        fn process(&self, s: &Stock) -> Result<UnitResult, UnitError> {
            Ok(UnitResult::ok(json!({"n": s.journal.len(), "t": self.0})))
        }
    }

    fn registry() -> Registry {
        let mut r = Registry::new();
        r.stock_t2::<Count>().unwrap();
        r
    }

    #[test]
    fn load_registers_config_and_trace() {
        let dir = tempfile::tempdir().unwrap();
        let store = ampel_store_sqlite::SqliteStore::open(dir.path().join("s.db")).unwrap();
        let reg = registry();
        let loaded = UnitLoader::new(&reg, &store)
            .load("Count", UnitKind::StockT2, &json!({"threshold": 2.5}))
            .unwrap();
        assert_eq!(loaded.instance.kind(), UnitKind::StockT2);
        assert_eq!(
            store.get_config(loaded.checked.hash).unwrap(),
            Some(json!({"threshold": 2.5}))
        );
        let trace = store.get_trace(loaded.checked.trace_id()).unwrap().unwrap();
        assert_eq!(
            (trace.unit.as_str(), trace.version.as_str()),
            ("Count", "1.0.0")
        );
        let wrong = UnitLoader::new(&reg, &store).load("Count", UnitKind::PointT2, &Value::Null);
        assert_eq!(
            wrong.unwrap_err().to_string(),
            "unit `Count` is a stock-t2 unit, expected a point-t2 unit"
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_origin() {
        let reg = registry();
        let req = |origin: &str, unit: &str, config| UnitRequest {
            origin: origin.into(),
            unit: unit.into(),
            config,
            kind: None,
        };
        let problems = check_units(
            &reg,
            &[
                req("channel A", "Cuont", Value::Null),
                req("channel B", "Count", json!({"threshold": "high"})),
                req("channel C", "Count", json!({"thresold": 1})),
                req("channel D", "Count", json!({"threshold": 1})),
            ],
        )
        .unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert_eq!(
            problems[0],
            "channel A: unknown unit `Cuont` (did you mean Count?)"
        );
        assert!(
            problems[1].starts_with(
                "channel B: invalid config for unit `Count`\n  - field `threshold` = \"high\""
            ),
            "{}",
            problems[1]
        );
        assert!(
            problems[2].contains("field `thresold` = 1: unknown field; known fields: threshold"),
            "{}",
            problems[2]
        );
    }
}
