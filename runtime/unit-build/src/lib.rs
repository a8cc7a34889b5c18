//! The crate digest of a unit crate, computed by its build script, so that a unit's
//! code digest (and so every trace id and `ampel t2 outdated`) changes when any
//! file of its crate changes, or any dependency resolves to another version, and
//! not only when the unit's own file does.
//!
//! A unit crate has a `build.rs`:
//!
//! ```ignore
//! fn main() {
//!     ampel_unit_build::emit_crate_digest();
//! }
//! ```
//!
//! and its units say `const SOURCE: &'static str = ampel_interface::crate_source!();`.
//!
//! **Canonical encoding** (SHA-256 over, in order):
//! 1. `ampel-crate-digest v1\n`;
//! 2. for every file of the crate directory, sorted by its `/`-separated path
//!    relative to the crate root, skipping `target/`, hidden entries, `Cargo.toml`
//!    and `Cargo.lock` (the builder rewrites path dependencies when it copies a
//!    crate; what they resolve to is covered by 3): `file <path>\n`, the length as
//!    a decimal and `\n`, the bytes;
//! 3. for every package the crate depends on, directly or not, as locked in the
//!    nearest `Cargo.lock` above the crate, sorted: `dep <name> <version> <source>\n`
//!    (source empty for path packages, whose files are not hashed here).
//!
//! The digest is `AMPEL_CRATE_DIGEST` (64 hex digits) in the crate's compile
//! environment. Paths, times and the machine do not enter it: two checkouts give
//! the same digest.

use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What one walk of the crate finds: the files that enter the digest (relative
/// path with `/` → full path), and the subdirectories they live in.
type Walked = (BTreeMap<String, PathBuf>, Vec<PathBuf>);

/// Files of the crate that enter the digest, and its subdirectories.
fn crate_files(root: &Path) -> std::io::Result<Walked> {
    fn walk(
        root: &Path,
        dir: &Path,
        out: &mut BTreeMap<String, PathBuf>,
        dirs: &mut Vec<PathBuf>,
    ) -> std::io::Result<()> {
        if dir != root {
            dirs.push(dir.to_path_buf());
        }
        for e in std::fs::read_dir(dir)? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            let top = dir == root;
            if name.starts_with('.')
                || (top && (name == "target" || name == "Cargo.toml" || name == "Cargo.lock"))
            {
                continue;
            }
            let path = e.path();
            let ft = e.file_type()?;
            if ft.is_dir() {
                walk(root, &path, out, dirs)?;
            } else if ft.is_file() || ft.is_symlink() {
                let rel: Vec<String> = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.insert(rel.join("/"), path);
            }
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    let mut dirs = Vec::new();
    walk(root, root, &mut out, &mut dirs)?;
    Ok((out, dirs))
}

/// A `[[package]]` of a lock file.
#[derive(Debug, Default, Clone)]
struct Locked {
    name: String,
    version: String,
    source: String,
    deps: Vec<String>,
}

/// The packages of a `Cargo.lock` (its simple line format: `key = "value"` and
/// the `dependencies = [...]` list).
fn parse_lock(text: &str) -> Vec<Locked> {
    let mut out: Vec<Locked> = Vec::new();
    let mut in_deps = false;
    let unquote = |s: &str| s.trim().trim_end_matches(',').trim_matches('"').to_string();
    for line in text.lines() {
        let line = line.trim();
        if line == "[[package]]" {
            out.push(Locked::default());
            in_deps = false;
            continue;
        }
        let Some(p) = out.last_mut() else { continue };
        if in_deps {
            if line.starts_with(']') {
                in_deps = false;
            } else if !line.is_empty() {
                p.deps.push(unquote(line));
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(" = ") {
            match k {
                "name" => p.name = unquote(v),
                "version" => p.version = unquote(v),
                "source" => p.source = unquote(v),
                "dependencies" => {
                    let v = v.trim();
                    if v == "[" {
                        in_deps = true;
                    } else {
                        // one-line form: ["a", "b 1.0"]
                        p.deps.extend(
                            v.trim_matches(['[', ']'])
                                .split(',')
                                .map(unquote)
                                .filter(|d| !d.is_empty()),
                        );
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// Every package `name` (at `version`) depends on, directly or not, as
/// `dep <name> <version> <source>` lines, sorted.
fn locked_closure(lock: &str, name: &str, version: &str) -> BTreeSet<String> {
    let packages = parse_lock(lock);
    // a dependency entry is "name" or "name version" (or "name version (source)")
    let find = |entry: &str| -> Option<&Locked> {
        let mut it = entry.split_whitespace();
        let n = it.next()?;
        let v = it.next();
        packages
            .iter()
            .find(|p| p.name == n && v.is_none_or(|v| p.version == v))
    };
    let mut out = BTreeSet::new();
    let Some(root) = packages
        .iter()
        .find(|p| p.name == name && p.version == version)
    else {
        return out;
    };
    let mut todo: Vec<&Locked> = root.deps.iter().filter_map(|d| find(d)).collect();
    let mut seen = BTreeSet::new();
    while let Some(p) = todo.pop() {
        if !seen.insert((p.name.clone(), p.version.clone())) {
            continue;
        }
        out.insert(format!("dep {} {} {}\n", p.name, p.version, p.source));
        todo.extend(p.deps.iter().filter_map(|d| find(d)));
    }
    out
}

/// The nearest `Cargo.lock` at or above `dir` (lexically: a crate reached through
/// a symbolic link finds the lock of the workspace it was reached from).
fn find_lock(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .map(|d| d.join("Cargo.lock"))
        .find(|p| p.is_file())
}

/// The crate digest of the crate at `root` (package `name` `version`), and the
/// files and subdirectories it was made from (for `rerun-if-changed`: a new file
/// in `src/` counts; not the crate root, which may hold a `target/`).
pub fn crate_digest(
    root: &Path,
    name: &str,
    version: &str,
) -> std::io::Result<(String, Vec<PathBuf>)> {
    let mut h = Sha256::new();
    h.update(b"ampel-crate-digest v1\n");
    let (files, mut inputs) = crate_files(root)?;
    for (rel, path) in &files {
        let data = std::fs::read(path)?;
        h.update(format!("file {rel}\n{}\n", data.len()).as_bytes());
        h.update(&data);
        inputs.push(path.clone());
    }
    if let Some(lock) = find_lock(root) {
        let text = std::fs::read_to_string(&lock)?;
        for line in locked_closure(&text, name, version) {
            h.update(line.as_bytes());
        }
        inputs.push(lock);
    }
    Ok((hex::encode(h.finalize()), inputs))
}

/// For a unit crate's `build.rs`: compute the crate digest and hand it to the
/// compiler as `AMPEL_CRATE_DIGEST`; cargo reruns the script when any file
/// changes, a file is added, or the lock file changes.
pub fn emit_crate_digest() {
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let root = PathBuf::from(var("CARGO_MANIFEST_DIR"));
    match crate_digest(&root, &var("CARGO_PKG_NAME"), &var("CARGO_PKG_VERSION")) {
        Ok((digest, inputs)) => {
            // real paths: the crate reached through two workspaces' `ampel`
            // symlinks (the host's and an instance's) then records the same
            // inputs, and a build in one does not make the other rerun
            let real = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
            for p in inputs {
                println!("cargo:rerun-if-changed={}", real(&p).display());
            }
            println!("cargo:rustc-env=AMPEL_CRATE_DIGEST={digest}");
        }
        Err(e) => {
            println!(
                "cargo:warning=cannot compute the crate digest of {}: {e}",
                root.display()
            );
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = r#"
version = 4

[[package]]
name = "ampel-units-x"
version = "0.1.0"
dependencies = [
 "ampel-interface",
 "serde 1.0.1",
]

[[package]]
name = "ampel-interface"
version = "0.1.0"
dependencies = ["serde 1.0.1"]

[[package]]
name = "serde"
version = "1.0.1"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "00"

[[package]]
name = "serde"
version = "1.0.2"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "unrelated"
version = "9.9.9"
"#;

    #[test]
    fn the_closure_holds_exactly_the_locked_dependencies() {
        let c: Vec<String> = locked_closure(LOCK, "ampel-units-x", "0.1.0")
            .into_iter()
            .collect();
        assert_eq!(
            c,
            [
                "dep ampel-interface 0.1.0 \n",
                "dep serde 1.0.1 registry+https://github.com/rust-lang/crates.io-index\n"
            ]
        );
    }

    #[test]
    fn any_file_changes_the_digest_and_paths_do_not() {
        let a = tempfile_dir("a");
        let b = tempfile_dir("b");
        for d in [&a, &b] {
            std::fs::create_dir_all(d.join("src")).unwrap();
            std::fs::write(d.join("Cargo.toml"), "[package]\n").unwrap();
            std::fs::write(d.join("src/lib.rs"), "pub mod helper;\n").unwrap();
            std::fs::write(d.join("src/helper.rs"), "pub const K: f64 = 1.0;\n").unwrap();
        }
        // the manifest does not count (the builder rewrites it)
        std::fs::write(b.join("Cargo.toml"), "[package]\n# other\n").unwrap();
        let da = crate_digest(&a, "x", "1").unwrap().0;
        assert_eq!(da, crate_digest(&b, "x", "1").unwrap().0);
        std::fs::write(b.join("src/helper.rs"), "pub const K: f64 = 2.0;\n").unwrap();
        assert_ne!(da, crate_digest(&b, "x", "1").unwrap().0);
        for d in [a, b] {
            let _ = std::fs::remove_dir_all(d);
        }
    }

    fn tempfile_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "ampel-unit-build-{}-{tag}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        d
    }
}
