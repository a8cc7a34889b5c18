//! Repository hygiene, checked mechanically: every Rust file starts with a `//!`
//! module doc and stays under 800 lines.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

fn all_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    rust_files(&ampel_tests::repo_root(), &mut files);
    assert!(files.len() > 20, "found only {} Rust files", files.len());
    files
}

#[test]
fn every_rust_file_has_a_module_doc() {
    let missing: Vec<String> = all_files()
        .into_iter()
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            !text
                .lines()
                .find(|l| !l.trim().is_empty())
                .is_some_and(|l| l.starts_with("//!"))
        })
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a leading //! doc: {missing:#?}"
    );
}

#[test]
fn no_rust_file_is_over_800_lines() {
    let long: Vec<String> = all_files()
        .into_iter()
        .filter_map(|p| {
            let n = std::fs::read_to_string(&p).unwrap().lines().count();
            (n > 800).then(|| format!("{} ({n} lines)", p.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these files: {long:#?}");
}

#[test]
fn serde_json_maps_stay_sorted() {
    // a dependency enabling serde_json's `preserve_order` (bson 2 did) makes every
    // JSON object an IndexMap: slower T0 and T2, and unsorted pretty JSON
    let v: serde_json::Value = serde_json::from_str(r#"{"b": 1, "a": 2}"#).unwrap();
    assert_eq!(
        v.to_string(),
        r#"{"a":2,"b":1}"#,
        "some crate enabled serde_json/preserve_order (see `cargo tree -e features -i serde_json`)"
    );
}

/// Source, script and configuration files of the repository (no `target/`, no hidden
/// folders), by extension.
fn files_with(exts: &[&str]) -> Vec<PathBuf> {
    fn walk(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    walk(&path, exts, out);
                }
            } else if exts.iter().any(|e| name.ends_with(e)) || !name.contains('.') {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&ampel_tests::repo_root(), exts, &mut out);
    out
}

#[test]
fn nothing_reads_data_from_outside_the_repository() {
    // a clone is all the tests, benchmarks, scripts and manifests need: the real alerts
    // live in tests/data (a sibling folder of shared data exists only on the
    // developers' machines)
    let mut files = files_with(&[".rs", ".py", ".toml", ".sh"]);
    files.push(ampel_tests::repo_root().join(".ci/run"));
    let offenders: Vec<String> = files
        .into_iter()
        .filter(|p| {
            // the needle is built so that this file does not match itself
            let needle = format!("../{}", "shared");
            std::fs::read(p)
                .map(|b| String::from_utf8_lossy(&b).contains(&needle))
                .unwrap_or(false)
        })
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "these files reach outside the repository (copy the data into tests/data): {offenders:#?}"
    );
}
