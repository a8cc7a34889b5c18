//! Running instance images under three runtimes, with the same view from inside:
//! the inputs read-only under `/inputs/<name>`, the output directory read-write at
//! `/out`, the configuration at `/etc/ampel/instance.json`, no network unless asked.
//!
//! - **native**: the verified image's files are extracted into a cache keyed by the
//!   manifest digest (written to a temporary directory, then renamed: never half
//!   written) and the binary runs as a host process; `/inputs` and `/out` in the
//!   arguments are rewritten to the host paths, and `$AMPEL_RESOURCES` names the
//!   extracted resource files. Works where no container runtime
//!   exists (HPC login nodes).
//! - **oci**: an OCI bundle (root file system from the layers, `config.json` written
//!   with oci-spec) run by `runc` (crun where the host allows it: not on these hosts,
//!   whose hybrid cgroups it refuses).
//! - **docker**: the archive is loaded through the Engine API (bollard) unless the
//!   daemon has it, the container is created and run **by image ID** (the config
//!   digest: a loaded image has no registry digest), logs are streamed, the exit
//!   code collected, then the container removed (not auto-removed: logs would be lost).
//!
//! Every runtime is checked before anything runs: a missing `runc`, an unreachable
//! daemon or a tampered image is an error, not a half-started container.

pub use crate::spec::{RunOptions, RunOutcome, RunSpec, Runtime};

use crate::spec::{
    cached_rootfs, check_inputs, extract_rootfs, image_env, image_user, io_err, prepare_out,
};
use crate::RunError;
use ampel_builder::inspect::OpenImage;
use ampel_builder::pack::{BINARY, CONFIG};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Run an opened (verified) image.
pub fn run(
    image: &OpenImage,
    runtime: Runtime,
    spec: &RunSpec,
    opts: &RunOptions,
) -> Result<RunOutcome, RunError> {
    let inputs = check_inputs(spec)?;
    match runtime {
        Runtime::Native => run_native(image, spec, opts, &inputs),
        Runtime::Oci => run_oci(image, spec, opts, &inputs),
        Runtime::Docker => crate::docker::run_docker(image, spec, opts, &inputs),
    }
}

/// Rewrite container paths (`/inputs...`, `/out...`, `/etc/ampel/...`) to host paths,
/// also as the value of `--flag=VALUE` and in `sqlite:PATH` store URIs.
fn host_arg(arg: &str, inputs: &Path, out: &Path, rootfs: &Path) -> String {
    if let Some(path) = arg.strip_prefix("sqlite:") {
        return format!("sqlite:{}", host_arg(path, inputs, out, rootfs));
    }
    for (prefix, to) in [("/inputs", inputs), ("/out", out)] {
        if arg == prefix {
            return to.display().to_string();
        }
        if let Some(rest) = arg.strip_prefix(prefix).and_then(|r| r.strip_prefix('/')) {
            return to.join(rest).display().to_string();
        }
        if let Some((flag, value)) = arg.split_once('=') {
            if flag.starts_with("--") {
                let mapped = host_arg(value, inputs, out, rootfs);
                if mapped != value {
                    return format!("{flag}={mapped}");
                }
            }
        }
    }
    if let Some(rest) = arg.strip_prefix("/etc/ampel/") {
        return rootfs.join("etc/ampel").join(rest).display().to_string();
    }
    arg.to_string()
}

fn finish(
    mut cmd: Command,
    spec: &RunSpec,
    runtime: Runtime,
    detail: String,
) -> Result<RunOutcome, RunError> {
    let started = std::time::Instant::now();
    cmd.stdin(Stdio::null());
    // stderr passes straight through, so the instance's progress lines appear while
    // it runs (not all at its end)
    cmd.stderr(Stdio::inherit());
    cmd.stdout(if spec.capture_stdout {
        Stdio::piped()
    } else {
        Stdio::inherit()
    });
    let out = cmd.output().map_err(|e| {
        RunError::Runtime(format!("cannot start the {} run: {e}", runtime.as_str()))
    })?;
    Ok(RunOutcome {
        runtime,
        runtime_detail: detail,
        exit_code: out.status.code().unwrap_or(128),
        stdout: out.stdout,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn run_native(
    image: &OpenImage,
    spec: &RunSpec,
    opts: &RunOptions,
    inputs: &[(String, PathBuf)],
) -> Result<RunOutcome, RunError> {
    let rootfs = cached_rootfs(image, &opts.cache_dir)?;
    let out = prepare_out(&spec.out, (0, 0))?;
    // /inputs: a directory of links to the inputs, as the containers see them
    let links = tempfile::tempdir().map_err(io_err(&std::env::temp_dir()))?;
    for (name, path) in inputs {
        std::os::unix::fs::symlink(path, links.path().join(name)).map_err(io_err(links.path()))?;
    }
    let mut cmd = Command::new(rootfs.join(BINARY));
    cmd.args(
        spec.args
            .iter()
            .map(|a| host_arg(a, links.path(), &out, &rootfs)),
    )
    .current_dir(&out)
    .env_remove("AMPEL_DB");
    for (k, v) in image_env(image) {
        match k.as_str() {
            "AMPEL_INSTANCE" => {
                cmd.env(k, rootfs.join(CONFIG));
            }
            "PATH" | "HOME" => {}
            _ => {
                cmd.env(k, v);
            }
        }
    }
    // the image's resource files, where a container finds them at
    // /usr/share/ampel/resources (the binary checks each file's digest)
    cmd.env(
        ampel_core::resources::ENV,
        rootfs.join(ampel_builder::pack::RESOURCES),
    );
    cmd.envs(spec.env.iter().map(|(k, v)| (k, v)));
    let detail = format!("host process {}", rootfs.join(BINARY).display());
    finish(cmd, spec, Runtime::Native, detail)
}

fn oci_config(
    image: &OpenImage,
    spec: &RunSpec,
    inputs: &[(String, PathBuf)],
    out: &Path,
) -> Result<oci_spec::runtime::Spec, RunError> {
    use oci_spec::runtime::{
        LinuxNamespaceType, MountBuilder, ProcessBuilder, RootBuilder, Spec, UserBuilder,
    };
    let err = RunError::OciConfig;
    let (uid, gid) = image_user(image);
    let entry = image
        .info
        .verified
        .runtime
        .as_ref()
        .and_then(|c| c.entrypoint().clone())
        .unwrap_or_else(|| vec![format!("/{BINARY}")]);
    let mut env: Vec<String> = image_env(image)
        .into_iter()
        .chain(spec.env.iter().cloned())
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    env.dedup();
    let mut spec_doc = Spec::default();
    let process = ProcessBuilder::default()
        .terminal(false)
        .user(
            UserBuilder::default()
                .uid(uid)
                .gid(gid)
                .build()
                .map_err(err)?,
        )
        .args(
            entry
                .into_iter()
                .chain(spec.args.iter().cloned())
                .collect::<Vec<_>>(),
        )
        .env(env)
        .cwd("/out")
        .no_new_privileges(true)
        .capabilities(
            spec_doc
                .process()
                .as_ref()
                .and_then(|p| p.capabilities().clone())
                .unwrap_or_default(),
        )
        .rlimits(
            spec_doc
                .process()
                .as_ref()
                .and_then(|p| p.rlimits().clone())
                .unwrap_or_default(),
        )
        .build()
        .map_err(err)?;
    spec_doc.set_process(Some(process));
    spec_doc.set_hostname(Some("ampel".into()));
    spec_doc.set_root(Some(
        RootBuilder::default()
            .path("rootfs")
            .readonly(true)
            .build()
            .map_err(err)?,
    ));
    let mut mounts = spec_doc.mounts().clone().unwrap_or_default();
    let bind = |src: &Path, dst: String, ro: bool| {
        MountBuilder::default()
            .destination(dst)
            .typ("bind")
            .source(src)
            .options(vec![
                "rbind".to_string(),
                if ro { "ro" } else { "rw" }.to_string(),
            ])
            .build()
            .map_err(err)
    };
    for (name, path) in inputs {
        mounts.push(bind(path, format!("/inputs/{name}"), true)?);
    }
    mounts.push(bind(out, "/out".into(), false)?);
    mounts.push(
        MountBuilder::default()
            .destination("/tmp")
            .typ("tmpfs")
            .source("tmpfs")
            .options(vec!["nosuid".into(), "nodev".into(), "mode=1777".into()])
            .build()
            .map_err(err)?,
    );
    spec_doc.set_mounts(Some(mounts));
    if let Some(linux) = spec_doc.linux_mut() {
        if spec.network {
            if let Some(ns) = linux.namespaces().clone() {
                linux.set_namespaces(Some(
                    ns.into_iter()
                        .filter(|n| n.typ() != LinuxNamespaceType::Network)
                        .collect(),
                ));
            }
        }
    }
    Ok(spec_doc)
}

fn run_oci(
    image: &OpenImage,
    spec: &RunSpec,
    opts: &RunOptions,
    inputs: &[(String, PathBuf)],
) -> Result<RunOutcome, RunError> {
    let version = Command::new(&opts.oci_runtime)
        .arg("--version")
        .output()
        .map_err(|e| {
            RunError::Runtime(format!(
                "the OCI runtime `{}` cannot run: {e} (install it: apt-get install runc)",
                opts.oci_runtime
            ))
        })?;
    let detail = String::from_utf8_lossy(&version.stdout)
        .lines()
        .next()
        .unwrap_or(&opts.oci_runtime)
        .to_string();
    let out = prepare_out(&spec.out, image_user(image))?;
    let bundles =
        std::path::absolute(opts.cache_dir.join("bundles")).map_err(io_err(&opts.cache_dir))?;
    std::fs::create_dir_all(&bundles).map_err(io_err(&bundles))?;
    let bundle = tempfile::Builder::new()
        .prefix("run")
        .tempdir_in(&bundles)
        .map_err(io_err(&bundles))?;
    extract_rootfs(image, &bundle.path().join("rootfs"))?;
    let config = oci_config(image, spec, inputs, &out)?;
    let cfg_path = bundle.path().join("config.json");
    config
        .save(&cfg_path)
        .map_err(|e| RunError::Runtime(format!("cannot write {}: {e}", cfg_path.display())))?;
    let id = format!(
        "ampel-{}-{}",
        std::process::id(),
        bundle
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    let state = bundle.path().join("state");
    let mut cmd = Command::new(&opts.oci_runtime);
    cmd.arg("--root")
        .arg(&state)
        .args(["run", "--bundle"])
        .arg(bundle.path())
        .arg(&id);
    finish(cmd, spec, Runtime::Oci, detail)
}

#[cfg(test)]
mod tests {
    use super::host_arg;
    use std::path::Path;

    #[test]
    fn container_paths_map_to_host_paths() {
        let (i, o, r) = (
            Path::new("/h/in"),
            Path::new("/h/out"),
            Path::new("/c/root"),
        );
        let m = |a: &str| host_arg(a, i, o, r);
        assert_eq!(m("/inputs"), "/h/in");
        assert_eq!(m("/inputs/a/b.avro"), "/h/in/a/b.avro");
        assert_eq!(m("/out"), "/h/out");
        assert_eq!(m("sqlite:/out/x.db"), "sqlite:/h/out/x.db");
        assert_eq!(m("--db=sqlite:/out/x.db"), "--db=sqlite:/h/out/x.db");
        assert_eq!(
            m("/etc/ampel/instance.json"),
            "/c/root/etc/ampel/instance.json"
        );
        assert_eq!(m("/outside"), "/outside");
        assert_eq!(m("mongodb://h/db"), "mongodb://h/db");
        assert_eq!(m("--json"), "--json");
    }
}
