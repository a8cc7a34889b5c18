//! T0 and T2 throughput on the MongoDB backend, 1 and 2 processes of each kind, with
//! the embedded store as the anchor of the same run. The MongoDB server is the
//! tests' stand-in (mongoeco through `tests/mongo/mongoeco_server.py`, one
//! single-threaded Python process) unless `AMPEL_TEST_MONGODB_URI` names a real one:
//! the figures are for regressions of this project, not MongoDB performance.
//!
//! - T0: the alerts are produced to a topic of 4 partitions on a tansu broker, then
//!   consumed by 1 or 2 `ampel kafka consume` processes of one consumer group (the
//!   demo manifest's T0) until the topic is idle; alerts/s over the consumers' wall
//!   time, the idle wait subtracted.
//! - T2: `ampel t2 run --until-empty` on the tickets of an archive T0 of the same
//!   alerts, by 1 or 2 processes; tickets/s.
//!
//! Run (alerts: `AMPEL_REPLAY_DIR` of single-alert files from `benches/make_replay.py`,
//! default the real ZTF alerts of `tests/data`):
//!   scripts/test --setup-only
//!   cargo bench -p ampel --bench mongodb

#[path = "../tests/support/mod.rs"]
mod support;

use ampel_tests::mongo::TestServer;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Instant;
use support::*;

/// Seconds without a message after which a consumer stops: longer than the
/// session timeout (10 s), so a consumer waiting for a rebalance after the other
/// one left does not stop early.
const IDLE: f64 = 12.0;

/// `n` T0 consumers of one group on `db`; (alerts consumed, seconds).
fn t0_live(d: &Path, db: &str, manifest: &str, kafka: &Kafka, group: &str, n: usize) -> (u64, f64) {
    let started = Instant::now();
    let consumers: Vec<Child> = (0..n)
        .map(|_| {
            let idle = IDLE.to_string();
            let args = [
                "--db",
                db,
                "kafka",
                "consume",
                "--manifest",
                manifest,
                "--brokers",
                &kafka.addr,
                "--topic",
                "ztf",
                "--group",
                group,
                "--until-idle",
                &idle,
                "--property",
                "fetch.wait.max.ms=50",
            ];
            spawn_json(&args, d)
        })
        .collect();
    let messages: u64 = consumers
        .into_iter()
        .map(|c| finish_json(c)["live"]["messages"].as_u64().unwrap())
        .sum();
    (messages, started.elapsed().as_secs_f64() - IDLE)
}

/// `n` T2 processes on `db` until no ticket is left; (tickets, seconds).
fn t2_run(d: &Path, db: &str, n: usize) -> (u64, f64) {
    let started = Instant::now();
    let workers: Vec<Child> = (0..n)
        .map(|_| spawn_json(&["--db", db, "t2", "run", "--until-empty"], d))
        .collect();
    let processed: u64 = workers
        .into_iter()
        .map(|w| finish_json(w)["processed"].as_u64().unwrap())
        .sum();
    (processed, started.elapsed().as_secs_f64())
}

fn main() {
    let alerts: PathBuf = std::env::var_os("AMPEL_REPLAY_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| real_alerts().join("ztf"));
    let server = TestServer::own();
    let kafka = Kafka::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let manifest = repo().join("manifests/ztf-demo.toml").display().to_string();
    let src = alerts.display().to_string();
    ampel_json(
        &[
            "kafka",
            "create-topic",
            "ztf",
            "--partitions",
            "4",
            "--brokers",
            &kafka.addr,
        ],
        d,
    );
    let produced = ampel_json(
        &[
            "kafka",
            "produce",
            "--brokers",
            &kafka.addr,
            "--topic",
            "ztf",
            "--rate",
            "0",
            &src,
        ],
        d,
    );
    println!(
        "alerts: {} messages from {}",
        produced["messages"],
        alerts.display()
    );
    println!("| backend | tier | processes | items | seconds | per second |");
    println!("|---|---|---:|---:|---:|---:|");
    let row = |backend: &str, tier: &str, n: usize, (items, secs): (u64, f64)| {
        println!(
            "| {backend} | {tier} | {n} | {items} | {secs:.2} | {:.0} |",
            items as f64 / secs
        );
    };
    for (backend, n) in [("sqlite", 1), ("mongodb", 1), ("mongodb", 2)] {
        let db = match backend {
            "sqlite" => format!("sqlite:{}", d.join(format!("live-{n}.db")).display()),
            _ => server.store(&format!("live{n}x")),
        };
        let r = t0_live(d, &db, &manifest, &kafka, &format!("{backend}-{n}"), n);
        assert_eq!(
            Some(r.0),
            produced["messages"].as_u64(),
            "{n} consumer(s) on {backend} consumed another number of messages than were produced"
        );
        row(backend, "T0 (Kafka, demo channels)", n, r);
    }
    for (backend, n) in [("sqlite", 1), ("sqlite", 2), ("mongodb", 1), ("mongodb", 2)] {
        let db = match backend {
            "sqlite" => format!("sqlite:{}", d.join(format!("t2-{n}.db")).display()),
            _ => server.store(&format!("tickets{n}x")),
        };
        ampel_json(
            &["--db", &db, "t0", "--manifest", &manifest, "--source", &src],
            d,
        );
        row(backend, "T2 (3 units)", n, t2_run(d, &db, n));
    }
}
