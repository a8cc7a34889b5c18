//! The Docker runtime, through the Engine API (bollard): load the archive unless the
//! daemon already has the image, run it **by image ID** (the config digest: a
//! loaded image has no registry digest), stream its logs, wait for the exit code,
//! then remove the container. The container is not auto-removed, so its logs can
//! always be read to the end.

use crate::spec::{RunOptions, RunOutcome, RunSpec, Runtime};
use crate::RunError;
use ampel_builder::inspect::OpenImage;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ImportImageOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;
use std::io::Write;
use std::path::PathBuf;

/// The daemon address: the option, else `$DOCKER_HOST`, else the default socket.
fn docker_host(opts: &RunOptions) -> String {
    opts.docker_host
        .clone()
        .or_else(|| std::env::var("DOCKER_HOST").ok())
        .unwrap_or_else(|| "unix:///var/run/docker.sock".into())
}

fn fail(what: &str, host: &str, e: impl std::fmt::Display) -> RunError {
    RunError::Docker(format!("docker ({host}): {what}: {e}"))
}

/// Connect and negotiate the API version; a clear error if nothing answers.
pub async fn connect(host: &str) -> Result<(Docker, String), RunError> {
    if !host.starts_with("unix://") && !host.starts_with('/') {
        return Err(RunError::Docker(format!(
            "docker host `{host}`: only unix sockets are supported (unix:///path/docker.sock)"
        )));
    }
    let path = host.trim_start_matches("unix://");
    if !std::path::Path::new(path).exists() {
        return Err(RunError::Docker(format!(
            "no Docker daemon at {host}: the socket does not exist (start dockerd, or pass --docker-host)"
        )));
    }
    let d = Docker::connect_with_unix(path, 300, bollard::API_DEFAULT_VERSION)
        .map_err(|e| fail("cannot connect", host, e))?;
    let d = d
        .negotiate_version()
        .await
        .map_err(|e| fail("the daemon does not answer", host, e))?;
    let v = d
        .version()
        .await
        .map_err(|e| fail("the daemon does not answer", host, e))?;
    let detail = format!(
        "Docker Engine {} (API {})",
        v.version.unwrap_or_default(),
        v.api_version.unwrap_or_default()
    );
    Ok((d, detail))
}

/// Make sure the daemon has the image; load the archive if not. Returns the ID.
pub async fn ensure_loaded(d: &Docker, host: &str, image: &OpenImage) -> Result<String, RunError> {
    let id = image.info.config_digest.clone();
    if d.inspect_image(&id).await.is_ok() {
        return Ok(id);
    }
    let bytes = std::fs::read(&image.info.path).map_err(|e| RunError::Io {
        path: image.info.path.clone(),
        source: e,
    })?;
    let mut load = d.import_image(
        ImportImageOptionsBuilder::default().quiet(true).build(),
        bollard::body_full(bytes.into()),
        None,
    );
    while let Some(r) = load.next().await {
        r.map_err(|e| fail("docker load failed", host, e))?;
    }
    let got = d
        .inspect_image(&id)
        .await
        .map_err(|e| fail(&format!("image {id} is not there after loading"), host, e))?;
    if got.id.as_deref() != Some(id.as_str()) {
        return Err(RunError::Docker(format!(
            "docker ({host}): the loaded image has ID {:?}, expected {id} (a containerd image store? its IDs are manifest digests)",
            got.id
        )));
    }
    Ok(id)
}

/// Run under Docker.
pub fn run_docker(
    image: &OpenImage,
    spec: &RunSpec,
    opts: &RunOptions,
    inputs: &[(String, PathBuf)],
) -> Result<RunOutcome, RunError> {
    let host = docker_host(opts);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| RunError::Docker(format!("cannot start an async runtime: {e}")))?;
    rt.block_on(async {
        let (d, detail) = connect(&host).await?;
        let id = ensure_loaded(&d, &host, image).await?;
        let user = crate::spec::image_user_spec(image);
        let out = crate::spec::prepare_out_for(&spec.out, image)?;
        let mut binds: Vec<String> = inputs
            .iter()
            .map(|(name, p)| format!("{}:/inputs/{name}:ro", p.display()))
            .collect();
        binds.push(format!("{}:/out:rw", out.display()));
        let body = ContainerCreateBody {
            image: Some(id.clone()),
            cmd: Some(spec.args.clone()),
            env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            user: Some(user),
            working_dir: Some("/out".into()),
            host_config: Some(HostConfig {
                binds: Some(binds),
                network_mode: Some(if spec.network { "host" } else { "none" }.into()),
                auto_remove: Some(false),
                ..Default::default()
            }),
            ..Default::default()
        };
        let name = format!(
            "ampel-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|t| t.as_nanos())
                .unwrap_or(0)
        );
        let created = d
            .create_container(
                Some(CreateContainerOptionsBuilder::default().name(&name).build()),
                body,
            )
            .await
            .map_err(|e| fail("cannot create the container", &host, e))?;
        let started = std::time::Instant::now();
        let result = run_container(&d, &host, &created.id, spec).await;
        let removed = d
            .remove_container(
                &created.id,
                Some(RemoveContainerOptionsBuilder::default().force(true).build()),
            )
            .await;
        let (exit_code, stdout) = result?;
        removed.map_err(|e| fail("cannot remove the container", &host, e))?;
        Ok(RunOutcome {
            runtime: Runtime::Docker,
            runtime_detail: detail,
            exit_code,
            stdout,
            seconds: started.elapsed().as_secs_f64(),
        })
    })
}

async fn run_container(
    d: &Docker,
    host: &str,
    id: &str,
    spec: &RunSpec,
) -> Result<(i32, Vec<u8>), RunError> {
    d.start_container(id, None)
        .await
        .map_err(|e| fail("cannot start the container", host, e))?;
    let mut logs = d.logs(
        id,
        Some(
            LogsOptionsBuilder::default()
                .follow(true)
                .stdout(true)
                .stderr(true)
                .build(),
        ),
    );
    let mut stdout = Vec::new();
    while let Some(chunk) = logs.next().await {
        match chunk.map_err(|e| fail("reading the logs", host, e))? {
            bollard::container::LogOutput::StdOut { message } => {
                if spec.capture_stdout {
                    stdout.extend_from_slice(&message);
                } else {
                    let _ = std::io::stdout().write_all(&message);
                }
            }
            other => {
                let _ = std::io::stderr().write_all(&other.into_bytes());
            }
        }
    }
    let mut wait = d.wait_container(id, None);
    let mut code = 0i64;
    while let Some(w) = wait.next().await {
        match w {
            Ok(r) => code = r.status_code,
            Err(bollard::errors::Error::DockerContainerWaitError { code: c, .. }) => code = c,
            Err(e) => return Err(fail("waiting for the container", host, e)),
        }
    }
    Ok((code as i32, stdout))
}
