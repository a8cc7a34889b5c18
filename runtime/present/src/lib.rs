//! Results as people read them, shared by the report unit, `ampel view` and
//! `ampel ui`: no I/O, only the unit API's types in and text out.
//!
//! - [`points`]: a light curve from stored datapoints of any survey (MJD and UTC
//!   date, band names, magnitude and flux with errors, upper limits, data rights);
//! - [`svg`]: its plot (axes, ticks, dates, band legend, error bars, upper limits);
//! - [`page`]: an object's summary (peak magnitudes, quality scores, fit, feature
//!   and catalogue results), its links to brokers and archives, and its HTML page.

pub mod page;
pub mod points;
pub mod svg;
