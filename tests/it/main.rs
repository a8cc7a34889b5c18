//! The one integration-test binary of the workspace; each module is one area.

mod conformance;
mod features;
mod golden_hashes;
mod jobs;
mod live;
mod manifest;
mod python_units;
mod sqlite_errors;
mod t0_real_alerts;
mod t2;
mod t3;
mod tidy;
