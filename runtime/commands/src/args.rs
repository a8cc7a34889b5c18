//! The options every runtime command takes (store, output format), and reading
//! JSON given on the command line.

use crate::output::CommandError;
use crate::uri::DEFAULT_DB;
use ampel_core::ClockMode;
use clap::{Args, ValueEnum};
use serde_json::Value;

/// Options every runtime command takes.
#[derive(Debug, Clone, Args)]
pub struct RuntimeArgs {
    /// Store to use: `sqlite:PATH` (embedded, default), `mongodb://[user:pw@]HOST[:PORT]/[PREFIX]`,
    /// or `secret:NAME` (a URI kept in AMPEL_SECRET_NAME or the AMPEL_SECRETS_FILE JSON).
    #[arg(long, global = true, env = "AMPEL_DB", default_value = DEFAULT_DB)]
    pub db: String,
    /// Print JSON instead of tables (for scripts).
    #[arg(long, global = true)]
    pub json: bool,
    /// Clock rule: `archive` takes time from the data (alert times in T0, ingestion
    /// times in T2, the store's latest update in T3: reruns give identical
    /// documents), `live` the wall clock. Default: archive for t0, t2, t3, job and
    /// instance run; live for serve, instance serve and kafka consume.
    #[arg(long, global = true, env = "AMPEL_CLOCK", value_enum)]
    pub clock: Option<ClockArg>,
}

/// `--clock` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClockArg {
    /// Time from the data.
    #[value(alias = "data")]
    Archive,
    /// Wall time.
    #[value(alias = "wall")]
    Live,
}

impl RuntimeArgs {
    /// The clock rule chosen, or the command's `default`.
    pub fn clock_mode(&self, default: ClockMode) -> ClockMode {
        match self.clock {
            Some(ClockArg::Archive) => ClockMode::Archive,
            Some(ClockArg::Live) => ClockMode::Live,
            None => default,
        }
    }

    /// For commands that only reprocess archives: `--clock live` is refused.
    pub(crate) fn archive_only(&self, command: &str) -> Result<(), CommandError> {
        if self.clock == Some(ClockArg::Live) {
            return Err(CommandError::Usage(format!(
                "{command} reprocesses archives and runs on the data's clock; --clock live is for serve and kafka consume"
            )));
        }
        Ok(())
    }
}

/// Parse JSON given inline or as `@FILE`; `what` names it in errors.
pub(crate) fn parse_json(what: &str, text: &str) -> Result<Value, CommandError> {
    let (source, text) = match text.strip_prefix('@') {
        Some(path) => (
            path.to_string(),
            std::fs::read_to_string(path)
                .map_err(|e| CommandError::Usage(format!("cannot read {what} file {path}: {e}")))?,
        ),
        None => ("the command line".to_string(), text.to_string()),
    };
    serde_json::from_str(&text).map_err(|e| {
        CommandError::Usage(format!(
            "{what} from {source} is not valid JSON: {e} (line {}, column {})",
            e.line(),
            e.column()
        ))
    })
}

/// A stock given by id or by an object name a registered id mapper knows
/// (`Registry::stock_of`).
pub(crate) fn stock_of(registry: &ampel_interface::Registry, s: &str) -> Result<i64, CommandError> {
    registry.stock_of(s).ok_or_else(|| {
        CommandError::Usage(format!(
            "`{s}` is neither a stock id nor an object name this binary's id mappers know"
        ))
    })
}

/// Where a T0 process comes from: an instance manifest (its channels), or a T0
/// process as `ampel manifest expand --part t0` prints it.
#[derive(Debug, Clone, Args)]
pub struct T0Source {
    /// The instance manifest whose T0 process runs (every channel).
    #[arg(long, required_unless_present = "config", conflicts_with = "config")]
    pub manifest: Option<std::path::PathBuf>,
    /// Or an expanded T0 process (JSON or TOML), as `ampel manifest expand --part t0`
    /// prints it.
    #[arg(long)]
    pub config: Option<std::path::PathBuf>,
}

impl T0Source {
    /// The T0 process, unchecked (the command checks it with its sources).
    pub fn load(
        &self,
        registry: &ampel_interface::Registry,
    ) -> Result<ampel_core::t0::T0Config, CommandError> {
        match (&self.manifest, &self.config) {
            (Some(m), _) => Ok(manifest(registry, m)?.t0),
            (None, Some(c)) => {
                ampel_core::job::load_t0_config(c).map_err(|e| CommandError::Usage(e.to_string()))
            }
            (None, None) => Err(CommandError::Usage(
                "give --manifest FILE (an instance manifest) or --config FILE".into(),
            )),
        }
    }
}

/// An instance manifest run by this binary: every unit must be in it.
pub fn manifest(
    registry: &ampel_interface::Registry,
    path: &std::path::Path,
) -> Result<ampel_core::instance::InstanceConfig, CommandError> {
    ampel_manifest::load_for_binary(path, registry).map_err(|e| match e {
        ampel_manifest::ManifestError::Invalid(p) => CommandError::Invalid(p),
        other => CommandError::Usage(other.to_string()),
    })
}
