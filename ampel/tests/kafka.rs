//! Live mode against a real Kafka-protocol broker (tansu) on 127.0.0.1: the real
//! alerts of `tests/data` produced with `ampel kafka produce` and consumed by a
//! live T0. A stop mid-stream and a restart lose and repeat nothing (the documents
//! equal an archive ingestion of the same files); a poison message is a trouble
//! record and its offset is committed past; a broker down at start is a clear error
//! after retries; a broker lost mid-stream is waited for; `ampel serve` takes alerts
//! from the topic to a T3 report with no manual step, on SQLite and on MongoDB.

mod support;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

/// T0 config accepting every alert into one channel, with one state T2.
fn t0_config(dir: &Path, survey: &str) -> PathBuf {
    let (supplier, shaper, combine) = match survey {
        "ztf" => (
            "ZiAlertSupplier",
            "ZiDataPointShaper",
            "[[directives.ingest.combine]]\nunit = \"ZiT1Combiner\"\nstate_t2 = [{ unit = \"T2MagSummary\" }]\n",
        ),
        _ => ("LsstAlertSupplier", "LsstDataPointShaper", ""),
    };
    let p = dir.join(format!("{survey}-all.t0.toml"));
    std::fs::write(
        &p,
        format!(
            "process = \"{survey}-live\"\nsupplier = {{ unit = \"{supplier}\" }}\nshaper = {{ unit = \"{shaper}\" }}\n\n[[directives]]\nchannel = \"ALL\"\naccess = [\"ZTF_PUB\", \"LSST\"]\n{combine}"
        ),
    )
    .unwrap();
    p
}

fn run(dir: &Path, args: &[&str]) -> std::process::Output {
    ampel(args, dir)
}

/// `ampel kafka consume` run to its end (for the ways it refuses to start).
fn consume_once(
    dir: &Path,
    cfg: &Path,
    brokers: &str,
    topic: &str,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec![
        "kafka",
        "consume",
        "--config",
        cfg.to_str().unwrap(),
        "--brokers",
        brokers,
        "--topic",
        topic,
    ];
    args.extend_from_slice(extra);
    run(dir, &args)
}

fn consumer(dir: &Path, db: &str, cfg: &Path, kafka: &Kafka, topic: &str, extra: &[&str]) -> Child {
    let cfg = cfg.to_str().unwrap();
    let mut args = vec!["--db", db, "kafka", "consume", "--config", cfg];
    args.extend([
        "--brokers",
        &kafka.addr,
        "--topic",
        topic,
        "--group",
        "tests",
    ]);
    args.extend(["--batch", "5", "--batch-ms", "100"]);
    args.extend_from_slice(extra);
    spawn_json(&args, dir)
}

fn sigterm(c: &Child) {
    Command::new("kill")
        .args(["-TERM", &c.id().to_string()])
        .status()
        .unwrap();
}

fn produce(dir: &Path, kafka: &Kafka, topic: &str, paths: &[PathBuf], rate: &str) -> Value {
    produce_to(dir, &kafka.addr, topic, paths, rate)
}

fn produce_to(dir: &Path, brokers: &str, topic: &str, paths: &[PathBuf], rate: &str) -> Value {
    let mut args = vec![
        "--json".to_string(),
        "kafka".into(),
        "produce".into(),
        "--brokers".into(),
        brokers.into(),
        "--topic".into(),
        topic.into(),
        "--rate".into(),
        rate.into(),
    ];
    args.extend(paths.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(dir, &args);
    assert!(out.status.success(), "produce: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// [`produce`] on a thread (while consumers run); joins to the message count.
fn produce_in_background(
    dir: &Path,
    kafka: &Kafka,
    paths: &[PathBuf],
    rate: &str,
) -> std::thread::JoinHandle<u64> {
    let (d, addr, paths, rate) = (
        dir.to_path_buf(),
        kafka.addr.clone(),
        paths.to_vec(),
        rate.to_string(),
    );
    std::thread::spawn(move || {
        produce_to(&d, &addr, "ztf", &paths, &rate)["messages"]
            .as_u64()
            .unwrap()
    })
}

fn create_topic(dir: &Path, kafka: &Kafka, topic: &str) {
    let out = run(
        dir,
        &["kafka", "create-topic", topic, "--brokers", &kafka.addr],
    );
    assert!(out.status.success(), "create-topic: {}", text(&out.stderr));
}

/// What a store holds, by meaning: datapoints with their number of ingestions,
/// states, T2 documents, stocks with their journal length (from a dump).
fn contents(dir: &Path, db: &str) -> BTreeMap<String, Value> {
    let dump = dir.join(format!("dump-{}", db.replace([':', '/', '.'], "_")));
    let _ = std::fs::remove_dir_all(&dump);
    let out = run(dir, &["--db", db, "db", "export", dump.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = |c: &str| -> Vec<Value> {
        std::fs::read_to_string(dump.join(format!("{c}.jsonl")))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let mut m = BTreeMap::new();
    m.insert(
        "t0".into(),
        lines("t0")
            .iter()
            .map(|d| serde_json::json!([d["id"], d["meta"].as_array().unwrap().len()]))
            .collect(),
    );
    m.insert(
        "t1".into(),
        lines("t1")
            .iter()
            .map(|d| serde_json::json!([d["stock"], d["link"]]))
            .collect(),
    );
    m.insert(
        "t2".into(),
        lines("t2").iter().map(|d| d["id"].clone()).collect(),
    );
    m.insert(
        "stock".into(),
        lines("stock")
            .iter()
            .map(|d| serde_json::json!([d["stock"], d["journal"].as_array().unwrap().len()]))
            .collect(),
    );
    m
}

/// What differs between two [`contents`], at most 5 entries per side and
/// collection ("" when equal).
fn diff(a: &BTreeMap<String, Value>, b: &BTreeMap<String, Value>) -> String {
    let mut out = String::new();
    for (k, va) in a {
        let (xa, xb) = (
            va.as_array().cloned().unwrap_or_default(),
            b.get(k)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        );
        let only = |x: &[Value], y: &[Value]| -> Vec<String> {
            x.iter()
                .filter(|e| !y.contains(e))
                .take(5)
                .map(|e| e.to_string())
                .collect()
        };
        let (oa, ob) = (only(&xa, &xb), only(&xb, &xa));
        if !oa.is_empty() || !ob.is_empty() {
            out += &format!(
                "{k}: {} vs {}; only left {oa:?}; only right {ob:?}\n",
                xa.len(),
                xb.len()
            );
        }
    }
    out
}

fn archive(dir: &Path, cfg: &Path, sources: &[PathBuf]) -> BTreeMap<String, Value> {
    let mut args = vec![
        "--db".to_string(),
        "sqlite:archive.db".into(),
        "t0".into(),
        "--config".into(),
        cfg.display().to_string(),
    ];
    for s in sources {
        args.push("--source".into());
        args.push(s.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(dir, &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    contents(dir, "sqlite:archive.db")
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn t0_count(dir: &Path, db: &str) -> u64 {
    let out = run(dir, &["--json", "--db", db, "db", "info"]);
    serde_json::from_slice::<Value>(&out.stdout)
        .map(|v| v["counts"]["t0"].as_u64().unwrap_or(0))
        .unwrap_or(0)
}

#[test]
fn a_live_t0_stopped_mid_stream_and_restarted_loses_and_repeats_nothing() {
    let kafka = Kafka::start();
    let dir = tempfile::tempdir().unwrap();
    create_topic(dir.path(), &kafka, "ztf");
    let sources: Vec<PathBuf> = [
        "ztf/fink-2020-v3.3",
        "ztf/fink-2019-v3.1",
        "ztf/ampel-2018-v1.8",
    ]
    .iter()
    .map(|s| real_alerts().join(s))
    .collect();
    let cfg = t0_config(dir.path(), "ztf");
    // produce slowly in the background while the consumer runs, stop it mid-stream
    let producer = produce_in_background(dir.path(), &kafka, &sources, "25");
    let c = consumer(dir.path(), "sqlite:live.db", &cfg, &kafka, "ztf", &[]);
    wait_for("the first alerts", Duration::from_secs(60), || {
        t0_count(dir.path(), "sqlite:live.db") > 0
    });
    std::thread::sleep(Duration::from_millis(700));
    sigterm(&c); // mid-stream
    let first = finish_json(c);
    assert_eq!(first["live"]["ended"], "stopped");
    let produced = producer.join().unwrap();
    let n1 = first["live"]["messages"].as_u64().unwrap();
    assert!(
        n1 > 0 && n1 < produced,
        "stopped mid-stream: {n1} of {produced}"
    );
    // restart: resumes from the committed offsets
    let second = finish_json(consumer(
        dir.path(),
        "sqlite:live.db",
        &cfg,
        &kafka,
        "ztf",
        &["--until-idle", "3"],
    ));
    let n2 = second["live"]["messages"].as_u64().unwrap();
    assert_eq!(n1 + n2, produced, "every message consumed exactly once");
    assert!(
        second["live"]["damaged"].as_u64().unwrap() > 0,
        "the damaged 2018 files"
    );
    assert_eq!(
        contents(dir.path(), "sqlite:live.db"),
        archive(dir.path(), &cfg, &sources),
        "live ingestion = archive ingestion of the same files"
    );
}

#[test]
fn rubin_alerts_and_a_poison_message_are_committed_past() {
    let kafka = Kafka::start();
    let dir = tempfile::tempdir().unwrap();
    create_topic(dir.path(), &kafka, "lsst");
    let poison = dir.path().join("poison.bin");
    std::fs::write(&poison, b"\x00\x00\x00\x03\x84 this is not an alert").unwrap();
    let confluent = real_alerts().join("lsst/boom-confluent-v9.0");
    let fink = real_alerts().join("lsst/fink-rubin-v9.0");
    let p = produce(
        dir.path(),
        &kafka,
        "lsst",
        &[confluent.clone(), poison, fink.clone()],
        "0",
    );
    let produced = p["messages"].as_u64().unwrap();
    let cfg = t0_config(dir.path(), "lsst");
    let got = finish_json(consumer(
        dir.path(),
        "sqlite:lsst.db",
        &cfg,
        &kafka,
        "lsst",
        &["--until-idle", "3"],
    ));
    assert_eq!(got["live"]["messages"].as_u64().unwrap(), produced);
    assert_eq!(got["live"]["damaged"], 1, "the poison message");
    assert_eq!(got["t0"]["alerts"].as_u64().unwrap(), produced - 1);
    // its trouble record names the message; everything after it was processed
    let dump = dir.path().join("lsst-dump");
    let out = run(
        dir.path(),
        &[
            "--db",
            "sqlite:lsst.db",
            "db",
            "export",
            dump.to_str().unwrap(),
        ],
    );
    assert!(out.status.success());
    let troubles = std::fs::read_to_string(dump.join("trouble.jsonl")).unwrap();
    assert!(troubles.contains("kafka:lsst/0@1"), "{troubles}");
    assert_eq!(
        contents(dir.path(), "sqlite:lsst.db"),
        archive(dir.path(), &cfg, &[confluent, fink])
    );
    // the offsets were committed past everything, the poison message included
    let again = finish_json(consumer(
        dir.path(),
        "sqlite:lsst.db",
        &cfg,
        &kafka,
        "lsst",
        &["--until-idle", "2"],
    ));
    assert_eq!(again["live"]["messages"], 0);
}

#[test]
fn a_broker_down_at_start_is_retried_then_named() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = t0_config(dir.path(), "ztf");
    let addr = free_loopback_addr();
    let out = consume_once(dir.path(), &cfg, &addr, "ztf", &["--connect-attempts", "2"]);
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!(
            "cannot reach the Kafka brokers {addr} after 2 attempt(s)"
        )),
        "{err}"
    );
    // a missing topic is named too
    let kafka = Kafka::start();
    let out = consume_once(dir.path(), &cfg, &kafka.addr, "nope", &[]);
    assert!(
        text(&out.stderr).contains("topic `nope` does not exist"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_broker_lost_mid_stream_is_waited_for_and_consumption_resumes() {
    let mut kafka = Kafka::start_persistent();
    let dir = tempfile::tempdir().unwrap();
    create_topic(dir.path(), &kafka, "ztf");
    let cfg = t0_config(dir.path(), "ztf");
    let a = real_alerts().join("ztf/fink-2020-v3.3");
    let b = real_alerts().join("ztf/fink-2019-v3.1");
    produce(dir.path(), &kafka, "ztf", std::slice::from_ref(&a), "0");
    let c = consumer(dir.path(), "sqlite:lost.db", &cfg, &kafka, "ztf", &[]);
    let want_a = archive(dir.path(), &cfg, std::slice::from_ref(&a))["t0"]
        .as_array()
        .unwrap()
        .len() as u64;
    wait_for("the first half", Duration::from_secs(60), || {
        t0_count(dir.path(), "sqlite:lost.db") == want_a
    });
    kafka.stop(); // the broker goes away ...
    std::thread::sleep(Duration::from_secs(3));
    kafka.restart(); // ... and comes back with its data
    produce(dir.path(), &kafka, "ztf", std::slice::from_ref(&b), "0");
    let _ = std::fs::remove_file(dir.path().join("archive.db"));
    let want = archive(dir.path(), &cfg, &[a, b]);
    let want_n = want["t0"].as_array().unwrap().len() as u64;
    wait_for("the second half", Duration::from_secs(120), || {
        t0_count(dir.path(), "sqlite:lost.db") == want_n
    });
    sigterm(&c);
    let got = finish_json(c);
    assert_eq!(got["live"]["ended"], "stopped");
    assert_eq!(got["live"]["messages"], 81, "50 + 31 messages, each once");
    assert_eq!(contents(dir.path(), "sqlite:lost.db"), want);
}

#[test]
fn serve_takes_alerts_from_the_topic_to_a_t3_report() {
    serve_to_a_report(|_| "sqlite:serve.db".to_string());
}

#[test]
fn serve_takes_alerts_from_the_topic_through_mongodb_to_a_t3_report() {
    let server = ampel_tests::mongo::TestServer::own();
    serve_to_a_report(|_| server.store("serve"));
}

/// `ampel serve` of a live manifest on the store `db`: alerts produced to the topic
/// reach a T3 report, through T0 and T2 workers, with no manual step.
fn serve_to_a_report(db: impl Fn(&Path) -> String) {
    let kafka = Kafka::start();
    let dir = tempfile::tempdir().unwrap();
    create_topic(dir.path(), &kafka, "ztf");
    // the whole live instance in one manifest: the T0 of its [live] stream, a T2
    // worker, the channel's report
    let units = repo().join("units");
    let manifest = dir.path().join("live.toml");
    std::fs::write(
        &manifest,
        format!(
            r#"[instance]
name = "ztf"
version = "1.0.0"

[[crate]]
name = "ampel-units-ztf"
path = "{units}/ztf"
units = ["ZiAlertSupplier", "ZiDataPointShaper", "ZiT1Combiner"]

[[crate]]
name = "ampel-units-lightcurve"
path = "{units}/lightcurve"
units = ["T2MagSummary"]

[[crate]]
name = "ampel-units-report"
path = "{units}/report"
units = ["T3ReportExporter"]

[t0]
supplier = {{ unit = "ZiAlertSupplier" }}
shaper = {{ unit = "ZiDataPointShaper" }}
combiner = {{ unit = "ZiT1Combiner" }}

[[channel]]
name = "ALL"
access = ["ZTF_PUB"]
t2 = [{{ unit = "T2MagSummary" }}]
t3 = [{{ unit = "T3ReportExporter", name = "report", schedule = "every 2s" }}]

[[process]]
name = "t2"
tier = 2
schedule = "every 1s"

[live]
brokers = "{}"
topics = ["ztf"]
group = "serve"
"#,
            kafka.addr,
            units = units.display()
        ),
    )
    .unwrap();
    let db = db(dir.path());
    let serve = Command::new(env!("CARGO_BIN_EXE_ampel"))
        .args(["--db", &db, "serve", "--manifest"])
        .arg(&manifest)
        .args(["--out", "out"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    produce(
        dir.path(),
        &kafka,
        "ztf",
        &[real_alerts().join("ztf/fink-2020-v3.3")],
        "0",
    );
    // a report listing the alerts' objects appears without any manual step
    let report_rows = || -> usize {
        let Ok(rd) = std::fs::read_dir(dir.path().join("out/report")) else {
            return 0;
        };
        rd.filter_map(Result::ok)
            .filter_map(|e| std::fs::read_to_string(e.path().join("objects.csv")).ok())
            .map(|csv| csv.lines().count().saturating_sub(1))
            .max()
            .unwrap_or(0)
    };
    wait_for(
        "a T3 report with the live alerts' objects",
        Duration::from_secs(90),
        || report_rows() > 0,
    );
    sigterm(&serve);
    let out = serve.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("ztf-live: live T0 started"), "{err}");
    assert!(err.contains("ztf-live: live T0 stopped"), "{err}");
    assert!(err.contains("stopped cleanly"), "{err}");
    // T2 results were made in the store on the way
    let done = ampel_json(&["--db", &db, "t2", "list", "--code", "0"], dir.path());
    assert!(!done.as_array().unwrap().is_empty(), "no T2 result in {db}");
}

/// Past one process: a topic of 4 partitions, 2 T0 consumers of one group and 2
/// T2 workers on one MongoDB store. The second consumer joins mid-stream and the
/// first leaves mid-stream (SIGTERM): each rebalance waits until the messages
/// handed out are persisted and committed, so every message is consumed once,
/// the store holds what one archive ingestion of the same files gives (no alert
/// lost, none ingested twice), and the results digest equals one process's.
#[test]
fn two_t0_consumers_and_two_t2_workers_on_mongodb_rebalance_without_loss_or_repeat() {
    let kafka = Kafka::start();
    let server = ampel_tests::mongo::TestServer::own();
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &[
            "kafka",
            "create-topic",
            "ztf",
            "--partitions",
            "4",
            "--brokers",
            &kafka.addr,
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let sources: Vec<PathBuf> = ["ztf/fink-2020-v3.3", "ztf/fink-2019-v3.1"]
        .iter()
        .map(|s| real_alerts().join(s))
        .collect();
    let cfg = t0_config(dir.path(), "ztf");
    let db = server.store("group");
    let producer = produce_in_background(dir.path(), &kafka, &sources, "20");
    // times from the data, so that the digest can be compared with an archive run
    let archive_clock = ["--clock", "archive"];
    let a = consumer(dir.path(), &db, &cfg, &kafka, "ztf", &archive_clock);
    wait_for("the first alerts", Duration::from_secs(60), || {
        t0_count(dir.path(), &db) > 0
    });
    let b = consumer(
        dir.path(),
        &db,
        &cfg,
        &kafka,
        "ztf",
        &["--clock", "archive", "--until-idle", "8"],
    );
    let workers: Vec<Child> = (0..2)
        .map(|_| spawn_json(&["--db", &db, "t2", "run", "--batch", "4"], dir.path()))
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    sigterm(&a); // mid-stream: its partitions go to b
    let first = finish_json(a);
    let produced = producer.join().unwrap();
    let second = finish_json(b);
    let n1 = first["live"]["messages"].as_u64().unwrap();
    let n2 = second["live"]["messages"].as_u64().unwrap();
    assert!(n1 > 0 && n2 > 0, "both consumed: {n1} + {n2}");
    assert_eq!(n1 + n2, produced, "every message consumed exactly once");
    // the T2 workers finish what is left, then stop
    for w in &workers {
        sigterm(w);
    }
    for w in workers {
        finish_json(w);
    }
    let rest = run(dir.path(), &["--db", &db, "t2", "run", "--until-empty"]);
    assert!(rest.status.success(), "{}", text(&rest.stderr));
    // one process on SQLite, same alerts, as an archive run
    let single = "sqlite:single.db";
    let mut args = vec!["--db", single, "t0", "--config", cfg.to_str().unwrap()];
    let srcs: Vec<String> = sources.iter().map(|s| s.display().to_string()).collect();
    for s in &srcs {
        args.extend(["--source", s.as_str()]);
    }
    assert!(run(dir.path(), &args).status.success());
    assert!(
        run(dir.path(), &["--db", single, "t2", "run", "--until-empty"])
            .status
            .success()
    );
    assert_eq!(
        diff(&contents(dir.path(), &db), &contents(dir.path(), single)),
        "",
        "two consumers and two workers = one process on the same files"
    );
    let digest = |db: &str| -> Value {
        let out = run(dir.path(), &["--json", "digest", db]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let (multi, one) = (digest(&db), digest(single));
    assert_eq!(multi["collections"], one["collections"]);
    assert_eq!(multi["digest"], one["digest"]);
}
