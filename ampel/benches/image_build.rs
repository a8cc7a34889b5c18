//! Benchmark of `ampel image build` on the ZTF demo manifest: a cold build (empty
//! cache: every crate compiled), a warm rebuild after a configuration-only change
//! (a filter threshold: nothing compiled), a rebuild with no change, and the sizes.
//!
//! Run: `cargo bench -p ampel-builder --bench image_build` (about 2 minutes).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn build(manifest: &Path, out: &Path, cache: &Path) -> (f64, serde_json::Value) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let started = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_ampel"))
        .args(["--json", "image", "build"])
        .arg(manifest)
        .arg("-o")
        .arg(out)
        .arg("--cache")
        .arg(cache)
        .current_dir(&repo)
        .output()
        .expect("run ampel");
    let secs = started.elapsed().as_secs_f64();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (secs, serde_json::from_slice(&o.stdout).unwrap())
}

fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let demo = repo.join("manifests/ztf-demo.toml");
    let variant = dir.path().join("ztf-demo.toml");
    std::fs::write(
        &variant,
        std::fs::read_to_string(&demo)
            .unwrap()
            .replace("min_rb = 0.3", "min_rb = 0.5")
            .replace(
                "path = \"../units/",
                &format!("path = \"{}/units/", repo.display()),
            ),
    )
    .unwrap();
    let (cold, r) = build(&demo, &dir.path().join("a.tar"), &cache);
    let (warm_cfg, r2) = build(&variant, &dir.path().join("b.tar"), &cache);
    let (warm_same, _) = build(&demo, &dir.path().join("c.tar"), &cache);
    assert_eq!(r["cached"], false);
    assert_eq!(r2["cached"], true);
    let binary = std::fs::metadata(
        cache
            .join("builds")
            .join(
                r["build_key"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("sha256:"),
            )
            .join("ampel"),
    )
    .unwrap()
    .len();
    println!("| measurement | value |");
    println!("|---|---:|");
    println!(
        "| cold build (empty cache, {} units) | {cold:.1} s |",
        r["units"].as_array().unwrap().len()
    );
    println!("| warm rebuild after a threshold change | {warm_cfg:.2} s |");
    println!("| rebuild without change | {warm_same:.2} s |");
    println!(
        "| image archive | {:.2} MB |",
        r["size"].as_f64().unwrap() / 1e6
    );
    println!(
        "| runtime binary (static, stripped) | {:.2} MB |",
        binary as f64 / 1e6
    );
}
