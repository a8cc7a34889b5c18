//! Embeds the bundled Rubin alert schemas (`schemas/lsst/<major>/<minor>/*.avsc`)
//! into the crate as a table generated at build time. The table holds the schema
//! texts themselves and no path, and the paths told to cargo are relative: the
//! build script's output is the same wherever the crate sits, so a host build and
//! an instance build (different workspaces, one target directory) share it.

use std::fmt::Write;
use std::path::Path;

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let root = Path::new(&dir).join("schemas").join("lsst");
    println!("cargo:rerun-if-changed=schemas/lsst");
    let mut versions = Vec::new();
    for major in std::fs::read_dir(&root).expect("schemas/lsst") {
        let major = major.expect("entry").path();
        if !major.is_dir() {
            continue;
        }
        for minor in std::fs::read_dir(&major).expect("major dir") {
            let minor = minor.expect("entry").path();
            let mut files: Vec<String> = std::fs::read_dir(&minor)
                .expect("minor dir")
                .map(|f| f.expect("file").path())
                .filter(|p| p.extension().is_some_and(|e| e == "avsc"))
                .map(|p| p.display().to_string())
                .collect();
            files.sort();
            let num = |p: &Path| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.parse::<u32>().ok())
                    .expect("numeric dir")
            };
            versions.push((num(&major), num(&minor), files));
        }
    }
    versions.sort();
    let mut out = String::from("/// Bundled Rubin schemas: (major, minor, files).\npub(crate) static RUBIN: &[(u32, u32, &[&str])] = &[\n");
    for (maj, min, files) in versions {
        let _ = write!(out, "    ({maj}, {min}, &[");
        for f in files {
            let text = std::fs::read_to_string(&f).expect("schema file");
            let _ = write!(out, "{text:?}, ");
        }
        out.push_str("]),\n");
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("rubin_schemas.rs");
    std::fs::write(dest, out).expect("write table");
}
