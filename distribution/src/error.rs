//! Why a push or a pull failed: each variant names the registry, reference or
//! archive concerned; the message says what was expected.

use std::path::PathBuf;

/// Why a push or a pull failed.
#[derive(Debug, thiserror::Error)]
pub enum DistributionError {
    /// The registry could not be reached (connection, DNS, timeout).
    #[error("cannot reach registry {registry}: {detail}")]
    Unreachable {
        /// Host\[:port\].
        registry: String,
        /// Why.
        detail: String,
    },
    /// Authentication was needed and failed, or the token endpoint misbehaved.
    #[error("{detail}")]
    Auth {
        /// Host\[:port\].
        registry: String,
        /// What happened (never a credential).
        detail: String,
    },
    /// The registry answered a request with an error status.
    #[error("{detail}")]
    Refused {
        /// Host\[:port\].
        registry: String,
        /// What was asked and the registry's answer.
        detail: String,
    },
    /// A blob or manifest arrived different from its digest, or the registry
    /// stored different bytes: nothing was written.
    #[error("{detail}")]
    Transfer {
        /// Host\[:port\].
        registry: String,
        /// Which digest and what arrived.
        detail: String,
    },
    /// An image reference that cannot be used for this operation.
    #[error("{detail}")]
    Reference {
        /// The reference as given.
        reference: String,
        /// What was expected.
        detail: String,
    },
    /// The archive to push is incomplete.
    #[error("{detail}")]
    Archive {
        /// The archive.
        path: PathBuf,
        /// What is missing.
        detail: String,
    },
    /// A request could not be formed, or a response lacked a required header.
    #[error("{detail}")]
    Request {
        /// What went wrong.
        detail: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The archive is not a valid image.
    #[error(transparent)]
    Image(#[from] ampel_images::ImageError),
}
