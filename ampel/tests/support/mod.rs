//! Shared helpers of the builder tests: running `ampel`, the demo image (built once
//! per test binary into a cache under the target directory), real tools, and a
//! throw-away dockerd on its own socket.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

/// The real alerts shipped with the repository (`tests/data/alerts`, with their
/// sources and licenses in its README).
pub fn real_alerts() -> PathBuf {
    repo().join("tests/data/alerts")
}

/// The ZTF demo manifest copied into `dir` as `name`, its crate paths made
/// absolute, with each `(from, to)` text replacement applied once (each must be
/// there); returns its path.
pub fn demo_manifest(dir: &Path, name: &str, edits: &[(&str, &str)]) -> String {
    let mut text = std::fs::read_to_string(repo().join("manifests/ztf-demo.toml"))
        .unwrap()
        .replace(
            "path = \"../units/",
            &format!("path = \"{}/units/", repo().display()),
        );
    for (from, to) in edits {
        assert!(text.contains(from), "the demo manifest has no {from:?}");
        text = text.replacen(from, to, 1);
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// The build cache shared by the tests of one run (kept between runs).
pub fn shared_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("ampel-cache")
}

/// Builds share a generated-crate directory per instance name: one at a time.
pub fn build_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Run `ampel` with `args` in `dir`.
pub fn ampel(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ampel"))
        .args(args)
        .current_dir(dir)
        .env_remove("AMPEL_DB")
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .expect("run ampel")
}

/// `ampel --json ARGS` started in `dir`, its output piped (see [`finish_json`]).
pub fn spawn_json<S: AsRef<std::ffi::OsStr>>(args: &[S], dir: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_ampel"))
        .arg("--json")
        .args(args)
        .current_dir(dir)
        .env_remove("AMPEL_DB")
        .env_remove("SOURCE_DATE_EPOCH")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ampel")
}

/// Wait for a process [`spawn_json`] started; it must succeed; its stdout as JSON.
pub fn finish_json(c: std::process::Child) -> serde_json::Value {
    let out = c.wait_with_output().expect("wait for ampel");
    assert!(out.status.success(), "ampel failed:\n{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("ampel printed no JSON ({e}):\n{}", text(&out.stdout)))
}

/// `127.0.0.1:PORT` with a port nothing listens on (the OS picked it just now).
pub fn free_loopback_addr() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port();
    format!("127.0.0.1:{port}")
}

/// stdout or stderr as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `ampel --json ...` that must succeed; its stdout as JSON.
pub fn ampel_json(args: &[&str], dir: &Path) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = ampel(&all, dir);
    assert!(
        out.status.success(),
        "ampel {args:?} failed:\n{}",
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "ampel {args:?} printed no JSON ({e}):\n{}",
            text(&out.stdout)
        )
    })
}

/// Build a manifest into `out` with `cache`; the `--json` report.
pub fn build(manifest: &Path, out: &Path, cache: &Path, source: &Path) -> serde_json::Value {
    let _g = build_lock();
    ampel_json(
        &[
            "image",
            "build",
            manifest.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--cache",
            cache.to_str().unwrap(),
            "--source",
            source.to_str().unwrap(),
        ],
        &repo(),
    )
}

/// The ZTF demo image, built once per test binary; (archive, build report).
pub fn demo_image() -> &'static (PathBuf, serde_json::Value) {
    static IMAGE: OnceLock<(PathBuf, serde_json::Value)> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("images-{}", std::process::id()))
            .join("ztf-demo.tar");
        let report = build(
            &repo().join("manifests/ztf-demo.toml"),
            &out,
            &shared_cache(),
            &repo(),
        );
        (out, report)
    })
}

/// A tool that the tests need; `.ci/run` installs it.
pub fn tool(name: &str) -> Command {
    assert!(
        have(name),
        "{name} is required for this test: run the tests with scripts/test (the README's test command), which installs it"
    );
    Command::new(name)
}

/// True if `name` is on PATH.
pub fn have(name: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Copy a source tree (without `target/` and hidden entries) to `to`.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        let s = name.to_string_lossy();
        if s.starts_with('.') || s == "target" {
            continue;
        }
        let (src, dst) = (e.path(), to.join(&name));
        if e.file_type().unwrap().is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// A dockerd of our own (vfs storage, no iptables, no bridge, its own socket and
/// directories under a temp dir), stopped by pid on drop; the flags are the ones
/// that work on these hosts (see the README).
pub struct Dockerd {
    /// The daemon.
    child: std::process::Child,
    /// Its directory (socket, data, exec root).
    pub dir: tempfile::TempDir,
}

impl Dockerd {
    /// Start dockerd and wait until it answers; `Err` says why it cannot run here.
    pub fn start() -> Result<Dockerd, String> {
        if !have("dockerd") {
            return Err("dockerd is not installed: run the tests with scripts/test (the README's test command), which installs docker.io".into());
        }
        let dir = tempfile::Builder::new()
            .prefix("dkr")
            .tempdir_in("/tmp")
            .map_err(|e| e.to_string())?;
        let d = dir.path();
        let log = std::fs::File::create(d.join("dockerd.log")).map_err(|e| e.to_string())?;
        let child = Command::new("dockerd")
            .args([
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
                "--storage-driver=vfs",
            ])
            .arg(format!("--data-root={}", d.join("data").display()))
            .arg(format!("--exec-root={}", d.join("exec").display()))
            .arg(format!("--pidfile={}", d.join("dockerd.pid").display()))
            .arg(format!("--host=unix://{}", d.join("docker.sock").display()))
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start dockerd: {e}"))?;
        let mut me = Dockerd { child, dir };
        for _ in 0..300 {
            if me.docker(&["version"]).status.success() {
                return Ok(me);
            }
            if let Ok(Some(status)) = me.child.try_wait() {
                let log =
                    std::fs::read_to_string(me.dir.path().join("dockerd.log")).unwrap_or_default();
                return Err(format!("dockerd exited ({status}):\n{log}"));
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Err("dockerd did not answer within 30 s".into())
    }

    /// The `unix://` address of the daemon.
    pub fn host(&self) -> String {
        format!("unix://{}", self.dir.path().join("docker.sock").display())
    }

    /// Run the docker CLI against this daemon.
    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .arg("-H")
            .arg(self.host())
            .args(args)
            .output()
            .expect("run docker")
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let netns = self.dir.path().join("exec/netns/default");
        let _ = Command::new("umount")
            .arg(&netns)
            .stderr(Stdio::null())
            .status();
        // vfs layers can hold mounts; unmount anything left under the directory
        let _ = Command::new("sh")
            .args([
                "-c",
                &format!(
                    "grep -o ' {}[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l",
                    self.dir.path().display()
                ),
            ])
            .status();
    }
}

/// Debian's docker-registry (distribution v2) on 127.0.0.1, storage in a temp dir,
/// optionally with htpasswd (bcrypt) users; stopped by pid on drop.
pub struct Registry {
    child: std::process::Child,
    /// Its directory: config, storage (`data/`), log.
    pub dir: tempfile::TempDir,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl Registry {
    /// Start a registry and wait until it answers `/v2/`.
    pub fn start(users: &[(&str, &str)]) -> Registry {
        assert!(
            have("docker-registry"),
            "docker-registry is required for this test: run the tests with scripts/test (the README's test command), which installs it"
        );
        let dir = tempfile::tempdir().unwrap();
        let addr = free_loopback_addr();
        let mut cfg = format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
            dir.path().join("data").display()
        );
        if !users.is_empty() {
            let lines: Vec<String> = users
                .iter()
                .map(|(u, p)| format!("{u}:{}", bcrypt::hash(p, 4).unwrap()))
                .collect();
            std::fs::write(dir.path().join("htpasswd"), lines.join("\n") + "\n").unwrap();
            cfg.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: ampel-test\n    path: {}\n",
                dir.path().join("htpasswd").display()
            ));
        }
        std::fs::write(dir.path().join("config.yml"), cfg).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let me = Registry { child, dir, addr };
        for _ in 0..100 {
            if std::net::TcpStream::connect(&me.addr).is_ok() {
                return me;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!(
            "docker-registry did not listen on {}:\n{}",
            me.addr,
            me.log()
        );
    }

    /// The registry's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Completed blob-upload requests (POST/PATCH/PUT on `/blobs/uploads/`) so far,
    /// counted from the registry's own log.
    pub fn blob_uploads(&self) -> usize {
        self.log()
            .lines()
            .filter(|l| {
                l.contains("msg=\"response completed\"")
                    && l.contains("/blobs/uploads/")
                    && ["POST", "PATCH", "PUT"]
                        .iter()
                        .any(|m| l.contains(&format!("http.request.method={m} ")))
            })
            .count()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The tansu Kafka broker: on `$PATH` or in `$CARGO_HOME/bin`.
pub fn tansu_binary() -> PathBuf {
    if have("tansu") {
        return PathBuf::from("tansu");
    }
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_default();
    let p = home.join("bin/tansu");
    assert!(
        p.is_file(),
        "tansu is required for the Kafka tests: run the tests with scripts/test (the README's test command), which installs it (cargo install tansu)"
    );
    p
}

/// A Kafka-protocol broker (tansu) on 127.0.0.1, stopped on drop.
pub struct Kafka {
    child: Option<std::process::Child>,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    storage: String,
    /// Log directory.
    pub dir: tempfile::TempDir,
}

impl Kafka {
    /// A broker keeping messages in memory.
    pub fn start() -> Kafka {
        Self::start_with("memory://tansu/".into(), None)
    }

    /// A broker keeping messages in an SQLite file, so that it can be restarted.
    pub fn start_persistent() -> Kafka {
        // tansu resolves the file relative to its working directory (the log dir)
        Self::start_with(
            "sqlite://tansu.db".into(),
            Some(tempfile::tempdir().unwrap()),
        )
    }

    fn start_with(storage: String, dir: Option<tempfile::TempDir>) -> Kafka {
        let mut k = Kafka {
            child: None,
            addr: free_loopback_addr(),
            storage,
            dir: dir.unwrap_or_else(|| tempfile::tempdir().unwrap()),
        };
        k.restart();
        k
    }

    /// (Re)start the broker on the same port and storage.
    pub fn restart(&mut self) {
        let url = format!("tcp://{}", self.addr);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("tansu.log"))
            .unwrap();
        let child = Command::new(tansu_binary())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", &self.storage])
            .current_dir(self.dir.path())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start tansu");
        self.child = Some(child);
        for _ in 0..200 {
            if std::net::TcpStream::connect(&self.addr).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("tansu did not listen on {}", self.addr);
    }

    /// Stop the broker (SIGTERM), as a lost broker.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            for _ in 0..100 {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Kafka {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The out-of-tree fixture unit crate (`ampel/tests/fixtures/ext-units`) copied
/// into `dir/ext-units`, its AMPEL dependencies pointing at this tree.
pub fn ext_crate(dir: &Path) -> std::path::PathBuf {
    let fixture = repo().join("ampel/tests/fixtures/ext-units");
    let to = dir.join("ext-units");
    std::fs::create_dir_all(to.join("src")).unwrap();
    let toml = std::fs::read_to_string(fixture.join("Cargo.toml.in"))
        .unwrap()
        .replace(
            "@AMPEL_INTERFACE@",
            &repo().join("runtime/interface").display().to_string(),
        )
        .replace(
            "@AMPEL_UNIT_BUILD@",
            &repo().join("runtime/unit-build").display().to_string(),
        );
    std::fs::write(to.join("Cargo.toml"), toml).unwrap();
    std::fs::copy(fixture.join("build.rs"), to.join("build.rs")).unwrap();
    copy_tree(&fixture.join("src"), &to.join("src"));
    to
}

/// A manifest `dir/ext.toml` with the ZTF units and the fixture crate at `ext`
/// (its `units`), and one channel `EXT` with the `channel` lines.
pub fn ext_manifest(dir: &Path, ext: &Path, units: &str, channel: &str) -> std::path::PathBuf {
    let source = format!("path = \"{}\"", ext.display());
    ext_manifest_from(dir, "ext-demo", &source, units, channel)
}

/// The same with the fixture crate's source given as manifest lines (`path = ...`,
/// or `git = ...` and `rev = ...`) and the instance named `name`.
pub fn ext_manifest_from(
    dir: &Path,
    name: &str,
    source: &str,
    units: &str,
    channel: &str,
) -> std::path::PathBuf {
    let ztf = repo().join("units/ztf");
    let m = dir.join("ext.toml");
    std::fs::write(
        &m,
        format!(
            r#"[instance]
name = "{name}"
version = "0.1.0"

[[crate]]
name = "ampel-units-ztf"
path = "{}"
units = ["ZiAlertSupplier", "ZiDataPointShaper", "ZiT1Combiner"]

[[crate]]
name = "ampel-units-testext"
{source}
units = [{units}]

[t0]
supplier = {{ unit = "ZiAlertSupplier" }}
shaper = {{ unit = "ZiDataPointShaper" }}
combiner = {{ unit = "ZiT1Combiner" }}

[[channel]]
name = "EXT"
{channel}
"#,
            ztf.display(),
        ),
    )
    .unwrap();
    m
}

/// The unit `name` of an `image inspect --json` answer.
pub fn unit_info(info: &serde_json::Value, name: &str) -> serde_json::Value {
    info["config"]["units"]
        .as_array()
        .and_then(|u| u.iter().find(|u| u["name"] == name))
        .unwrap_or_else(|| panic!("no unit {name} in {info}"))
        .clone()
}

/// The latest run directory (`<process>-run<N>`, highest N) of a T3 report in
/// `report` (beside it, the report's `index.html` of every run).
pub fn report_run(report: &Path) -> PathBuf {
    std::fs::read_dir(report)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .max_by_key(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let run = name
                .rsplit_once("-run")
                .and_then(|(_, n)| n.parse::<u64>().ok());
            (run, name)
        })
        .unwrap_or_else(|| panic!("no report run in {}", report.display()))
}

/// `ampel --db DB job --manifest MANIFEST --inputs INPUTS [EXTRA...]` in `dir`, its
/// JSON answer.
pub fn manifest_job(
    dir: &Path,
    db: &str,
    manifest: &str,
    inputs: &Path,
    extra: &[&str],
) -> serde_json::Value {
    let mut args = vec![
        "--db",
        db,
        "job",
        "--manifest",
        manifest,
        "--inputs",
        inputs.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    ampel_json(&args, dir)
}

/// `ampel db export` of the store `db` into a directory of `dir`; that directory.
pub fn export_store(dir: &Path, db: &str) -> PathBuf {
    let out = dir.join(format!("dump-{}", db.replace([':', '.', '/'], "-")));
    let o = ampel(&["--db", db, "db", "export", out.to_str().unwrap()], dir);
    assert!(o.status.success(), "{}", text(&o.stderr));
    out
}

/// The ids of the datapoints in an export (`t0.jsonl`).
pub fn exported_ids(dump: &Path) -> std::collections::BTreeSet<i64> {
    std::fs::read_to_string(dump.join("t0.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_i64()
                .unwrap()
        })
        .collect()
}
