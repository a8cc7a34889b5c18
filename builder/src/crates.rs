//! Unit crates in the generated instance workspace: crates from outside the
//! AMPEL source tree are copied in (their path dependencies made absolute), and
//! every path crate's files are digested for the build key.

use crate::BuildError;
use std::path::{Path, PathBuf};

/// Copy a unit crate (without `target/` and hidden entries) to `to`, replacing what
/// was there. `path` dependencies in its `Cargo.toml` are made absolute, and those
/// into the AMPEL source tree go through the workspace's symlink (`in_tree`), so
/// that `ampel-interface` is one package, not two.
pub(crate) fn copy_crate(
    from: &Path,
    to: &Path,
    in_tree: &dyn Fn(&Path) -> Option<PathBuf>,
) -> Result<(), BuildError> {
    let io = |p: &Path| {
        let path = p.to_path_buf();
        move |e| BuildError::Io { path, source: e }
    };
    if to.exists() {
        std::fs::remove_dir_all(to).map_err(io(to))?;
    }
    fn walk(from: &Path, to: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(to)?;
        for e in std::fs::read_dir(from)? {
            let e = e?;
            let name = e.file_name();
            if name.to_string_lossy().starts_with('.') || name == "target" {
                continue;
            }
            if e.file_type()?.is_dir() {
                walk(&e.path(), &to.join(&name))?;
            } else {
                std::fs::copy(e.path(), to.join(&name))?;
            }
        }
        Ok(())
    }
    walk(from, to).map_err(io(from))?;
    let manifest = to.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).map_err(io(&manifest))?;
    let mut doc: toml::Table = toml::from_str(&text).map_err(|e| BuildError::CrateManifest {
        path: from.join("Cargo.toml"),
        detail: e.message().to_string(),
    })?;
    let mut changed = false;
    for section in ["dependencies", "build-dependencies", "dev-dependencies"] {
        let Some(deps) = doc.get_mut(section).and_then(|d| d.as_table_mut()) else {
            continue;
        };
        for (_, dep) in deps.iter_mut() {
            if let Some(p) = dep.get_mut("path") {
                if let Some(dep_path) = p.as_str() {
                    let abs = from.join(dep_path);
                    let abs = abs.canonicalize().unwrap_or(abs);
                    let mapped = in_tree(&abs).unwrap_or(abs);
                    *p = toml::Value::String(mapped.display().to_string());
                    changed = true;
                }
            }
        }
    }
    if changed {
        let text = toml::to_string(&doc).map_err(|e| BuildError::CrateManifest {
            path: manifest.clone(),
            detail: format!("cannot rewrite: {e}"),
        })?;
        std::fs::write(&manifest, text).map_err(io(&manifest))?;
    }
    Ok(())
}

/// Digest of a directory's files (sorted relative paths and contents), skipping
/// `target/` and hidden entries.
pub fn tree_digest(dir: &Path) -> Result<String, BuildError> {
    use sha2::Digest as _;
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), BuildError> {
        let rd = std::fs::read_dir(dir).map_err(|e| BuildError::Io {
            path: dir.to_path_buf(),
            source: e,
        })?;
        for e in rd.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || name == "target" {
                continue;
            }
            let ft = e.file_type().map_err(|err| BuildError::Io {
                path: e.path(),
                source: err,
            })?;
            if ft.is_dir() {
                walk(root, &e.path(), out)?;
            } else if ft.is_file() {
                out.push(
                    e.path()
                        .strip_prefix(root)
                        .unwrap_or(&e.path())
                        .to_path_buf(),
                );
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files)?;
    files.sort();
    let mut h = sha2::Sha256::new();
    for f in files {
        let data = std::fs::read(dir.join(&f)).map_err(|e| BuildError::Io {
            path: dir.join(&f),
            source: e,
        })?;
        let name = f.to_string_lossy();
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update((data.len() as u64).to_le_bytes());
        h.update(&data);
    }
    Ok(format!("sha256:{}", hex::encode(h.finalize())))
}
