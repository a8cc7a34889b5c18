//! The store conformance suite on every available backend: always the embedded
//! SQLite store; MongoDB when `AMPEL_TEST_MONGODB_URI` is set (each store a fresh
//! database prefix on that server, dropped afterwards).

use ampel_store::conformance::{self, Backend};
use ampel_tests::{MongoBackend, SqliteBackend};
use std::process::{Command, Stdio};

fn run_all(backend: &dyn Backend) {
    let mut ran = 0;
    conformance::for_each_check(|name, check| {
        eprintln!("conformance: {name}");
        check(backend);
        ran += 1;
    });
    assert_eq!(ran, 17);
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
    let Ok(uri) = std::env::var("AMPEL_TEST_MONGODB_URI") else {
        eprintln!(
            "SKIP mongodb conformance: AMPEL_TEST_MONGODB_URI is not set (no MongoDB server can be installed on this machine; the backend's documents are unit-tested in ampel-store-mongo)"
        );
        return;
    };
    let backend = MongoBackend::new(&uri);
    run_all(&backend);
    let spawn = |uri: &str, owner: &str| {
        Command::new(env!("CARGO_BIN_EXE_ampel-test-claimer"))
            .args([uri, owner])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn claimer")
    };
    conformance::concurrent_claims_processes(&backend, &spawn);
}

#[test]
fn mongodb_uris_get_the_prefix_as_their_path() {
    assert_eq!(
        MongoBackend::with_prefix("mongodb://h:1", "p"),
        "mongodb://h:1/p"
    );
    assert_eq!(
        MongoBackend::with_prefix("mongodb://u:pw@h:1/old?authSource=admin", "p"),
        "mongodb://u:pw@h:1/p?authSource=admin"
    );
    assert_eq!(
        MongoBackend::with_prefix("mongodb://h/?replicaSet=rs", "p"),
        "mongodb://h/p?replicaSet=rs"
    );
}
