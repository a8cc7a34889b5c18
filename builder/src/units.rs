//! The development registry: every unit crate in `units/`, listed explicitly.
//! Generated instance binaries get a file of the same shape listing only the
//! units their manifest declares.

use ampel_interface::{Registry, RegistryError};

/// Every unit this binary contains.
pub fn registry() -> Result<Registry, RegistryError> {
    let mut r = Registry::new();
    ampel_units_basic::register(&mut r)?;
    ampel_units_ztf::register(&mut r)?;
    ampel_units_lsst::register(&mut r)?;
    ampel_units_lightcurve::register(&mut r)?;
    ampel_units_report::register(&mut r)?;
    Ok(r)
}
