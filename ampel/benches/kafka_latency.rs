//! Latency of live mode: from an alert being produced to its T2 result stored, at a
//! fixed production rate. A tansu broker on 127.0.0.1; `ampel serve` running the
//! demo T0 (two channels of `manifests/ztf-demo.toml`, expanded) live from the topic and a
//! T2 worker every 0.1 s; `ampel kafka produce --rate R` publishing a replay stream
//! of real ZTF alerts (new objects and candids, same content; one file per alert,
//! from `benches/make_replay.py N DIR/`) and logging each message's send time.
//! Latency per accepted alert = time of its first stored T2 result (the T2 meta
//! record, wall clock in live mode) minus its send time.
//!
//! Run:
//!   python3 -m venv /tmp/pyampel && /tmp/pyampel/bin/pip install fastavro
//!   /tmp/pyampel/bin/python benches/make_replay.py 10000 /tmp/replay-split/
//!   AMPEL_REPLAY_DIR=/tmp/replay-split AMPEL_BENCH_RATE=1000 \
//!     cargo bench -p ampel-builder --bench kafka_latency

#[path = "../tests/support/mod.rs"]
mod support;

use serde_json::Value;
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let Some(replay) = std::env::var_os("AMPEL_REPLAY_DIR") else {
        eprintln!("set AMPEL_REPLAY_DIR to a directory of single-alert files (benches/make_replay.py N DIR/)");
        return;
    };
    let rate: f64 = std::env::var("AMPEL_BENCH_RATE")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1000.0);
    let kafka = Kafka::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bin = env!("CARGO_BIN_EXE_ampel");
    let ok = |args: &[&str]| {
        let o = Command::new(bin)
            .args(args)
            .current_dir(d)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        o
    };
    ok(&["kafka", "create-topic", "ztf", "--brokers", &kafka.addr]);
    // the demo's T0 process, expanded from its manifest
    let manifest = repo().join("manifests/ztf-demo.toml");
    let expanded = ok(&[
        "manifest",
        "expand",
        manifest.to_str().unwrap(),
        "--part",
        "t0",
    ]);
    let t0 = d.join("t0.json");
    std::fs::write(&t0, &expanded.stdout).unwrap();
    std::fs::write(
        d.join("p.toml"),
        format!(
            "[[process]]\nname = \"live\"\ntier = 0\nschedule = \"live\"\nt0_config = \"{}\"\nkafka = {{ brokers = \"{}\", topics = [\"ztf\"], group = \"bench\" }}\n\n[[process]]\nname = \"t2\"\ntier = 2\nschedule = \"every 0.1s\"\n",
            t0.display(),
            kafka.addr
        ),
    )
    .unwrap();
    let serve = Command::new(bin)
        .args([
            "--db",
            "sqlite:live.db",
            "serve",
            "--processes",
            "p.toml",
            "--out",
            "out",
        ])
        .current_dir(d)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let started = Instant::now();
    let out = ok(&[
        "--json",
        "kafka",
        "produce",
        "--brokers",
        &kafka.addr,
        "--topic",
        "ztf",
        "--rate",
        &rate.to_string(),
        "--log",
        "sent.csv",
        replay.to_str().unwrap(),
    ]);
    let produced: Value = serde_json::from_slice(&out.stdout).unwrap();
    let n = produced["messages"].as_u64().unwrap();
    let secs = produced["seconds"].as_f64().unwrap();
    // wait until the queue is drained: no ticket left to do for 3 s
    let pending = || -> u64 {
        let o = Command::new(bin)
            .args([
                "--json",
                "--db",
                "sqlite:live.db",
                "t2",
                "list",
                "--code",
                "-1",
                "--limit",
                "100000",
            ])
            .current_dir(d)
            .output()
            .unwrap();
        serde_json::from_slice::<Value>(&o.stdout)
            .map(|v| v.as_array().map_or(0, |a| a.len() as u64))
            .unwrap_or(u64::MAX)
    };
    let mut quiet = 0;
    while quiet < 30 && started.elapsed() < Duration::from_secs(600) {
        quiet = if pending() == 0 { quiet + 1 } else { 0 };
        std::thread::sleep(Duration::from_millis(100));
    }
    Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status()
        .unwrap();
    let _ = serve.wait_with_output();
    // latencies
    let sent: BTreeMap<i64, f64> = std::fs::read_to_string(d.join("sent.csv"))
        .unwrap()
        .lines()
        .filter_map(|l| {
            let (k, ms) = l.split_once(',')?;
            Some((
                k.trim_end_matches(".avro").parse().ok()?,
                ms.parse::<f64>().ok()? / 1000.0,
            ))
        })
        .collect();
    ok(&["--db", "sqlite:live.db", "db", "export", "dump"]);
    let mut first_result: BTreeMap<i64, f64> = BTreeMap::new();
    let mut ingested: BTreeMap<i64, f64> = BTreeMap::new();
    for line in std::fs::read_to_string(d.join("dump/t2.jsonl"))
        .unwrap()
        .lines()
    {
        let doc: Value = serde_json::from_str(line).unwrap();
        let metas = doc["meta"].as_array().unwrap();
        let done = metas
            .iter()
            .filter(|m| m["tier"] == 2 && m["code"].as_i64().unwrap_or(-1) >= 0)
            .filter_map(|m| m["ts"].as_f64())
            .fold(f64::INFINITY, f64::min);
        for m in metas.iter().filter(|m| m["tier"] == 0) {
            if let Some(alert) = m["extra"]["alert"].as_i64() {
                let e = first_result.entry(alert).or_insert(f64::INFINITY);
                *e = e.min(done);
                let t = m["ts"].as_f64().unwrap_or(f64::INFINITY);
                let i = ingested.entry(alert).or_insert(f64::INFINITY);
                *i = i.min(t);
            }
        }
    }
    let mut lat: Vec<f64> = first_result
        .iter()
        .filter(|(_, t)| t.is_finite())
        .filter_map(|(a, t)| sent.get(a).map(|s| t - s))
        .collect();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let mut t0_lat: Vec<f64> = ingested
        .iter()
        .filter_map(|(a, t)| sent.get(a).map(|s| t - s))
        .collect();
    t0_lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!("| measurement | value |");
    println!("|---|---:|");
    println!(
        "| alerts produced | {n} in {secs:.1} s ({:.0}/s) |",
        n as f64 / secs
    );
    println!(
        "| alerts with T2 results (accepted by a channel) | {} |",
        lat.len()
    );
    if !lat.is_empty() {
        println!("| latency p50 | {:.3} s |", percentile(&lat, 0.5));
        println!("| latency p90 | {:.3} s |", percentile(&lat, 0.9));
        println!("| latency p99 | {:.3} s |", percentile(&lat, 0.99));
        println!("| latency max | {:.3} s |", lat[lat.len() - 1]);
        println!(
            "| (of which T0: ticket written) p50 / p99 | {:.3} s / {:.3} s |",
            percentile(&t0_lat, 0.5),
            percentile(&t0_lat, 0.99)
        );
    }
}
