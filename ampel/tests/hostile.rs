//! Hostile images: the real demo image plus one crafted layer whose digests, sizes
//! and diff id are all consistent, so only the content rules can catch it. `image
//! verify`, `inspect` and `run` (every runtime verifies first; extraction checks the
//! rules again, tested in `ampel-images`) must refuse each, naming the layer and the
//! entry, and nothing may appear outside the output directory.

mod support;

use ampel_images::layer::Layer;
use ampel_images::layout::{write_layout, ImageSpec};
use ampel_images::rules::{raw_tar, RawEntry};
use std::io::Write;
use std::path::Path;
use support::*;

/// The demo image with `extra` (a tar stream) as a fourth layer, as an archive.
fn with_layer(demo: &Path, extra: &[u8], out: &Path) -> String {
    let layout = ampel_images::archive::ArchiveLayout::open(demo).unwrap();
    let v = ampel_images::verify::verify(&layout).unwrap().remove(0);
    let mut layers: Vec<Layer> = v
        .layers
        .iter()
        .zip(&v.diff_ids)
        .map(|(digest, diff_id)| Layer {
            diff_id: diff_id.clone(),
            digest: digest.clone(),
            blob: layout.files()[&format!("blobs/sha256/{}", &digest[7..])].clone(),
        })
        .collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(extra).unwrap();
    let blob = gz.finish().unwrap();
    let digest = ampel_images::sha256_digest(&blob);
    layers.push(Layer {
        diff_id: ampel_images::sha256_digest(extra),
        digest: digest.clone(),
        blob,
    });
    let dir = tempfile::tempdir().unwrap();
    let mut history = v.history.clone();
    history.push("an attacker".into());
    write_layout(
        dir.path(),
        &ImageSpec {
            name: "ampel/ztf-demo".into(),
            tag: "evil".into(),
            config: v.runtime.clone().unwrap(),
            layers,
            annotations: v.annotations.clone(),
            created: v.created.clone().unwrap(),
            history,
        },
    )
    .unwrap();
    ampel_images::archive::pack(dir.path(), out).unwrap();
    digest
}

fn entry<'a>(name: &'a str, kind: tar::EntryType, mode: u32, link: &'a str) -> RawEntry<'a> {
    RawEntry {
        name,
        kind,
        mode,
        link,
        data: if kind == tar::EntryType::Regular {
            b"pwned\n"
        } else {
            b""
        },
    }
}

#[test]
fn images_whose_layers_escape_the_root_are_refused_by_verify_inspect_and_run() {
    let (demo, _) = demo_image();
    let dir = tempfile::tempdir().unwrap();
    // a host path the absolute and `..` entries aim at; it must never appear
    let target = dir.path().join("escaped");
    let abs = format!("{}/pwned", target.display());
    let up = format!("../../../../../../../..{}/pwned2", target.display());
    use tar::EntryType::*;
    let cases = [
        (entry(&abs[1..], Regular, 0o644, ""), "(control: relative)"),
        (entry(&abs, Regular, 0o644, ""), "the path is absolute"),
        (entry(&up, Regular, 0o644, ""), "`..` component"),
        (
            entry("usr/evil", Symlink, 0o777, "/etc"),
            "absolute path `/etc`",
        ),
        (
            entry("usr/up", Symlink, 0o777, "../../../x"),
            "outside the root",
        ),
        (entry("dev/sda", Block, 0o600, ""), "a device node"),
        (entry("usr/local/bin/su", Regular, 0o4755, ""), "setuid"),
    ];
    for (i, (e, why)) in cases.iter().enumerate() {
        let archive = dir.path().join(format!("evil{i}.tar"));
        let layer = with_layer(demo, &raw_tar(std::slice::from_ref(e)), &archive);
        let a = archive.to_str().unwrap();
        if i == 0 {
            // a harmless extra layer verifies: the crafting itself is sound
            let out = ampel(&["image", "verify", a], dir.path());
            assert!(out.status.success(), "{}", text(&out.stderr));
            continue;
        }
        let out_dir = dir.path().join(format!("out{i}"));
        for args in [
            vec!["image", "verify", a],
            vec!["image", "inspect", a],
            vec![
                "image",
                "run",
                a,
                "--runtime",
                "native",
                "--out",
                out_dir.to_str().unwrap(),
                "--",
                "--version",
            ],
        ] {
            let out = ampel(&args, dir.path());
            let err = text(&out.stderr);
            assert!(!out.status.success(), "{args:?} accepted {}", e.name);
            assert!(
                err.contains(&layer) && err.contains(e.name) && err.contains(why),
                "{args:?} on {}: {err}",
                e.name
            );
        }
        assert!(!target.exists(), "{} escaped to the host", e.name);
    }
}
