//! Feature pins: the generated instance crate asks for every registry crate it
//! shares with the host `ampel` with exactly the features the host build enables.
//!
//! Cargo compiles a crate once per feature set: the instance graph (runtime and
//! units) would otherwise enable fewer features of, say, `tokio` or `mongodb` than
//! the host graph (runtime plus builder), and about 40 crates would be compiled a
//! second time. With the pins, an image build after `scripts/ampel` (same target,
//! flags, profile and target directory) finds every shared crate compiled. The
//! pins come from `cargo tree` over the AMPEL source tree and its lock, so they
//! are the same on every machine and part of the build key.

use crate::BuildError;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Registry crates by (name, version), with their enabled features.
pub type Features = BTreeMap<(String, String), BTreeSet<String>>;

/// The host build's features, apart for the two sides cargo resolves apart: the
/// crates compiled for the target (linked into the binary) and those compiled
/// for the build machine (proc-macros, build scripts and their dependencies).
#[derive(Debug, Default, PartialEq)]
pub struct HostFeatures {
    /// Crates compiled for the target.
    pub target: Features,
    /// Crates compiled for the build machine.
    pub host: Features,
}

/// Parse `cargo tree -e normal,build -f "{p}|{f}" --charset ascii` output. Each
/// level indents by 4 columns; a `[build-dependencies]` line, in its crate's
/// column, marks the rest of the crate's children as build dependencies; a proc-macro and everything below it
/// or below a build dependency is compiled for the build machine. Path crates
/// (`(/path)` after the version) are left out.
pub fn parse_tree(text: &str) -> HostFeatures {
    let mut out = HostFeatures::default();
    // (depth, compiled for the build machine, later children are build deps)
    let mut stack: Vec<(usize, bool, bool)> = Vec::new();
    for line in text.lines() {
        let Some(col) = line.find(|c: char| c.is_ascii_alphanumeric() || c == '[') else {
            continue;
        };
        let depth = col / 4;
        let rest = &line[col..];
        if rest.starts_with('[') {
            // a marker stands in its crate's column: the crate is on the stack
            while stack.last().is_some_and(|(d, _, _)| *d > depth) {
                stack.pop();
            }
            if let Some(parent) = stack
                .last_mut()
                .filter(|_| rest.starts_with("[build-dependencies]"))
            {
                parent.2 = true;
            }
            continue;
        }
        while stack.last().is_some_and(|(d, _, _)| *d >= depth) {
            stack.pop();
        }
        let Some((pkg, feats)) = rest.split_once('|') else {
            continue;
        };
        let host = stack.last().is_some_and(|(_, h, b)| *h || *b) || pkg.contains("(proc-macro)");
        stack.push((depth, host, false));
        let mut words = pkg.split_whitespace();
        let (Some(name), Some(version)) = (words.next(), words.next()) else {
            continue;
        };
        if pkg.contains("(/") || !version.starts_with('v') {
            continue;
        }
        let side = if host { &mut out.host } else { &mut out.target };
        side.entry((name.to_string(), version[1..].to_string()))
            .or_default()
            .extend(
                feats
                    .trim_end_matches(" (*)")
                    .trim()
                    .split(',')
                    .filter(|f| !f.is_empty())
                    .map(str::to_string),
            );
    }
    out
}

/// The features the host `ampel` build enables (`ampel`'s graph for the
/// instance target), read with `cargo tree` from the source tree.
pub fn host_features(
    cargo: &mut std::process::Command,
    source_root: &Path,
) -> Result<HostFeatures, BuildError> {
    let out = cargo
        .args(["tree", "--locked", "-p", "ampel", "-e", "normal,build"])
        .args(["--target", crate::TARGET])
        .args(["-f", "{p}|{f}", "--charset", "ascii"])
        .arg("--manifest-path")
        .arg(source_root.join("Cargo.toml"))
        .output()
        .map_err(|e| BuildError::Cargo {
            what: "cargo tree (the host build's features)".into(),
            detail: format!("cannot run: {e}"),
        })?;
    if !out.status.success() {
        return Err(BuildError::Cargo {
            what: "cargo tree (the host build's features)".into(),
            detail: format!("failed: {}", String::from_utf8_lossy(&out.stderr).trim()),
        });
    }
    Ok(parse_tree(&String::from_utf8_lossy(&out.stdout)))
}

fn pin_lines(keys: &mut dyn Iterator<Item = (&(String, String), &BTreeSet<String>)>) -> String {
    let mut out = String::new();
    for ((name, version), features) in keys {
        let alias = format!("pin-{name}-{}", version.replace(['.', '+'], "-"));
        let list: Vec<String> = features.iter().map(|f| format!("{f:?}")).collect();
        out.push_str(&format!(
            "{alias} = {{ package = {name:?}, version = \"={version}\", default-features = false, features = [{}] }}\n",
            list.join(", ")
        ));
    }
    out
}

/// The pins: `[dependencies]` lines for each crate of `instance` (registry crates
/// of the instance graph, by name and version) that the host build compiles for
/// the target, with the host's features; and `[build-dependencies]` lines for
/// each crate of `instance` the host build compiles for the build machine
/// (already compiled: the instance's proc-macros then resolve to the same
/// artifacts). Crates only the host needs (the MongoDB driver, librdkafka and
/// theirs, when the instance does not use them) are not pinned, so they stay out. Crates in
/// `direct` are dependencies of the instance already (cargo refuses one crate
/// under two names) and are left out. Sorted, one line each.
pub fn render(
    instance: &BTreeSet<(String, String)>,
    host: &HostFeatures,
    direct: &BTreeSet<String>,
) -> (String, String) {
    let target = pin_lines(
        &mut host
            .target
            .iter()
            .filter(|(k, _)| instance.contains(*k) && !direct.contains(&k.0)),
    );
    let build = pin_lines(
        &mut host
            .host
            .iter()
            .filter(|(k, _)| instance.contains(*k) && !direct.contains(&k.0)),
    );
    (target, build)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_and_build_machine_crates_are_told_apart() {
        let tree = "ampel-builder v0.1.0 (/work/main/builder)|\n\
                    |-- digest v0.10.7|alloc,std\n\
                    |   `-- generic-array v0.14.7|more_lengths\n\
                    |       [build-dependencies]\n\
                    |       `-- version_check v0.9.5|\n\
                    |-- ahash v0.8.12|std\n\
                    |   |-- zerocopy v0.8.64|simd\n\
                    |   [build-dependencies]\n\
                    |   `-- version_check v0.9.5|\n\
                    |-- rand v0.8.8|std\n\
                    |-- thiserror v2.0.21|default,std\n\
                    |   `-- thiserror-impl v2.0.21 (proc-macro)|\n\
                    |       `-- syn v2.0.1|full\n\
                    |-- rand v0.8.8|std (*)\n\
                    `-- ampel-core v0.1.0 (/work/main/runtime/core)|\n";
        let f = parse_tree(tree);
        let key = |n: &str, v: &str| (n.to_string(), v.to_string());
        assert_eq!(
            f.target.keys().cloned().collect::<Vec<_>>(),
            [
                key("ahash", "0.8.12"),
                key("digest", "0.10.7"),
                key("generic-array", "0.14.7"),
                key("rand", "0.8.8"),
                key("thiserror", "2.0.21"),
                key("zerocopy", "0.8.64")
            ]
        );
        assert_eq!(
            f.host.keys().cloned().collect::<Vec<_>>(),
            [
                key("syn", "2.0.1"),
                key("thiserror-impl", "2.0.21"),
                key("version_check", "0.9.5")
            ]
        );
        // thiserror-impl is the host's only: not pinned for the instance
        let instance = BTreeSet::from([
            key("rand", "0.8.8"),
            key("digest", "0.10.7"),
            key("syn", "2.0.1"),
            key("version_check", "0.9.5"),
        ]);
        let (target, build) = render(&instance, &f, &BTreeSet::from(["digest".to_string()]));
        assert_eq!(
            target,
            "pin-rand-0-8-8 = { package = \"rand\", version = \"=0.8.8\", default-features = false, features = [\"std\"] }\n"
        );
        assert_eq!(build.lines().count(), 2, "{build}");
        assert!(!build.contains("thiserror"), "{build}");
        assert!(build.contains("pin-syn-2-0-1 = { package = \"syn\", version = \"=2.0.1\", default-features = false, features = [\"full\"] }"));
    }
}
