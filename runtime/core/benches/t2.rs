//! T2 throughput per unit on the replay stream (a bench binary, not a test).
//!
//!   AMPEL_REPLAY=/tmp/replay.avro AMPEL_BENCH_ALERTS=50000 cargo bench -p ampel-core --bench t2
//! Ingests the first AMPEL_BENCH_ALERTS alerts (default 50,000) with one accept-all
//! channel requesting T2MagSummary, T2RiseDeclineFit and T2FastRiser on every
//! state, then times the workers on each unit in turn, with 1 and 2 worker threads
//! (each with its own store connection), and prints tickets per second.

use ampel_avro::{read_inputs, ReadOptions};
use ampel_core::t0::{T0Config, T0Processor};
use ampel_core::t2::{T2Worker, T2WorkerConfig};
use ampel_core::Clock;
use ampel_interface::serde_json::json;
use ampel_interface::{DocumentCode, Registry};
use ampel_store::{ResetMode, T2Filter};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn registry() -> Registry {
    let mut r = Registry::new();
    ampel_units_ztf::register(&mut r).expect("units");
    ampel_units_lightcurve::register(&mut r).expect("units");
    r
}

fn main() {
    let Ok(path) = std::env::var("AMPEL_REPLAY") else {
        println!("set AMPEL_REPLAY to a replay stream made by benches/make_replay.py; nothing to measure");
        return;
    };
    let n: usize = std::env::var("AMPEL_BENCH_ALERTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let registry = registry();
    let dir = tempfile::tempdir().expect("tempdir");
    let uri = format!("sqlite:{}", dir.path().join("t2.db").display());
    let store = ampel_commands::open_store(&uri).expect("store");
    let cfg: T0Config = serde_json::from_value(json!({
        "supplier": {"unit": "ZiAlertSupplier"}, "shaper": {"unit": "ZiDataPointShaper"}, "muxer": {"unit": "ZiMuxer"},
        "directives": [{"channel": "ALL", "access": ["ZTF_PUB", "ZTF_PRIV"], "ingest": {"combine": [{"unit": "ZiT1Combiner",
            "state_t2": [{"unit": "T2MagSummary"}, {"unit": "T2RiseDeclineFit"}, {"unit": "T2FastRiser"}]}]}}],
        "iter_max": n,
    }))
    .expect("config");
    let clock = Clock::archive(0.0);
    let mut t0 = T0Processor::new(cfg, &registry, store.as_ref(), &clock).expect("t0");
    let (mut rx, reader) = read_inputs(
        vec![path.into()],
        ReadOptions {
            json: true,
            ..ReadOptions::default()
        },
    );
    for item in rx.by_ref() {
        t0.process(item).expect("t0");
        if t0.done() {
            break;
        }
    }
    drop(rx);
    let _ = reader.join();
    let stats = t0.finish(0.0, None).expect("t0");
    println!(
        "ingested {} alerts: {} states, {} tickets\n",
        stats.alerts, stats.states.inserted, stats.tickets.inserted
    );
    println!("| unit                | workers | tickets | seconds | tickets/s |");
    println!("|---------------------|--------:|--------:|--------:|----------:|");
    // AMPEL_BENCH_UNITS / AMPEL_BENCH_WORKERS pick units and worker counts
    let list = |var: &str, default: &str| std::env::var(var).unwrap_or_else(|_| default.into());
    let units = list(
        "AMPEL_BENCH_UNITS",
        "T2MagSummary,T2RiseDeclineFit,T2FastRiser",
    );
    let counts = list("AMPEL_BENCH_WORKERS", "1,2");
    for unit in units.split(',') {
        for workers in counts.split(',').filter_map(|w| w.parse::<usize>().ok()) {
            let filter = T2Filter {
                unit: Some(vec![unit.into()]),
                ..Default::default()
            };
            store
                .reset_t2(&filter, DocumentCode::NEW, ResetMode::CodeAndBody)
                .expect("reset");
            let t = Instant::now();
            let processed: usize = std::thread::scope(|s| {
                let hs: Vec<_> = (0..workers)
                    .map(|i| {
                        let (registry, uri) = (&registry, &uri);
                        s.spawn(move || {
                            let store =
                                ampel_commands::open_store_for_t2_workers(uri).expect("store");
                            let cfg = T2WorkerConfig {
                                owner: format!("bench-{i}"),
                                units: Some(vec![unit.into()]),
                                batch: std::env::var("AMPEL_BENCH_BATCH")
                                    .ok()
                                    .and_then(|v| v.parse().ok())
                                    .unwrap_or(256),
                                ..T2WorkerConfig::default()
                            };
                            let mut w =
                                T2Worker::new(cfg, registry, store.as_ref()).expect("worker");
                            w.run(true, &AtomicBool::new(false)).expect("run");
                            w.finish().expect("finish").processed
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().expect("worker")).sum()
            });
            let s = t.elapsed().as_secs_f64();
            println!(
                "| {unit:<19} | {workers:>7} | {processed:>7} | {s:>7.2} | {:>9.0} |",
                processed as f64 / s
            );
        }
    }
    let _ = store.info();
}
