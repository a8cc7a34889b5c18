//! Composing an instance binary: generate a crate whose registry lists exactly the
//! declared units, resolve its `Cargo.lock` (seeded from the AMPEL source tree's, so
//! versions match what was tested), and build one statically linked x86_64 binary,
//! cached by a hash of everything that goes into it.
//!
//! **Build key** (`sha256:` of the canonical JSON of): the generator version; the
//! generated `main.rs`, `units.rs` and `Cargo.toml` (with paths replaced by crate
//! names); the resolved `Cargo.lock`; `rustc -vV` and `cargo -V`; the build flags;
//! and a content digest of every path crate (runtime and units), so an edit to any
//! source rebuilds and nothing else does. The instance's name, version and unit
//! configs are not inputs: they live in the configuration layer.
//!
//! **Same hashed paths everywhere:** cargo hashes a path crate's location into its
//! `-C metadata` (and so into symbol names and code layout) — relative to the
//! workspace root if the crate lies inside it, absolute otherwise. The generated
//! crate's workspace therefore holds a symlink `ampel` → the AMPEL source tree and
//! depends on `ampel/runtime/...`, `ampel/units/...` (cargo keeps paths lexical), and
//! unit crates from outside the tree are copied into `units/<crate>`; every path crate
//! is inside the workspace root, at the same relative path on every machine.
//!
//! **No clock:** `SOURCE_DATE_EPOCH=1` for the compilers (mimalloc's C code embeds
//! `__DATE__`/`__TIME__`).
//!
//! **Paths never leak:** `--remap-path-prefix` maps the cargo home, the AMPEL
//! sources, the generated crate, the target directory and every out-of-tree unit crate
//! to fixed names (`/cargo`, `/ampel`, `/instance`, `/target`, `/units/<crate>`), and
//! C code built by build scripts gets the same maps through `-ffile-prefix-map`
//! (in `CFLAGS_<target>` for cc-based builds and in `CFLAGS` for configure-based
//! ones such as librdkafka).
//! The remap flags are added by a rustc wrapper ([`rustc_wrapper_main`], the `ampel`
//! binary itself), not through `RUSTFLAGS`: cargo hashes `RUSTFLAGS` into every
//! crate's `-C metadata`, so machine-specific paths there would change symbol hashes
//! and with them code layout, and two machines would build different binaries.

use crate::crates::{copy_crate, tree_digest};
use crate::manifest::{CrateRef, CrateSource, Manifest};
use crate::BuildError;
use ampel_core::instance::UnitInfo;
use ampel_core::Progress;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Bumped when the generated crate or the build flags change meaning.
pub const GENERATOR_VERSION: u32 = 4;

pub use crate::TARGET;

/// The release profile of instance binaries (part of the build key). The
/// workspace's `[profile.release]` is the same, so a host `ampel` built by
/// `scripts/ampel` (same target, flags and target directory) leaves every
/// dependency compiled for the instance build (a test keeps the two equal).
pub const PROFILE: &str = r#"[profile.release]
opt-level = 3
debug = 0
strip = "symbols"
panic = "unwind"
incremental = false
codegen-units = 4
"#;

/// The binary target of the generated crate (not `ampel`: it shares the target
/// directory with the host `ampel` that `scripts/ampel` builds).
pub const INSTANCE_BIN: &str = "ampel-instance";

/// The environment variable that turns the `ampel` binary into a rustc wrapper: it
/// holds the `--remap-path-prefix` values, separated by `\x1f`.
pub const WRAPPER_ENV: &str = "AMPEL_RUSTC_REMAP";

/// If this process was started by cargo as the rustc wrapper of an instance build
/// (see [`WRAPPER_ENV`]), run rustc with the remap flags added and return its exit
/// code; otherwise `None`. Binaries that build images call this first in `main`.
pub fn rustc_wrapper_main() -> Option<std::process::ExitCode> {
    let remaps = std::env::var(WRAPPER_ENV).ok()?;
    let mut args = std::env::args_os().skip(1);
    let rustc = args.next()?;
    let mut cmd = Command::new(rustc);
    cmd.args(args).env_remove(WRAPPER_ENV);
    for r in remaps.split('\u{1f}').filter(|r| !r.is_empty()) {
        cmd.arg(format!("--remap-path-prefix={r}"));
    }
    use std::os::unix::process::CommandExt;
    let err = cmd.exec(); // only returns on failure
    eprintln!("ampel (rustc wrapper): cannot run rustc: {err}");
    Some(std::process::ExitCode::from(101))
}

/// Where and how to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The AMPEL source tree (runtime crates, workspace `Cargo.lock`).
    pub source_root: PathBuf,
    /// Cache: generated crates, finished binaries by build key, cargo's target dir.
    pub cache_dir: PathBuf,
    /// The rustc wrapper: an executable whose `main` calls [`rustc_wrapper_main`]
    /// first (the `ampel` binary).
    pub wrapper: PathBuf,
}

/// A built (or cached) instance binary.
#[derive(Debug, Clone)]
pub struct BuiltBinary {
    /// The binary in the cache.
    pub path: PathBuf,
    /// The build key.
    pub key: String,
    /// True if it came from the cache.
    pub cached: bool,
    /// The resolved `Cargo.lock`.
    pub lock: String,
    /// `rustc -vV`.
    pub rustc: String,
    /// `cargo -V`.
    pub cargo: String,
    /// Content digests of the path crates, by `name@version`.
    pub sources: BTreeMap<String, String>,
    /// Declared licenses (SPDX expressions) by `name@version`, from cargo metadata.
    pub licenses: BTreeMap<String, String>,
    /// The units the binary registers, as it reports them.
    pub units: Vec<UnitInfo>,
    /// The build flags (paths shown remapped), for the provenance statement.
    pub flags: Vec<String>,
    /// Wall-clock seconds spent compiling (0 when cached).
    pub seconds: f64,
}

fn tool_error(what: &str, out: &std::process::Output) -> BuildError {
    let err = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = err.lines().rev().take(30).collect();
    BuildError::Cargo {
        what: what.to_string(),
        detail: format!(
            "failed ({}):\n{}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ),
    }
}

fn run_capture(cmd: &mut Command, what: &str) -> Result<String, BuildError> {
    let out = cmd.output().map_err(|e| BuildError::Cargo {
        what: what.to_string(),
        detail: format!("cannot run: {e}"),
    })?;
    if !out.status.success() {
        return Err(tool_error(what, &out));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `cargo metadata` of the generated crate for the instance target (resolving,
/// and so completing, its lock); `why` goes into the error.
fn cargo_metadata(manifest_path: &Path, why: &str) -> Result<Value, BuildError> {
    let text = run_capture(
        cargo()
            .args([
                "metadata",
                "--format-version",
                "1",
                "--filter-platform",
                TARGET,
            ])
            .arg("--manifest-path")
            .arg(manifest_path),
        &format!("cargo metadata ({why})"),
    )?;
    serde_json::from_str(&text).map_err(|e| BuildError::Cargo {
        what: "cargo metadata".into(),
        detail: format!("printed no JSON: {e}"),
    })
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from("/root/.cargo"))
}

fn toml_str(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// The generated `Cargo.toml`; `path_of` renders a path dependency.
fn cargo_toml(
    m: &Manifest,
    source_root: &Path,
    path_of: &dyn Fn(&str, &Path) -> String,
    pins: &(String, String),
    patches: &crate::patch::Patches,
) -> String {
    let mut deps = String::new();
    // the runtime with the features the manifest asks for (MongoDB, Kafka), no more
    let features: Vec<String> = m.features.iter().map(|f| toml_str(f)).collect();
    deps.push_str(&format!(
        "ampel-commands = {{ path = {}, default-features = false, features = [{}] }}\n",
        path_of("ampel-commands", &source_root.join("runtime/commands")),
        features.join(", ")
    ));
    deps.push_str(&format!(
        "ampel-interface = {{ path = {} }}\n",
        path_of("ampel-interface", &source_root.join("runtime/interface"))
    ));
    deps.push_str("mimalloc = { version = \"0.1\", default-features = false }\n");
    for c in &m.crates {
        let spec = match &c.source {
            CrateSource::Path(p) => format!("{{ path = {} }}", path_of(&c.name, p)),
            CrateSource::Git { url, rev } => {
                format!("{{ git = {}, rev = {} }}", toml_str(url), toml_str(rev))
            }
            CrateSource::Version(v) => format!("{{ version = {} }}", toml_str(v)),
        };
        deps.push_str(&format!("{} = {spec}\n", c.name));
    }
    if !pins.0.is_empty() {
        deps.push_str("# features of the crates shared with the host build (see pins.rs)\n");
        deps.push_str(&pins.0);
    }
    // the crates the host build compiles for the build machine, with its features
    // (the empty build script only makes cargo take them)
    let build = if pins.1.is_empty() {
        String::new()
    } else {
        format!("[build-dependencies]\n{}\n", pins.1)
    };
    let script = if pins.1.is_empty() {
        ""
    } else {
        "build = \"build.rs\"\n"
    };
    format!(
        "# Generated by `ampel image build`; do not edit.\n\
         [package]\nname = \"ampel-instance\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n{script}\n\
         [[bin]]\nname = \"{INSTANCE_BIN}\"\npath = \"src/main.rs\"\n\n\
         [dependencies]\n{deps}\n{build}{PROFILE}\n\
         # path crates live inside the workspace root (hashed by relative path) but\n\
         # are not members: `ampel` is the AMPEL source tree, `units` copies of others\n\
         [workspace]\nexclude = [\"ampel\", \"units\"]\n{}",
        crate::patch::render(patches, source_root, path_of)
    )
}

const BUILD_RS: &str =
    "//! Generated by `ampel image build`: an empty build script, so that cargo\n\
//! builds the crates pinned under [build-dependencies] (see pins.rs).\nfn main() {}\n";

const MAIN_RS: &str = r#"//! Runtime binary of an AMPEL instance, generated by `ampel image build`: the
//! runtime commands with exactly the units of the instance's manifest (`units.rs`).
//! Do not edit; rebuild from the manifest.

// mimalloc: the JSON trees built per alert are allocation-heavy (1.4x on T0)
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod units;

fn main() -> std::process::ExitCode {
    ampel_commands::instance_main(units::registry)
}
"#;

/// The generated registry: one typed registration per declared unit, sorted.
pub fn units_rs(crates: &[CrateRef]) -> String {
    let mut lines: Vec<String> = crates
        .iter()
        .flat_map(|c| {
            c.units
                .iter()
                .map(move |u| format!("    r.unit::<{}::{u}, _>()?;\n", c.ident()))
        })
        .collect();
    lines.sort();
    format!(
        "//! The instance's units, generated from its manifest: an explicit list, one\n\
         //! registration per declared unit (the kind is inferred from its trait).\n\n\
         use ampel_interface::{{Registry, RegistryError}};\n\n\
         /// Exactly the units the manifest declares.\n\
         pub fn registry() -> Result<Registry, RegistryError> {{\n    \
         let mut r = Registry::new();\n{}    Ok(r)\n}}\n",
        lines.concat()
    )
}

/// `to` relative to `from` (both absolute), e.g. `../../../runtime/commands`.
fn relative(from: &Path, to: &Path) -> PathBuf {
    let (f, t): (Vec<_>, Vec<_>) = (from.components().collect(), to.components().collect());
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..f.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c);
    }
    out
}

fn write(path: &Path, text: &str) -> Result<(), BuildError> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| BuildError::Io {
            path: d.to_path_buf(),
            source: e,
        })?;
    }
    std::fs::write(path, text).map_err(|e| BuildError::Io {
        path: path.to_path_buf(),
        source: e,
    })
}

/// Build (or fetch from the cache) the runtime binary of a manifest.
pub fn compose(m: &Manifest, opts: &BuildOptions) -> Result<BuiltBinary, BuildError> {
    let source_root = opts
        .source_root
        .canonicalize()
        .unwrap_or(opts.source_root.clone());
    std::fs::create_dir_all(&opts.cache_dir).map_err(|e| BuildError::Io {
        path: opts.cache_dir.clone(),
        source: e,
    })?;
    let cache = opts
        .cache_dir
        .canonicalize()
        .unwrap_or(opts.cache_dir.clone());
    let work = cache.join("work").join(&m.config.name);
    let target = cache.join("target");
    std::fs::create_dir_all(&work).map_err(|e| BuildError::Io {
        path: work.clone(),
        source: e,
    })?;
    let link = work.join("ampel");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&source_root, &link).map_err(|e| BuildError::Io {
        path: link.clone(),
        source: e,
    })?;
    // in-tree crates through the symlink; others copied in, all at fixed relative paths
    let in_tree = |p: &Path| -> Option<PathBuf> {
        p.strip_prefix(&source_root).ok().map(|rel| link.join(rel))
    };
    let mut crates = m.crates.clone();
    for c in &mut crates {
        if let CrateSource::Path(dir) = &c.source {
            let mapped = match in_tree(dir) {
                Some(p) => p,
                None => {
                    let copy = work.join("units").join(&c.name);
                    copy_crate(dir, &copy, &in_tree)?;
                    copy
                }
            };
            c.source = CrateSource::Path(mapped);
        }
    }
    let m = &Manifest {
        crates,
        ..m.clone()
    };
    let rel_path = |_: &str, p: &Path| toml_str(&relative(&work, p).display().to_string());
    let toml = cargo_toml(
        m,
        &link,
        &rel_path,
        &Default::default(),
        &Default::default(),
    );
    let units = units_rs(&m.crates);
    write(&work.join("Cargo.toml"), &toml)?;
    write(&work.join("src/main.rs"), MAIN_RS)?;
    write(&work.join("build.rs"), BUILD_RS)?;
    write(&work.join("src/units.rs"), &units)?;
    // seed the lock from the source tree's: the exact versions the runtime was tested with
    let seed = source_root.join("Cargo.lock");
    let lock_path = work.join("Cargo.lock");
    std::fs::copy(&seed, &lock_path).map_err(|e| BuildError::Io {
        path: seed.clone(),
        source: e,
    })?;
    let manifest_path = work.join("Cargo.toml");
    let metadata = cargo_metadata(&manifest_path, "resolving the unit crates")?;
    // AMPEL crates a unit crate takes from git are this tree's (see patch.rs)
    let patches = crate::patch::git_patches(&metadata, &crate::patch::tree_crates(&link));
    // the shared registry crates get the host build's features, and the graph is
    // resolved again with them (the same versions: the pins are exact)
    let shared: BTreeSet<(String, String)> = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| !p["source"].is_null())
        .filter_map(|p| Some((p["name"].as_str()?.into(), p["version"].as_str()?.into())))
        .collect();
    let direct: BTreeSet<String> = m
        .crates
        .iter()
        .map(|c| c.name.clone())
        .chain(["mimalloc".to_string()])
        .collect();
    let host = crate::pins::host_features(&mut cargo(), &source_root)?;
    let pins = crate::pins::render(&shared, &host, &direct);
    write(
        &work.join("Cargo.toml"),
        &cargo_toml(m, &link, &rel_path, &pins, &patches),
    )?;
    let metadata = cargo_metadata(&manifest_path, "with the feature pins")?;
    let lock = std::fs::read_to_string(&lock_path).map_err(|e| BuildError::Io {
        path: lock_path.clone(),
        source: e,
    })?;
    let mut sources = BTreeMap::new();
    let licenses: BTreeMap<String, String> = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some((
                format!("{}@{}", p["name"].as_str()?, p["version"].as_str()?),
                p["license"].as_str()?.to_string(),
            ))
        })
        .collect();
    let remaps: Vec<(PathBuf, String)> = vec![
        (cargo_home(), "/cargo".into()),
        (source_root.clone(), "/ampel".into()),
        (work.clone(), "/instance".into()),
        (target.clone(), "/target".into()),
    ];
    for p in metadata["packages"].as_array().into_iter().flatten() {
        if !p["source"].is_null() || p["name"] == "ampel-instance" {
            continue;
        }
        let dir = Path::new(p["manifest_path"].as_str().unwrap_or("."))
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let name = p["name"].as_str().unwrap_or("?");
        sources.insert(
            format!("{name}@{}", p["version"].as_str().unwrap_or("?")),
            tree_digest(&dir)?,
        );
    }
    let packages = metadata["resolve"]["nodes"].as_array().map_or(0, Vec::len);
    let rustc = run_capture(Command::new("rustc").arg("-vV"), "rustc -vV")?;
    let cargo_v = run_capture(cargo().arg("-V"), "cargo -V")?;
    let rustflags = vec!["-C".to_string(), "target-feature=+crt-static".to_string()];
    let mut remap_args = Vec::new();
    let mut cflags = Vec::new();
    for (from, to) in &remaps {
        remap_args.push(format!("{}={to}", from.display()));
        // no C code lives in the generated crate: its map is left out, so the C
        // flags are those `scripts/ampel` gives the host build (and C dependencies
        // built there are not built again)
        if to != "/instance" {
            cflags.push(format!("-ffile-prefix-map={}={to}", from.display()));
        }
    }
    let flags_shown: Vec<String> = std::iter::once("-C target-feature=+crt-static".to_string())
        .chain(
            remaps
                .iter()
                .map(|(_, to)| format!("--remap-path-prefix=<{to}>={to}")),
        )
        .collect();
    let path_free = |name: &str, _: &Path| toml_str(&format!("<path of {name}>"));
    let key_doc = json!({
        "generator": GENERATOR_VERSION,
        "target": TARGET,
        "cargo_toml": cargo_toml(m, &link, &path_free, &pins, &patches),
        "main_rs": MAIN_RS,
        "units_rs": units,
        "lock": lock,
        "rustc": rustc,
        "cargo": cargo_v,
        "flags": ["-C target-feature=+crt-static", "remapped paths", "SOURCE_DATE_EPOCH=1", "CFLAGS=-O2 + file-prefix-map"],
        "sources": sources,
    });
    let key =
        ampel_images::sha256_digest(ampel_interface::hash::canonical_json(&key_doc).as_bytes());
    let done = cache.join("builds").join(key.trim_start_matches("sha256:"));
    let bin = done.join("ampel");
    let mut built = BuiltBinary {
        path: bin.clone(),
        key: key.clone(),
        cached: bin.is_file(),
        lock,
        rustc,
        cargo: cargo_v,
        sources,
        licenses,
        units: Vec::new(),
        flags: flags_shown,
        seconds: 0.0,
    };
    if !built.cached {
        let started = std::time::Instant::now();
        let flags = Flags {
            rustflags: &rustflags,
            remaps: &remap_args,
            cflags: &cflags,
            wrapper: &opts.wrapper,
        };
        cargo_build(&work, &target, &flags, packages, m)?;
        built.seconds = started.elapsed().as_secs_f64();
        let out = target.join(TARGET).join("release").join(INSTANCE_BIN);
        let tmp = cache.join("builds").join(format!(
            "{}.tmp{}",
            key.trim_start_matches("sha256:"),
            std::process::id()
        ));
        std::fs::create_dir_all(&tmp).map_err(|e| BuildError::Io {
            path: tmp.clone(),
            source: e,
        })?;
        std::fs::copy(&out, tmp.join("ampel")).map_err(|e| BuildError::Io {
            path: out.clone(),
            source: e,
        })?;
        write(
            &tmp.join("build.json"),
            &(serde_json::to_string_pretty(&key_doc).unwrap_or_default() + "\n"),
        )?;
        if std::fs::rename(&tmp, &done).is_err() {
            // another build finished the same key first: keep its result
            let _ = std::fs::remove_dir_all(&tmp);
        }
    }
    built.units = binary_units(&bin, m)?;
    Ok(built)
}

struct Flags<'a> {
    rustflags: &'a [String],
    remaps: &'a [String],
    cflags: &'a [String],
    wrapper: &'a Path,
}

fn cargo_build(
    work: &Path,
    target: &Path,
    flags: &Flags,
    packages: usize,
    m: &Manifest,
) -> Result<(), BuildError> {
    let mut cmd = cargo();
    cmd.args(["build", "--release", "--locked", "--target", TARGET])
        .args(["--message-format", "json"])
        .arg("--manifest-path")
        .arg(work.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target)
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env("CARGO_ENCODED_RUSTFLAGS", flags.rustflags.join("\u{1f}"))
        .env("RUSTC_WRAPPER", flags.wrapper)
        .env(WRAPPER_ENV, flags.remaps.join("\u{1f}"))
        // C code built by build scripts (mimalloc) embeds __DATE__/__TIME__; GCC takes
        // them from here. A constant: the image's `created` time is not a build input.
        .env("SOURCE_DATE_EPOCH", "1")
        .env(
            format!("CFLAGS_{}", TARGET.replace('-', "_")),
            flags.cflags.join(" "),
        )
        // configure-based C builds (librdkafka) read only plain CFLAGS
        .env("CFLAGS", format!("-O2 {}", flags.cflags.join(" ")))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| BuildError::Cargo {
        what: "cargo build".into(),
        detail: format!("cannot run: {e}"),
    })?;
    let stderr = child.stderr.take();
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut e) = stderr {
            let _ = std::io::Read::read_to_string(&mut e, &mut s);
        }
        s
    });
    // a bar on a terminal; in a log, a line at least every 10 s (a cold build takes
    // minutes and cargo's own output is captured here)
    let progress = ampel_commands::progress::Reporter::from_env();
    progress.start(
        "compiling the instance runtime (release, static)",
        "crates",
        Some(packages as u64),
    );
    let mut compiled = 0u64;
    let mut messages = Vec::new();
    if let Some(out) = child.stdout.take() {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            let Ok(v) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            match v["reason"].as_str() {
                // one artifact per package (compiled build scripts are extra)
                Some("compiler-artifact")
                    if !v["target"]["kind"]
                        .as_array()
                        .is_some_and(|k| k.iter().any(|k| k == "custom-build")) =>
                {
                    compiled += 1;
                    progress.set(compiled.min(packages as u64));
                }
                Some("compiler-message") if v["message"]["level"] == "error" => {
                    messages.push(v["message"].clone())
                }
                _ => {}
            }
        }
    }
    let status = child.wait().map_err(|e| BuildError::Cargo {
        what: "cargo build".into(),
        detail: e.to_string(),
    })?;
    let stderr = err_thread.join().unwrap_or_default();
    progress.finish();
    if status.success() {
        return Ok(());
    }
    Err(explain_build_failure(&messages, &stderr, m))
}

/// Turn compiler errors in the generated registry into "crate X does not export
/// unit Y"; anything else is shown as rustc rendered it.
fn explain_build_failure(messages: &[Value], stderr: &str, m: &Manifest) -> BuildError {
    let mut problems = Vec::new();
    let mut other = Vec::new();
    for msg in messages {
        let in_registry = msg["spans"].as_array().into_iter().flatten().find(|s| {
            s["file_name"]
                .as_str()
                .is_some_and(|f| f.ends_with("src/units.rs"))
        });
        let unit = in_registry
            .and_then(|s| s["text"][0]["text"].as_str())
            .and_then(|t| {
                m.crates.iter().find_map(|c| {
                    c.units
                        .iter()
                        .find(|u| t.contains(&format!("{}::{u},", c.ident())))
                        .map(|u| (c.name.clone(), u.clone()))
                })
            });
        match unit {
            Some((krate, u)) => problems.push(format!(
                "{}: crate `{krate}` does not export a unit type `{u}` at its root ({})",
                m.path.display(),
                msg["message"].as_str().unwrap_or("")
            )),
            None => other.push(
                msg["rendered"]
                    .as_str()
                    .unwrap_or_else(|| msg["message"].as_str().unwrap_or(""))
                    .to_string(),
            ),
        }
    }
    if !problems.is_empty() {
        return BuildError::Manifest(problems);
    }
    if !other.is_empty() {
        return BuildError::Cargo {
            what: "compiling the instance runtime".into(),
            detail: format!("failed:\n{}", other.join("\n")),
        };
    }
    let tail: Vec<&str> = stderr.lines().rev().take(30).collect();
    BuildError::Cargo {
        what: "compiling the instance runtime".into(),
        detail: format!(
            "failed:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ),
    }
}

/// Ask the built binary for its units and check they are exactly the declared ones.
fn binary_units(bin: &Path, m: &Manifest) -> Result<Vec<UnitInfo>, BuildError> {
    let out = run_capture(
        Command::new(bin).args(["--json", "units", "list"]),
        "the built runtime (units list)",
    )?;
    let listed: Vec<Value> = serde_json::from_str(&out).map_err(|e| BuildError::Binary {
        detail: format!("printed no unit list: {e}"),
    })?;
    let crate_of: BTreeMap<&str, &str> = m
        .crates
        .iter()
        .flat_map(|c| c.units.iter().map(move |u| (u.as_str(), c.name.as_str())))
        .collect();
    let mut units = Vec::new();
    let mut problems = Vec::new();
    for u in &listed {
        let name = u["name"].as_str().unwrap_or("");
        let Some(krate) = crate_of.get(name) else {
            problems.push(format!(
                "the built runtime registers unit `{name}`, which the manifest does not declare \
                 (a unit's `NAME` must equal its type name)"
            ));
            continue;
        };
        units.push(UnitInfo {
            name: name.to_string(),
            kind: u["kind"].as_str().unwrap_or("").to_string(),
            version: u["version"].as_str().unwrap_or("").to_string(),
            digest: u["digest"].as_str().unwrap_or("").to_string(),
            krate: krate.to_string(),
        });
    }
    for declared in crate_of.keys() {
        if !units.iter().any(|u| u.name == *declared) {
            problems.push(format!(
                "{}: unit `{declared}` is declared but the built runtime does not register it",
                m.path.display()
            ));
        }
    }
    if !problems.is_empty() {
        return Err(BuildError::Manifest(problems));
    }
    units.sort();
    Ok(units)
}

#[cfg(test)]
mod tests {
    /// `scripts/ampel` shares compiled dependencies with image builds only while
    /// the workspace's release profile is the instance profile.
    #[test]
    fn the_workspace_release_profile_is_the_instance_profile() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
        let ws: toml::Table = toml::from_str(&std::fs::read_to_string(root).unwrap()).unwrap();
        let inst: toml::Table = toml::from_str(super::PROFILE).unwrap();
        assert_eq!(ws["profile"]["release"], inst["profile"]["release"]);
    }
}
