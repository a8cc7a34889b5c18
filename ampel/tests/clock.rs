//! One clock rule for every tier: in archive mode T3's "now" is the store's data
//! time, so `since_last_run_of` compares data time with data time. T0 -> T3 -> T0
//! -> T3 on two nights of real ZTF alerts: the second T3 selects exactly the
//! stocks of the second night, a third selects none.

mod support;

use serde_json::Value;
use std::path::Path;
use support::*;

fn json_of(args: &[&str], dir: &Path) -> Value {
    let out = ampel(args, dir);
    assert!(
        out.status.success(),
        "ampel {args:?}: {}",
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn t3_since_its_last_run_selects_the_stocks_of_a_later_t0_batch() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // two nights: 31 alerts of November 2018, then 50 alerts (50 objects) of
    // January 2020; every alert of a night has the same exposure time
    let ztf = real_alerts().join("ztf");
    let (a, b) = (ztf.join("fink-2019-v3.1"), ztf.join("fink-2020-v3.3"));
    let objects_b = std::fs::read_dir(&b).unwrap().count() as u64;
    std::fs::write(
        d.join("t0.toml"),
        "process = \"t0\"\nsupplier = { unit = \"ZiAlertSupplier\" }\nshaper = { unit = \"ZiDataPointShaper\" }\n\n\
         [[directives]]\nchannel = \"ALL\"\naccess = [\"ZTF_PUB\"]\n",
    )
    .unwrap();
    std::fs::write(
        d.join("t3.toml"),
        "process = \"t3-new\"\nselect = { since_last_run_of = \"t3-new\" }\nunits = []\n",
    )
    .unwrap();
    let db = ["--db", "sqlite:s.db", "--json"];
    let run = |args: &[&str]| json_of(&[&db[..], args].concat(), d);
    let stocks = || run(&["db", "info"])["counts"]["stock"].as_u64().unwrap();
    let t3 = || {
        run(&["t3", "--config", "t3.toml", "--out", "out"])["selected"]
            .as_u64()
            .unwrap()
    };

    run(&["t0", "--config", "t0.toml", "--source", a.to_str().unwrap()]);
    let first = stocks();
    assert!(first > 0);
    assert_eq!(t3(), first, "a process that never ran selects everything");

    run(&["t0", "--config", "t0.toml", "--source", b.to_str().unwrap()]);
    assert!(stocks() > first);
    assert_eq!(
        t3(),
        objects_b,
        "exactly the stocks the second night updated"
    );
    assert_eq!(t3(), 0, "nothing new since the last run");

    // the rule is the data's: the run's start is the latest stock update, not now
    let events = run(&["event", "--process", "t3-new"]);
    let start = events[0]["start"].as_f64().unwrap();
    assert!(
        start < 1.7e9,
        "a T3 run in archive mode starts at data time (2020 here), not at the wall clock: {start}"
    );

    // commands that take a stock take the ZTF name too (the ZTF id mapper unit)
    let logs = run(&["log", "--stock", "ZTF20aabaesm"]);
    assert!(logs.is_array(), "{logs}");
    let reset = run(&["t2", "reset", "--stock", "ZTF20aabaesm"]);
    assert_eq!(reset["reset"], 0, "no T2 units here: {reset}");
    let bad = ampel(&[&db[..], &["log", "--stock", "ZTF2Oaabaesm"]].concat(), d);
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("neither a stock id nor an object name"),
        "{}",
        text(&bad.stderr)
    );
}
