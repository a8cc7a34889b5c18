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

/// The module a `crate::a::b::...` path names, as a file of `src` (the longest
/// prefix that is a module file), or None for the crate root.
fn module_file(src: &Path, segments: &[&str]) -> Option<PathBuf> {
    let mut best = None;
    for n in 1..=segments.len() {
        let rel = segments[..n].join("/");
        for cand in [src.join(format!("{rel}.rs")), src.join(&rel).join("mod.rs")] {
            if cand.is_file() {
                best = Some(cand);
            }
        }
    }
    best
}

/// `crate::` paths of a file (comments and the `#[cfg(test)]` module at its end
/// skipped: tests may use anything): the segments after `crate::`, with
/// `crate::{a, b::c}` split into its members.
fn crate_paths(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim() == "#[cfg(test)]" {
            break;
        }
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let before = rest[..i].chars().last();
            let after = &rest[i + "crate::".len()..];
            rest = after;
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue; // `ampel_crate::`, not `crate::`
            }
            let group: Vec<&str> = if let Some(inner) = after.strip_prefix('{') {
                inner.split('}').next().unwrap_or("").split(',').collect()
            } else {
                vec![after]
            };
            for g in group {
                let segs: Vec<String> = g
                    .trim()
                    .split("::")
                    .map(|s| {
                        s.chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect::<String>()
                    })
                    .take_while(|s| !s.is_empty())
                    .collect();
                if !segs.is_empty() {
                    out.push(segs);
                }
            }
        }
    }
    out
}

/// Import cycles among the files of the crate whose sources are in `src`: each
/// cycle as its files in order.
fn import_cycles(src: &Path) -> Vec<Vec<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let root = |p: &Path| p == src.join("lib.rs") || p == src.join("main.rs");
    let mut edges: std::collections::BTreeMap<PathBuf, std::collections::BTreeSet<PathBuf>> =
        Default::default();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let set = edges.entry(f.clone()).or_default();
        for segs in crate_paths(&text) {
            let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
            if let Some(to) = module_file(src, &segs) {
                if &to != f && !root(&to) {
                    set.insert(to);
                }
            }
        }
    }
    // depth-first search; a back edge closes a cycle
    let mut cycles = Vec::new();
    let mut done = std::collections::BTreeSet::new();
    fn visit(
        f: &PathBuf,
        edges: &std::collections::BTreeMap<PathBuf, std::collections::BTreeSet<PathBuf>>,
        stack: &mut Vec<PathBuf>,
        done: &mut std::collections::BTreeSet<PathBuf>,
        cycles: &mut Vec<Vec<String>>,
        src: &Path,
    ) {
        if let Some(i) = stack.iter().position(|s| s == f) {
            cycles.push(
                stack[i..]
                    .iter()
                    .chain(std::iter::once(f))
                    .map(|p| p.strip_prefix(src).unwrap().display().to_string())
                    .collect(),
            );
            return;
        }
        if !done.insert(f.clone()) {
            return;
        }
        stack.push(f.clone());
        for to in edges.get(f).into_iter().flatten() {
            visit(to, edges, stack, done, cycles, src);
        }
        stack.pop();
    }
    for f in edges.keys() {
        visit(f, &edges, &mut Vec::new(), &mut done, &mut cycles, src);
    }
    cycles
}

#[test]
fn no_import_cycles_among_the_files_of_a_crate() {
    let root = ampel_tests::repo_root();
    let mut found = Vec::new();
    let mut crates = 0;
    let mut dirs = vec![root.clone()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if p.is_dir() && name != "target" && !name.starts_with('.') && name != "src" {
                dirs.push(p);
            }
        }
        if d.join("Cargo.toml").is_file() && d.join("src").is_dir() {
            crates += 1;
            for c in import_cycles(&d.join("src")) {
                found.push(format!(
                    "{}: {}",
                    d.strip_prefix(&root).unwrap_or(&d).display(),
                    c.join(" -> ")
                ));
            }
        }
    }
    assert!(crates > 10, "found only {crates} crates");
    assert!(found.is_empty(), "import cycles: {found:#?}");
}

#[test]
fn the_cycle_finder_sees_a_cycle_through_a_brace_import() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::write(src.join("lib.rs"), "//! root\nmod a;\nmod b;\n").unwrap();
    std::fs::write(src.join("a.rs"), "//! a\nuse crate::{b::B, c};\n").unwrap();
    std::fs::write(src.join("b.rs"), "//! b\npub fn f() { crate::a::g() }\n").unwrap();
    assert_eq!(import_cycles(src), [["a.rs", "b.rs", "a.rs"]]);
    // a comment does not count
    std::fs::write(src.join("b.rs"), "//! b\n// crate::a::g()\n").unwrap();
    assert!(import_cycles(src).is_empty());
}
