//! The resource locator: where a unit's [`ResourceFile`] is on this machine.
//!
//! Looked for, in order: the file the manifest named (registered by
//! `ampel-manifest` when it reads a manifest), `<dir>/sha256/<hex>` for each
//! directory of `$AMPEL_RESOURCES` (colon-separated), and the image's layer
//! [`IMAGE_DIR`]`/sha256/<hex>`. A candidate is used only when its size and SHA-256
//! are the ones the config names, so a unit never reads other bytes than those
//! its config hash stands for; each verified path is remembered for the process.

use ampel_interface::resource::{has_locator, set_locator, ResourceFile};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Where an instance image keeps its resource files (`sha256/<hex>` below it).
pub const IMAGE_DIR: &str = "/usr/share/ampel/resources";

/// Directories with more resource files (`sha256/<hex>` below each).
pub const ENV: &str = "AMPEL_RESOURCES";

/// The largest resource file an instance may carry (the image builder holds a
/// layer in memory).
pub const MAX_BYTES: u64 = 4 << 30;

#[derive(Default)]
struct State {
    /// Files manifests named, by digest.
    known: BTreeMap<String, PathBuf>,
    /// Paths already checked, by digest.
    verified: BTreeMap<String, PathBuf>,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

/// Install this locator for the process (once; later calls do nothing).
pub fn install() {
    if !has_locator() {
        set_locator(Arc::new(locate));
    }
}

/// Record the file a manifest names for a digest, and install the locator.
pub fn register(sha256: &str, path: PathBuf) {
    install();
    if let Ok(mut s) = STATE.lock() {
        s.get_or_insert_with(State::default)
            .known
            .insert(sha256.to_string(), path);
    }
}

/// SHA-256 (hex) and size of a file, refusing one larger than `max` bytes.
pub fn digest_file(path: &Path, max: u64) -> Result<(String, u64), String> {
    let f =
        std::fs::File::open(path).map_err(|e| format!("cannot open `{}`: {e}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut limited = f.take(max.saturating_add(1));
    let n = std::io::copy(&mut limited, &mut hasher)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    if n > max {
        return Err(format!(
            "`{}` is larger than {max} bytes, the most a resource file may be",
            path.display()
        ));
    }
    Ok((hex::encode(hasher.finalize()), n))
}

fn candidates(sha: &str, known: Option<PathBuf>) -> Vec<PathBuf> {
    let mut c: Vec<PathBuf> = known.into_iter().collect();
    if let Some(dirs) = std::env::var_os(ENV) {
        c.extend(std::env::split_paths(&dirs).map(|d| d.join("sha256").join(sha)));
    }
    c.push(Path::new(IMAGE_DIR).join("sha256").join(sha));
    c
}

fn locate(r: &ResourceFile) -> Result<PathBuf, String> {
    let known = {
        let s = STATE
            .lock()
            .map_err(|_| "resource locator poisoned".to_string())?;
        let s = s.as_ref();
        if let Some(p) = s.and_then(|s| s.verified.get(&r.sha256)) {
            return Ok(p.clone());
        }
        s.and_then(|s| s.known.get(&r.sha256).cloned())
    };
    let mut tried = Vec::new();
    for path in candidates(&r.sha256, known) {
        if !path.is_file() {
            tried.push(format!("{} (absent)", path.display()));
            continue;
        }
        match digest_file(&path, r.size) {
            Ok((sha, size)) if sha == r.sha256 && size == r.size => {
                if let Ok(mut s) = STATE.lock() {
                    s.get_or_insert_with(State::default)
                        .verified
                        .insert(r.sha256.clone(), path.clone());
                }
                return Ok(path);
            }
            Ok((sha, size)) => tried.push(format!(
                "{} (other content: {size} bytes, sha256 {sha})",
                path.display()
            )),
            Err(e) => tried.push(e),
        }
    }
    Err(format!(
        "not found with this content; looked at: {}. Run the instance's image (which carries it), \
         give the manifest that names it, or put it at $AMPEL_RESOURCES/sha256/{}",
        tried.join("; "),
        r.sha256
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registered_file_is_found_only_with_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cat.csv");
        std::fs::write(&path, b"ra,dec\n1,2\n").unwrap();
        let (sha, size) = digest_file(&path, MAX_BYTES).unwrap();
        assert_eq!(size, 11);
        register(&sha, path.clone());
        let r = ResourceFile {
            file: "cat.csv".into(),
            sha256: sha.clone(),
            size,
        };
        assert_eq!(r.path().unwrap(), path);
        // another digest for the same file is refused, naming what is there
        let other = ResourceFile {
            sha256: "0".repeat(64),
            ..r.clone()
        };
        register(&other.sha256, path.clone());
        let e = other.path().unwrap_err().to_string();
        assert!(e.contains("other content: 11 bytes"), "{e}");
        assert!(e.contains(IMAGE_DIR), "{e}");
    }

    #[test]
    fn a_file_larger_than_the_bound_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        std::fs::write(&path, vec![0u8; 100]).unwrap();
        let e = digest_file(&path, 99).unwrap_err();
        assert!(e.contains("larger than 99 bytes"), "{e}");
    }
}
