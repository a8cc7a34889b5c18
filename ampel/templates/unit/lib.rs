//! `@CRATE@`: AMPEL units (made by `ampel new unit`). Each unit is a type with a
//! typed config; `register` lists them for the runtime, and the instance builder
//! names them in a manifest's `[[crate]] units = [...]`.

mod @MODULE@;

pub use @MODULE@::*;

use ampel_interface::{Registry, RegistryError};

/// Register every unit of this crate.
pub fn register(r: &mut Registry) -> Result<(), RegistryError> {
    r.unit::<@UNIT@, _>()?;
    Ok(())
}
