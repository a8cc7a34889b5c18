//! `ampel new`, end to end: a new instance (a workspace whose unit crate inherits
//! its package fields and dependencies from it, a manifest, real alerts, a CI
//! workflow) runs its own workflow's steps here: the unit's tests on the bundled
//! alerts, the image build, a first run recorded as `run.json`, and a rerun that
//! reproduces it; then a changed unit makes that workflow fail. Every unit kind's
//! scaffold passes its own tests.

mod support;
use std::path::Path;
use std::process::Command;
use support::{build_lock, shared_cache, text};

/// A shell whose `ampel` is the binary under test, with the shared caches.
fn sh(script: &str, dir: &Path) -> std::process::Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_ampel")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("sh")
        .args(["-c", script])
        .current_dir(dir)
        .env("PATH", path)
        .env("AMPEL_CACHE", shared_cache())
        .env("CARGO_TARGET_DIR", shared_cache().join("scaffold-target"))
        .env_remove("AMPEL_DB")
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .expect("run sh")
}

fn ok(script: &str, dir: &Path) -> String {
    let out = sh(script, dir);
    let (o, e) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "`{script}` failed:\n{o}\n{e}");
    o + &e
}

/// The `run:` lines of the workflow's steps, by step name.
fn workflow_steps(yml: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut name = String::new();
    for line in yml.lines() {
        let l = line.trim();
        if let Some(n) = l.strip_prefix("- name: ") {
            name = n.to_string();
        } else if let Some(r) = l.strip_prefix("run: ") {
            out.push((name.clone(), r.to_string()));
        }
    }
    out
}

#[test]
fn a_new_instance_passes_its_own_ci_and_fails_it_when_its_results_change() {
    let dir = tempfile::tempdir().unwrap();
    ok(
        "ampel new instance my-survey --unit T2PeakMag --kind state-t2",
        dir.path(),
    );
    let root = dir.path().join("my-survey");
    let unit = root.join("units/t2-peak-mag");
    for f in [
        "Cargo.toml",
        "my-survey.toml",
        "README.md",
        ".github/workflows/instance.yml",
        "alerts/README.md",
        "alerts/LICENSE.fink-broker",
        "units/t2-peak-mag/src/lib.rs",
        "units/t2-peak-mag/src/t2_peak_mag.rs",
        "units/t2-peak-mag/tests/real_alerts.rs",
    ] {
        assert!(root.join(f).is_file(), "{f}");
    }
    assert_eq!(
        std::fs::read_dir(root.join("alerts/ztf")).unwrap().count(),
        8
    );
    // the unit crate lives in the instance's own workspace and inherits from it
    let cargo = std::fs::read_to_string(unit.join("Cargo.toml")).unwrap();
    assert!(cargo.contains("version.workspace = true"), "{cargo}");
    assert!(
        cargo.contains("ampel-interface.workspace = true"),
        "{cargo}"
    );
    // a second run of the scaffold refuses to overwrite it
    let again = sh("ampel new instance my-survey", dir.path());
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("exists already"));

    let yml = std::fs::read_to_string(root.join(".github/workflows/instance.yml")).unwrap();
    let steps = workflow_steps(&yml);
    let step = |name: &str| -> String {
        steps
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no step {name:?} in {steps:?}"))
            .1
            .clone()
    };
    // the workflow's own steps (the first two clone and build AMPEL, which is
    // `ampel/` and the binary under test here)
    assert!(step("AMPEL at a pinned revision").starts_with("git clone "));
    let _g = build_lock();
    ok(&step("Test the units on real alerts"), &root);
    let built = ok(&step("Build the instance image"), &root);
    assert!(root.join("my-survey.tar").is_file(), "{built}");
    // the README's recording step, then the workflow's comparison
    let first = ok(
        "ampel reproduce my-survey.tar --inputs alerts/ztf --out first && cp first/run.json run.json",
        &root,
    );
    assert!(first.contains("RECORDED"), "{first}");
    assert!(
        first.contains("T2PeakMag 8"),
        "every object's state got a result: {first}"
    );
    let again = ok(&step("Reproduce the committed run record"), &root);
    assert!(again.contains("REPRODUCED"), "{again}");

    // a changed unit: the same workflow now fails and says so
    let src = unit.join("src/t2_peak_mag.rs");
    let code = std::fs::read_to_string(&src).unwrap();
    std::fs::write(&src, code.replace("max_mag: 23.0", "max_mag: 17.0")).unwrap();
    ok(&step("Build the instance image"), &root);
    let changed = sh(&step("Reproduce the committed run record"), &root);
    let all = text(&changed.stdout) + &text(&changed.stderr);
    assert!(!changed.status.success(), "{all}");
    assert!(all.contains("DIFFERENT"), "{all}");
    // without --any-image the record names the image it was made with
    let strict = sh(
        "ampel reproduce my-survey.tar --inputs alerts/ztf --expect run.json --out strict",
        &root,
    );
    assert!(!strict.status.success());
    assert!(text(&strict.stderr).contains("run.json was made with image"));
}

#[test]
fn every_unit_kind_scaffold_passes_its_tests_on_real_alerts() {
    let dir = tempfile::tempdir().unwrap();
    for (name, kind) in [
        ("MyFilter", "filter"),
        ("T2Flux", "point-t2"),
        ("T2Peak", "state-t2"),
        ("T2History", "stock-t2"),
        ("T3Summary", "t3"),
    ] {
        ok(&format!("ampel new unit {name} --kind {kind}"), dir.path());
    }
    // a stand-alone crate names the AMPEL crates itself
    let cargo = std::fs::read_to_string(dir.path().join("my-filter/Cargo.toml")).unwrap();
    assert!(cargo.contains("ampel-interface = { path = "), "{cargo}");
    for krate in [
        "my-filter",
        "t2-flux",
        "t2-peak",
        "t2-history",
        "t3-summary",
    ] {
        let out = ok("cargo test --test real_alerts", &dir.path().join(krate));
        // the test on real alerts ran at least one test, and all passed
        let result = out
            .lines()
            .find(|l| l.starts_with("test result:"))
            .unwrap_or_else(|| panic!("{krate}: no test result: {out}"));
        assert!(
            result.starts_with("test result: ok.")
                && !result.starts_with("test result: ok. 0 passed"),
            "{krate}: {result}"
        );
    }
    // out of tree, the AMPEL crates by a git line instead of a path (this
    // repository as the git remote): the crate's own tests run against them
    let rev = String::from_utf8(
        Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(support::repo())
            .output()
            .expect("git")
            .stdout,
    )
    .unwrap();
    let url = format!("file://{}", support::repo().display());
    ok(
        &format!(
            "ampel new unit T3ByGit --kind t3 --ampel-git {url} --ampel-rev {}",
            rev.trim()
        ),
        dir.path(),
    );
    let cargo = std::fs::read_to_string(dir.path().join("t3-by-git/Cargo.toml")).unwrap();
    assert!(
        cargo.contains(&format!("ampel-interface = {{ git = \"{url}\", rev = "))
            && !cargo.contains("path ="),
        "{cargo}"
    );
    let out = ok(
        "cargo test --test real_alerts",
        &dir.path().join("t3-by-git"),
    );
    assert!(out.contains("test result: ok. 1 passed"), "{out}");
    let bad = sh("ampel new unit t2-lower --kind t3", dir.path());
    assert!(!bad.status.success());
    assert!(text(&bad.stderr).contains("expected a CamelCase type name"));
}
