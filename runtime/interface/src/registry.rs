//! The registry of units by name: an explicit list, no link-time magic.
//!
//! Unit crates expose `pub fn register(r: &mut Registry) -> Result<(), RegistryError>`
//! calling the typed methods ([`Registry::alert_filter`], [`Registry::state_t2`], ...)
//! once per unit. Each typed method stores an object-safe [`ErasedUnit`] (a
//! [`Typed`] wrapper) so the runtime can validate configs and build instances by
//! name without knowing the concrete types. The host binary registers every unit of
//! `units/`; a generated instance binary registers exactly the declared ones.

use crate::config::{resolve_config, ConfigError};
use crate::hash::{code_digest, config_hash, trace_id};
use crate::units::*;
use crate::{ConfigHash, StockId, TraceId, TraceRecord};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

/// The unit kinds: the one list from which [`UnitKind`], [`UnitInstance`], the
/// [`kind`] markers, [`RegisterAs`] and the typed `Registry` methods are made. A
/// new kind is one line here (and its trait in `units.rs`).
macro_rules! unit_kinds {
    ($($(#[$m:meta])* $kind:ident: $tr:ident, $name:literal, $method:ident;)*) => {
        /// The kinds of unit, one per trait.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum UnitKind {
            $(
                #[doc = concat!("[`", stringify!($tr), "`]")]
                $kind,
            )*
        }

        impl UnitKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [UnitKind] = &[$(UnitKind::$kind),*];

            /// Kebab-case name used in manifests and CLI output.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(UnitKind::$kind => $name,)*
                }
            }
        }

        /// A built unit, held by the runtime behind its kind's trait.
        pub enum UnitInstance {
            $(
                $(#[$m])*
                $kind(Box<dyn $tr>),
            )*
        }

        impl UnitInstance {
            /// The kind of this instance.
            pub fn kind(&self) -> UnitKind {
                match self {
                    $(UnitInstance::$kind(_) => UnitKind::$kind,)*
                }
            }
        }

        /// Marker types, one per unit kind, that let [`Registry::unit`] infer a
        /// unit's kind from the one kind trait it implements (a type implementing
        /// two kind traits is ambiguous and does not compile).
        pub mod kind {
            $(
                #[doc = concat!("Marker of the `", stringify!($kind), "` kind.")]
                #[derive(Debug)]
                pub enum $kind {}
            )*
        }

        $(
            impl<U: Unit + $tr> RegisterAs<kind::$kind> for U {
                fn erased() -> Box<dyn ErasedUnit> {
                    Box::new(Typed::<U> {
                        kind: UnitKind::$kind,
                        wrap: |u| UnitInstance::$kind(Box::new(u)),
                        _unit: PhantomData,
                    })
                }
            }
        )*

        impl Registry {
            $(
                #[doc = concat!("Register a unit of the `", $name, "` kind ([`", stringify!($tr), "`]).")]
                pub fn $method<U: Unit + $tr>(&mut self) -> Result<&mut Self, RegistryError> {
                    self.add(<U as RegisterAs<kind::$kind>>::erased())
                }
            )*
        }
    };
}

unit_kinds! {
    /// An alert supplier.
    AlertSupplier: AlertSupplier, "alert-supplier", alert_supplier;
    /// An alert filter.
    AlertFilter: AlertFilter, "alert-filter", alert_filter;
    /// A shaper.
    Shaper: Shaper, "shaper", shaper;
    /// A muxer.
    Muxer: Muxer, "muxer", muxer;
    /// A T1 combiner.
    T1Combiner: T1Combiner, "t1-combiner", t1_combiner;
    /// A point T2.
    PointT2: PointT2, "point-t2", point_t2;
    /// A state T2.
    StateT2: StateT2, "state-t2", state_t2;
    /// A stock T2.
    StockT2: StockT2, "stock-t2", stock_t2;
    /// A tied point T2.
    TiedPointT2: TiedPointT2, "tied-point-t2", tied_point_t2;
    /// A tied state T2.
    TiedStateT2: TiedStateT2, "tied-state-t2", tied_state_t2;
    /// A tied stock T2.
    TiedStockT2: TiedStockT2, "tied-stock-t2", tied_stock_t2;
    /// A T3 unit.
    T3: T3Unit, "t3", t3;
    /// An id mapper: a survey's object names and stock ids, both ways.
    IdMapper: IdMapper, "id-mapper", id_mapper;
}

impl fmt::Display for UnitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for UnitInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UnitInstance({})", self.kind())
    }
}

impl UnitInstance {
    /// The datapoint body fields a T2 unit reads (see [`StateT2::fields`]); `None`
    /// for whole bodies, and for kinds that read no datapoints.
    pub fn datapoint_fields(&self) -> Option<std::collections::BTreeSet<String>> {
        match self {
            UnitInstance::PointT2(u) => u.fields(),
            UnitInstance::StateT2(u) => u.fields(),
            UnitInstance::TiedPointT2(u) => u.fields(),
            UnitInstance::TiedStateT2(u) => u.fields(),
            UnitInstance::StockT2(_) | UnitInstance::TiedStockT2(_) => Some(Default::default()),
            _ => None,
        }
    }
}

/// A config checked against a unit: normalised JSON, its hash and the trace id.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedConfig {
    /// Unit name.
    pub unit: String,
    /// Normalised config (defaults filled).
    pub normalized: Value,
    /// [`config_hash`] of `normalized`.
    pub hash: ConfigHash,
    /// Trace record (unit, version, code digest, config) and its id.
    pub trace: TraceRecord,
}

impl CheckedConfig {
    /// The trace id.
    pub fn trace_id(&self) -> TraceId {
        self.trace.id
    }
}

/// Object-safe form of a registered unit, used by the runtime.
pub trait ErasedUnit: Send + Sync {
    /// Unit name.
    fn name(&self) -> &'static str;
    /// Unit kind.
    fn kind(&self) -> UnitKind;
    /// Unit crate version.
    fn version(&self) -> &'static str;
    /// Digest of the unit's source.
    fn code_digest(&self) -> String;
    /// Validate a raw config (`null` = defaults).
    fn check(&self, raw: &Value) -> Result<CheckedConfig, ConfigError>;
    /// Validate a raw config and build an instance.
    fn instantiate(&self, raw: &Value) -> Result<(UnitInstance, CheckedConfig), ConfigError>;
}

/// The typed-to-erased bridge: `Typed<U>` is the [`ErasedUnit`] of unit type `U`.
pub struct Typed<U> {
    kind: UnitKind,
    wrap: fn(U) -> UnitInstance,
    _unit: PhantomData<fn() -> U>,
}

impl<U: Unit> ErasedUnit for Typed<U> {
    fn name(&self) -> &'static str {
        U::NAME
    }
    fn kind(&self) -> UnitKind {
        self.kind
    }
    fn version(&self) -> &'static str {
        U::VERSION
    }
    fn code_digest(&self) -> String {
        code_digest(U::SOURCE)
    }
    fn check(&self, raw: &Value) -> Result<CheckedConfig, ConfigError> {
        let resolved = resolve_config::<U::Config>(U::NAME, raw)?;
        Ok(checked::<U>(resolved.normalized))
    }
    fn instantiate(&self, raw: &Value) -> Result<(UnitInstance, CheckedConfig), ConfigError> {
        let resolved = resolve_config::<U::Config>(U::NAME, raw)?;
        let checked = checked::<U>(resolved.normalized);
        let unit = U::new(resolved.config)?;
        Ok(((self.wrap)(unit), checked))
    }
}

fn checked<U: Unit>(normalized: Value) -> CheckedConfig {
    let digest = code_digest(U::SOURCE);
    let id = trace_id(U::NAME, U::VERSION, &digest, &normalized);
    CheckedConfig {
        unit: U::NAME.to_string(),
        hash: config_hash(&normalized),
        trace: TraceRecord {
            id,
            unit: U::NAME.to_string(),
            version: U::VERSION.to_string(),
            digest,
            config: normalized.clone(),
        },
        normalized,
    }
}

/// Registration or lookup failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RegistryError {
    /// Two units share a name.
    #[error("unit name `{name}` is registered twice (as {first} and as {second})")]
    Duplicate {
        /// The name.
        name: String,
        /// Kind of the first registration.
        first: UnitKind,
        /// Kind of the second.
        second: UnitKind,
    },
    /// No unit by that name.
    #[error("unknown unit `{name}`{}", suggest(.known))]
    Unknown {
        /// The name asked for.
        name: String,
        /// Close names, for the message.
        known: Vec<String>,
    },
    /// The unit exists but is of another kind.
    #[error("unit `{name}` is a {actual} unit, expected a {expected} unit")]
    WrongKind {
        /// The name.
        name: String,
        /// What it is.
        actual: UnitKind,
        /// What the caller needs.
        expected: UnitKind,
    },
}

fn suggest(known: &[String]) -> String {
    if known.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", known.join(", "))
    }
}

/// Units by name.
#[derive(Default)]
pub struct Registry {
    units: BTreeMap<&'static str, Box<dyn ErasedUnit>>,
}

/// A unit type that can be registered as the kind `K` (a marker of [`kind`]);
/// implemented for every `U: Unit + <kind trait>`.
pub trait RegisterAs<K> {
    /// The erased form of the unit.
    fn erased() -> Box<dyn ErasedUnit>;
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Register a unit of any kind; the kind is inferred from the kind trait `U`
    /// implements: `r.unit::<MyFilter, _>()`. Generated instance registries use this,
    /// so the builder needs only the unit's type name.
    pub fn unit<U: RegisterAs<K>, K>(&mut self) -> Result<&mut Self, RegistryError> {
        self.add(U::erased())
    }

    /// Register an erased unit; duplicate names are rejected.
    pub fn add(&mut self, unit: Box<dyn ErasedUnit>) -> Result<&mut Self, RegistryError> {
        if let Some(first) = self.units.get(unit.name()) {
            return Err(RegistryError::Duplicate {
                name: unit.name().to_string(),
                first: first.kind(),
                second: unit.kind(),
            });
        }
        self.units.insert(unit.name(), unit);
        Ok(self)
    }

    /// Look a unit up by name.
    pub fn get(&self, name: &str) -> Result<&dyn ErasedUnit, RegistryError> {
        self.units
            .get(name)
            .map(|u| u.as_ref())
            .ok_or_else(|| RegistryError::Unknown {
                name: name.to_string(),
                known: self.close_names(name),
            })
    }

    /// Look a unit up by name and require a kind.
    pub fn get_kind(&self, name: &str, kind: UnitKind) -> Result<&dyn ErasedUnit, RegistryError> {
        let u = self.get(name)?;
        if u.kind() != kind {
            return Err(RegistryError::WrongKind {
                name: name.to_string(),
                actual: u.kind(),
                expected: kind,
            });
        }
        Ok(u)
    }

    /// All units, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = &dyn ErasedUnit> {
        self.units.values().map(|u| u.as_ref())
    }

    /// Every registered id mapper, built (they take no configuration).
    pub fn id_mappers(&self) -> Vec<Box<dyn IdMapper>> {
        self.iter()
            .filter(|u| u.kind() == UnitKind::IdMapper)
            .filter_map(|u| match u.instantiate(&Value::Null) {
                Ok((UnitInstance::IdMapper(m), _)) => Some(m),
                _ => None,
            })
            .collect()
    }

    /// A stock given as a number or as an object name a registered id mapper
    /// knows (`ZTF18abcdefg`); `None` if neither.
    pub fn stock_of(&self, text: &str) -> Option<StockId> {
        text.trim().parse::<StockId>().ok().or_else(|| {
            self.id_mappers()
                .iter()
                .find_map(|m| m.to_stock(text.trim()))
        })
    }

    /// Number of units.
    pub fn len(&self) -> usize {
        self.units.len()
    }

    /// True if no unit is registered.
    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    fn close_names(&self, name: &str) -> Vec<String> {
        let lower = name.to_lowercase();
        self.units
            .keys()
            .filter(|k| {
                let k = k.to_lowercase();
                k.contains(&lower) || lower.contains(&k) || edit_distance(&k, &lower) <= 2
            })
            .map(|k| k.to_string())
            .collect()
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
