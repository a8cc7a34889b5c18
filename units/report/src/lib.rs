//! T3 units that report.
//!
//! - [`T3ReportExporter`]: per run, `index.html` (a table of the selected objects,
//!   each with its light-curve plot), `objects.csv`, `objects.json` and one PNG per
//!   object, in `<out_dir>/<dir>/<process>-run<run>/`;
//! - [`T3HttpNotifier`]: a Slack-compatible JSON post to a webhook held as a secret.

mod exporter;
mod notifier;
mod plot;

pub use exporter::{ReportConfig, T3ReportExporter};
pub use notifier::{secret, NotifierConfig, T3HttpNotifier};
pub use plot::{light_curve_png, PlotPoint};

use ampel_interface::{Registry, RegistryError};

/// Register every unit of this crate.
pub fn register(r: &mut Registry) -> Result<(), RegistryError> {
    r.t3::<T3ReportExporter>()?;
    r.t3::<T3HttpNotifier>()?;
    Ok(())
}
