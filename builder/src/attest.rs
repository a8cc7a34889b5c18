//! What an image says about itself: an SPDX 2.3 SBOM of every crate in the
//! resolved `Cargo.lock` (version, SHA-256 checksum, purl, declared license), and an
//! in-toto statement with an SLSA v1 provenance predicate (builder, manifest digest,
//! `Cargo.lock` digest, toolchain, source digests). Both are canonical JSON with no
//! wall-clock time in them: the same inputs give the same bytes.

use crate::compose::{BuiltBinary, GENERATOR_VERSION, TARGET};
use crate::manifest::Manifest;
use crate::BuildError;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// A package of `Cargo.lock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedPackage {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// `registry+…`, `git+…`, or `None` for path crates.
    pub source: Option<String>,
    /// SHA-256 of the `.crate` file (registry crates).
    pub checksum: Option<String>,
    /// Dependencies as written in the lock (`name` or `name version`).
    pub dependencies: Vec<String>,
}

/// Read the packages of a `Cargo.lock`.
pub fn locked_packages(lock: &str) -> Result<Vec<LockedPackage>, BuildError> {
    let v: toml::Value = toml::from_str(lock).map_err(|e| BuildError::CrateManifest {
        path: "Cargo.lock".into(),
        detail: format!("does not parse: {}", e.message()),
    })?;
    let s = |p: &toml::Value, k: &str| p.get(k).and_then(|x| x.as_str()).map(str::to_string);
    Ok(v.get("package")
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
        .map(|p| LockedPackage {
            name: s(p, "name").unwrap_or_default(),
            version: s(p, "version").unwrap_or_default(),
            source: s(p, "source"),
            checksum: s(p, "checksum"),
            dependencies: p
                .get("dependencies")
                .and_then(|d| d.as_array())
                .into_iter()
                .flatten()
                .filter_map(|d| d.as_str().map(str::to_string))
                .collect(),
        })
        .collect())
}

fn download_location(p: &LockedPackage) -> String {
    match &p.source {
        Some(s) if s.starts_with("registry+") => format!(
            "https://crates.io/api/v1/crates/{}/{}/download",
            p.name, p.version
        ),
        Some(s) if s.starts_with("git+") => s.clone(),
        _ => "NOASSERTION".into(),
    }
}

/// The SPDX 2.3 SBOM of an instance image.
pub fn sbom(m: &Manifest, built: &BuiltBinary, created: &str) -> Result<Value, BuildError> {
    let packages = locked_packages(&built.lock)?;
    let lock_digest = ampel_images::sha256_digest(built.lock.as_bytes());
    let id_of: BTreeMap<(String, String), String> = packages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            (
                (p.name.clone(), p.version.clone()),
                format!("SPDXRef-Package-{}", i + 1),
            )
        })
        .collect();
    let mut instance = json!({
        "SPDXID": "SPDXRef-Instance",
        "name": m.config.name,
        "versionInfo": m.config.version,
        "downloadLocation": m.config.source.clone().unwrap_or_else(|| "NOASSERTION".into()),
        "filesAnalyzed": false,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "primaryPackagePurpose": "CONTAINER",
        "supplier": "NOASSERTION",
    });
    if let Some(l) = crate::license::instance_license(&built.licenses) {
        instance["licenseConcluded"] = json!(l);
        instance["comment"] = json!(format!(
            "the instance binary links copyleft crates, so it is a work under {l} as a whole: {}",
            crate::license::copyleft_list(&built.licenses)
        ));
    }
    let mut spdx_packages = vec![instance];
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": "SPDXRef-Instance",
    })];
    for p in &packages {
        let id = &id_of[&(p.name.clone(), p.version.clone())];
        let license = built
            .licenses
            .get(&format!("{}@{}", p.name, p.version))
            .cloned()
            .unwrap_or_else(|| "NOASSERTION".into());
        let mut pkg = json!({
            "SPDXID": id,
            "name": p.name,
            "versionInfo": p.version,
            "downloadLocation": download_location(p),
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": license,
            "copyrightText": "NOASSERTION",
            "supplier": "NOASSERTION",
            "externalRefs": [{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": format!("pkg:cargo/{}@{}", p.name, p.version),
            }],
        });
        if let Some(c) = &p.checksum {
            pkg["checksums"] = json!([{"algorithm": "SHA256", "checksumValue": c}]);
        } else if let Some(d) = built.sources.get(&format!("{}@{}", p.name, p.version)) {
            // path crates: the content digest the build key uses
            pkg["comment"] = json!(format!("path crate; source tree digest {d}"));
        }
        spdx_packages.push(pkg);
        let root = p.name == "ampel-instance";
        if root {
            relationships.push(json!({
                "spdxElementId": "SPDXRef-Instance",
                "relationshipType": "CONTAINS",
                "relatedSpdxElement": id,
            }));
        }
        for d in &p.dependencies {
            let mut parts = d.split(' ');
            let name = parts.next().unwrap_or_default().to_string();
            let version = parts.next().map(str::to_string).or_else(|| {
                packages
                    .iter()
                    .find(|q| q.name == name)
                    .map(|q| q.version.clone())
            });
            if let Some(dep) = version.and_then(|v| id_of.get(&(name, v))) {
                relationships.push(json!({
                    "spdxElementId": id,
                    "relationshipType": "DEPENDS_ON",
                    "relatedSpdxElement": dep,
                }));
            }
        }
    }
    Ok(json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("{}-{}", m.config.name, m.config.version),
        "documentNamespace": format!(
            "https://spdx.org/spdxdocs/ampel-instance/{}-{}-{}",
            m.config.name,
            m.config.version,
            &lock_digest.trim_start_matches("sha256:")[..16]
        ),
        "creationInfo": {
            "created": created,
            "creators": [format!("Tool: ampel-image-build-{}", env!("CARGO_PKG_VERSION"))],
        },
        "packages": spdx_packages,
        "relationships": relationships,
    }))
}

fn sha(digest: &str) -> Value {
    json!({"sha256": digest.trim_start_matches("sha256:")})
}

/// The in-toto statement (SLSA v1 provenance) of an instance image; `subjects` are
/// the files it describes, by path and digest.
pub fn provenance(
    m: &Manifest,
    built: &BuiltBinary,
    subjects: &[(String, String)],
    revision: &str,
) -> Value {
    let manifest_name = m
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut deps = vec![
        json!({"name": "Cargo.lock", "digest": sha(&ampel_images::sha256_digest(built.lock.as_bytes()))}),
        json!({"name": "rustc", "annotations": {"version": built.rustc.trim()}}),
        json!({"name": "cargo", "annotations": {"version": built.cargo.trim()}}),
    ];
    for (name, digest) in &built.sources {
        deps.push(json!({"name": format!("path:{name}"), "digest": sha(digest)}));
    }
    json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": subjects
            .iter()
            .map(|(name, digest)| json!({"name": name, "digest": sha(digest)}))
            .collect::<Vec<_>>(),
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": format!("https://github.com/AmpelProject/ampel-rs/instance-build/v{GENERATOR_VERSION}"),
                "externalParameters": {
                    "manifest": {"name": manifest_name, "digest": sha(&m.digest)},
                    "instance": {"name": m.config.name, "version": m.config.version},
                    "revision": revision,
                },
                "internalParameters": {
                    "target": TARGET,
                    "flags": built.flags,
                    "buildKey": built.key,
                },
                "resolvedDependencies": deps,
            },
            "runDetails": {
                "builder": {
                    "id": format!("https://github.com/AmpelProject/ampel-rs/builder@{}", env!("CARGO_PKG_VERSION")),
                },
                "metadata": {"invocationId": built.key},
            },
        },
    })
}
