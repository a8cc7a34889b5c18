//! The unit API of AMPEL-rs: the only crate a unit crate depends on.
//!
//! - [`documents`]: typed documents (datapoint, stock, T1/T2/T3, journal, meta,
//!   event, log, trouble, trace);
//! - [`codes`]: document, event, meta-action, journal-action codes and log flags with
//!   Python AMPEL's values;
//! - [`units`]: one trait per unit kind and the values units exchange;
//! - [`config`]: typed configuration with defaults, unknown fields rejected;
//! - [`registry`]: units by name, typed registration, erased use;
//! - [`hash`]: canonical encodings and hashes (config, link, trace, T2 id);
//! - [`finite`]: results to JSON, refusing NaN and infinities;
//! - [`names`]: what a channel name may be;
//! - [`resource`]: files an instance carries for its units, by content.
//!
//! # Writing a unit
//! ```
//! use ampel_interface::*;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! #[serde(default, deny_unknown_fields)]
//! pub struct MinDetConfig { pub min_ndet: usize }
//! impl Default for MinDetConfig { fn default() -> Self { MinDetConfig { min_ndet: 2 } } }
//! impl UnitConfig for MinDetConfig {}
//!
//! pub struct MinDet(MinDetConfig);
//! impl Unit for MinDet {
//!     const NAME: &'static str = "MinDet";
//!     const VERSION: &'static str = env!("CARGO_PKG_VERSION");
//!     const SOURCE: &'static str = "source text, usually include_str!(\"min_det.rs\")";
//!     type Config = MinDetConfig;
//!     fn new(config: MinDetConfig) -> Result<Self, ConfigError> { Ok(MinDet(config)) }
//! }
//! impl AlertFilter for MinDet {
//!     fn process(&self, alert: &AmpelAlert) -> Result<FilterDecision, UnitError> {
//!         Ok(if alert.datapoints.len() >= self.0.min_ndet {
//!             FilterDecision::Accept
//!         } else {
//!             FilterDecision::Reject(None)
//!         })
//!     }
//!     // it reads no field, only how many datapoints there are: T0 may filter on
//!     // datapoints reduced to the fields other filters and the supplier name
//!     fn fields(&self) -> Option<std::collections::BTreeSet<String>> {
//!         Some(Default::default())
//!     }
//! }
//!
//! let mut registry = Registry::new();
//! registry.alert_filter::<MinDet>().unwrap();
//! let checked = registry.get("MinDet").unwrap().check(&serde_json::json!({"min_ndet": 3})).unwrap();
//! assert_eq!(checked.normalized, serde_json::json!({"min_ndet": 3}));
//! ```

pub mod codes;
pub mod compare;
pub mod config;
pub mod documents;
pub mod finite;
pub mod hash;
pub mod lenient;
pub mod names;
pub mod photometry;
pub mod registry;
pub mod resource;
pub mod units;

pub use codes::*;
pub use config::{resolve_config, ConfigError, FieldProblem, NoConfig, Resolved, UnitConfig};
pub use documents::*;
pub use finite::finite_body;
pub use names::channel_name_problem;
pub use registry::{
    CheckedConfig, ErasedUnit, RegisterAs, Registry, RegistryError, Typed, UnitInstance, UnitKind,
};
pub use resource::{ResourceError, ResourceFile};
pub use units::*;

/// Re-exported so unit crates need no direct `serde_json` dependency.
pub use serde_json;
