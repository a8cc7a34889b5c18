//! Survey-independent units. Depends on `ampel-interface` alone.
//!
//! - [`CriteriaFilter`]: a channel filter written as configuration, not code.

mod criteria;

pub use criteria::{Combine, CriteriaFilter, CriteriaFilterConfig, Criterion, Operator, Over};

use ampel_interface::{Registry, RegistryError};

/// Register every unit of this crate.
pub fn register(r: &mut Registry) -> Result<(), RegistryError> {
    r.alert_filter::<CriteriaFilter>()?;
    Ok(())
}
