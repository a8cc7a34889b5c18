//! One file per image: a deterministic, uncompressed tar of the layout directory,
//! readable as `oci-archive:` by skopeo and loadable by `docker load`.
//! [`ArchiveLayout`] reads such a file in place (no unpacking to disk), so verify,
//! inspect and diff never leave files behind.

use crate::layer::{tar_bytes, LayerFile};
use crate::verify::LayoutSource;
use crate::{io, ImageError};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// An archive read into memory: its regular files by path.
pub struct ArchiveLayout {
    path: PathBuf,
    files: BTreeMap<String, Vec<u8>>,
}

impl ArchiveLayout {
    /// Read an archive file; a file that is not a tar, or a truncated one, is named.
    pub fn open(path: &Path) -> Result<Self, ImageError> {
        let file = std::fs::File::open(path).map_err(io(path))?;
        let len = file.metadata().map_err(io(path))?.len();
        let bad = |detail: String| ImageError::BadLayout {
            path: path.to_path_buf(),
            detail,
        };
        let mut files = BTreeMap::new();
        let mut ar = tar::Archive::new(std::io::BufReader::new(file));
        for entry in ar
            .entries()
            .map_err(|e| bad(format!("not a tar archive: {e}")))?
        {
            let mut entry = entry.map_err(|e| bad(format!("damaged tar archive: {e}")))?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let name = entry
                .path()
                .map_err(|e| bad(format!("bad entry name: {e}")))?
                .to_string_lossy()
                .trim_start_matches("./")
                .to_string();
            // the header's size is not trusted for the allocation: the data must be in
            // the file, so the file's length bounds it
            let mut data = Vec::with_capacity(entry.size().min(len) as usize);
            entry
                .read_to_end(&mut data)
                .map_err(|e| bad(format!("truncated entry {name}: {e}")))?;
            files.insert(name, data);
        }
        if files.is_empty() {
            return Err(bad("not an image archive: no files".into()));
        }
        Ok(ArchiveLayout {
            path: path.to_path_buf(),
            files,
        })
    }

    /// Every file of the archive, by path.
    pub fn files(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.files
    }
}

impl LayoutSource for ArchiveLayout {
    fn location(&self) -> &Path {
        &self.path
    }
    fn read(&self, rel: &str) -> Result<Option<Vec<u8>>, ImageError> {
        Ok(self.files.get(rel).cloned())
    }
}

/// The regular files of the gzip layer blob `digest`: (path, mode, contents), in tar
/// order; every entry is checked against [`crate::rules`] first (an extraction
/// never trusts that the image was verified), setuid/setgid bits never come out.
pub fn layer_files(digest: &str, blob: &[u8]) -> Result<Vec<LayerFile>, ImageError> {
    let mut out = Vec::new();
    crate::rules::scan_layer(
        digest,
        blob,
        &crate::rules::Limits::default(),
        |path, header, data| {
            if !header.entry_type().is_file() {
                return Ok(());
            }
            let mut bytes = Vec::new();
            data.read_to_end(&mut bytes)
                .map_err(|e| ImageError::BadLayer {
                    layer: digest.to_string(),
                    detail: format!("entry {path}: {e}"),
                })?;
            out.push(LayerFile {
                path: path.to_string(),
                mode: header.mode().unwrap_or(0o644) & 0o1777,
                data: bytes,
            });
            Ok(())
        },
    )?;
    Ok(out)
}

/// Pack the layout in `dir` into the archive file `out`.
pub fn pack(dir: &Path, out: &Path) -> Result<(), ImageError> {
    let mut files = Vec::new();
    collect(dir, dir, &mut files)?;
    let bytes = tar_bytes(&files)?;
    std::fs::write(out, bytes).map_err(io(out))
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<LayerFile>) -> Result<(), ImageError> {
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, out)?;
        } else {
            let rel = path.strip_prefix(root).map_err(|e| ImageError::BadLayout {
                path: path.clone(),
                detail: e.to_string(),
            })?;
            out.push(LayerFile {
                path: rel.to_string_lossy().into_owned(),
                mode: 0o644,
                data: std::fs::read(&path).map_err(io(&path))?,
            });
        }
    }
    Ok(())
}

/// Unpack an archive into `dir` (paths escaping `dir` are refused by the tar reader).
pub fn unpack(archive: &Path, dir: &Path) -> Result<(), ImageError> {
    let file = std::fs::File::open(archive).map_err(io(archive))?;
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    tar::Archive::new(file).unpack(dir).map_err(io(archive))
}
