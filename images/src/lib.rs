//! Reproducible OCI images: deterministic layers, content-addressed layouts, and the
//! single-file archive that is both an OCI image layout and a `docker load` input.
//!
//! - [`layer`]: files → tar (sorted, uid/gid 0, fixed mtime) → gzip (pinned settings);
//! - [`layout`]: blobs under `blobs/sha256/`, `index.json`, `oci-layout`, plus the
//!   Docker `manifest.json`; every JSON document is written with sorted keys;
//! - [`verify`]: re-hash every blob a layout references and check sizes and diff ids;
//! - [`rules`]: what a layer may contain (no escaping paths or links, no devices, no
//!   setuid), checked by verify and again by every extraction;
//! - [`archive`]: pack a layout into one deterministic tar file and back.
//!
//! **Invariant:** the same inputs give the same bytes, hence the same digests, on any
//! machine: nothing here reads the clock, the user, the host or the file system order.

pub mod archive;
pub mod layer;
pub mod layout;
pub mod rules;
pub mod verify;

pub use oci_spec;

use std::path::PathBuf;

/// The fixed modification time of every tar entry and the `created` time of every
/// image: 1970-01-01T00:00:01Z (non-zero, as some tools treat 0 as "unset").
pub const FIXED_MTIME: u64 = 1;
/// [`FIXED_MTIME`] as RFC 3339.
pub const FIXED_CREATED: &str = "1970-01-01T00:00:01Z";

/// Errors of this crate; each names the file or blob concerned.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// File system failure.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A blob's bytes do not hash to its digest, or its size differs.
    #[error("blob {digest} in {layout}: {detail}")]
    BadBlob {
        /// Layout directory.
        layout: PathBuf,
        /// Digest expected.
        digest: String,
        /// What is wrong.
        detail: String,
    },
    /// A document of the layout is missing or malformed.
    #[error("{path}: {detail}")]
    BadLayout {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A layer blob that is not a gzip'd tar, is damaged, or expands past the limit.
    #[error("layer {layer}: {detail}")]
    BadLayer {
        /// The layer's digest.
        layer: String,
        /// What is wrong.
        detail: String,
    },
    /// A layer entry that could write outside the directory it is unpacked into, or
    /// that no instance image needs (a device node, a setuid file).
    #[error("layer {layer}: entry `{entry}`: {detail}")]
    UnsafeEntry {
        /// The layer's digest.
        layer: String,
        /// The entry's path as written in the layer.
        entry: String,
        /// The rule it breaks.
        detail: String,
    },
    /// Building an OCI document failed.
    #[error("cannot build {what}: {detail}")]
    Spec {
        /// Which document.
        what: &'static str,
        /// The cause.
        detail: String,
    },
}

pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ImageError {
    let path = path.into();
    move |source| ImageError::Io { path, source }
}

/// `sha256:<hex>` of some bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// `sha256:0123456789ab` (12 hex digits) for messages.
pub fn short_digest(digest: &str) -> String {
    let hex = digest.trim_start_matches("sha256:");
    format!("sha256:{}", &hex[..hex.len().min(12)])
}

/// Serialise any serde value as canonical JSON (keys sorted at every level, also the
/// ones oci-spec keeps in `HashMap`s), the only way documents are written here.
pub fn canonical_bytes<T: serde::Serialize>(
    v: &T,
    what: &'static str,
) -> Result<Vec<u8>, ImageError> {
    let value = serde_json::to_value(v).map_err(|e| ImageError::Spec {
        what,
        detail: e.to_string(),
    })?;
    Ok(ampel_interface::hash::canonical_json(&value).into_bytes())
}
