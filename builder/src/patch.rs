//! AMPEL crates that unit crates take from git. A unit crate written outside
//! this repository names `ampel-interface` (and `ampel-unit-build`,
//! `ampel-testkit`) by git URL; the instance must use this tree's copy instead, or
//! the unit's traits would be another crate's and the registry would not compile.
//! After a first resolve, every AMPEL crate that came from a git source gets a
//! `[patch."<url>"]` entry pointing at the tree.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// The tree's crates: name → path relative to the tree, from its
/// `[workspace.dependencies]`.
pub(crate) fn tree_crates(source_root: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(source_root.join("Cargo.toml")).unwrap_or_default();
    let doc: toml::Table = toml::from_str(&text).unwrap_or_default();
    doc.get("workspace")
        .and_then(|w| w.get("dependencies"))
        .and_then(|d| d.as_table())
        .into_iter()
        .flatten()
        .filter_map(|(name, spec)| Some((name.clone(), spec.get("path")?.as_str()?.to_string())))
        .collect()
}

/// Git URL → the tree's crates resolved from it (`cargo metadata` packages whose
/// source is `git+URL?...#commit`), each with its path in the tree.
pub(crate) type Patches = BTreeMap<String, BTreeMap<String, String>>;

/// The [`Patches`] a resolve needs; `tree` is [`tree_crates`].
pub(crate) fn git_patches(metadata: &Value, tree: &BTreeMap<String, String>) -> Patches {
    let mut out = Patches::new();
    for p in metadata["packages"].as_array().into_iter().flatten() {
        let (Some(name), Some(source)) = (p["name"].as_str(), p["source"].as_str()) else {
            continue;
        };
        let Some(url) = source.strip_prefix("git+") else {
            continue;
        };
        if let Some(rel) = tree.get(name) {
            let url = url.split(['?', '#']).next().unwrap_or(url);
            out.entry(url.to_string())
                .or_default()
                .insert(name.to_string(), rel.clone());
        }
    }
    out
}

/// The `[patch]` sections; `path_of` renders a path dependency.
pub(crate) fn render(
    patches: &Patches,
    source_root: &Path,
    path_of: &dyn Fn(&str, &Path) -> String,
) -> String {
    let mut out = String::new();
    for (url, crates) in patches {
        out.push_str(&format!(
            "\n# the AMPEL crates unit crates take from git, from this tree\n[patch.{}]\n",
            Value::String(url.clone())
        ));
        for (n, rel) in crates {
            out.push_str(&format!(
                "{n} = {{ path = {} }}\n",
                path_of(n, &source_root.join(rel))
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_sources_of_tree_crates_are_patched_to_the_tree() {
        let tree: BTreeMap<String, String> =
            [("ampel-interface".into(), "runtime/interface".into())].into();
        let meta = serde_json::json!({ "packages": [
            { "name": "ampel-interface", "source": "git+https://example.org/ampel-rs?rev=abc#abc0123" },
            { "name": "my-units", "source": "git+https://example.org/mine#f00" },
            { "name": "serde", "source": "registry+https://github.com/rust-lang/crates.io-index" },
            { "name": "ampel-interface", "source": null },
        ]});
        let p = git_patches(&meta, &tree);
        assert_eq!(p.len(), 1);
        assert_eq!(
            p["https://example.org/ampel-rs"]["ampel-interface"],
            "runtime/interface"
        );
        let text = render(&p, Path::new("/src"), &|_, p| {
            format!("{:?}", p.display().to_string())
        });
        assert!(text.contains("[patch.\"https://example.org/ampel-rs\"]\nampel-interface = { path = \"/src/runtime/interface\" }"), "{text}");
    }
}
