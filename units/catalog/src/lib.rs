//! Catalogue context: [`T2CatalogCone`] matches a datapoint's position against a
//! catalogue the instance carries as a file resource (CSV or Parquet with RA/Dec in
//! degrees; [`parquet`] reads the latter),
//! indexed once by HEALPix cell ([`index`]); the nearest source or all within a
//! cone, with the columns the config names.

pub mod cone;
pub mod index;
pub mod parquet;

pub use cone::{ConeMatch, ConeResult, Keep, T2CatalogCone, T2CatalogConeConfig};

use ampel_interface::{Registry, RegistryError};

/// Register every unit of this crate.
pub fn register(r: &mut Registry) -> Result<(), RegistryError> {
    r.point_t2::<T2CatalogCone>()?;
    Ok(())
}
