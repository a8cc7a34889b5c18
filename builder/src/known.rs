//! The unit crates a host binary knows: the builder checks manifests naming them
//! against their registry. The host `ampel` lists every crate of `units/` (its
//! development registry, `ampel/src/units.rs`); generated instance binaries get a
//! file of the same shape listing only the units their manifest declares.

use ampel_interface::{Registry, RegistryError};

/// A unit crate this binary was built with.
pub struct UnitCrate {
    /// Package name.
    pub name: &'static str,
    /// Path in this repository.
    pub path: &'static str,
    /// Version.
    pub version: &'static str,
    /// Its registration function.
    pub register: fn(&mut Registry) -> Result<(), RegistryError>,
}

/// The unit crates a host binary was compiled with and the registry of their
/// units: manifests naming them (by path in the source tree) are checked against
/// it while parsing; other crates are checked by the binary built from them.
#[derive(Clone, Copy)]
pub struct HostUnits<'a> {
    /// Every unit of the host binary.
    pub registry: &'a Registry,
    /// The crates they come from.
    pub crates: &'a [UnitCrate],
}

/// The units one crate exports.
pub fn units_of(c: &UnitCrate) -> Result<Vec<String>, RegistryError> {
    let mut r = Registry::new();
    (c.register)(&mut r)?;
    Ok(r.iter().map(|u| u.name().to_string()).collect())
}
