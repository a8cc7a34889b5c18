//! Images written here are accepted by real tools (skopeo, umoci from Debian), are
//! byte-for-byte reproducible, and tampering is detected.

use ampel_images::archive::{pack, unpack};
use ampel_images::layer::{build_layer, LayerFile};
use ampel_images::layout::{blob_path, runtime_config, write_layout, ImageSpec, WrittenImage};
use ampel_images::verify::verify_layout;
use ampel_images::ImageError;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

fn spec() -> ImageSpec {
    let files = vec![
        LayerFile {
            path: "usr/local/bin/hello".into(),
            mode: 0o755,
            data: b"#!hello\n".to_vec(),
        },
        LayerFile {
            path: "etc/ampel/instance.toml".into(),
            mode: 0o644,
            data: b"name = \"demo\"\n".to_vec(),
        },
    ];
    let labels = BTreeMap::from([
        ("b".to_string(), "2".to_string()),
        ("a".to_string(), "1".to_string()),
    ]);
    let annotations = BTreeMap::from([
        (
            "org.opencontainers.image.title".to_string(),
            "demo".to_string(),
        ),
        (
            "org.opencontainers.image.version".to_string(),
            "1.0.0".to_string(),
        ),
        (
            "org.opencontainers.image.created".to_string(),
            ampel_images::FIXED_CREATED.to_string(),
        ),
    ]);
    ImageSpec {
        name: "ampel/demo".into(),
        tag: "1.0.0".into(),
        config: runtime_config("65532:65532", &["/usr/local/bin/hello"], &labels).unwrap(),
        layers: vec![build_layer(&files).unwrap()],
        annotations,
        created: ampel_images::FIXED_CREATED.to_string(),
        history: vec!["test: files".to_string()],
    }
}

fn tool(name: &str) -> Command {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .unwrap();
    assert!(
        found.status.success(),
        "{name} is required for this test: apt-get install {name}"
    );
    Command::new(name)
}

fn write(dir: &Path) -> WrittenImage {
    write_layout(dir, &spec()).unwrap()
}

#[test]
fn same_inputs_same_digests_and_archive_bytes() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    assert_eq!(write(a.path()), write(b.path()));
    let (fa, fb) = (a.path().join("x.tar"), b.path().join("y.tar"));
    pack(a.path(), &fa).unwrap();
    pack(b.path(), &fb).unwrap();
    assert_eq!(std::fs::read(&fa).unwrap(), std::fs::read(&fb).unwrap());
    let verified = verify_layout(a.path()).unwrap();
    assert_eq!(verified[0].ref_name.as_deref(), Some("1.0.0"));
    assert_eq!(
        verified[0].annotations["org.opencontainers.image.title"],
        "demo"
    );
    let index = std::fs::read_to_string(a.path().join("index.json")).unwrap();
    assert!(
        index.find("io.containerd").unwrap() < index.find("org.opencontainers").unwrap(),
        "sorted keys: {index}"
    );
}

#[test]
fn tampered_or_truncated_blobs_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let img = write(dir.path());
    let layer = verify_layout(dir.path()).unwrap()[0].layers[0].clone();
    let path = blob_path(dir.path(), &layer);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let e = verify_layout(dir.path()).unwrap_err();
    assert!(
        matches!(&e, ImageError::BadBlob { digest, .. } if *digest == layer),
        "{e}"
    );
    assert!(e.to_string().contains("content hashes to sha256:"), "{e}");
    std::fs::write(&path, &bytes[..10]).unwrap();
    assert!(verify_layout(dir.path())
        .unwrap_err()
        .to_string()
        .contains("size is 10 bytes"));
    bytes[last] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    verify_layout(dir.path()).expect("restored layer verifies again");
    std::fs::remove_file(blob_path(dir.path(), &img.config_digest)).unwrap();
    let e = verify_layout(dir.path()).unwrap_err();
    assert!(
        e.to_string().contains(&img.config_digest) && e.to_string().contains("cannot read"),
        "{e}"
    );
}

#[test]
fn skopeo_reports_the_same_digest_for_layout_and_archive() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    let img = write(&layout);
    let archive = dir.path().join("demo.tar");
    pack(&layout, &archive).unwrap();
    for reference in [
        format!("oci:{}:1.0.0", layout.display()),
        format!("oci-archive:{}:1.0.0", archive.display()),
    ] {
        let out = tool("skopeo")
            .args(["inspect", &reference])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "skopeo inspect {reference}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["Digest"], img.manifest_digest.as_str(), "{reference}");
        assert_eq!(v["Architecture"], "amd64");
        assert_eq!(v["Labels"]["a"], "1");
    }
    let back = dir.path().join("unpacked");
    unpack(&archive, &back).unwrap();
    assert_eq!(
        verify_layout(&back).unwrap()[0].manifest_digest,
        img.manifest_digest
    );
}

#[test]
fn umoci_unpacks_the_rootfs_and_config() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    write(&layout);
    let bundle = dir.path().join("bundle");
    let out = tool("umoci")
        .args([
            "unpack",
            "--image",
            &format!("{}:1.0.0", layout.display()),
            &bundle.display().to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "umoci unpack: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hello = std::fs::read(bundle.join("rootfs/usr/local/bin/hello")).unwrap();
    assert_eq!(hello, b"#!hello\n");
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["process"]["user"]["uid"], 65532);
    assert_eq!(config["process"]["args"][0], "/usr/local/bin/hello");
}
