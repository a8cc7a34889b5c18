//! What a layer may contain, checked by `verify` and again by every extraction
//! ([`crate::archive::layer_files`]), so an image whose digests are all consistent
//! still cannot write outside the directory it is unpacked into.
//!
//! An entry is refused when its path is absolute, has a `..` component, is empty or
//! not UTF-8; when it is a device node, a FIFO or any type other than a regular
//! file, a directory, a symbolic or a hard link; when it has the setuid or setgid
//! bit; when it is a symbolic link whose target is absolute or leaves the root, or
//! a hard link whose target is not a confined path. A layer's uncompressed size is
//! bounded ([`Limits`]), so a small gzip bomb is refused instead of filling memory.

use crate::ImageError;
use std::io::Read;

/// Bounds on what a layer may expand to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest uncompressed layer (the tar stream), in bytes.
    pub max_layer_bytes: u64,
}

/// 4 GiB uncompressed per layer: an instance layer is a few MB.
pub const DEFAULT_MAX_LAYER_BYTES: u64 = 4 << 30;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_layer_bytes: DEFAULT_MAX_LAYER_BYTES,
        }
    }
}

/// A path inside the image, as it must be: relative, no `..`, no empty or `.`
/// components other than a leading `./`; the normalised path (without `./`, and
/// without a trailing `/`).
pub fn confined_path(raw: &[u8]) -> Result<String, String> {
    let s = std::str::from_utf8(raw).map_err(|_| "the path is not UTF-8".to_string())?;
    if s.contains('\0') {
        return Err("the path contains a NUL byte".into());
    }
    if s.starts_with('/') {
        return Err("the path is absolute".into());
    }
    let mut parts = Vec::new();
    for c in s.split('/') {
        match c {
            "" | "." => continue,
            ".." => return Err("the path has a `..` component".into()),
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return Err("the path is empty".into());
    }
    Ok(parts.join("/"))
}

/// Where a symbolic link at `path` pointing to `target` resolves, if it stays
/// inside the root (lexically: the root has no links of its own to follow).
fn symlink_inside(path: &str, target: &[u8]) -> Result<(), String> {
    let t = std::str::from_utf8(target).map_err(|_| "the link target is not UTF-8".to_string())?;
    if t.starts_with('/') {
        return Err(format!(
            "symbolic link to the absolute path `{t}` (it would point outside the root when unpacked)"
        ));
    }
    let mut stack: Vec<&str> = path.split('/').collect();
    stack.pop(); // the link itself
    for c in t.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if stack.pop().is_none() {
                    return Err(format!("symbolic link to `{t}` points outside the root"));
                }
            }
            c => stack.push(c),
        }
    }
    Ok(())
}

/// Check one entry's header (type, mode, link target) with its normalised `path`.
pub fn check_entry<R: Read>(entry: &tar::Entry<'_, R>) -> Result<String, (String, String)> {
    let raw = entry.path_bytes();
    let shown = String::from_utf8_lossy(&raw).into_owned();
    let path = confined_path(&raw).map_err(|why| (shown.clone(), why))?;
    let h = entry.header();
    let mode = h
        .mode()
        .map_err(|e| (shown.clone(), format!("bad mode field: {e}")))?;
    if mode & 0o6000 != 0 {
        return Err((shown, format!("mode {mode:o} has the setuid or setgid bit")));
    }
    use tar::EntryType as T;
    match h.entry_type() {
        T::Regular | T::Continuous | T::Directory => {}
        T::Symlink => {
            let target = entry
                .link_name_bytes()
                .ok_or_else(|| (shown.clone(), "symbolic link without a target".to_string()))?;
            symlink_inside(&path, &target).map_err(|why| (shown.clone(), why))?;
        }
        T::Link => {
            let target = entry
                .link_name_bytes()
                .ok_or_else(|| (shown.clone(), "hard link without a target".to_string()))?;
            confined_path(&target)
                .map_err(|why| (shown.clone(), format!("hard link target: {why}")))?;
        }
        T::Char | T::Block => return Err((shown, "a device node".into())),
        T::Fifo => return Err((shown, "a FIFO".into())),
        other => return Err((shown, format!("entry type {other:?} is not allowed"))),
    }
    Ok(path)
}

/// Counts (and bounds) the bytes read through it and hashes them.
struct Metered<R> {
    inner: R,
    read: u64,
    limit: u64,
    hasher: sha2::Sha256,
}

impl<R: Read> Metered<R> {
    fn new(inner: R, limit: u64) -> Self {
        use sha2::Digest;
        Metered {
            inner,
            read: 0,
            limit,
            hasher: sha2::Sha256::new(),
        }
    }

    /// `sha256:<hex>` of everything read so far.
    fn digest(self) -> String {
        use sha2::Digest;
        format!("sha256:{}", hex::encode(self.hasher.finalize()))
    }
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use sha2::Digest;
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            return Err(std::io::Error::other(format!(
                "the layer expands to more than {} bytes (the limit)",
                self.limit
            )));
        }
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Walk the gzip layer blob `digest`: every entry checked, `f` called with each
/// entry's normalised path, header and contents, the uncompressed size bounded; the
/// diff id (`sha256:` of the uncompressed stream) at the end.
pub fn scan_layer(
    digest: &str,
    blob: &[u8],
    limits: &Limits,
    mut f: impl FnMut(&str, &tar::Header, &mut dyn Read) -> Result<(), ImageError>,
) -> Result<String, ImageError> {
    let bad = |detail: String| ImageError::BadLayer {
        layer: digest.to_string(),
        detail,
    };
    let mut meter = Metered::new(flate2::read::GzDecoder::new(blob), limits.max_layer_bytes);
    {
        let mut ar = tar::Archive::new(&mut meter);
        let entries = ar
            .entries()
            .map_err(|e| bad(format!("not a tar layer: {e}")))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| bad(format!("damaged layer: {e}")))?;
            let path = check_entry(&entry).map_err(|(entry, detail)| ImageError::UnsafeEntry {
                layer: digest.to_string(),
                entry,
                detail,
            })?;
            let header = entry.header().clone();
            f(&path, &header, &mut entry)?;
        }
    }
    // the rest of the stream (end-of-archive blocks, padding) belongs to the diff id
    std::io::copy(&mut meter, &mut std::io::sink())
        .map_err(|e| bad(format!("damaged layer: {e}")))?;
    Ok(meter.digest())
}

/// One tar entry written exactly as given (see [`raw_tar`]).
#[derive(Debug, Clone)]
pub struct RawEntry<'a> {
    /// The name field, unchecked (at most 99 bytes).
    pub name: &'a str,
    /// The entry type.
    pub kind: tar::EntryType,
    /// Mode bits.
    pub mode: u32,
    /// The link name field (links), unchecked.
    pub link: &'a str,
    /// Contents (regular files).
    pub data: &'a [u8],
}

/// A tar stream of `entries` written byte for byte, without the checks
/// `tar::Builder` makes: hostile layers for the tests of these rules (an attacker
/// has no such checks either).
pub fn raw_tar(entries: &[RawEntry<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let mut h = tar::Header::new_old();
        let name = e.name.as_bytes();
        let old = h.as_old_mut();
        old.name[..name.len().min(99)].copy_from_slice(&name[..name.len().min(99)]);
        let link = e.link.as_bytes();
        old.linkname[..link.len().min(99)].copy_from_slice(&link[..link.len().min(99)]);
        h.set_mode(e.mode);
        h.set_size(e.data.len() as u64);
        h.set_entry_type(e.kind);
        h.set_mtime(crate::FIXED_MTIME);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(e.data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gz(tar: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut g = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        g.write_all(tar).unwrap();
        g.finish().unwrap()
    }

    fn file<'a>(name: &'a str, mode: u32) -> RawEntry<'a> {
        RawEntry {
            name,
            kind: tar::EntryType::Regular,
            mode,
            link: "",
            data: b"x",
        }
    }

    #[test]
    fn extraction_refuses_every_hostile_entry_and_names_it() {
        let link = |name, kind, link| RawEntry {
            name,
            kind,
            mode: 0o777,
            link,
            data: b"",
        };
        let cases = [
            (file("/tmp/pwned", 0o644), "absolute"),
            (file("usr/../../pwned", 0o644), "`..`"),
            (file("usr/local/bin/su", 0o4755), "setuid"),
            (file("usr/local/bin/sg", 0o2755), "setgid"),
            (
                link("etc", tar::EntryType::Symlink, "/etc"),
                "absolute path",
            ),
            (
                link("a/up", tar::EntryType::Symlink, "../../x"),
                "outside the root",
            ),
            (
                link("hard", tar::EntryType::Link, "../../etc/shadow"),
                "hard link",
            ),
            (link("dev/sda", tar::EntryType::Block, ""), "device node"),
            (link("dev/tty9", tar::EntryType::Char, ""), "device node"),
            (link("fifo", tar::EntryType::Fifo, ""), "FIFO"),
        ];
        for (entry, why) in cases {
            let name = entry.name;
            let blob = gz(&raw_tar(&[file("ok", 0o644), entry]));
            let err = crate::archive::layer_files("sha256:feed", &blob).unwrap_err();
            let msg = err.to_string();
            assert!(
                matches!(err, ImageError::UnsafeEntry { .. })
                    && msg.contains("sha256:feed")
                    && msg.contains(name)
                    && msg.contains(why),
                "{name}: {msg}"
            );
        }
        // the sticky bit (tmp/) and links inside the root are fine
        let ok = gz(&raw_tar(&[
            file("tmp/x", 0o1777),
            link("usr/lib64", tar::EntryType::Symlink, "lib"),
            link("usr/bin/b", tar::EntryType::Link, "usr/bin/a"),
        ]));
        let files = crate::archive::layer_files("sha256:feed", &ok).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].mode, 0o1777);
    }

    #[test]
    fn a_gzip_bomb_is_refused_at_the_limit() {
        let big = vec![0u8; 4 << 20];
        let blob = gz(&raw_tar(&[RawEntry {
            data: &big,
            ..file("zeros", 0o644)
        }]));
        assert!(blob.len() < 64 << 10, "a small blob: {}", blob.len());
        let limits = Limits {
            max_layer_bytes: 1 << 20,
        };
        let err = scan_layer("sha256:b0b", &blob, &limits, |_, _, _| Ok(())).unwrap_err();
        assert!(err.to_string().contains("more than 1048576 bytes"), "{err}");
        // within the limit the same layer hashes to the diff id of its stream
        let tar = raw_tar(&[RawEntry {
            data: &big,
            ..file("zeros", 0o644)
        }]);
        let diff = scan_layer("sha256:b0b", &blob, &Limits::default(), |_, _, _| Ok(())).unwrap();
        assert_eq!(diff, crate::sha256_digest(&tar));
    }

    #[test]
    fn paths_must_stay_inside_the_root() {
        assert_eq!(confined_path(b"./usr/bin/ampel").unwrap(), "usr/bin/ampel");
        assert_eq!(confined_path(b"tmp/").unwrap(), "tmp");
        for bad in [
            &b"/etc/passwd"[..],
            b"../x",
            b"a/../../x",
            b"a/..",
            b"",
            b"./",
            b"a\0b",
        ] {
            assert!(
                confined_path(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn links_must_resolve_inside_the_root() {
        assert!(symlink_inside("usr/bin/x", b"../lib/y").is_ok());
        assert!(symlink_inside("usr/bin/x", b"../../etc").is_ok());
        assert!(symlink_inside("usr/bin/x", b"../../../etc").is_err());
        assert!(symlink_inside("x", b"/etc/passwd").is_err());
        assert!(symlink_inside("a/x", b"./.././../b").is_err());
    }
}
