//! T0 throughput on a replay stream of real ZTF alerts (a bench binary, not a test).
//!
//! Make the stream, then run (see BENCHMARKS.md):
//!   /tmp/pyampel/bin/python benches/make_replay.py 100000 /tmp/replay.avro
//!   AMPEL_REPLAY=/tmp/replay.avro cargo bench -p ampel-core --bench t0
//! Prints alerts/s for (a) decoding only, on one thread, and (b) full T0 (decode on
//! a reader thread, supply, two channels filtering, shape, mux, combine, ingest into
//! SQLite) with the demo channels and with two accept-all channels, and the peak RSS.

use ampel_avro::{input::walk, read_inputs, ReadOptions};
use ampel_core::t0::{T0Config, T0Processor};
use ampel_core::Clock;
use ampel_interface::serde_json::json;
use ampel_interface::Registry;
use std::time::Instant;

// the same allocator as the `ampel` binary
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(|l| l.to_string())
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn config(filtered: bool) -> T0Config {
    let decent = json!({"unit": "SimpleDecentFilter", "config": {"max_nbad": 2}});
    let bright = json!({"unit": "CriteriaFilter", "config": {"criteria": [
        {"attribute": "magpsf", "operator": "<", "value": 18.5},
        {"attribute": "isdiffpos", "operator": "in", "value": ["t", "1"]}]}});
    let channel = |name: &str, access: &[&str], filter: &serde_json::Value| {
        let mut c = json!({"channel": name, "access": access, "ingest": {"combine": [{"unit": "ZiT1Combiner"}]}});
        if filtered {
            c["filter"] = filter.clone();
        }
        c
    };
    serde_json::from_value(json!({
        "supplier": {"unit": "ZiAlertSupplier"},
        "shaper": {"unit": "ZiDataPointShaper"},
        "muxer": {"unit": "ZiMuxer"},
        "directives": [channel("DECENT", &["ZTF_PUB"], &decent), channel("BRIGHT", &["ZTF_PUB", "ZTF_PRIV"], &bright)],
    }))
    .map(|mut c: T0Config| {
        // AMPEL_BENCH_BATCH: datapoints per write (T0's `batch_size`)
        if let Some(b) = std::env::var("AMPEL_BENCH_BATCH").ok().and_then(|b| b.parse().ok()) {
            c.batch_size = b;
        }
        c
    })
    .expect("config")
}

fn full_t0(path: &std::path::Path, filtered: bool) {
    let mut registry = Registry::new();
    ampel_units_basic::register(&mut registry).expect("units");
    ampel_units_ztf::register(&mut registry).expect("units");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ampel_store_sqlite::SqliteStore::open(dir.path().join("bench.db")).expect("store");
    let clock = Clock::archive(0.0);
    let t = Instant::now();
    let mut proc = T0Processor::new(config(filtered), &registry, &store, &clock).expect("t0");
    if std::env::var_os("AMPEL_BENCH_WHOLE").is_some() {
        proc.filter_whole_alerts();
    }
    let (mut rx, reader) = read_inputs(
        vec![path.to_path_buf()],
        ReadOptions {
            json: !proc.projects(),
            preview_fields: proc
                .preview_fields()
                .filter(|_| std::env::var_os("AMPEL_BENCH_NO_PREVIEW").is_none()),
            ..ReadOptions::default()
        },
    );
    for item in rx.by_ref() {
        proc.process(item).expect("process");
    }
    reader.join().expect("reader");
    let stats = proc.finish(0.0, None).expect("finish");
    // closing the store checkpoints its write-ahead log into the database file:
    // that work belongs to the ingestion, so it is timed too
    drop(store);
    let s = t.elapsed().as_secs_f64();
    println!(
        "| full T0, {:<24} | {:>7} | {:>7.2} | {:>8.0} | {:>7} | {:>9} | {:>6.0} |",
        if filtered {
            "demo channels"
        } else {
            "two accept-all channels"
        },
        stats.alerts,
        s,
        stats.alerts as f64 / s,
        stats.ingested,
        stats.datapoints.inserted,
        peak_rss_mb()
    );
}

fn main() {
    let Ok(path) = std::env::var("AMPEL_REPLAY") else {
        println!("set AMPEL_REPLAY to a replay stream made by benches/make_replay.py; nothing to measure");
        return;
    };
    let path = std::path::PathBuf::from(path);
    println!("| stage                              |  alerts | seconds | alerts/s | ingested | datapoints | RSS MB |");
    println!("|------------------------------------|--------:|--------:|---------:|--------:|----------:|-------:|");
    // AMPEL_BENCH_STAGES picks stages: decode,json,demo,all (default: every one)
    let stages =
        std::env::var("AMPEL_BENCH_STAGES").unwrap_or_else(|_| "decode,json,demo,all".into());
    let stage = |s: &str| stages.split(',').any(|x| x == s);
    if stage("decode") {
        let t = Instant::now();
        let mut n = 0usize;
        walk(
            std::slice::from_ref(&path),
            &ReadOptions::default(),
            &mut |_| {
                n += 1;
                true
            },
        );
        let s = t.elapsed().as_secs_f64();
        println!("| decode only (one thread)           | {n:>7} | {s:>7.2} | {:>8.0} |       - |         - | {:>6.0} |", n as f64 / s, peak_rss_mb());
    }
    if stage("json") {
        let t = Instant::now();
        let mut n = 0usize;
        let opts = ReadOptions {
            json: true,
            ..ReadOptions::default()
        };
        walk(std::slice::from_ref(&path), &opts, &mut |_| {
            n += 1;
            true
        });
        let s = t.elapsed().as_secs_f64();
        println!("| decode into JSON (one thread)      | {n:>7} | {s:>7.2} | {:>8.0} |       - |         - | {:>6.0} |", n as f64 / s, peak_rss_mb());
    }
    if stage("demo") {
        full_t0(&path, true);
    }
    if stage("all") {
        full_t0(&path, false);
    }
}
