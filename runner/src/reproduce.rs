//! `ampel reproduce`: rerun an archived instance on pinned inputs and say whether it
//! gives the same results.
//!
//! 1. the image is verified (every blob) before anything runs;
//! 2. every input file is hashed (SHA-256; directories walked in sorted order);
//!    against a previous run record, a changed, missing or extra input is an error
//!    before anything runs, and so is another image;
//! 3. the instance's archival job runs under the chosen runtime
//!    (`ampel instance run --inputs /inputs --out /out`), in a fresh store in the
//!    output directory unless a store URI is given;
//! 4. the run record (image digests, input digests, results digest, runtime, host,
//!    start / end, exit code, verdict) is written as `run.json` beside the outputs and
//!    stored as an event in the store;
//! 5. the verdict: REPRODUCED when the results digest equals the expected one, else
//!    DIFFERENT with the first differing documents (when the expected run's store is
//!    beside its record).

use crate::run::{RunOptions, RunOutcome, RunSpec, Runtime};
use crate::RunError;
use ampel_builder::inspect::OpenImage;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Version of the run record format.
pub const RECORD_FORMAT: u32 = 1;

/// One input file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputFile {
    /// Path as the instance sees it, below `/inputs`.
    pub path: String,
    /// `sha256:<hex>`.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
}

/// The image a run used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRef {
    /// Where it was read from.
    pub archive: String,
    /// Manifest digest.
    pub manifest_digest: String,
    /// Config digest (image ID).
    pub config_digest: String,
    /// Instance name.
    pub name: String,
    /// Instance version.
    pub version: String,
}

/// A run record: what ran, on what, where, with what result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// [`RECORD_FORMAT`].
    pub format: u32,
    /// The image.
    pub image: ImageRef,
    /// Every input file, sorted by path.
    pub inputs: Vec<InputFile>,
    /// `sha256` over the canonical JSON of `inputs`.
    pub inputs_digest: String,
    /// The results digest the instance computed.
    pub results_digest: Option<String>,
    /// Per collection: documents and digest.
    pub collections: BTreeMap<String, (u64, String)>,
    /// Per task: what the instance reported.
    pub tasks: Vec<Value>,
    /// `native`, `oci` or `docker`.
    pub runtime: String,
    /// What ran it (runtime version).
    pub runtime_detail: String,
    /// The host.
    pub host: BTreeMap<String, String>,
    /// Wall-clock start (RFC 3339).
    pub started: String,
    /// Wall-clock end (RFC 3339).
    pub ended: String,
    /// Exit code of the instance.
    pub exit_code: i32,
    /// The store (credentials removed).
    pub store: String,
    /// The expected results digest, if one was given.
    pub expected: Option<String>,
    /// `REPRODUCED`, `DIFFERENT`, `FAILED`, or `RECORDED` (nothing to compare with).
    pub verdict: String,
}

/// What to reproduce.
#[derive(Debug, Clone)]
pub struct ReproduceSpec {
    /// Inputs (files, directories, tar archives).
    pub inputs: Vec<PathBuf>,
    /// Output directory (store, reports, `run.json`).
    pub out: PathBuf,
    /// A results digest, or a previous `run.json`.
    pub expect: Option<String>,
    /// With a `run.json`: accept one made with another image of the same instance
    /// (a rebuild, another machine's toolchain) and compare results only.
    pub any_image: bool,
    /// A store URI to pass through (default: a fresh `OUT/ampel.db`).
    pub db: Option<String>,
    /// The runtime.
    pub runtime: Runtime,
}

/// The first document of one collection that differs between two runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// The collection.
    pub collection: String,
    /// The expected run's document (canonical JSON), if it has one there.
    pub expected: Option<String>,
    /// This run's document, if it has one there.
    pub actual: Option<String>,
}

/// What `reproduce` found.
#[derive(Debug, Clone)]
pub struct Reproduced {
    /// The record written.
    pub record: RunRecord,
    /// Where.
    pub record_path: PathBuf,
    /// First differing documents, per collection (`DIFFERENT` against a record).
    pub differences: Vec<Difference>,
}

fn sha256_file(path: &Path) -> Result<(String, u64), RunError> {
    use sha2::Digest as _;
    let mut f = std::fs::File::open(path).map_err(|e| RunError::Io {
        path: path.into(),
        source: e,
    })?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf).map_err(|e| RunError::Io {
            path: path.into(),
            source: e,
        })?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((format!("sha256:{}", hex::encode(h.finalize())), n))
}

/// Hash every file of the inputs (directories walked in sorted order), with the
/// paths the instance sees below `/inputs`.
pub fn hash_inputs(inputs: &[PathBuf]) -> Result<Vec<InputFile>, RunError> {
    fn walk(p: &Path, rel: &str, out: &mut Vec<InputFile>) -> Result<(), RunError> {
        let meta = std::fs::metadata(p).map_err(|e| RunError::Io {
            path: p.into(),
            source: e,
        })?;
        if meta.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(p)
                .map_err(|e| RunError::Io {
                    path: p.into(),
                    source: e,
                })?
                .filter_map(Result::ok)
                .map(|e| e.file_name())
                .collect();
            entries.sort();
            for name in entries {
                let name = name.to_string_lossy().into_owned();
                walk(&p.join(&name), &format!("{rel}/{name}"), out)?;
            }
        } else {
            let (sha256, size) = sha256_file(p)?;
            out.push(InputFile {
                path: rel.to_string(),
                sha256,
                size,
            });
        }
        Ok(())
    }
    let mut out = Vec::new();
    for i in inputs {
        let name = i
            .canonicalize()
            .ok()
            .and_then(|c| c.file_name().map(|n| n.to_string_lossy().into_owned()))
            .ok_or_else(|| RunError::Input(format!("input {} cannot be read", i.display())))?;
        walk(i, &name, &mut out)?;
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// The digest of an input list.
pub fn inputs_digest(inputs: &[InputFile]) -> String {
    let v = serde_json::to_value(inputs).unwrap_or(Value::Null);
    ampel_images::sha256_digest(ampel_interface::hash::canonical_json(&v).as_bytes())
}

/// Read a run record.
pub fn load_record(path: &Path) -> Result<RunRecord, RunError> {
    let text = std::fs::read_to_string(path).map_err(|e| RunError::Io {
        path: path.into(),
        source: e,
    })?;
    serde_json::from_str(&text)
        .map_err(|e| RunError::Record(format!("{} is not a run record: {e}", path.display())))
}

/// How the inputs compare with a record's.
#[derive(Debug, PartialEq)]
enum InputComparison {
    /// Same paths, same contents.
    Same,
    /// The same contents (the same multiset of hashes and sizes) under other paths:
    /// this many files have another path (a renamed or moved folder).
    Moved(usize),
    /// Missing, changed or extra files, one line each.
    Changed(Vec<String>),
}

fn compare_inputs(expected: &[InputFile], actual: &[InputFile]) -> InputComparison {
    let by_path = input_changes(expected, actual);
    if by_path.is_empty() {
        return InputComparison::Same;
    }
    let contents = |files: &[InputFile]| {
        let mut c: Vec<(String, u64)> = files.iter().map(|f| (f.sha256.clone(), f.size)).collect();
        c.sort();
        c
    };
    if contents(expected) == contents(actual) {
        let paths: std::collections::BTreeSet<&str> =
            expected.iter().map(|f| f.path.as_str()).collect();
        InputComparison::Moved(
            actual
                .iter()
                .filter(|f| !paths.contains(f.path.as_str()))
                .count(),
        )
    } else {
        InputComparison::Changed(by_path)
    }
}

fn input_changes(expected: &[InputFile], actual: &[InputFile]) -> Vec<String> {
    let a: BTreeMap<&str, &InputFile> = expected.iter().map(|f| (f.path.as_str(), f)).collect();
    let b: BTreeMap<&str, &InputFile> = actual.iter().map(|f| (f.path.as_str(), f)).collect();
    let mut out = Vec::new();
    for (p, f) in &a {
        match b.get(p) {
            None => out.push(format!("missing input {p} (the record has {})", f.sha256)),
            Some(g) if g.sha256 != f.sha256 => out.push(format!(
                "input {p} changed: the record has {}, the file hashes to {}",
                f.sha256, g.sha256
            )),
            _ => {}
        }
    }
    for p in b.keys().filter(|p| !a.contains_key(*p)) {
        out.push(format!("extra input {p}, not in the record"));
    }
    out
}

fn host_info() -> BTreeMap<String, String> {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let os = read("/etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .unwrap_or("")
        .trim_matches('"')
        .to_string();
    BTreeMap::from([
        ("hostname".into(), read("/proc/sys/kernel/hostname")),
        ("kernel".into(), read("/proc/sys/kernel/osrelease")),
        ("os".into(), os),
        ("arch".into(), std::env::consts::ARCH.into()),
        (
            "cpus".into(),
            std::thread::available_parallelism()
                .map(|n| n.to_string())
                .unwrap_or_default(),
        ),
        ("ampel".into(), env!("CARGO_PKG_VERSION").into()),
    ])
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Reproduce: verify, hash, check against the expectation, run, record, compare.
pub fn reproduce(
    image: &OpenImage,
    spec: &ReproduceSpec,
    opts: &RunOptions,
    step: &dyn Fn(&str),
) -> Result<Reproduced, RunError> {
    let info = &image.info;
    step(&format!(
        "image {} verified ({} {})",
        info.manifest_digest, info.config.name, info.config.version
    ));
    let inputs = hash_inputs(&spec.inputs)?;
    let digest = inputs_digest(&inputs);
    step(&format!(
        "{} input files hashed ({:.1} MB), inputs digest {}",
        inputs.len(),
        inputs.iter().map(|f| f.size).sum::<u64>() as f64 / 1e6,
        ampel_images::short_digest(&digest)
    ));
    // what to compare with, checked before anything runs
    let (expected, expected_record) = match &spec.expect {
        None => (None, None),
        Some(e) if e.starts_with("sha256:") => (Some(e.clone()), None),
        Some(path) => {
            let path = PathBuf::from(path);
            let rec = load_record(&path)?;
            let other = rec.image.manifest_digest != info.manifest_digest;
            if other && spec.any_image && rec.image.name == info.config.name {
                step(&format!(
                    "{} was made with image {} ({} {}); comparing results only (--any-image)",
                    path.display(),
                    ampel_images::short_digest(&rec.image.manifest_digest),
                    rec.image.name,
                    rec.image.version
                ));
            } else if other {
                return Err(RunError::Record(format!(
                    "{} was made with image {} ({} {}), not {}; reproduce it with that image",
                    path.display(),
                    rec.image.manifest_digest,
                    rec.image.name,
                    rec.image.version,
                    info.manifest_digest
                )));
            }
            match compare_inputs(&rec.inputs, &inputs) {
                InputComparison::Same => {}
                InputComparison::Moved(n) => step(&format!(
                    "{n} input files have other paths than in {}, with the same contents (compared by SHA-256)",
                    path.display()
                )),
                InputComparison::Changed(changes) => {
                    return Err(RunError::InputsDiffer(format!(
                        "the inputs differ from {} — nothing was run:\n{}",
                        path.display(),
                        changes.join("\n")
                    )))
                }
            }
            // the run replaces its output directory's store and run.json: never
            // the record it is compared with
            let rec_dir = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.canonicalize(),
                _ => Path::new(".").canonicalize(),
            };
            if let (Ok(rec_dir), Ok(out_dir)) = (rec_dir, spec.out.canonicalize()) {
                if rec_dir == out_dir {
                    return Err(RunError::Record(format!(
                        "{} is in the output directory {}, which this run replaces (its store and run.json); give another --out, e.g. --out {}-rerun — nothing was run",
                        path.display(),
                        spec.out.display(),
                        spec.out.display()
                    )));
                }
            }
            (rec.results_digest.clone(), Some((rec, path)))
        }
    };
    let out = &spec.out;
    std::fs::create_dir_all(out).map_err(|e| RunError::Io {
        path: out.clone(),
        source: e,
    })?;
    let store_file = out.join("ampel.db");
    if spec.db.is_none() {
        for suffix in ["", "-wal", "-shm"] {
            let f = PathBuf::from(format!("{}{suffix}", store_file.display()));
            if f.exists() {
                std::fs::remove_file(&f).map_err(|e| RunError::Io { path: f, source: e })?;
            }
        }
    }
    let mut args: Vec<String> = vec!["--json".into()];
    if let Some(db) = &spec.db {
        args.push("--db".into());
        args.push(db.clone());
    }
    args.extend(
        ["instance", "run", "--inputs", "/inputs", "--out", "/out"]
            .iter()
            .map(|s| s.to_string()),
    );
    step(&format!(
        "running the archival job ({} runtime)",
        spec.runtime.as_str()
    ));
    let started = now();
    let outcome: RunOutcome = crate::run::run(
        image,
        spec.runtime,
        &RunSpec {
            args,
            inputs: spec.inputs.clone(),
            out: out.clone(),
            env: vec![],
            network: spec.db.is_some(),
            capture_stdout: true,
        },
        opts,
    )?;
    let ended = now();
    let report: Value = serde_json::from_slice(&outcome.stdout).unwrap_or(Value::Null);
    let results_digest = report["digest"]["digest"].as_str().map(str::to_string);
    let collections: BTreeMap<String, (u64, String)> =
        serde_json::from_value(report["digest"]["collections"].clone()).unwrap_or_default();
    let verdict = match (&results_digest, &expected) {
        _ if outcome.exit_code != 0 => "FAILED",
        (Some(a), Some(b)) if a == b => "REPRODUCED",
        (Some(_), Some(_)) => "DIFFERENT",
        _ => "RECORDED",
    };
    let record = RunRecord {
        format: RECORD_FORMAT,
        image: ImageRef {
            archive: info.path.display().to_string(),
            manifest_digest: info.manifest_digest.clone(),
            config_digest: info.config_digest.clone(),
            name: info.config.name.clone(),
            version: info.config.version.clone(),
        },
        inputs,
        inputs_digest: digest,
        results_digest,
        collections,
        tasks: report["tasks"].as_array().cloned().unwrap_or_default(),
        runtime: outcome.runtime.as_str().into(),
        runtime_detail: outcome.runtime_detail.clone(),
        host: host_info(),
        started,
        ended,
        exit_code: outcome.exit_code,
        store: report["store"]
            .as_str()
            .map(|s| s.replace("/out/", &format!("{}/", out.display())))
            .unwrap_or_default(),
        expected,
        verdict: verdict.into(),
    };
    let record_path = out.join("run.json");
    std::fs::write(
        &record_path,
        serde_json::to_string_pretty(&record).unwrap_or_default() + "\n",
    )
    .map_err(|e| RunError::Io {
        path: record_path.clone(),
        source: e,
    })?;
    if spec.db.is_none() && store_file.is_file() {
        record_event(&store_file, &record, outcome.seconds)?;
    }
    let differences = match (&expected_record, verdict) {
        (Some((_, path)), "DIFFERENT") => {
            let theirs = path.parent().unwrap_or(Path::new(".")).join("ampel.db");
            first_differences(&theirs, &store_file).unwrap_or_default()
        }
        _ => Vec::new(),
    };
    Ok(Reproduced {
        record,
        record_path,
        differences,
    })
}

/// Store the run record as an event (tier 4: stock-less) in the run's own store.
fn record_event(store_file: &Path, record: &RunRecord, seconds: f64) -> Result<(), RunError> {
    let uri = format!("sqlite:{}", store_file.display());
    let store = ampel_commands::open_store(&uri)?;
    let run = store.next_run_id()?;
    let start = chrono::DateTime::parse_from_rfc3339(&record.started)
        .map(|t| t.timestamp_millis() as f64 / 1000.0)
        .unwrap_or(0.0);
    let event = ampel_interface::Event {
        run,
        process: "reproduce".into(),
        tier: ampel_interface::Tier::T4,
        code: if record.exit_code == 0 {
            ampel_interface::EventCode::OK
        } else {
            ampel_interface::EventCode::ERROR
        },
        start,
        duration: Some(seconds),
        jobid: None,
        ret: Some(serde_json::to_value(record).unwrap_or(Value::Null)),
        owner: None,
    };
    Ok(store.record_event(&event)?)
}

/// The first differing document of each collection between two stores.
fn first_differences(a: &Path, b: &Path) -> Result<Vec<Difference>, RunError> {
    let open = |p: &Path| ampel_commands::open_store(&format!("sqlite:{}", p.display()));
    let (x, y) = (open(a)?, open(b)?);
    let mut out = Vec::new();
    for c in ampel_core::digest::DIGESTED {
        let la = ampel_core::digest::canonical_lines(x.as_ref(), c)?;
        let lb = ampel_core::digest::canonical_lines(y.as_ref(), c)?;
        let n = la.len().max(lb.len());
        if let Some(i) = (0..n).find(|&i| la.get(i) != lb.get(i)) {
            out.push(Difference {
                collection: c.to_string(),
                expected: la.get(i).cloned(),
                actual: lb.get(i).cloned(),
            });
        }
    }
    Ok(out)
}

/// A one-line summary of a task of the instance's report.
pub fn task_summary(task: &Value) -> String {
    match task["kind"].as_str() {
        Some("t0") => {
            let accepted: Vec<String> = task["accepted"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(c, n)| format!("{c} {n}"))
                .collect();
            format!(
                "T0: {} alerts read, {} ingested (accepted: {}); new documents: {} datapoints, {} states, {} T2 tickets, {} stocks; {} damaged inputs",
                task["alerts"],
                task["ingested"],
                if accepted.is_empty() { "none".to_string() } else { accepted.join(", ") },
                task["datapoints"]["inserted"],
                task["states"]["inserted"],
                task["tickets"]["inserted"],
                task["stocks"]["inserted"],
                task["damaged"].as_array().map_or(0, Vec::len)
            )
        }
        Some("t2") => {
            let ok: Vec<String> = task["ok"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(u, n)| format!("{u} {n}"))
                .collect();
            format!(
                "T2: {} tickets processed (ok: {}); {} failed",
                task["processed"],
                ok.join(", "),
                task["failed"]
                    .as_object()
                    .map_or(0, |m| m.values().filter_map(|v| v.as_u64()).sum::<u64>())
            )
        }
        Some("t3") => format!(
            "T3: {} stocks selected, documents {}",
            task["selected"], task["documents"]
        ),
        _ => task.to_string(),
    }
}

/// A JSON view of a reproduction (for `--json`).
pub fn to_json(r: &Reproduced) -> Value {
    json!({
        "record": r.record,
        "record_path": r.record_path,
        "differences": r.differences,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, hash: &str) -> InputFile {
        InputFile {
            path: path.into(),
            sha256: format!("sha256:{hash}"),
            size: 10,
        }
    }

    #[test]
    fn inputs_are_matched_by_content_when_their_paths_differ() {
        let recorded = [file("a/1.avro", "11"), file("a/2.avro", "22")];
        assert_eq!(compare_inputs(&recorded, &recorded), InputComparison::Same);
        let moved = [file("b/1.avro", "11"), file("b/2.avro", "22")];
        assert_eq!(compare_inputs(&recorded, &moved), InputComparison::Moved(2));
        let changed = [file("a/1.avro", "11"), file("a/2.avro", "33")];
        match compare_inputs(&recorded, &changed) {
            InputComparison::Changed(lines) => {
                assert_eq!(lines.len(), 1);
                assert!(lines[0].contains("input a/2.avro changed"), "{lines:?}");
            }
            other => panic!("{other:?}"),
        }
        let fewer = [file("b/1.avro", "11")];
        assert!(matches!(
            compare_inputs(&recorded, &fewer),
            InputComparison::Changed(_)
        ));
    }
}
