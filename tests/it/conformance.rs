//! The store conformance suite on both backends: the embedded SQLite store, and
//! MongoDB over the wire (the tests' server, see `ampel_tests::mongo`: mongoeco
//! through the project's launcher, or `AMPEL_TEST_MONGODB_URI`; each store a fresh
//! database prefix, dropped afterwards).

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
fn mongodb_passes_the_suite_over_the_wire() {
    let backend = MongoBackend::new(&ampel_tests::mongo::server_uri());
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
