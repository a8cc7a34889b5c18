//! Python for the tests that compare with it: Python AMPEL in the venv
//! `scripts/test` makes in `$AMPEL_TEST_TOOLS/pyampel-0.10.6a28` (ampel-core
//! 0.10.6a28, ampel-alerts 0.10.4a0, ampel-ztf 0.10.3a9, ampel-interface 0.10.5a12
//! on Python 3.11), the `light-curve` package in `lightcurve-0.13.3`, and pandas,
//! pyarrow, astropy, fastavro and cramjam in `notebook-1` (what a notebook reads
//! exports with; what re-writes alerts as brokers do). A missing
//! venv fails the test with the command that makes it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A file `scripts/test` installs below the tools directory; what it is for names
/// it when it is missing.
fn installed(rel: &str, what: &str) -> PathBuf {
    let p = crate::mongo::tools_dir().join(rel);
    assert!(
        p.exists(),
        "{what} is missing at {} (run `scripts/test --setup-only`)",
        p.display()
    );
    p
}

/// The Python AMPEL configuration `scripts/test` builds in the venv (`ampel config
/// build`).
pub fn pyampel_config() -> PathBuf {
    installed(
        "pyampel-0.10.6a28/ampel_conf.yaml",
        "the Python AMPEL configuration",
    )
}

/// The Python of the Python AMPEL venv.
pub fn pyampel_python() -> PathBuf {
    installed("pyampel-0.10.6a28/bin/python", "the Python AMPEL venv")
}

/// The Python of the venv with the `light-curve` package (0.13.3) and numpy.
pub fn lightcurve_python() -> PathBuf {
    installed("lightcurve-0.13.3/bin/python", "the light-curve venv")
}

/// The Python of the venv with pandas, pyarrow, astropy, fastavro and cramjam.
pub fn notebook_python() -> PathBuf {
    installed(
        "notebook-1/bin/python",
        "the notebook venv (pandas, pyarrow, astropy)",
    )
}

/// Run `script` (in the repository) with `python`, `input` as JSON on its stdin;
/// its stdout as JSON. A failing script fails the test with its stderr.
pub fn run_json(python: &Path, script: &str, input: &serde_json::Value) -> serde_json::Value {
    let mut child = Command::new(python)
        .arg(crate::repo_root().join(script))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes())
        .expect("write the job");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{script} printed no JSON ({e})"))
}
