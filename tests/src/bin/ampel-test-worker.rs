//! Helper process for the multi-process T2 tests: one T2 worker on the store given
//! as first argument. Usage: `ampel-test-worker URI OWNER LEASE_SECONDS BATCH`.
//! Runs until no ticket is left, then prints the number of tickets it processed.
//!
//! With `AMPEL_TEST_GATE=PATH` the worker opens the store, writes `PATH.ready.OWNER`
//! and waits for `PATH` to exist before claiming, so a test can start several
//! workers at the same moment (a late starter would otherwise find the queue empty).

use ampel_core::t2::{T2Worker, T2WorkerConfig};
use std::sync::atomic::AtomicBool;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [uri, owner, lease, batch] = args.as_slice() else {
        anyhow::bail!("usage: ampel-test-worker URI OWNER LEASE_SECONDS BATCH");
    };
    let store = ampel_commands::open_store(uri)?;
    let registry = ampel_tests::units::registry();
    let cfg = T2WorkerConfig {
        owner: owner.clone(),
        lease_seconds: lease.parse()?,
        batch: batch.parse()?,
        backoff_base: 0.05,
        ..T2WorkerConfig::default()
    };
    let mut w = T2Worker::new(cfg, &registry, store.as_ref())?;
    if let Ok(gate) = std::env::var("AMPEL_TEST_GATE") {
        std::fs::write(format!("{gate}.ready.{owner}"), b"")?;
        while !std::path::Path::new(&gate).exists() {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    w.run(true, &AtomicBool::new(false))?;
    let stats = w.finish()?;
    println!("{}", stats.processed);
    Ok(())
}
