//! One file per image: a deterministic, uncompressed tar of the layout directory,
//! readable as `oci-archive:` by skopeo and loadable by `docker load`.

use crate::layer::{tar_bytes, LayerFile};
use crate::{io, ImageError};
use std::path::Path;

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
