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

/// Python AMPEL's T2 worker claims with `$expr: {$not: {$lte: [now, {$last:
/// "$meta.retry_after"}]}}` (ampel-core's AbsWorker); mongod runs it, so the
/// stand-in must: run it through pymongo (the stand-in's venv has it).
#[test]
fn python_ampels_t2_claim_expression_runs_as_on_mongod() {
    let script = r#"
import sys, pymongo
c = pymongo.MongoClient(sys.argv[1])
t2 = c["pyclaim%s" % sys.argv[2]]["t2"]
t2.drop()
t2.insert_many([
    {"_id": 1, "code": -1, "meta": {"retry_after": [5, 150]}},   # not yet due
    {"_id": 2, "code": -1, "meta": {"retry_after": [5, 50]}},    # due
    {"_id": 3, "code": -1, "meta": {}},                          # never retried: due
    {"_id": 4, "code": -1, "meta": {"retry_after": []}},         # empty: due
])
due = {"$expr": {"$not": {"$lte": [100, {"$last": "$meta.retry_after"}]}}}
print(sorted(d["_id"] for d in t2.find(due)))
got = t2.find_one_and_update({"code": -1, **due}, {"$set": {"code": -5}}, sort=[("_id", 1)])
print(got["_id"], t2.find_one({"_id": 2})["code"])
try:
    list(t2.find({"$expr": {"$last": "$code"}}))
    print("no error")
except pymongo.errors.OperationFailure as e:
    print("error", e.code)
c.drop_database("pyclaim%s" % sys.argv[2])
"#;
    let out = Command::new(ampel_tests::mongo::mongoeco_python())
        .args(["-c", script])
        .arg(ampel_tests::mongo::server_uri())
        .arg(std::process::id().to_string())
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // mongod: $last of a missing field is missing, of [] is missing, and
    // `$lte: [100, missing]` is false, so `$not` makes those due; $last of a
    // non-array is error 28689
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "[2, 3, 4]\n2 -5\nerror 28689\n"
    );
}
