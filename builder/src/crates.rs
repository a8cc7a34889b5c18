//! Unit crates in the generated instance workspace: crates from outside the
//! AMPEL source tree are copied in (their path dependencies made absolute, the
//! fields they inherit from their own workspace written out), and every path
//! crate's files are digested for the build key.

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
    // fields inherited from the crate's own workspace (`edition.workspace = true`,
    // `serde = { workspace = true }`) are written out: the copy has no workspace
    let mut changed = inherit_from_workspace(from, &mut doc)?;
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

/// The workspace root a crate at `dir` belongs to: the nearest `Cargo.toml` above
/// it with a `[workspace]` table, parsed.
fn workspace_of(dir: &Path) -> Option<(PathBuf, toml::Table)> {
    dir.ancestors().skip(1).find_map(|d| {
        let text = std::fs::read_to_string(d.join("Cargo.toml")).ok()?;
        let doc: toml::Table = toml::from_str(&text).ok()?;
        doc.contains_key("workspace")
            .then(|| (d.to_path_buf(), doc))
    })
}

/// Replace `key.workspace = true` in `[package]` and `{ workspace = true, ... }`
/// in the dependency tables by the workspace's values (`[workspace.package]`,
/// `[workspace.dependencies]`, path dependencies made absolute, features merged).
/// True if anything was replaced; an inherited field the workspace lacks is an
/// error naming it.
fn inherit_from_workspace(from: &Path, doc: &mut toml::Table) -> Result<bool, BuildError> {
    let inherits =
        |v: &toml::Value| v.get("workspace").and_then(toml::Value::as_bool) == Some(true);
    let uses = doc
        .get("package")
        .and_then(|p| p.as_table())
        .is_some_and(|p| p.values().any(inherits))
        || ["dependencies", "build-dependencies", "dev-dependencies"]
            .iter()
            .any(|s| {
                doc.get(*s)
                    .and_then(|d| d.as_table())
                    .is_some_and(|d| d.values().any(inherits))
            });
    if !uses {
        return Ok(false);
    }
    let manifest = from.join("Cargo.toml");
    let bad = |detail: String| BuildError::CrateManifest {
        path: manifest.clone(),
        detail,
    };
    let (root, ws) = workspace_of(from).ok_or_else(|| {
        bad("inherits fields from a workspace, but no Cargo.toml above it has [workspace]".into())
    })?;
    let ws = ws
        .get("workspace")
        .and_then(|w| w.as_table())
        .cloned()
        .unwrap_or_default();
    let empty = toml::Table::new();
    let package = ws
        .get("package")
        .and_then(|p| p.as_table())
        .unwrap_or(&empty);
    let deps = ws
        .get("dependencies")
        .and_then(|p| p.as_table())
        .unwrap_or(&empty);
    if let Some(pkg) = doc.get_mut("package").and_then(|p| p.as_table_mut()) {
        for (key, v) in pkg.iter_mut() {
            if inherits(v) {
                *v = package.get(key).cloned().ok_or_else(|| {
                    bad(format!(
                        "`{key}.workspace = true`, but {} has no workspace.package.{key}",
                        root.join("Cargo.toml").display()
                    ))
                })?;
            }
        }
    }
    // `[lints] workspace = true`: the workspace's lints, or none
    if doc.get("lints").is_some_and(inherits) {
        match ws.get("lints") {
            Some(l) => doc.insert("lints".into(), l.clone()),
            None => doc.remove("lints"),
        };
    }
    for section in ["dependencies", "build-dependencies", "dev-dependencies"] {
        let Some(table) = doc.get_mut(section).and_then(|d| d.as_table_mut()) else {
            continue;
        };
        for (name, v) in table.iter_mut() {
            if !inherits(v) {
                continue;
            }
            let base = deps.get(name).cloned().ok_or_else(|| {
                bad(format!("dependency `{name}` has `workspace = true`, but {} has no workspace.dependencies.{name}", root.join("Cargo.toml").display()))
            })?;
            // `dep = "1"` is `dep = { version = "1" }`
            let mut merged = match base {
                toml::Value::String(version) => {
                    toml::Table::from_iter([("version".to_string(), toml::Value::String(version))])
                }
                toml::Value::Table(t) => t,
                other => {
                    return Err(bad(format!(
                        "workspace.dependencies.{name} is `{other}`, expected a version or a table"
                    )))
                }
            };
            if let Some(toml::Value::String(path)) = merged.get("path").cloned() {
                let abs = root.join(path);
                merged.insert(
                    "path".into(),
                    toml::Value::String(abs.canonicalize().unwrap_or(abs).display().to_string()),
                );
            }
            // the member's own keys (features, optional, ...) on top; features add up
            if let Some(own) = v.as_table() {
                for (k, x) in own {
                    match (k.as_str(), merged.get_mut(k)) {
                        ("workspace", _) => {}
                        ("features", Some(toml::Value::Array(have))) => {
                            if let Some(more) = x.as_array() {
                                have.extend(more.iter().cloned());
                            }
                        }
                        _ => {
                            merged.insert(k.clone(), x.clone());
                        }
                    }
                }
            }
            *v = toml::Value::Table(merged);
        }
    }
    Ok(true)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_inherited_from_the_crates_own_workspace_are_written_out() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        std::fs::create_dir_all(ws.join("u/src")).unwrap();
        std::fs::create_dir_all(ws.join("helper")).unwrap();
        std::fs::write(
            ws.join("Cargo.toml"),
            "[workspace]\nmembers = [\"u\"]\n[workspace.package]\nversion = \"0.4.2\"\nedition = \"2021\"\n\
             [workspace.dependencies]\nserde = { version = \"1\", features = [\"derive\"] }\nhelper = { path = \"helper\" }\nhex = \"0.4\"\n\
             [workspace.lints.rust]\nunsafe_code = \"forbid\"\n",
        )
        .unwrap();
        std::fs::write(
            ws.join("u/Cargo.toml"),
            "[package]\nname = \"u\"\nversion.workspace = true\nedition.workspace = true\n\
             [dependencies]\nserde = { workspace = true, features = [\"rc\"] }\nhelper.workspace = true\nhex.workspace = true\n\
             [lints]\nworkspace = true\n",
        )
        .unwrap();
        std::fs::write(ws.join("u/src/lib.rs"), "//! u\n").unwrap();
        let to = dir.path().join("copy");
        copy_crate(&ws.join("u"), &to, &|_| None).unwrap();
        let doc: toml::Table =
            toml::from_str(&std::fs::read_to_string(to.join("Cargo.toml")).unwrap()).unwrap();
        assert_eq!(doc["package"]["version"].as_str(), Some("0.4.2"));
        assert_eq!(doc["package"]["edition"].as_str(), Some("2021"));
        let deps = &doc["dependencies"];
        assert_eq!(
            deps["serde"]["features"].as_array().unwrap().len(),
            2,
            "derive and rc"
        );
        assert_eq!(deps["hex"]["version"].as_str(), Some("0.4"));
        let helper = deps["helper"]["path"].as_str().unwrap();
        assert!(
            Path::new(helper).is_absolute() && helper.ends_with("helper"),
            "{helper}"
        );
        assert!(deps["serde"].get("workspace").is_none());
        assert_eq!(doc["lints"]["rust"]["unsafe_code"].as_str(), Some("forbid"));
        // a field the workspace lacks is named
        std::fs::write(
            ws.join("u/Cargo.toml"),
            "[package]\nname = \"u\"\nversion = \"1.0.0\"\nlicense.workspace = true\n",
        )
        .unwrap();
        let e = copy_crate(&ws.join("u"), &to, &|_| None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`license.workspace = true`"), "{e}");
    }
}
