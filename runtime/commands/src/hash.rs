//! `ampel hash config|link`: the canonical hashes AMPEL uses, as Python AMPEL
//! computes them.

use crate::args::{parse_json, RuntimeArgs};
use crate::output::{report, table, CommandError, Report};
use ampel_interface::hash::{config_hash, link_hash, python_flat_json};
use ampel_interface::{ConfigHash, DataPointId, LinkId};
use clap::Subcommand;
use comfy_table::Table;
use serde::Serialize;

/// `ampel hash ...`
#[derive(Debug, Clone, Subcommand)]
pub enum HashCommand {
    /// Config identity hash of a JSON object (Python AMPEL's `build_unsafe_dict_id`).
    Config {
        /// The config as JSON.
        #[arg(value_name = "JSON")]
        config: String,
    },
    /// T1 link hash of datapoint ids (order does not matter).
    Link {
        /// Datapoint ids.
        #[arg(required = true, allow_negative_numbers = true)]
        ids: Vec<i64>,
    },
}

/// Run a `hash` command.
pub fn run(args: &RuntimeArgs, cmd: &HashCommand) -> Result<(), CommandError> {
    match cmd {
        HashCommand::Config { config } => {
            let v = parse_json("config", config)?;
            if !v.is_object() {
                return Err(CommandError::Usage("a config must be a JSON object".into()));
            }
            report(
                args.json,
                &ConfigId {
                    hash: config_hash(&v),
                    encoded: python_flat_json(&v),
                },
            )
        }
        HashCommand::Link { ids } => report(
            args.json,
            &Link {
                link: link_hash(ids),
                dps: ids.clone(),
            },
        ),
    }
}

/// What `ampel hash config` prints.
#[derive(Serialize)]
struct ConfigId {
    hash: ConfigHash,
    encoded: String,
}

impl Report for ConfigId {
    fn table(&self) -> Table {
        let mut t = table(&["config hash", "hashed text"]);
        t.add_row([self.hash.to_string(), self.encoded.clone()]);
        t
    }
}

/// What `ampel hash link` prints.
#[derive(Serialize)]
struct Link {
    link: LinkId,
    dps: Vec<DataPointId>,
}

impl Report for Link {
    fn table(&self) -> Table {
        let mut t = table(&["link", "datapoints"]);
        t.add_row([self.link.to_string(), format!("{:?}", self.dps)]);
        t
    }
}
