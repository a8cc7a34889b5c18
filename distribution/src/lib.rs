//! Publishing and fetching instance images over the OCI distribution API (a small
//! client on ureq: the exact manifest bytes go up and come back, so the digest never
//! changes; blobs are streamed with progress).
//!
//! - **push**: the archive is verified first; each blob is `HEAD`ed and uploaded only
//!   if the registry lacks it (chunked `PATCH`es, then `PUT ?digest=`), then the
//!   manifest's stored bytes are `PUT` under the tag; the digest the registry
//!   reports must be the archive's.
//! - **pull** (by digest): the manifest's bytes must hash to the digest asked for,
//!   every blob to its descriptor; the archive is assembled in a temporary directory,
//!   verified, and only then renamed into place: nothing half-written is ever left.
//!   For AMPEL images it is byte-identical to the archive that was pushed.
//! - **auth**: `$AMPEL_REGISTRY_USERNAME` / `$AMPEL_REGISTRY_PASSWORD`, else the
//!   `auths` of `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`);
//!   Basic, or Bearer tokens from the realm the registry names. Credentials are
//!   never printed: errors name the registry and at most the user.
//! - **transport**: HTTPS, except plain HTTP for loopback registries (127.0.0.0/8,
//!   `::1`, `localhost`) or with `insecure`.

mod auth;
mod error;
mod reference;

pub use error::DistributionError;
pub use reference::Reference;

use ampel_images::archive::ArchiveLayout;
use ampel_images::verify::{verify, LayoutSource};
use auth::{b64, credentials, Credentials};
use sha2::Digest as _;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Media types a pull accepts for the manifest.
const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// Upload chunk size.
const CHUNK: usize = 1 << 20;

/// A client for one repository of one registry.
pub struct Client {
    agent: ureq::Agent,
    base: String,
    reference: Reference,
    creds: Option<Credentials>,
    auth: Option<String>,
    progress: bool,
}

/// What a push did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PushReport {
    /// Where it went.
    pub reference: String,
    /// The manifest digest (the registry reported the same).
    pub manifest_digest: String,
    /// Blobs uploaded.
    pub uploaded: Vec<String>,
    /// Blobs the registry already had.
    pub present: Vec<String>,
    /// Bytes uploaded.
    pub bytes: u64,
}

/// What a pull did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PullReport {
    /// What was pulled.
    pub reference: String,
    /// The archive written.
    pub archive: PathBuf,
    /// Manifest digest.
    pub manifest_digest: String,
    /// Config digest.
    pub config_digest: String,
    /// Bytes downloaded.
    pub bytes: u64,
}

fn net(r: &Reference, e: &ureq::Error) -> DistributionError {
    let why = match e {
        ureq::Error::Io(io) => format!("{} ({:?})", io, io.kind()),
        ureq::Error::ConnectionFailed => "connection refused".into(),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::Timeout(_) => "timed out".into(),
        other => other.to_string(),
    };
    DistributionError::Unreachable {
        registry: r.registry.clone(),
        detail: why,
    }
}

/// The `errors[].message` of a registry error body, if any.
fn registry_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v["errors"].as_array().map(|a| {
                a.iter()
                    .map(|e| {
                        format!(
                            "{}: {}",
                            e["code"].as_str().unwrap_or("?"),
                            e["message"].as_str().unwrap_or("")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            })
        })
        .unwrap_or_else(|| body.chars().take(200).collect())
}

type Resp = ureq::http::Response<ureq::Body>;

impl Client {
    /// A client for `reference`'s repository.
    pub fn new(reference: &Reference, insecure: bool, progress: bool) -> Client {
        let scheme = if insecure || reference.is_loopback() {
            "http"
        } else {
            "https"
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(Duration::from_secs(600)))
            .http_status_as_error(false)
            .build()
            .into();
        Client {
            agent,
            base: format!("{scheme}://{}", reference.registry),
            reference: reference.clone(),
            creds: credentials(&reference.registry),
            auth: None,
            progress,
        }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        }
    }

    /// Get a token (Bearer) or use Basic credentials after a 401.
    fn authenticate(&mut self, challenge: &str, scope: &str) -> Result<(), DistributionError> {
        let who = self
            .creds
            .as_ref()
            .map_or("without credentials".to_string(), |c| {
                format!("as `{}`", c.user)
            });
        if challenge.to_ascii_lowercase().starts_with("basic") {
            let Some(c) = &self.creds else {
                return Err(DistributionError::Auth { registry: self.reference.registry.clone(), detail: format!(
                    "registry {} requires authentication: set AMPEL_REGISTRY_USERNAME and AMPEL_REGISTRY_PASSWORD, or log in with docker (~/.docker/config.json)",
                    self.reference.registry
                ) });
            };
            self.auth = Some(format!(
                "Basic {}",
                b64(&format!("{}:{}", c.user, c.password))
            ));
            return Ok(());
        }
        let param = |name: &str| {
            challenge.split(',').find_map(|p| {
                let p = p.trim().trim_start_matches("Bearer ").trim();
                p.strip_prefix(&format!("{name}="))
                    .map(|v| v.trim_matches('"').to_string())
            })
        };
        let realm = param("realm").ok_or_else(|| DistributionError::Auth {
            registry: self.reference.registry.clone(),
            detail: format!(
                "registry {} asks for an unknown authentication scheme",
                self.reference.registry
            ),
        })?;
        let mut url = format!("{realm}?scope={scope}");
        if let Some(s) = param("service") {
            url.push_str(&format!("&service={s}"));
        }
        let mut req = self.agent.get(&url);
        if let Some(c) = &self.creds {
            req = req.header(
                "Authorization",
                format!("Basic {}", b64(&format!("{}:{}", c.user, c.password))),
            );
        }
        let mut resp = req.call().map_err(|e| net(&self.reference, &e))?;
        if !resp.status().is_success() {
            return Err(DistributionError::Auth {
                registry: self.reference.registry.clone(),
                detail: format!(
                    "registry {} refused authentication {who} (HTTP {})",
                    self.reference.registry,
                    resp.status().as_u16()
                ),
            });
        }
        let v: serde_json::Value =
            resp.body_mut()
                .read_json()
                .map_err(|e| DistributionError::Auth {
                    registry: self.reference.registry.clone(),
                    detail: format!("token endpoint of {}: {e}", self.reference.registry),
                })?;
        let token = v["token"]
            .as_str()
            .or_else(|| v["access_token"].as_str())
            .ok_or_else(|| DistributionError::Auth {
                registry: self.reference.registry.clone(),
                detail: format!(
                    "token endpoint of {} sent no token",
                    self.reference.registry
                ),
            })?;
        self.auth = Some(format!("Bearer {token}"));
        Ok(())
    }

    /// Send a request, authenticating once on 401.
    fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Option<&[u8]>,
        scope: &str,
    ) -> Result<Resp, DistributionError> {
        for attempt in 0..2 {
            let url = self.url(path);
            let mut b = ureq::http::Request::builder().method(method).uri(&url);
            for (k, v) in headers {
                b = b.header(*k, v);
            }
            if let Some(a) = &self.auth {
                b = b.header("Authorization", a);
            }
            let req = b
                .body(body.map(<[u8]>::to_vec).unwrap_or_default())
                .map_err(|e| DistributionError::Request {
                    detail: format!("bad request {method} {url}: {e}"),
                })?;
            let resp = self.agent.run(req).map_err(|e| net(&self.reference, &e))?;
            if resp.status().as_u16() == 401 && attempt == 0 {
                let challenge = resp
                    .headers()
                    .get("www-authenticate")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let had_auth = self.auth.is_some();
                self.authenticate(&challenge, scope)?;
                if had_auth
                    && self.auth.is_some()
                    && challenge.to_ascii_lowercase().starts_with("basic")
                {
                    break;
                }
                continue;
            }
            if resp.status().as_u16() == 401 {
                break;
            }
            return Ok(resp);
        }
        let who = self
            .creds
            .as_ref()
            .map_or("without credentials".to_string(), |c| {
                format!("as `{}`", c.user)
            });
        Err(DistributionError::Auth {
            registry: self.reference.registry.clone(),
            detail: format!(
                "registry {} refused authentication {who}",
                self.reference.registry
            ),
        })
    }

    fn check(&self, mut resp: Resp, what: &str) -> Result<Resp, DistributionError> {
        if resp.status().is_success() {
            return Ok(resp);
        }
        let code = resp.status().as_u16();
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        let msg = registry_message(&body);
        Err(DistributionError::Refused {
            registry: self.reference.registry.clone(),
            detail: match code {
                404 => format!("{what}: not found in {} ({msg})", self.reference),
                403 => format!("{what}: access to {} denied ({msg})", self.reference),
                _ => format!(
                    "{what}: registry {} answered HTTP {code} ({msg})",
                    self.reference.registry
                ),
            },
        })
    }

    fn bar(&self, len: u64, msg: String) -> indicatif::ProgressBar {
        let bar = if self.progress && len > 1_000_000 {
            indicatif::ProgressBar::new(len)
        } else {
            indicatif::ProgressBar::hidden()
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(msg);
        bar
    }

    fn repo_path(&self, what: &str) -> String {
        format!("/v2/{}/{what}", self.reference.repository)
    }

    fn push_scope(&self) -> String {
        format!("repository:{}:pull,push", self.reference.repository)
    }

    fn pull_scope(&self) -> String {
        format!("repository:{}:pull", self.reference.repository)
    }

    /// True if the registry has the blob.
    pub fn has_blob(&mut self, digest: &str) -> Result<bool, DistributionError> {
        let path = self.repo_path(&format!("blobs/{digest}"));
        let scope = self.push_scope();
        let resp = self.send("HEAD", &path, &[], None, &scope)?;
        Ok(resp.status().is_success())
    }

    fn upload(&mut self, digest: &str, data: &[u8]) -> Result<(), DistributionError> {
        let scope = self.push_scope();
        let path = self.repo_path("blobs/uploads/");
        let resp = self.send(
            "POST",
            &path,
            &[("Content-Length", "0".into())],
            Some(&[]),
            &scope,
        )?;
        let resp = self.check(resp, &format!("starting the upload of {digest}"))?;
        let mut location = location(&resp)?;
        let bar = self.bar(
            data.len() as u64,
            format!("pushing {}", ampel_images::short_digest(digest)),
        );
        let mut start = 0usize;
        while start < data.len() {
            let end = (start + CHUNK).min(data.len());
            let resp = self.send(
                "PATCH",
                &location,
                &[
                    ("Content-Type", "application/octet-stream".into()),
                    ("Content-Range", format!("{start}-{}", end - 1)),
                ],
                Some(&data[start..end]),
                &scope,
            )?;
            let resp = self.check(resp, &format!("uploading {digest}"))?;
            location = location_of(&resp).unwrap_or(location);
            bar.set_position(end as u64);
            start = end;
        }
        let sep = if location.contains('?') { '&' } else { '?' };
        let resp = self.send(
            "PUT",
            &format!("{location}{sep}digest={digest}"),
            &[("Content-Type", "application/octet-stream".into())],
            Some(&[]),
            &scope,
        )?;
        self.check(resp, &format!("finishing the upload of {digest}"))?;
        bar.finish_and_clear();
        Ok(())
    }

    /// Push a verified archive under the reference's tag.
    pub fn push(&mut self, archive: &Path) -> Result<PushReport, DistributionError> {
        let tag = self
            .reference
            .tag
            .clone()
            .ok_or_else(|| DistributionError::Reference {
                reference: self.reference.to_string(),
                detail: format!(
                    "{}: give a tag to push to (REGISTRY/REPOSITORY:TAG)",
                    self.reference
                ),
            })?;
        let layout = ArchiveLayout::open(archive)?;
        let images = verify(&layout).map_err(|e| DistributionError::Archive {
            path: archive.to_path_buf(),
            detail: format!(
                "{} does not verify; nothing was pushed: {e}",
                archive.display()
            ),
        })?;
        let image = images.first().ok_or_else(|| DistributionError::Archive {
            path: archive.to_path_buf(),
            detail: format!("{} holds no image", archive.display()),
        })?;
        let mut report = PushReport {
            reference: self.reference.to_string(),
            manifest_digest: image.manifest_digest.clone(),
            uploaded: vec![],
            present: vec![],
            bytes: 0,
        };
        let blob = |d: &str| -> Result<Vec<u8>, DistributionError> {
            let rel = format!("blobs/sha256/{}", d.trim_start_matches("sha256:"));
            layout
                .read(&rel)?
                .ok_or_else(|| DistributionError::Archive {
                    path: archive.to_path_buf(),
                    detail: format!("{}: missing blob {d}", archive.display()),
                })
        };
        for d in std::iter::once(&image.config_digest).chain(&image.layers) {
            if self.has_blob(d)? {
                report.present.push(d.clone());
                continue;
            }
            let data = blob(d)?;
            self.upload(d, &data)?;
            report.bytes += data.len() as u64;
            report.uploaded.push(d.clone());
        }
        let manifest = blob(&image.manifest_digest)?;
        let scope = self.push_scope();
        let path = self.repo_path(&format!("manifests/{tag}"));
        let resp = self.send(
            "PUT",
            &path,
            &[(
                "Content-Type",
                "application/vnd.oci.image.manifest.v1+json".into(),
            )],
            Some(&manifest),
            &scope,
        )?;
        let resp = self.check(resp, "pushing the manifest")?;
        if let Some(d) = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
        {
            if d != image.manifest_digest {
                return Err(DistributionError::Transfer {
                    registry: self.reference.registry.clone(),
                    detail: format!(
                        "registry {} stored the manifest as {d}, not {}: it rewrote the bytes",
                        self.reference.registry, image.manifest_digest
                    ),
                });
            }
        }
        Ok(report)
    }

    /// Download a blob to `to`, checking size and digest on the way.
    fn fetch_blob(&mut self, digest: &str, size: u64, to: &Path) -> Result<u64, DistributionError> {
        let scope = self.pull_scope();
        let path = self.repo_path(&format!("blobs/{digest}"));
        let resp = self.send("GET", &path, &[], None, &scope)?;
        let resp = self.check(resp, &format!("blob {digest}"))?;
        let bar = self.bar(
            size,
            format!("pulling {}", ampel_images::short_digest(digest)),
        );
        let mut reader = resp.into_body().into_reader();
        let mut file = std::fs::File::create(to).map_err(|e| DistributionError::Io {
            path: to.into(),
            source: e,
        })?;
        let mut h = sha2::Sha256::new();
        let mut n = 0u64;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let k = reader
                .read(&mut buf)
                .map_err(|e| DistributionError::Transfer {
                    registry: self.reference.registry.clone(),
                    detail: format!("downloading {digest} from {}: {e}", self.reference.registry),
                })?;
            if k == 0 {
                break;
            }
            h.update(&buf[..k]);
            file.write_all(&buf[..k])
                .map_err(|e| DistributionError::Io {
                    path: to.into(),
                    source: e,
                })?;
            n += k as u64;
            bar.set_position(n);
            if n > size {
                break;
            }
        }
        bar.finish_and_clear();
        let got = format!("sha256:{}", hex::encode(h.finalize()));
        if n != size || got != digest {
            return Err(DistributionError::Transfer { registry: self.reference.registry.clone(), detail: format!(
                "blob {digest} from {}: {n} bytes hashing to {got}, expected {size} bytes hashing to {digest}; nothing was written",
                self.reference.registry
            ) });
        }
        Ok(n)
    }

    /// Pull the reference (by digest) into the archive `out`, verified.
    pub fn pull(&mut self, out: &Path) -> Result<PullReport, DistributionError> {
        let digest = self.reference.digest.clone().ok_or_else(|| {
            DistributionError::Reference { reference: self.reference.to_string(), detail: format!(
                "{}: pull by digest (REGISTRY/REPOSITORY@sha256:...), so that what arrives is what was meant",
                self.reference
            ) }
        })?;
        let scope = self.pull_scope();
        let path = self.repo_path(&format!("manifests/{digest}"));
        let resp = self.send("GET", &path, &[("Accept", ACCEPT.into())], None, &scope)?;
        let mut resp = self.check(resp, &format!("manifest {digest}"))?;
        let manifest_bytes = resp
            .body_mut()
            .with_config()
            .limit(4 << 20)
            .read_to_vec()
            .map_err(|e| DistributionError::Transfer {
                registry: self.reference.registry.clone(),
                detail: format!("reading manifest {digest}: {e}"),
            })?;
        let got = ampel_images::sha256_digest(&manifest_bytes);
        if got != digest {
            return Err(DistributionError::Transfer {
                registry: self.reference.registry.clone(),
                detail: format!(
                "registry {} sent a manifest hashing to {got} for {digest}; nothing was written",
                self.reference.registry
            ),
            });
        }
        let manifest: oci_spec::image::ImageManifest = serde_json::from_slice(&manifest_bytes)
            .map_err(|e| DistributionError::Transfer {
                registry: self.reference.registry.clone(),
                detail: format!("manifest {digest} is not an OCI image manifest: {e}"),
            })?;
        let parent = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| DistributionError::Io {
            path: parent.into(),
            source: e,
        })?;
        let stage = tempfile::Builder::new()
            .prefix(".ampel-pull-")
            .tempdir_in(parent)
            .map_err(|e| DistributionError::Io {
                path: parent.into(),
                source: e,
            })?;
        let layout = stage.path().join("layout");
        let blobs = layout.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).map_err(|e| DistributionError::Io {
            path: blobs.clone(),
            source: e,
        })?;
        let mut bytes = manifest_bytes.len() as u64;
        for d in std::iter::once(manifest.config()).chain(manifest.layers()) {
            let dg = d.digest().to_string();
            bytes +=
                self.fetch_blob(&dg, d.size(), &blobs.join(dg.trim_start_matches("sha256:")))?;
        }
        std::fs::write(
            blobs.join(digest.trim_start_matches("sha256:")),
            &manifest_bytes,
        )
        .map_err(|e| DistributionError::Io {
            path: blobs.clone(),
            source: e,
        })?;
        // name and tag as the builder wrote them, so the archive is the one pushed
        let ann = manifest.annotations().clone().unwrap_or_default();
        let (name, tag) = match (
            ann.get("org.opencontainers.image.title"),
            ann.get("org.opencontainers.image.version"),
        ) {
            (Some(t), Some(v)) => (format!("ampel/{t}"), v.clone()),
            _ => (
                self.reference.repository.clone(),
                self.reference
                    .tag
                    .clone()
                    .unwrap_or_else(|| "pulled".into()),
            ),
        };
        ampel_images::layout::write_index(
            &layout,
            &digest,
            manifest_bytes.len() as u64,
            manifest.config().digest().as_ref(),
            &manifest
                .layers()
                .iter()
                .map(|l| l.digest().to_string())
                .collect::<Vec<_>>(),
            &name,
            &tag,
        )?;
        let tmp_archive = stage.path().join("image.tar");
        ampel_images::archive::pack(&layout, &tmp_archive)?;
        let verified = verify(&ArchiveLayout::open(&tmp_archive)?)?;
        let config_digest = verified
            .first()
            .map(|v| v.config_digest.clone())
            .unwrap_or_default();
        std::fs::rename(&tmp_archive, out).map_err(|e| DistributionError::Io {
            path: out.into(),
            source: e,
        })?;
        Ok(PullReport {
            reference: self.reference.to_string(),
            archive: out.to_path_buf(),
            manifest_digest: digest,
            config_digest,
            bytes,
        })
    }
}

fn location_of(resp: &Resp) -> Option<String> {
    resp.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn location(resp: &Resp) -> Result<String, DistributionError> {
    location_of(resp).ok_or_else(|| DistributionError::Request {
        detail: "the registry sent no upload location".into(),
    })
}

/// A pulled image in the cache, by manifest digest: pulled (and verified) once.
pub fn cached_pull(
    reference: &Reference,
    cache: &Path,
    insecure: bool,
    progress: bool,
) -> Result<PathBuf, DistributionError> {
    let digest = reference
        .digest
        .as_deref()
        .ok_or_else(|| DistributionError::Reference {
            reference: reference.to_string(),
            detail: format!(
                "{reference}: run registry images by digest (REGISTRY/REPOSITORY@sha256:...)"
            ),
        })?;
    let dir = cache.join("pulled");
    let path = dir.join(format!("{}.tar", digest.trim_start_matches("sha256:")));
    if path.is_file() {
        return Ok(path);
    }
    Client::new(reference, insecure, progress).pull(&path)?;
    Ok(path)
}
