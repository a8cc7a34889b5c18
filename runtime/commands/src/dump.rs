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
use crate::output::{emit, table, CommandError};
use crate::uri::{open_existing_store, open_store, redact};
use ampel_core::digest::results_digest;
use ampel_interface::hash::canonical_json;
use ampel_interface::Body;
use ampel_store::{COLLECTIONS, SCHEMA_VERSION};
use serde_json::{json, Value};
use sha2::Digest as _;
use std::io::{BufRead, Write};
use std::path::Path;

/// Version of the dump format.
pub const DUMP_FORMAT: u64 = 1;

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
    let mut files = serde_json::Map::new();
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
            json!({"documents": n, "sha256": sha256_hex(&bytes)}),
        );
    }
    let digest = results_digest(store.as_ref())?;
    let header = json!({
        "format": DUMP_FORMAT,
        "layout": SCHEMA_VERSION,
        "results_digest": digest.digest,
        "collections": files,
        "source": redact(&store.describe()),
        "ampel": env!("CARGO_PKG_VERSION"),
    });
    let mut f = std::fs::File::create(dir.join("header.json"))?;
    f.write_all((serde_json::to_string_pretty(&header).unwrap_or_default() + "\n").as_bytes())?;
    f.sync_all()?;
    emit(args.json, &header, || {
        let mut t = table(&["collection", "documents"]);
        for (c, v) in &files {
            t.add_row([c.clone(), v["documents"].to_string()]);
        }
        t.add_row(["results digest".into(), digest.digest.clone()]);
        t.add_row(["dump".into(), dir.display().to_string()]);
        t
    })
}

/// A read dump: its header and each collection's documents, in dump order.
type Dump = (Value, Vec<(String, Vec<Body>)>);

/// Read and check a dump: header, every file's digest and count.
fn read_dump(dir: &Path) -> Result<Dump, CommandError> {
    let hpath = dir.join("header.json");
    let text = std::fs::read_to_string(&hpath).map_err(|e| {
        usage(format!(
            "{}: {e} (not a dump, or an export that did not finish)",
            hpath.display()
        ))
    })?;
    let header: Value = serde_json::from_str(&text)
        .map_err(|e| usage(format!("{}: not JSON: {e}", hpath.display())))?;
    let format = header["format"].as_u64().unwrap_or(0);
    if format > DUMP_FORMAT {
        return Err(usage(format!(
            "{}: dump format {format} is newer than this ampel reads ({DUMP_FORMAT}); use a newer ampel",
            hpath.display()
        )));
    }
    let layout = header["layout"].as_u64().unwrap_or(0);
    if layout != u64::from(SCHEMA_VERSION) {
        return Err(usage(format!(
            "{}: the dump has store layout {layout}, this ampel writes layout {SCHEMA_VERSION}; import it with an ampel of that layout",
            hpath.display()
        )));
    }
    let mut out = Vec::new();
    for (c, _) in COLLECTIONS {
        let path = dir.join(format!("{c}.jsonl"));
        let want = &header["collections"][c];
        let bytes = std::fs::read(&path).map_err(|e| usage(format!("{}: {e}", path.display())))?;
        let got = sha256_hex(&bytes);
        if want["sha256"].as_str() != Some(got.as_str()) {
            return Err(usage(format!(
                "{}: content hashes to {got}, the header says {} (truncated or edited); nothing was imported",
                path.display(),
                want["sha256"]
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
        if Some(docs.len() as u64) != want["documents"].as_u64() {
            return Err(usage(format!(
                "{}: {} documents, the header says {}",
                path.display(),
                docs.len(),
                want["documents"]
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
        if header["results_digest"].as_str() != Some(digest.as_str()) {
            return Err(usage(format!(
                "the imported documents give results digest {digest}, the dump says {}; nothing was imported",
                header["results_digest"]
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
    let v = json!({"imported": dir, "into": redact(&args.db), "results_digest": digest,
        "collections": header["collections"]});
    emit(args.json, &v, || {
        let mut t = table(&["collection", "documents"]);
        for (c, docs) in &collections {
            t.add_row([c.clone(), docs.len().to_string()]);
        }
        t.add_row(["results digest (verified)".into(), digest.clone()]);
        t.add_row(["store".into(), redact(&args.db)]);
        t
    })
}
