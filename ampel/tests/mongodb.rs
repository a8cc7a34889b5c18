//! The tiers over the wire, on the real ZTF alerts of `tests/data`: a MongoDB store
//! on the tests' MongoDB-compatible server (`ampel_tests::mongo`: mongoeco through
//! the project's launcher, or `AMPEL_TEST_MONGODB_URI`). The demo job gives the
//! same results digest as on SQLite; four T2 worker processes share one store,
//! one is SIGKILLed holding leases and its tickets are finished after the lease,
//! each exactly once; an unreachable server, refused credentials and a store of
//! another layout are each one clear line, with nothing written.

mod support;

use ampel_interface::{DocumentCode, Tier};
use ampel_store::T2Filter;
use ampel_tests::mongo::{Server, TestServer};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};
use support::*;

fn demo() -> String {
    repo().join("manifests/ztf-demo.toml").display().to_string()
}

fn ztf_alerts() -> String {
    real_alerts().join("ztf").display().to_string()
}

/// `ampel --json --db DB job` of the demo manifest on every real ZTF alert.
fn demo_job(db: &str, dir: &Path, out: &str) -> Value {
    ampel_json(
        &[
            "--db",
            db,
            "job",
            "--manifest",
            &demo(),
            "--inputs",
            &ztf_alerts(),
            "--out",
            out,
        ],
        dir,
    )
}

fn digest(db: &str, dir: &Path) -> String {
    ampel_json(&["digest", db], dir)["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn the_demo_job_gives_the_same_results_digest_on_sqlite_and_mongodb() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::own();
    let mongo = server.store("digest");
    let on_mongo = demo_job(&mongo, dir.path(), "out-mongo");
    let on_sqlite = demo_job("sqlite:sqlite.db", dir.path(), "out-sqlite");
    let d = |v: &Value| v["digest"]["digest"].as_str().unwrap().to_string();
    assert_eq!(d(&on_mongo), d(&on_sqlite));
    assert!(d(&on_mongo).starts_with("sha256:"));
    // the same documents in each collection, and T2 results were made
    assert_eq!(
        on_mongo["digest"]["collections"],
        on_sqlite["digest"]["collections"]
    );
    assert!(on_mongo["tasks"][1]["processed"].as_u64().unwrap() > 0);
    // the digest command reads the MongoDB store back to the same value
    assert_eq!(digest(&mongo, dir.path()), d(&on_sqlite));
}

fn worker(db: &str, dir: &Path, lease: &str) -> Child {
    let args = ["--db", db, "t2", "run", "--until-empty", "--batch", "2"];
    spawn_json(
        &[&args[..], &["--lease", lease, "--backoff", "0.1"]].concat(),
        dir,
    )
}

#[test]
fn four_t2_workers_on_one_mongodb_store_finish_a_killed_workers_tickets_each_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::own();
    let db = server.store("workers");
    let out = ampel(
        &[
            "--db",
            &db,
            "t0",
            "--manifest",
            &demo(),
            "--source",
            &ztf_alerts(),
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let store = ampel_commands::open_store(&db).unwrap();
    let tickets = store.find_t2(&T2Filter::default()).unwrap().len();
    // the demo's 8 objects: 3 units on each state
    assert!(tickets >= 20, "{tickets} tickets");

    let mut workers: Vec<Child> = (0..4).map(|_| worker(&db, dir.path(), "4")).collect();
    // kill the first worker seen holding a lease, without warning
    let started = Instant::now();
    let victim = loop {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no worker ever held a lease"
        );
        let running = store
            .find_t2(&T2Filter {
                code: Some(vec![DocumentCode::RUNNING]),
                ..Default::default()
            })
            .unwrap();
        let holder = running.iter().find_map(|d| {
            let owner = &d.lease.as_ref()?.owner;
            workers
                .iter()
                .position(|w| owner.contains(&format!("-{}-", w.id())))
        });
        if let Some(i) = holder {
            break i;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut killed = workers.remove(victim);
    killed.kill().unwrap(); // SIGKILL
    killed.wait().unwrap();
    let mut processed = 0;
    for w in workers {
        processed += finish_json(w)["processed"].as_u64().unwrap();
    }
    assert!(processed > 0);
    // the killed worker's tickets are claimable once its lease ran out
    std::thread::sleep(Duration::from_secs(5));
    finish_json(worker(&db, dir.path(), "4"));

    // every ticket done, each exactly once
    let docs = store.find_t2(&T2Filter::default()).unwrap();
    assert_eq!(docs.len(), tickets);
    for d in &docs {
        assert_eq!(d.code, DocumentCode::OK, "{} {:?}", d.id, d.code);
        assert_eq!(d.lease, None, "{}", d.id);
        let ok = d
            .meta
            .iter()
            .filter(|m| m.tier == Tier::T2 && m.code == DocumentCode::OK)
            .count();
        assert_eq!(ok, 1, "ticket {} processed {ok} times", d.id);
        assert_eq!(
            d.body.len(),
            1,
            "ticket {} has {} results",
            d.id,
            d.body.len()
        );
    }
    // and the same results digest as one process on SQLite (the digest leaves out
    // which process and run did the work, see ampel_core::digest)
    let seq = "sqlite:seq.db";
    for args in [
        vec![
            "--db",
            seq,
            "t0",
            "--manifest",
            &demo(),
            "--source",
            &ztf_alerts(),
        ],
        vec!["--db", seq, "t2", "run", "--until-empty"],
    ] {
        let out = ampel(&args, dir.path());
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    // every collection the same as one process on SQLite, except that the stocks'
    // journals may lack the T2 entries of the killed worker's last batch: on
    // MongoDB its results and its journal entries are two writes (README,
    // "Past one machine"), and a SIGKILL can fall between them
    let collections = |db: &str| ampel_json(&["digest", db], dir.path())["collections"].clone();
    let (mongo, sqlite) = (collections(&db), collections(seq));
    for (name, got) in mongo.as_object().unwrap() {
        if name != "stock" {
            assert_eq!(got, &sqlite[name], "collection {name}");
        }
    }
    // the T2 entries of the stocks' journals, as both stores export them
    let t2_entries = |db: &str| -> BTreeSet<(i64, String)> {
        let dump = export_store(dir.path(), db);
        std::fs::read_to_string(dump.join("stock.jsonl"))
            .unwrap()
            .lines()
            .flat_map(|l| {
                let s: Value = serde_json::from_str(l).unwrap();
                let id = s["stock"].as_i64().unwrap();
                s["journal"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|j| j["tier"] == 2)
                    .filter_map(move |j| Some((id, j["doc"].as_str()?.to_string())))
            })
            .collect()
    };
    let (got, want) = (t2_entries(&db), t2_entries(seq));
    assert!(
        want.len() >= tickets,
        "every ticket journaled sequentially: {}",
        want.len()
    );
    assert!(
        got.is_subset(&want),
        "no T2 journal entry the sequential run lacks: {:?} vs {:?}",
        got.iter().take(3).collect::<Vec<_>>(),
        want.iter().take(3).collect::<Vec<_>>()
    );
    assert!(
        want.len() - got.len() <= 2,
        "at most the killed worker's last batch (2 tickets) lacks its entries: {} of {}",
        got.len(),
        want.len()
    );
}

#[test]
fn an_unreachable_server_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("mongodb://{}/x?directConnection=true", free_loopback_addr());
    // how soon it gives up is the server-selection timeout, tested in
    // ampel-store-mongo (`with_defaults`), not timed here
    let out = ampel(&["--db", &uri, "db", "info"], dir.path());
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("no MongoDB server answered"), "{err}");
    assert!(err.contains("Connection refused"), "{err}");
    assert!(!err.contains("Topology"), "{err}");
}

#[test]
fn refused_credentials_are_named_without_the_password() {
    let server = Server::start_with_user("memory", "ampel", "s3cret-pw");
    let dir = tempfile::tempdir().unwrap();
    // the user is defined in `admin`, the store's prefix is `creds`
    let with = |password: &str| {
        ampel_tests::MongoBackend::with_prefix(
            &server
                .uri
                .replace("mongodb://", &format!("mongodb://ampel:{password}@")),
            "creds",
        ) + "&authSource=admin"
    };
    let uri = with("wrong-pw");
    let out = ampel(&["--db", &uri, "db", "info"], dir.path());
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("authentication"), "{err}");
    assert!(!err.contains("wrong-pw"), "{err}");
    // the right password opens it
    let out = ampel(&["--db", &with("s3cret-pw"), "db", "info"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    server.stop();
}

/// Run `script` (Python, with `uri` as argv[1]) in the stand-in's venv (pymongo).
fn pymongo(script: &str, uri: &str) {
    let out = Command::new(ampel_tests::mongo::mongoeco_python())
        .args(["-c", script, uri])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// The names of the collections of every database of the server.
fn collections(uri: &str) -> String {
    let out = Command::new(ampel_tests::mongo::mongoeco_python())
        .args([
            "-c",
            "import sys, pymongo\nc = pymongo.MongoClient(sys.argv[1])\nfor d in sorted(c.list_database_names()):\n    print(d, sorted(c[d].list_collection_names()), sum(c[d][n].count_documents({}) for n in c[d].list_collection_names()))",
            uri,
        ])
        .output()
        .unwrap();
    text(&out.stdout)
}

#[test]
fn a_newer_layout_an_unknown_python_ampels_data_and_foreign_data_are_named_and_left_untouched() {
    let server = TestServer::own();
    let dir = tempfile::tempdir().unwrap();
    // a store of a layout version this binary does not know
    let newer = server.store("newer");
    let out = ampel(&["--db", &newer, "db", "init"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    pymongo(
        "import sys, pymongo\nc = pymongo.MongoClient(sys.argv[1])\nc.get_default_database().client[c.get_default_database().name + '_ext']['layout'].update_one({'_id': 'layout'}, {'$set': {'version': 99}})",
        &newer,
    );
    // Python AMPEL's documents (as its AlertConsumer writes them: ObjectId keys,
    // the key in t0.id and stock.stock, its run counter and trace records) of a
    // version this project does not know (ampel-core 0.9; 0.10 opens, see
    // python_ampel.rs)
    let python = server.store("pyampel");
    pymongo(
        r#"
import sys, pymongo
from bson import ObjectId
c = pymongo.MongoClient(sys.argv[1])
p = c.get_default_database().name
c[p + "_data"]["t0"].insert_one({"_id": ObjectId(), "id": 1095578116115010003, "stock": [496388897], "channel": ["CHAN_BASIC"], "body": {"jd": 2458850.0781134}})
c[p + "_data"]["stock"].insert_one({"_id": ObjectId(), "stock": 496388897, "channel": ["CHAN_BASIC"]})
c[p + "_ext"]["counter"].insert_one({"_id": "current_run_id", "value": 1})
c[p + "_ext"]["trace"].insert_one({"_id": 6968488062408132080, "unit": "DecentFilter", "version": "0.8.11", "env": {"ampel_core": "0.9.2", "ampel_ztf": "0.8.11", "astropy": "5.3"}})
c[p + "_ext"]["trace"].insert_one({"_id": 6968488062408132081, "unit": "MongoIngester", "version": "0.9.2", "env": {}})
"#,
        &python,
    );
    // somebody else's documents
    let other = server.store("other");
    pymongo(
        "import sys, pymongo\nc = pymongo.MongoClient(sys.argv[1])\nc[c.get_default_database().name + '_data']['t1'].insert_one({'x': 1})",
        &other,
    );
    let before = collections(&server.store(""));
    for (db, expected) in [
        (&newer, "layout version 99"),
        (
            &python,
            "written by Python AMPEL (ampel-core 0.9.2, ampel-ztf 0.8.11), a version this project does not know",
        ),
        (
            &other,
            "holds documents in `t1` but no AMPEL-rs layout record",
        ),
    ] {
        for cmd in [vec!["db", "info"], vec!["t2", "run", "--until-empty"]] {
            let mut args = vec!["--db", db.as_str()];
            args.extend(cmd);
            let out = ampel(&args, dir.path());
            assert!(!out.status.success(), "{args:?}");
            let err = text(&out.stderr);
            assert_eq!(err.trim().lines().count(), 1, "{err}");
            assert!(err.contains(expected), "{args:?}: {err}");
        }
    }
    assert_eq!(collections(&server.store("")), before, "nothing written");
}
