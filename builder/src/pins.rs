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

/// Parse `cargo tree -e normal -f "{p}|{f}" --prefix none` output: registry
/// crates only (path crates carry a `(/path)` suffix).
pub fn parse_tree(text: &str) -> Features {
    let mut out = Features::new();
    for line in text.lines() {
        let Some((pkg, feats)) = line.split_once('|') else {
            continue;
        };
        let mut words = pkg.split_whitespace();
        let (Some(name), Some(version)) = (words.next(), words.next()) else {
            continue;
        };
        if pkg.contains("(/") || !version.starts_with('v') {
            continue;
        }
        let feats = feats.trim_end_matches(" (*)").trim();
        out.entry((name.to_string(), version[1..].to_string()))
            .or_default()
            .extend(
                feats
                    .split(',')
                    .filter(|f| !f.is_empty())
                    .map(str::to_string),
            );
    }
    out
}

/// The features the host `ampel` build enables (`ampel-builder`'s graph for the
/// instance target), read with `cargo tree` from the source tree.
pub fn host_features(
    cargo: &mut std::process::Command,
    source_root: &Path,
) -> Result<Features, BuildError> {
    let out = cargo
        .args(["tree", "--locked", "-p", "ampel-builder", "-e", "normal"])
        .args(["--target", crate::compose::TARGET])
        .args(["-f", "{p}|{f}", "--prefix", "none"])
        .arg("--manifest-path")
        .arg(source_root.join("Cargo.toml"))
        .output()
        .map_err(|e| BuildError::Tool(format!("cannot run cargo tree: {e}")))?;
    if !out.status.success() {
        return Err(BuildError::Tool(format!(
            "cargo tree (the host build's features) failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(parse_tree(&String::from_utf8_lossy(&out.stdout)))
}

/// `[dependencies]` lines pinning each crate of `instance` (registry crates of the
/// instance graph, by name and version) that the host graph also has to the
/// host's features; sorted, one line each. Crates in `direct` are dependencies
/// of the instance already (cargo refuses one crate under two names) and are
/// left out.
pub fn render(
    instance: &BTreeSet<(String, String)>,
    host: &Features,
    direct: &BTreeSet<String>,
) -> String {
    let mut out = String::new();
    for key in instance.iter().filter(|(n, _)| !direct.contains(n)) {
        let Some(features) = host.get(key) else {
            continue;
        };
        let (name, version) = key;
        let alias = format!("pin-{name}-{}", version.replace(['.', '+'], "-"));
        let list: Vec<String> = features.iter().map(|f| format!("{f:?}")).collect();
        out.push_str(&format!(
            "{alias} = {{ package = {name:?}, version = \"={version}\", default-features = false, features = [{}] }}\n",
            list.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_lines_become_pins_and_path_crates_are_left_out() {
        let tree = "ahash v0.8.12|default,getrandom,std\n\
                    ahash v0.8.12|default,getrandom,std (*)\n\
                    ampel-core v0.1.0 (/work/main/runtime/core)|\n\
                    serde_derive v1.0.229 (proc-macro)|default\n\
                    adler2 v2.0.1|\n";
        let host = parse_tree(tree);
        assert_eq!(host.len(), 3);
        let want: BTreeSet<(String, String)> =
            [("ahash", "0.8.12"), ("adler2", "2.0.1"), ("zstd", "0.13.0")]
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
        let pins = render(&want, &host, &BTreeSet::new());
        let skip = BTreeSet::from(["ahash".to_string()]);
        assert!(!render(&want, &host, &skip).contains("ahash"));
        assert_eq!(
            pins,
            "pin-adler2-2-0-1 = { package = \"adler2\", version = \"=2.0.1\", default-features = false, features = [] }\n\
             pin-ahash-0-8-12 = { package = \"ahash\", version = \"=0.8.12\", default-features = false, features = [\"default\", \"getrandom\", \"std\"] }\n"
        );
    }
}
