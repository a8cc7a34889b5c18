//! `ampel db export` / `ampel db import`: move a store between backends (an
//! archived reprocessing onto a MongoDB cluster and back) through a portable dump.
//!
//! A dump is a directory: one file per collection, `<collection>.jsonl`, one
//! canonical-JSON document per line in the store's dump order, and `header.json`
//! (written last) with the dump format, the store layout version, each file's
//! document count and SHA-256, and the results digest. An import checks the header
//! (a newer format or layout is refused), every file's digest (a truncated or edited
//! file is refused), restores into a fresh staging store — a temporary file beside
//! an embedded store, a temporary prefix on a MongoDB server — recomputes the results
//! digest there, and only if it matches switches the staging store into place.
//! Nothing half-imported is ever left at the target.

use crate::args::RuntimeArgs;
use crate::output::{report, table, CommandError, Report};
use crate::uri::{open_existing_store, open_store, redact};
use ampel_core::digest::results_digest;
use ampel_interface::hash::canonical_json;
use ampel_interface::Body;
use ampel_store::{COLLECTIONS, SCHEMA_VERSION};
use comfy_table::Table;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Digest as _;
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::Path;

/// Version of the dump format.
pub const DUMP_FORMAT: u64 = 1;

/// `header.json` of a dump.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    /// Dump format ([`DUMP_FORMAT`]).
    format: u64,
    /// Store layout version the documents are in.
    layout: u64,
    /// Results digest of the exported store.
    results_digest: String,
    /// Per collection: its file's document count and SHA-256.
    collections: BTreeMap<String, FileEntry>,
    /// The exported store (credentials removed).
    #[serde(default)]
    source: String,
    /// The ampel version that wrote it.
    #[serde(default)]
    ampel: String,
}

/// One collection's file in a dump.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct FileEntry {
    documents: u64,
    sha256: String,
}

/// What `ampel db export` prints: the header written, and where.
#[derive(Serialize)]
struct Exported {
    #[serde(flatten)]
    header: Header,
    dump: std::path::PathBuf,
}

impl Report for Exported {
    fn table(&self) -> Table {
        let mut t = table(&["collection", "documents"]);
        for (c, f) in &self.header.collections {
            t.add_row([c.clone(), f.documents.to_string()]);
        }
        t.add_row(["results digest".into(), self.header.results_digest.clone()]);
        t.add_row(["dump".into(), self.dump.display().to_string()]);
        t
    }
}

/// What `ampel db import` prints.
#[derive(Serialize)]
struct Imported {
    imported: std::path::PathBuf,
    into: String,
    results_digest: String,
    collections: BTreeMap<String, FileEntry>,
}

impl Report for Imported {
    fn table(&self) -> Table {
        let mut t = table(&["collection", "documents"]);
        for (c, f) in &self.collections {
            t.add_row([c.clone(), f.documents.to_string()]);
        }
        t.add_row([
            "results digest (verified)".into(),
            self.results_digest.clone(),
        ]);
        t.add_row(["store".into(), self.into.clone()]);
        t
    }
}

fn usage(s: String) -> CommandError {
    CommandError::Usage(s)
}

fn sha256_hex(bytes: &[u8]) -> String {
    format!("sha256:{}", hex_lower(&sha2::Sha256::digest(bytes)))
}

fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Export the store of `args` into `dir`.
pub fn export(args: &RuntimeArgs, dir: &Path) -> Result<(), CommandError> {
    if dir.join("header.json").exists() {
        return Err(usage(format!(
            "{} already holds a dump (header.json); export into a new directory",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir)?;
    let store = open_existing_store(&args.db)?;
    let mut files = BTreeMap::new();
    for (c, _) in COLLECTIONS {
        let path = dir.join(format!("{c}.jsonl"));
        let mut bytes: Vec<u8> = Vec::new();
        let mut n = 0u64;
        store.dump(c, &mut |doc| {
            bytes.extend_from_slice(canonical_json(&doc).as_bytes());
            bytes.push(b'\n');
            n += 1;
            Ok(())
        })?;
        std::fs::write(&path, &bytes)?;
        files.insert(
            c.to_string(),
            FileEntry {
                documents: n,
                sha256: sha256_hex(&bytes),
            },
        );
    }
    let digest = results_digest(store.as_ref())?;
    let header = Header {
        format: DUMP_FORMAT,
        layout: u64::from(SCHEMA_VERSION),
        results_digest: digest.digest,
        collections: files,
        source: redact(&store.describe()),
        ampel: env!("CARGO_PKG_VERSION").into(),
    };
    let mut f = std::fs::File::create(dir.join("header.json"))?;
    f.write_all((serde_json::to_string_pretty(&header).unwrap_or_default() + "\n").as_bytes())?;
    f.sync_all()?;
    report(
        args.json,
        &Exported {
            header,
            dump: dir.to_path_buf(),
        },
    )
}

/// A read dump: its header and each collection's documents, in dump order.
type Dump = (Header, Vec<(String, Vec<Body>)>);

/// Read and check a dump: header, every file's digest and count.
fn read_dump(dir: &Path) -> Result<Dump, CommandError> {
    let hpath = dir.join("header.json");
    let text = std::fs::read_to_string(&hpath).map_err(|e| {
        usage(format!(
            "{}: {e} (not a dump, or an export that did not finish)",
            hpath.display()
        ))
    })?;
    let raw: Value = serde_json::from_str(&text)
        .map_err(|e| usage(format!("{}: not JSON: {e}", hpath.display())))?;
    // the format first: a newer dump may not fit this header's shape
    let format = raw.get("format").and_then(Value::as_u64).unwrap_or(0);
    if format > DUMP_FORMAT {
        return Err(usage(format!(
            "{}: dump format {format} is newer than this ampel reads ({DUMP_FORMAT}); use a newer ampel",
            hpath.display()
        )));
    }
    let header: Header = serde_json::from_value(raw)
        .map_err(|e| usage(format!("{}: not a dump header: {e}", hpath.display())))?;
    let layout = header.layout;
    if layout != u64::from(SCHEMA_VERSION) {
        return Err(usage(format!(
            "{}: the dump has store layout {layout}, this ampel writes layout {SCHEMA_VERSION}; import it with an ampel of that layout",
            hpath.display()
        )));
    }
    let mut out = Vec::new();
    for (c, _) in COLLECTIONS {
        let path = dir.join(format!("{c}.jsonl"));
        let want = header.collections.get(*c).ok_or_else(|| {
            usage(format!(
                "{}: the header lists no collection `{c}`",
                hpath.display()
            ))
        })?;
        let bytes = std::fs::read(&path).map_err(|e| usage(format!("{}: {e}", path.display())))?;
        let got = sha256_hex(&bytes);
        if want.sha256 != got {
            return Err(usage(format!(
                "{}: content hashes to {got}, the header says {} (truncated or edited); nothing was imported",
                path.display(),
                want.sha256
            )));
        }
        let mut docs = Vec::new();
        for (i, line) in bytes.lines().enumerate() {
            let line = line?;
            docs.push(serde_json::from_str(&line).map_err(|e| {
                usage(format!(
                    "{}:{}: not a JSON document: {e}",
                    path.display(),
                    i + 1
                ))
            })?);
        }
        if docs.len() as u64 != want.documents {
            return Err(usage(format!(
                "{}: {} documents, the header says {}",
                path.display(),
                docs.len(),
                want.documents
            )));
        }
        out.push((c.to_string(), docs));
    }
    Ok((header, out))
}

/// Import the dump in `dir` into the (fresh) store of `args`.
pub fn import(args: &RuntimeArgs, dir: &Path) -> Result<(), CommandError> {
    let (header, collections) = read_dump(dir)?;
    // the target must be fresh: nothing is merged into an existing store
    {
        let target = open_store(&args.db)?;
        let info = target.info()?;
        if info.counts.values().any(|n| *n > 0) {
            return Err(usage(format!(
                "{} already holds documents; import into a fresh store",
                redact(&info.location)
            )));
        }
    }
    let staging = crate::uri::stores().stage_import(&args.db)?;
    let result = (|| -> Result<String, CommandError> {
        let store = open_store(staging.uri())?;
        for (c, docs) in &collections {
            for chunk in docs.chunks(2000) {
                store.restore(c, chunk)?;
            }
        }
        let digest = results_digest(store.as_ref())?.digest;
        if header.results_digest != digest {
            return Err(usage(format!(
                "the imported documents give results digest {digest}, the dump says {}; nothing was imported",
                header.results_digest
            )));
        }
        Ok(digest)
    })();
    let digest = match result {
        Ok(d) => d,
        Err(e) => {
            staging.discard();
            return Err(e);
        }
    };
    staging.commit()?;
    report(
        args.json,
        &Imported {
            imported: dir.to_path_buf(),
            into: redact(&args.db),
            results_digest: digest,
            collections: header.collections,
        },
    )
}
