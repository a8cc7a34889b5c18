//! T3 units that report.
//!
//! - [`T3ReportExporter`]: per run, `index.html` (a table of the selected objects,
//!   each with its light-curve plot and links), a page per object, `objects.csv`,
//!   `objects.json` and one SVG plot per object, in `<out_dir>/<dir>/<process>-run<run>/`,
//!   and an index of the runs in `<out_dir>/<dir>/`;
//!   (its pages and plots come from `ampel-present`, as `ampel view`'s and
//!   `ampel ui`'s do);
//! - [`T3HttpNotifier`]: a Slack-compatible JSON post to a webhook held as a secret.

mod exporter;
mod notifier;

pub use exporter::{ReportConfig, T3ReportExporter};
pub use notifier::{secret, NotifierConfig, T3HttpNotifier};

use ampel_interface::{Registry, RegistryError};

/// Register every unit of this crate.
pub fn register(r: &mut Registry) -> Result<(), RegistryError> {
    r.t3::<T3ReportExporter>()?;
    r.t3::<T3HttpNotifier>()?;
    Ok(())
}
