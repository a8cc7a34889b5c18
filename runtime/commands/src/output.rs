//! What commands print and how they fail: every command's result is a typed value
//! that is shown as a table, or as JSON with `--json`; [`CommandError`] says what
//! failed and where.

use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde::Serialize;
use std::io::Write;

/// A command failed; the message says what and where.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// Store failure.
    #[error(transparent)]
    Store(#[from] ampel_store::StoreError),
    /// Unit lookup failure.
    #[error(transparent)]
    Registry(#[from] ampel_interface::RegistryError),
    /// One or more config problems, all listed.
    #[error("{}", .0.join("\n"))]
    Invalid(Vec<String>),
    /// Bad command-line value.
    #[error("{0}")]
    Usage(String),
    /// Writing output failed.
    #[error("cannot write output: {0}")]
    Io(#[from] std::io::Error),
    /// T0 failed.
    #[error(transparent)]
    T0(#[from] ampel_core::t0::T0Error),
    /// The command ran to its end but some of its work failed (the counts were
    /// printed; the message says what failed and where to look).
    #[error("{0}")]
    Failed(String),
}

/// A command's result: serialised for `--json`, drawn as a table otherwise.
pub(crate) trait Report: Serialize {
    /// The table shown without `--json`.
    fn table(&self) -> Table;
}

/// Print a typed result: JSON with `json_mode`, else its table.
pub(crate) fn report<R: Report>(json_mode: bool, r: &R) -> Result<(), CommandError> {
    let mut out = std::io::stdout().lock();
    if json_mode {
        let text = serde_json::to_string_pretty(r).map_err(|e| CommandError::Io(e.into()))?;
        writeln!(out, "{text}")?;
    } else {
        writeln!(out, "{}", r.table())?;
    }
    Ok(())
}

/// A table with a header row, in the style every command uses.
pub(crate) fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_header(header.to_vec());
    t
}

/// Print a failure on stderr: `error: MESSAGE`, or with `--json` one JSON object
/// `{"error": {"message": ..., "exit_code": N}}` on one line, so scripts that asked
/// for JSON get JSON on both outcomes.
pub fn print_error(json_mode: bool, message: &str, exit_code: u8) {
    if json_mode {
        let v = serde_json::json!({ "error": { "message": message, "exit_code": exit_code } });
        eprintln!("{v}");
    } else {
        eprintln!("error: {message}");
    }
}
