//! Tests for unit crates on real alerts, in the unit crate's own `cargo test`.
//!
//! A [`TestKit`] holds the survey units (ZTF and Rubin suppliers, shapers, the ZTF
//! muxer and combiner) and the units of the crate under test. It reads alert files
//! as a filter sees them ([`TestKit::ztf_alerts`]) and runs an instance manifest's
//! archival job over alert files on a fresh embedded store ([`TestKit::run`]):
//! T0, T2 until no ticket is left, each T3 once, exactly as an instance image
//! runs it, and gives back the documents made.
//!
//! ```no_run
//! let kit = ampel_testkit::TestKit::new(|r| my_units::register(r)).unwrap();
//! let alerts = kit.ztf_alerts(&["tests/alerts"]).unwrap();
//! # mod my_units { pub fn register(_: &mut ampel_interface::Registry) -> Result<(), ampel_interface::RegistryError> { Ok(()) } }
//! ```

use ampel_core::job::{run_plan, JobReport, TaskReport};
use ampel_core::t0::T0Stats;
use ampel_interface::{
    AlertSupplier, AmpelAlert, Registry, RegistryError, T2Document, T3Document, Unit,
};
use ampel_store::{Store, T2Filter};
use std::path::{Path, PathBuf};

/// Why a test set-up failed.
#[derive(Debug, thiserror::Error)]
pub enum KitError {
    /// The units could not be registered (a name taken twice, ...).
    #[error("registering units: {0}")]
    Registry(#[from] RegistryError),
    /// An input could not be read.
    #[error("{0}")]
    Input(String),
    /// The manifest or the run failed.
    #[error("{0}")]
    Run(String),
}

/// The survey units and the units under test.
pub struct TestKit {
    registry: Registry,
}

/// What [`TestKit::run`] made.
#[derive(Debug)]
pub struct Run {
    /// The job's report: per-task counts and the results digest.
    pub report: JobReport,
    /// Every T2 document.
    pub t2: Vec<T2Document>,
    /// Every T3 document.
    pub t3: Vec<T3Document>,
}

impl Run {
    /// The T2 documents of one unit.
    pub fn t2_of(&self, unit: &str) -> Vec<&T2Document> {
        self.t2.iter().filter(|d| d.unit == unit).collect()
    }

    /// The T0 counts (alerts read, accepted and rejected per channel, ...).
    pub fn t0(&self) -> Option<&T0Stats> {
        self.report.tasks.iter().find_map(|t| match t {
            TaskReport::T0(s) => Some(s),
            _ => None,
        })
    }

    /// Alerts a channel accepted.
    pub fn accepted(&self, channel: &str) -> usize {
        self.t0()
            .and_then(|s| s.accepted.get(channel))
            .copied()
            .unwrap_or(0)
    }
}

/// The head of a manifest for tests on ZTF alerts: `[instance]`, a `[[crate]]`
/// declaring the ZTF units and `units` (the crate's, by name), and a `[t0]` with
/// the ZTF supplier, shaper, muxer and combiner. Add `[[channel]]` tables after it.
/// (Crate sources are not read when the kit runs a manifest: the kit's binary
/// holds the units.)
pub fn ztf_manifest_head(units: &[&str]) -> String {
    let quoted: Vec<String> = units.iter().map(|u| format!("\"{u}\"")).collect();
    format!(
        "[instance]\nname = \"test\"\nversion = \"0.0.0\"\n\n\
         [[crate]]\nname = \"ampel-units-ztf\"\npath = \".\"\n\
         units = [\"ZiAlertSupplier\", \"ZiDataPointShaper\", \"ZiMuxer\", \"ZiT1Combiner\"]\n\n\
         [[crate]]\nname = \"under-test\"\npath = \".\"\nunits = [{}]\n\n\
         [t0]\nsupplier = {{ unit = \"ZiAlertSupplier\" }}\nshaper = {{ unit = \"ZiDataPointShaper\" }}\n\
         muxer = {{ unit = \"ZiMuxer\" }}\ncombiner = {{ unit = \"ZiT1Combiner\" }}\n",
        quoted.join(", ")
    )
}

impl TestKit {
    /// The ZTF and Rubin units plus those `register` adds.
    pub fn new(
        register: impl FnOnce(&mut Registry) -> Result<(), RegistryError>,
    ) -> Result<Self, KitError> {
        let mut registry = Registry::new();
        ampel_units_ztf::register(&mut registry)?;
        ampel_units_lsst::register(&mut registry)?;
        register(&mut registry)?;
        Ok(TestKit { registry })
    }

    /// The registry: survey units and the units under test.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Every ZTF alert in `inputs` (files, directories, tar archives), as the
    /// ZTF supplier gives it to filters, in reading order. A damaged input fails.
    pub fn ztf_alerts(&self, inputs: &[impl AsRef<Path>]) -> Result<Vec<AmpelAlert>, KitError> {
        let supplier = ampel_units_ztf::ZiAlertSupplier::new(Default::default())
            .map_err(|e| KitError::Input(e.to_string()))?;
        let paths: Vec<PathBuf> = inputs.iter().map(|p| p.as_ref().to_path_buf()).collect();
        let problems = ampel_avro::missing_sources(&paths);
        if !problems.is_empty() {
            return Err(KitError::Input(problems.join("\n")));
        }
        let opts = ampel_avro::ReadOptions {
            json: true,
            ..Default::default()
        };
        let mut out = Vec::new();
        let mut failed = None;
        ampel_avro::input::walk(&paths, &opts, &mut |item| {
            let got = match item {
                ampel_avro::Item::Packet(p) => match p.payload {
                    ampel_avro::Payload::Json(body) => supplier
                        .supply(body)
                        .map_err(|e| format!("{}: {e}", p.origin)),
                    ampel_avro::Payload::Avro(_) => {
                        Err(format!("{}: not decoded as JSON", p.origin))
                    }
                },
                ampel_avro::Item::Damaged(d) => Err(d.to_string()),
            };
            match got {
                Ok(a) => {
                    out.push(a);
                    true
                }
                Err(e) => {
                    failed = Some(e);
                    false
                }
            }
        });
        match failed {
            Some(e) => Err(KitError::Input(e)),
            None => Ok(out),
        }
    }

    /// Run the archival job of `manifest` (the TOML text of an instance manifest
    /// using the kit's units) over `inputs` on a fresh embedded store: T0 over the
    /// inputs, T2 until no ticket is left, each T3 process once.
    pub fn run(&self, manifest: &str, inputs: &[impl AsRef<Path>]) -> Result<Run, KitError> {
        let dir = tempfile::tempdir().map_err(|e| KitError::Run(e.to_string()))?;
        let path = dir.path().join("manifest.toml");
        std::fs::write(&path, manifest).map_err(|e| KitError::Run(e.to_string()))?;
        let cfg = ampel_manifest::load_for_binary(&path, &self.registry)
            .map_err(|e| KitError::Run(e.to_string()))?;
        let store = ampel_store_sqlite::SqliteStore::open(dir.path().join("ampel.db"))
            .map_err(|e| KitError::Run(e.to_string()))?;
        let paths: Vec<PathBuf> = inputs.iter().map(|p| p.as_ref().to_path_buf()).collect();
        let report = run_plan(
            &cfg.name,
            &cfg.archive_plan(&paths),
            &self.registry,
            &store,
            &dir.path().join("out"),
            &ampel_core::Silent,
        )
        .map_err(|e| KitError::Run(e.to_string()))?;
        let t2 = store
            .find_t2(&T2Filter::default())
            .map_err(|e| KitError::Run(e.to_string()))?;
        let t3 = store
            .find_t3(None)
            .map_err(|e| KitError::Run(e.to_string()))?;
        Ok(Run { report, t2, t3 })
    }
}
