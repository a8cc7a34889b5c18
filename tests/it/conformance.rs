//! The store conformance suite on every available backend: always the embedded
//! SQLite store; MongoDB when `AMPEL_TEST_MONGODB_URI` is set (backend pending).

use ampel_store::conformance::{self, Backend};
use ampel_tests::SqliteBackend;
use std::process::{Command, Stdio};

fn run_all(backend: &dyn Backend) {
    let mut ran = 0;
    conformance::for_each_check(|name, check| {
        eprintln!("conformance: {name}");
        check(backend);
        ran += 1;
    });
    assert_eq!(ran, 15);
}

#[test]
fn sqlite_passes_the_suite() {
    run_all(&SqliteBackend::new());
}

#[test]
fn sqlite_claims_from_threads_and_processes_are_disjoint() {
    let spawn = |uri: &str, owner: &str| {
        Command::new(env!("CARGO_BIN_EXE_ampel-test-claimer"))
            .args([uri, owner])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn claimer")
    };
    conformance::concurrent_claims_processes(&SqliteBackend::new(), &spawn);
}

#[test]
fn mongodb_suite_runs_when_a_server_is_given() {
    match std::env::var("AMPEL_TEST_MONGODB_URI") {
        Err(_) => eprintln!(
            "SKIP mongodb conformance: AMPEL_TEST_MONGODB_URI is not set (no MongoDB server can be installed on this machine)"
        ),
        Ok(uri) => {
            let err = ampel_commands::open_store(&uri).err().map(|e| e.to_string()).unwrap_or_default();
            panic!("AMPEL_TEST_MONGODB_URI is set but the MongoDB backend is not built yet: {err}");
        }
    }
}
