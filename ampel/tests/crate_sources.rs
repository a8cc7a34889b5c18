//! Where an instance's unit crates may come from, each built into an image: a
//! crate inside the user's own workspace (fields and dependencies inherited from
//! it), and a crate at a git revision that itself takes the AMPEL crates from git
//! (the instance builds them from this tree instead), reproducibly.

mod support;

use std::path::Path;
use std::process::Command;
use support::*;

#[test]
fn a_unit_crate_that_inherits_from_its_own_workspace_builds_into_an_instance() {
    let dir = tempfile::tempdir().unwrap();
    // the fixture crate as a member of the user's own workspace
    let ws = dir.path().join("my-units");
    let ext = ext_crate(&ws);
    std::fs::write(
        ws.join("Cargo.toml"),
        format!(
            r#"[workspace]
resolver = "2"
members = ["ext-units", "ext-helpers"]

[workspace.package]
version = "0.4.2"
edition = "2021"
license = "BSD-3-Clause"

[workspace.dependencies]
ampel-interface = {{ path = "{}" }}
serde = {{ version = "1", features = ["derive"] }}

[workspace.lints.rust]
unsafe_code = "forbid"
"#,
            repo().join("runtime/interface").display()
        ),
    )
    .unwrap();
    std::fs::write(
        ext.join("Cargo.toml"),
        format!(
            r#"[package]
name = "ampel-units-testext"
version.workspace = true
edition.workspace = true
license.workspace = true
publish = false

[dependencies]
ampel-interface.workspace = true
serde = {{ workspace = true }}
ext-helpers = {{ path = "../ext-helpers" }}

[build-dependencies]
ampel-unit-build = {{ path = "{}" }}

[lints]
workspace = true
"#,
            repo().join("runtime/unit-build").display()
        ),
    )
    .unwrap();
    // a sibling crate of the workspace, inheriting from it too, as a path dependency
    std::fs::create_dir_all(ws.join("ext-helpers/src")).unwrap();
    std::fs::write(
        ws.join("ext-helpers/Cargo.toml"),
        "[package]\nname = \"ext-helpers\"\nversion.workspace = true\nedition.workspace = true\n\
         license.workspace = true\npublish = false\n\n[dependencies]\nserde.workspace = true\n",
    )
    .unwrap();
    std::fs::write(
        ws.join("ext-helpers/src/lib.rs"),
        "//! A helper crate beside the unit crate.\n\n/// A constant.\npub const ANSWER: u8 = 42;\n",
    )
    .unwrap();
    let m = ext_manifest(
        dir.path(),
        &ext,
        r#""ExtThreshold""#,
        r#"filter = { unit = "ExtThreshold", config = { threshold = 0.5 } }"#,
    );
    let out = dir.path().join("ws.tar");
    let report = build(&m, &out, &shared_cache(), &repo());
    assert!(report["manifest_digest"].is_string(), "{report}");
    let info = ampel_json(&["image", "inspect", out.to_str().unwrap()], dir.path());
    let unit = unit_info(&info, "ExtThreshold");
    assert_eq!(unit["version"], "0.4.2", "the version the workspace gives");
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
    text(&out.stdout).trim().to_string()
}

#[test]
fn a_unit_crate_at_a_git_revision_taking_ampel_from_git_builds_with_this_tree() {
    let dir = tempfile::tempdir().unwrap();
    // the AMPEL crates by git URL: this repository (a git checkout in CI and here)
    let ampel_url = format!("file://{}", repo().display());
    assert!(
        repo().join(".git").exists(),
        "this test needs the repository as a git checkout"
    );
    let ext = ext_crate(&dir.path().join("remote"));
    let toml = std::fs::read_to_string(ext.join("Cargo.toml")).unwrap();
    let toml = toml
        .replace(
            &format!(
                "{{ path = \"{}\" }}",
                repo().join("runtime/interface").display()
            ),
            &format!("{{ git = \"{ampel_url}\" }}"),
        )
        .replace(
            &format!(
                "{{ path = \"{}\" }}",
                repo().join("runtime/unit-build").display()
            ),
            &format!("{{ git = \"{ampel_url}\" }}"),
        );
    assert!(!toml.contains("path ="), "{toml}");
    std::fs::write(ext.join("Cargo.toml"), toml).unwrap();
    git(&ext, &["init", "-q"]);
    git(&ext, &["add", "."]);
    git(&ext, &["commit", "-q", "-m", "units"]);
    let rev = git(&ext, &["rev-parse", "HEAD"]);
    let m = ext_manifest_from(
        dir.path(),
        "git-units",
        &format!("git = \"file://{}\"\nrev = \"{rev}\"", ext.display()),
        r#""ExtThreshold", "ExtCount""#,
        r#"filter = { unit = "ExtThreshold", config = { threshold = 0.0 } }
t2 = [{ unit = "ExtCount" }]"#,
    );
    let a = dir.path().join("a.tar");
    let report = build(&m, &a, &shared_cache(), &repo());
    assert!(report["manifest_digest"].is_string(), "{report}");
    // the binary's units come from the git crate, checked by the binary itself
    let info = ampel_json(&["image", "inspect", a.to_str().unwrap()], dir.path());
    let unit = unit_info(&info, "ExtCount");
    assert_eq!(unit["crate"], "ampel-units-testext");
    assert_eq!(unit["version"], "0.3.1");
    // the same revision again: the same image
    let b = dir.path().join("b.tar");
    let again = build(&m, &b, &shared_cache(), &repo());
    assert_eq!(again["manifest_digest"], report["manifest_digest"]);
    // and it runs: every accepted alert's state gets the git unit's result
    let out = ampel(
        &[
            "reproduce",
            a.to_str().unwrap(),
            "--inputs",
            real_alerts().join("ztf/fink-2019-v3.1").to_str().unwrap(),
            "--out",
            dir.path().join("run").to_str().unwrap(),
        ],
        dir.path(),
    );
    let all = text(&out.stdout) + &text(&out.stderr);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("ExtCount 31"), "{all}");
}
