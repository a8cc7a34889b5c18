//! `@UNIT@`: a stock T2 unit. Once per object it reads the stock document (names,
//! tags, channels, journal) and gives a summary of the object's history in the
//! store: how many times it was ingested and its names.

use ampel_interface::serde_json::json;
use ampel_interface::*;

/// The unit (no parameters).
pub struct @UNIT@;

impl Unit for @UNIT@ {
    const NAME: &'static str = "@UNIT@";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SOURCE: &'static str = ampel_interface::crate_source!();
    type Config = NoConfig;
    fn new(_: NoConfig) -> Result<Self, ConfigError> {
        Ok(@UNIT@)
    }
}

impl StockT2 for @UNIT@ {
    fn process(&self, stock: &Stock) -> Result<UnitResult, UnitError> {
        Ok(UnitResult::ok(json!({
            "names": stock.name,
            "journal_entries": stock.journal.len(),
            "channels": stock.channel,
        })))
    }
}
