//! The development registry: every unit crate in `units/`, listed explicitly, with
//! the crate each unit comes from (the builder checks manifests against it, see
//! `ampel_builder::known`).
//! Generated instance binaries get a file of the same shape listing only the units
//! their manifest declares.

use ampel_builder::known::UnitCrate;
use ampel_interface::{Registry, RegistryError};

/// Every unit crate of `units/`.
pub const CRATES: &[UnitCrate] = &[
    UnitCrate {
        name: "ampel-units-basic",
        path: "units/basic",
        version: env!("CARGO_PKG_VERSION"),
        register: ampel_units_basic::register,
    },
    UnitCrate {
        name: "ampel-units-ztf",
        path: "units/ztf",
        version: env!("CARGO_PKG_VERSION"),
        register: ampel_units_ztf::register,
    },
    UnitCrate {
        name: "ampel-units-lsst",
        path: "units/lsst",
        version: env!("CARGO_PKG_VERSION"),
        register: ampel_units_lsst::register,
    },
    UnitCrate {
        name: "ampel-units-lightcurve",
        path: "units/lightcurve",
        version: env!("CARGO_PKG_VERSION"),
        register: ampel_units_lightcurve::register,
    },
    UnitCrate {
        name: "ampel-units-catalog",
        path: "units/catalog",
        version: env!("CARGO_PKG_VERSION"),
        register: ampel_units_catalog::register,
    },
    UnitCrate {
        name: "ampel-units-survey",
        path: "units/survey",
        version: env!("CARGO_PKG_VERSION"),
        register: ampel_units_survey::register,
    },
    UnitCrate {
        name: "ampel-units-report",
        path: "units/report",
        version: env!("CARGO_PKG_VERSION"),
        register: ampel_units_report::register,
    },
    // GPL-3.0-or-later (light-curve-feature): only with the `gpl-units` feature
    #[cfg(feature = "gpl-units")]
    UnitCrate {
        name: "ampel-units-features",
        path: "units/features",
        version: env!("CARGO_PKG_VERSION"),
        register: ampel_units_features::register,
    },
];

/// Every unit this binary contains.
pub fn registry() -> Result<Registry, RegistryError> {
    let mut r = Registry::new();
    for c in CRATES {
        (c.register)(&mut r)?;
    }
    Ok(r)
}
