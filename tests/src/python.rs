//! Python for the tests that compare with it: Python AMPEL in the venv
//! `scripts/test` makes in `$AMPEL_TEST_TOOLS/pyampel-0.10.6a28` (ampel-core
//! 0.10.6a28, ampel-alerts 0.10.4a0, ampel-ztf 0.10.3a9, ampel-interface 0.10.5a12
//! on Python 3.11), and the `light-curve` package in `lightcurve-0.13.3`. A missing
//! venv fails the test with the command that makes it.

use std::path::PathBuf;

/// The Python AMPEL configuration `scripts/test` builds in the venv (`ampel config
/// build`).
pub fn pyampel_config() -> PathBuf {
    let p = crate::mongo::tools_dir().join("pyampel-0.10.6a28/ampel_conf.yaml");
    assert!(
        p.exists(),
        "the Python AMPEL tests need its configuration at {} (run `scripts/test --setup-only`)",
        p.display()
    );
    p
}

/// The Python of the Python AMPEL venv.
pub fn pyampel_python() -> PathBuf {
    let p = crate::mongo::tools_dir().join("pyampel-0.10.6a28/bin/python");
    assert!(
        p.exists(),
        "the Python AMPEL tests need the venv at {} (run `scripts/test --setup-only`)",
        p.display()
    );
    p
}

/// The Python of the venv with the `light-curve` package (0.13.3) and numpy.
pub fn lightcurve_python() -> PathBuf {
    let p = crate::mongo::tools_dir().join("lightcurve-0.13.3/bin/python");
    assert!(
        p.exists(),
        "the feature tests need the light-curve venv at {} (run `scripts/test --setup-only`)",
        p.display()
    );
    p
}
