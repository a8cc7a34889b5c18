//! File resources: `[resources] NAME = { file = "path" }` (optionally pinned with
//! `sha256 = "<hex>"`). The path is relative to the manifest's directory. Reading
//! a manifest hashes each such file once; the resource's value, as unit configs
//! receive it, is then a [`ResourceFile`] (name, SHA-256, size: never the path),
//! and the file is registered with the process's resource locator so units built
//! from this manifest find it. The image builder packs the same files into a
//! content-addressed layer.

use ampel_core::resources::{digest_file, register, MAX_BYTES};
use ampel_interface::ResourceFile;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A file resource found and hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileResource {
    /// Where the file is on this machine.
    pub path: PathBuf,
    /// What unit configs receive.
    pub value: ResourceFile,
}

/// The file resources of a manifest by resource name, or why each is unusable.
pub type Files = BTreeMap<String, Result<FileResource, String>>;

/// The file a resource value declares, with its pinned digest, if the value is a
/// file resource: a table with `file` (a string) and at most `sha256` besides.
pub fn file_request(v: &toml::Value) -> Option<(&str, Option<&str>)> {
    let t = v.as_table()?;
    let file = t.get("file")?.as_str()?;
    let pin = t.get("sha256").and_then(|s| s.as_str());
    let expected = 1 + usize::from(pin.is_some());
    (t.len() == expected).then_some((file, pin))
}

/// Find and hash the file resources of a `[resources]` table, relative to `base`;
/// each found one is registered with the resource locator.
pub fn hash_files(resources: &BTreeMap<String, toml::Spanned<toml::Value>>, base: &Path) -> Files {
    let mut out = Files::new();
    for (name, v) in resources {
        let Some((file, pin)) = file_request(v.get_ref()) else {
            continue;
        };
        out.insert(name.clone(), hash_one(base, file, pin));
    }
    out
}

fn hash_one(base: &Path, file: &str, pin: Option<&str>) -> Result<FileResource, String> {
    let path = base.join(file);
    let name = Path::new(file)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| format!("file `{file}`: expected a path to a file"))?;
    if !path.is_file() {
        return Err(format!(
            "file `{file}`: no such file (looked at {})",
            path.display()
        ));
    }
    let (sha256, size) = digest_file(&path, MAX_BYTES)?;
    if let Some(pin) = pin {
        if !pin.eq_ignore_ascii_case(&sha256) {
            return Err(format!(
                "file `{file}`: its sha256 is {sha256}, the manifest pins {pin} (the file changed, or the pin is wrong)"
            ));
        }
    }
    register(&sha256, path.clone());
    Ok(FileResource {
        path,
        value: ResourceFile {
            file: name,
            sha256,
            size,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_table_of_file_and_an_optional_pin_is_a_file_resource() {
        let v = |s: &str| toml::from_str::<toml::Value>(&format!("v = {s}")).unwrap()["v"].clone();
        assert_eq!(
            file_request(&v("{ file = \"a.csv\" }")),
            Some(("a.csv", None))
        );
        assert_eq!(
            file_request(&v("{ file = \"a.csv\", sha256 = \"ab\" }")),
            Some(("a.csv", Some("ab")))
        );
        assert_eq!(file_request(&v("{ file = \"a.csv\", other = 1 }")), None);
        assert_eq!(file_request(&v("{ file = 3 }")), None);
        assert_eq!(file_request(&v("\"a.csv\"")), None);
    }

    #[test]
    fn missing_files_and_wrong_pins_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("c.csv"), "ra,dec\n").unwrap();
        let e = hash_one(dir.path(), "nope.csv", None).unwrap_err();
        assert!(e.contains("nope.csv") && e.contains("no such file"), "{e}");
        let e = hash_one(dir.path(), "c.csv", Some(&"0".repeat(64))).unwrap_err();
        assert!(e.contains("the manifest pins"), "{e}");
        let ok = hash_one(dir.path(), "c.csv", None).unwrap();
        assert_eq!(ok.value.size, 7);
        assert_eq!(ok.value.file, "c.csv");
        assert!(hash_one(dir.path(), "c.csv", Some(&ok.value.sha256)).is_ok());
    }
}
