//! Alerts per second through a survey mapping (a bench binary, not a test):
//!
//!   cargo bench -p ampel-units-survey --bench supply
//!
//! An ELAsTiCC packet (`elasticc.v0_9`: a diaSource, 30 previous sources, 30
//! forced sources) through `SurveyAlertSupplier` (the shipped `elasticc-v0_9`
//! mapping) and `SurveyDataPointShaper`; the anchor in the same run is the same
//! packet with Rubin's field names through the hand-written `LsstAlertSupplier`
//! and `LsstDataPointShaper`. Each iteration clones the packet (both sides). Set
//! `AMPEL_BENCH_ALERTS=N` for another count (default 20,000).

use ampel_interface::serde_json::{json, Value};
use ampel_interface::{AlertSupplier, Shaper, Unit};
use ampel_units_lsst::{LsstAlertSupplier, LsstDataPointShaper};
use ampel_units_survey::{SurveyAlertSupplier, SurveyAlertSupplierConfig, SurveyDataPointShaper};
use std::time::Instant;

/// A packet with `n` previous sources and `n` forced sources; Rubin's names or
/// ELAsTiCC's.
fn packet(n: i64, rubin: bool) -> Value {
    let (t, band, flux, err, dec) = if rubin {
        ("midpointMjdTai", "band", "psfFlux", "psfFluxErr", "dec")
    } else {
        ("midPointTai", "filterName", "psFlux", "psFluxErr", "decl")
    };
    let src = |i: i64| {
        let b = ["g", "r", "i"][i as usize % 3];
        json!({"diaSourceId": 1000 + i, "ccdVisitId": i, "diaObjectId": 77, t: 60000.0 + i as f64,
            band: b, "ra": 10.0, dec: -5.0,
            flux: 1000.0 + i as f64, err: 20.0, "snr": 50.0})
    };
    let forced = |i: i64| {
        json!({"diaForcedSourceId": 2000 + i, "ccdVisitId": i, "diaObjectId": 77,
            t: 59990.0 + i as f64, band: "r", flux: 10.0 * i as f64, err: 20.0,
            "totFlux": 0.0, "totFluxErr": 1.0})
    };
    let id = if rubin { "diaSourceId" } else { "alertId" };
    json!({id: 1000 + n, "diaSource": src(n),
        "prvDiaSources": (0..n).map(src).collect::<Vec<_>>(),
        "prvDiaForcedSources": (0..n).map(forced).collect::<Vec<_>>(),
        "diaObject": {"diaObjectId": 77, "ra": 10.0, dec: -5.0}})
}

fn rate(n: usize, mut one: impl FnMut() -> usize) -> (f64, usize) {
    let start = Instant::now();
    let mut dps = 0;
    for _ in 0..n {
        dps += one();
    }
    (n as f64 / start.elapsed().as_secs_f64(), dps / n)
}

fn main() {
    let n: usize = std::env::var("AMPEL_BENCH_ALERTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let mapped = SurveyAlertSupplier::new(SurveyAlertSupplierConfig {
        surveys: vec!["elasticc-v0_9".into()],
        ..Default::default()
    })
    .expect("the shipped mapping");
    let (elasticc, rubin) = (packet(30, false), packet(30, true));
    let (survey_rate, survey_dps) = rate(n, || {
        let a = mapped.supply(elasticc.clone()).expect("supplied");
        SurveyDataPointShaper.process(a).expect("shaped").len()
    });
    let (lsst_rate, lsst_dps) = rate(n, || {
        let a = LsstAlertSupplier.supply(rubin.clone()).expect("supplied");
        LsstDataPointShaper.process(a).expect("shaped").len()
    });
    assert_eq!(survey_dps, lsst_dps, "both give every measurement");
    println!("alerts of {survey_dps} datapoints, {n} each, one thread");
    println!("| supplier + shaper | alerts/s | vs anchor |");
    println!("|---|---:|---:|");
    println!(
        "| SurveyAlertSupplier (elasticc-v0_9 mapping) | {survey_rate:.0} | {:.2}x |",
        survey_rate / lsst_rate
    );
    println!("| LsstAlertSupplier (anchor) | {lsst_rate:.0} | 1x |");
}
