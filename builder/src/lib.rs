//! The builder: instance manifests and the units this binary can pack.
//!
//! - [`units`]: the unit crates of `units/`, each with its explicit unit list;
//! - [`manifest`]: instance manifests, raw → validated, every problem at once with
//!   its `file:line:column`.
//!
//! Composing instance binaries and packing them into OCI images (with `images`)
//! lands here next.

pub mod manifest;
pub mod units;
