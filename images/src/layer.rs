//! Deterministic layers: a sorted tar of regular files (parent directories added),
//! uid/gid 0, no user or group names, mtime [`crate::FIXED_MTIME`], GNU headers for
//! long names; then gzip with mtime 0, no file name and the default level of the
//! pure-Rust deflate backend (pinned through Cargo.lock).

use crate::{sha256_digest, ImageError, FIXED_MTIME};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

/// A file to put in a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerFile {
    /// Path inside the image, without leading `/` (e.g. `usr/local/bin/ampel`); a
    /// path ending in `/` is an (empty) directory with `mode`, e.g. `tmp/` with
    /// `0o1777`.
    pub path: String,
    /// Permission bits (e.g. `0o755`).
    pub mode: u32,
    /// Contents.
    pub data: Vec<u8>,
}

/// A finished layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// Digest of the uncompressed tar (the config's `diff_id`).
    pub diff_id: String,
    /// Digest of the gzip blob.
    pub digest: String,
    /// The gzip blob.
    pub blob: Vec<u8>,
}

/// Build a layer from files; their order does not matter.
pub fn build_layer(files: &[LayerFile]) -> Result<Layer, ImageError> {
    let tar = tar_bytes(files)?;
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).map_err(crate::io("<gzip>"))?;
    let blob = gz.finish().map_err(crate::io("<gzip>"))?;
    Ok(Layer {
        diff_id: sha256_digest(&tar),
        digest: sha256_digest(&blob),
        blob,
    })
}

/// The uncompressed, deterministic tar of `files`.
pub fn tar_bytes(files: &[LayerFile]) -> Result<Vec<u8>, ImageError> {
    let mut by_path: BTreeMap<&str, &LayerFile> = BTreeMap::new();
    let mut dirs: BTreeSet<String> = BTreeSet::new();
    let mut dir_modes: BTreeMap<String, u32> = BTreeMap::new();
    for f in files {
        if let Some(d) = f.path.trim_start_matches('/').strip_suffix('/') {
            if d.is_empty() || d.split('/').any(|s| s == ".." || s.is_empty()) {
                return Err(ImageError::Spec {
                    what: "layer",
                    detail: format!("bad path `{}`", f.path),
                });
            }
            let mut acc = String::new();
            for seg in d.split('/') {
                acc.push_str(seg);
                acc.push('/');
                dirs.insert(acc.clone());
            }
            dir_modes.insert(format!("{d}/"), f.mode);
            continue;
        }
        let p = f.path.trim_start_matches('/');
        if p.is_empty() || p.split('/').any(|s| s == ".." || s.is_empty()) {
            return Err(ImageError::Spec {
                what: "layer",
                detail: format!("bad path `{}`", f.path),
            });
        }
        let mut acc = String::new();
        for seg in p.split('/').collect::<Vec<_>>().iter().rev().skip(1).rev() {
            acc.push_str(seg);
            acc.push('/');
            dirs.insert(acc.clone());
        }
        if by_path.insert(p, f).is_some() {
            return Err(ImageError::Spec {
                what: "layer",
                detail: format!("duplicate path `{p}`"),
            });
        }
    }
    let mut entries: Vec<(String, Option<&LayerFile>)> =
        dirs.into_iter().map(|d| (d, None)).collect();
    entries.extend(by_path.into_iter().map(|(p, f)| (p.to_string(), Some(f))));
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut builder = tar::Builder::new(Vec::new());
    builder.mode(tar::HeaderMode::Deterministic);
    for (path, file) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(FIXED_MTIME);
        match file {
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(dir_modes.get(&path).copied().unwrap_or(0o755));
                h.set_size(0);
                builder.append_data(&mut h, &path, std::io::empty())
            }
            Some(f) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(f.mode);
                h.set_size(f.data.len() as u64);
                builder.append_data(&mut h, &path, f.data.as_slice())
            }
        }
        .map_err(crate::io(path.clone()))?;
    }
    builder.into_inner().map_err(crate::io("<tar>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, data: &[u8]) -> LayerFile {
        LayerFile {
            path: path.into(),
            mode: 0o644,
            data: data.to_vec(),
        }
    }

    #[test]
    fn order_of_input_does_not_matter() {
        let a = build_layer(&[file("etc/a", b"1"), file("bin/b", b"2")]).unwrap();
        let b = build_layer(&[file("bin/b", b"2"), file("etc/a", b"1")]).unwrap();
        assert_eq!(a, b);
        assert_ne!(a.diff_id, a.digest);
    }

    #[test]
    fn entries_are_sorted_with_parents_and_fixed_metadata() {
        let long = format!("opt/{}/x", "d".repeat(120));
        let tar =
            tar_bytes(&[file("usr/bin/z", b"z"), file(&long, b"l"), file("a", b"a")]).unwrap();
        let mut ar = tar::Archive::new(tar.as_slice());
        let names: Vec<(String, u64, u64)> = ar
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    e.header().mtime().unwrap(),
                    e.header().uid().unwrap(),
                )
            })
            .collect();
        let paths: Vec<&str> = names.iter().map(|n| n.0.as_str()).collect();
        let dir = format!("opt/{}/", "d".repeat(120));
        assert_eq!(
            paths,
            vec!["a", "opt/", &dir, &long, "usr/", "usr/bin/", "usr/bin/z"]
        );
        assert!(names.iter().all(|n| n.1 == FIXED_MTIME && n.2 == 0));
    }

    #[test]
    fn bad_paths_are_refused() {
        assert!(build_layer(&[file("../etc/passwd", b"")]).is_err());
        assert!(build_layer(&[file("a", b""), file("/a", b"")])
            .unwrap_err()
            .to_string()
            .contains("duplicate path `a`"));
    }
}
