//! The runner: instance images run under three runtimes with the same view from
//! inside, and reproduced on pinned inputs.
//!
//! - [`spec`]: what a run is given and gives back, the same for every runtime;
//! - [`run`]: natively, under runc, or (with [`docker`]) under a Docker Engine,
//!   with the same `/inputs` and `/out` everywhere;
//! - [`reproduce`]: rerun an archived instance on pinned inputs, write a run record,
//!   and compare results digests.
//!
//! Images are read with `ampel_builder::inspect` (which verifies every blob); the
//! runner never builds one and never runs units itself: the image's binary does.

pub mod docker;
pub mod reproduce;
pub mod run;
pub mod spec;

use std::path::PathBuf;

/// Why a run or a reproduction failed (before the instance's own exit code).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// An input cannot be used (unreadable, unnamed, two with one name).
    #[error("{0}")]
    Input(String),
    /// The container runtime (native process, runc) cannot run the image.
    #[error("{0}")]
    Runtime(String),
    /// The Docker Engine cannot be reached or refused a step.
    #[error("{0}")]
    Docker(String),
    /// A run record is unreadable, or belongs to another image.
    #[error("{0}")]
    Record(String),
    /// The inputs are not those of the run record given to compare with.
    #[error("{0}")]
    InputsDiffer(String),
    /// The OCI runtime configuration could not be written.
    #[error("OCI runtime config: {0}")]
    OciConfig(#[from] oci_spec::OciSpecError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The run's store could not be opened or read.
    #[error(transparent)]
    Store(#[from] ampel_store::StoreError),
    /// The image is damaged or not an instance image.
    #[error(transparent)]
    Build(#[from] ampel_builder::BuildError),
    /// The image archive is damaged.
    #[error(transparent)]
    Image(#[from] ampel_images::ImageError),
}
