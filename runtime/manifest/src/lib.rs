//! Instance manifests: the one file that declares an AMPEL instance — its unit
//! crates, how alerts become datapoints and states (`[t0]`), its channels (access
//! rights, filter, block groups, point/state/stock T2s with datapoint selection,
//! T3 processes with selection and loading), T2 worker processes, resources unit
//! configs refer to, and the live stream.
//!
//! Reading a manifest is three steps: [`parse`] (TOML with unknown fields denied),
//! the checks in [`check`] (every problem at once, each `file:line:column:
//! message`), and [`expand::instance_config`], which gives the runtime's
//! [`InstanceConfig`] (the T0 process and the scheduled processes). The builder
//! adds the unit crates' sources on top; a binary that already contains the units
//! uses [`load_for_binary`], which is how `ampel t0|t3|serve|job --manifest`
//! run a manifest without building an image.

pub mod check;
pub mod expand;
pub mod files;
pub mod raw;

use ampel_core::instance::{InstanceConfig, UnitInfo};
use ampel_interface::Registry;
pub use raw::RawManifest;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Why a manifest cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file cannot be read.
    #[error("cannot read manifest {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The manifest has problems, each `file:line:column: message`.
    #[error("{}", .0.join("\n"))]
    Invalid(Vec<String>),
}

/// Problems found so far, located in the manifest text.
pub struct Located<'a> {
    /// The file as it is named in messages.
    pub file: &'a str,
    /// Its text.
    pub text: &'a str,
    /// `file:line:column: message`, in the order found.
    pub problems: Vec<String>,
}

impl Located<'_> {
    /// Record a problem at a byte range of the text.
    pub fn push(&mut self, span: std::ops::Range<usize>, msg: impl std::fmt::Display) {
        let (l, c) = ampel_core::job::line_col(self.text, span.start);
        self.problems.push(format!("{}:{l}:{c}: {msg}", self.file));
    }
}

/// Unit name -> (the crate that declares it, whether its config can be checked
/// here, i.e. the checking binary contains that very crate).
pub type Declared = BTreeMap<String, (String, bool)>;

/// Parse a manifest's text; `file` names it in the error.
pub fn parse(file: &str, text: &str) -> Result<RawManifest, ManifestError> {
    toml::from_str(text).map_err(|e| {
        let (l, c) = e
            .span()
            .map(|s| ampel_core::job::line_col(text, s.start))
            .unwrap_or((0, 0));
        ManifestError::Invalid(vec![format!("{file}:{l}:{c}: {}", e.message())])
    })
}

/// Read a manifest file: its text and the parsed manifest, with its file
/// resources hashed (see [`files`]).
pub fn read(path: &Path) -> Result<(String, RawManifest), ManifestError> {
    let text = std::fs::read_to_string(path).map_err(|e| ManifestError::Read {
        path: path.to_path_buf(),
        source: e,
    })?;
    let mut raw = parse(&path.display().to_string(), &text)?;
    let base = path
        .parent()
        .filter(|b| !b.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    raw.files = files::hash_files(&raw.resources, base);
    Ok((text, raw))
}

/// A manifest run by a binary that contains its units (the host's development
/// binary, or an instance binary): every unit a crate declares must be in
/// `registry`, and every config is checked against it. The crates' sources are not
/// looked at: that is the builder's part.
pub fn load_for_binary(path: &Path, registry: &Registry) -> Result<InstanceConfig, ManifestError> {
    let (text, raw) = read(path)?;
    let file = path.display().to_string();
    let mut p = Located {
        file: &file,
        text: &text,
        problems: Vec::new(),
    };
    check::check_instance(&raw, &mut p);
    let mut declared = Declared::new();
    let mut infos = Vec::new();
    for c in &raw.crates {
        for u in &c.units {
            match registry.get(u.get_ref()) {
                Ok(r) => {
                    infos.push(UnitInfo {
                        name: u.get_ref().clone(),
                        kind: r.kind().as_str().into(),
                        version: r.version().into(),
                        digest: r.code_digest(),
                        krate: c.name.get_ref().clone(),
                    });
                    declared.insert(u.get_ref().clone(), (c.name.get_ref().clone(), true));
                }
                Err(_) => p.push(
                    u.span(),
                    format!(
                        "unit `{}` of crate `{}` is not in this binary; build the instance \
                         (`ampel image build {file}`) and run its image",
                        u.get_ref(),
                        c.name.get_ref()
                    ),
                ),
            }
        }
    }
    check::check_uses(&raw, registry, &declared, &mut p);
    if !p.problems.is_empty() {
        return Err(ManifestError::Invalid(p.problems));
    }
    Ok(expand::instance_config(raw, infos))
}

/// The T0 process of a manifest run by this binary, the problems as one text: what
/// job files' T0 tasks (`manifest = ...`) are read with.
pub fn t0_for_binary(path: &Path, registry: &Registry) -> Result<ampel_core::t0::T0Config, String> {
    load_for_binary(path, registry)
        .map(|c| c.t0)
        .map_err(|e| e.to_string())
}
