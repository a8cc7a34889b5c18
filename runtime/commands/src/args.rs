//! The options every runtime command takes (store, output format), and reading
//! JSON given on the command line.

use crate::output::CommandError;
use crate::uri::DEFAULT_DB;
use clap::Args;
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
