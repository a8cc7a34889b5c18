//! `@UNIT@`: a T3 unit. Once per run it sees the selected objects of its channel
//! (datapoints, states, T2 results) and writes one document: how many objects,
//! detections and T2 results it saw, and the brightest detection of each object.

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

impl T3Unit for @UNIT@ {
    fn process(&self, _ctx: &T3Context, views: &[StockView]) -> Result<T3Output, UnitError> {
        let mut brightest = Vec::new();
        let mut detections = 0;
        for v in views {
            let mags: Vec<f64> = v
                .t0
                .iter()
                .filter(|d| d.id > 0)
                .filter_map(|d| d.body.get("magpsf")?.as_f64())
                .collect();
            detections += mags.len();
            if let Some(m) = mags.iter().copied().reduce(f64::min) {
                brightest.push(json!({ "stock": v.id, "mag": m }));
            }
        }
        Ok(T3Output {
            updates: vec![],
            document: Some(UnitResult::ok(json!({
                "objects": views.len(),
                "detections": detections,
                "t2_results": views.iter().map(|v| v.t2.len()).sum::<usize>(),
                "brightest": brightest,
            }))),
        })
    }
}
