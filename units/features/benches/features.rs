//! Feature extraction per second (a bench binary, not a test):
//!
//!   cargo bench -p ampel-units-features --bench features
//!
//! Two sets of states, one state per alert with all its datapoints, as T0 makes
//! them: the replay stream's (`benches/make_replay.py`: copies of the 50 real
//! alerts of `tests/data/alerts/ztf/fink-2020-v3.3`, mostly one detection each) and
//! the long light curves of the other real ZTF alerts (`fink-2019-v3.1`,
//! `ampel-2018-tarballs`, `boom-v4.02`: up to hundreds of detections). Times
//! `T2LcFeatures` without fits on 100,000 states and with the Bazin and Villar
//! fits on 1/50 of that, with 1 and 2 threads, and the anchor in the same run:
//! `T2MagSummary` (units/lightcurve) on the same states. Set
//! `AMPEL_BENCH_STATES=N` for another count.

use ampel_interface::*;
use ampel_units_features::{T2LcFeatures, T2LcFeaturesConfig};
use std::path::Path;
use std::time::Instant;

/// The states of the alerts of `folders` under tests/data/alerts/ztf:
/// (state, datapoints).
fn states(folders: &[&str]) -> Vec<(T1Document, Vec<DataPoint>)> {
    let kit = ampel_testkit::TestKit::new(|_| Ok(())).expect("kit");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/alerts/ztf");
    let alerts: Vec<_> = folders.iter().map(|f| root.join(f)).collect();
    let shaper = ampel_units_ztf::ZiDataPointShaper::new(Default::default()).expect("shaper");
    kit.ztf_alerts(&alerts)
        .expect("alerts")
        .into_iter()
        .map(|a| {
            let stock = a.stock;
            let dps: Vec<DataPoint> = shaper
                .process(a)
                .expect("shape")
                .into_iter()
                .map(|s| DataPoint::shaped(s.id, stock, s.tag, s.body))
                .collect();
            let state = T1Document {
                stock,
                link: 0,
                dps: dps.iter().map(|d| d.id).collect(),
                channel: Default::default(),
                tag: Default::default(),
                code: DocumentCode::OK,
                meta: vec![],
                body: vec![],
            };
            (state, dps)
        })
        .collect()
}

/// States per second of `unit` over `n` states (cycling), on `threads` threads.
fn rate(
    unit: &(dyn StateT2 + Sync),
    states: &[(T1Document, Vec<DataPoint>)],
    n: usize,
    threads: usize,
) -> f64 {
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                for i in (t..n).step_by(threads) {
                    let (state, dps) = &states[i % states.len()];
                    let r = unit.process(state, dps).expect("process");
                    std::hint::black_box(r);
                }
            });
        }
    });
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let n: usize = std::env::var("AMPEL_BENCH_STATES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let no_fits = T2LcFeatures::new(T2LcFeaturesConfig {
        fits: false,
        ..Default::default()
    })
    .expect("unit");
    let fits = T2LcFeatures::new(Default::default()).expect("unit");
    let anchor = ampel_units_lightcurve::T2MagSummary::new(Default::default()).expect("unit");
    for (name, folders) in [
        ("replay stream (fink-2020-v3.3)", &["fink-2020-v3.3"][..]),
        (
            "long light curves (fink-2019-v3.1, ampel-2018-tarballs, boom-v4.02)",
            &["fink-2019-v3.1", "ampel-2018-tarballs", "boom-v4.02"][..],
        ),
    ] {
        let states = states(folders);
        let points: usize = states
            .iter()
            .map(|(_, d)| d.iter().filter(|d| d.id > 0).count())
            .sum();
        println!(
            "{name}: {} distinct states, {:.1} detections each, {n} states per run",
            states.len(),
            points as f64 / states.len() as f64
        );
        for threads in [1, 2] {
            let a = rate(&anchor, &states, n, threads);
            let f = rate(&no_fits, &states, n, threads);
            let fit = rate(&fits, &states, (n / 50).max(1), threads);
            println!(
                "  {threads} thread(s): T2MagSummary (anchor) {a:>8.0} /s | T2LcFeatures, no fits {f:>8.0} /s ({:.3} x anchor) | with Bazin and Villar fits {fit:>7.0} /s ({:.4} x anchor)",
                f / a,
                fit / a
            );
        }
    }
}
