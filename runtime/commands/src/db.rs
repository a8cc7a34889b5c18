//! `ampel db init|info|export|import`: create and inspect a store; portable dumps
//! (in `dump`).

use crate::args::RuntimeArgs;
use crate::output::{report, table, CommandError, Report};
use crate::uri::{open_existing_store, open_store, redact};
use ampel_store::StoreInfo;
use clap::Subcommand;
use comfy_table::Table;
use serde::Serialize;

/// `ampel db ...`
#[derive(Debug, Clone, Subcommand)]
pub enum DbCommand {
    /// Create the store if needed and print its layout version.
    Init,
    /// Print layout version and document counts per collection.
    Info,
    /// Write the store to a portable dump: one canonical JSON-lines file per
    /// collection and a header with the layout version, file digests and the
    /// results digest.
    ///
    /// Example: ampel --db sqlite:run.db db export run-dump/
    Export {
        /// The dump directory (new, or without a header.json).
        dir: std::path::PathBuf,
    },
    /// Load a dump into a fresh store (any backend): every file is checked, the
    /// documents are staged in a temporary store, the results digest is verified,
    /// and only then is the staging store switched into place.
    ///
    /// Example: ampel --db mongodb://db.example.org/Ampel db import run-dump/
    Import {
        /// The dump directory.
        dir: std::path::PathBuf,
    },
}

/// Run a `db` command.
pub fn run(args: &RuntimeArgs, cmd: &DbCommand) -> Result<(), CommandError> {
    match cmd {
        DbCommand::Init | DbCommand::Info => {
            let store = if matches!(cmd, DbCommand::Init) {
                open_store(&args.db)?
            } else {
                open_existing_store(&args.db)?
            };
            report(args.json, &Info(store.info()?))
        }
        DbCommand::Export { dir } => crate::dump::export(args, dir),
        DbCommand::Import { dir } => crate::dump::import(args, dir),
    }
}

/// What `ampel db init|info` prints: the store's layout version and counts.
#[derive(Serialize)]
#[serde(transparent)]
struct Info(StoreInfo);

impl Report for Info {
    fn table(&self) -> Table {
        let mut t = table(&["collection", "documents"]);
        for (k, n) in &self.0.counts {
            t.add_row([k.clone(), n.to_string()]);
        }
        t.add_row([
            "(store)".into(),
            format!(
                "{} layout v{}",
                redact(&self.0.location),
                self.0.schema_version
            ),
        ]);
        t
    }
}
