//! T3 on real alerts: channel projection (a unit of channel A never receives channel
//! B's documents), stock updates, T3 documents, failing units, the HTML report.

use ampel_core::t0::T0Config;
use ampel_core::t3::{run_t3, T3Config};
use ampel_core::Clock;
use ampel_interface::serde_json::{json, Value};
use ampel_interface::*;
use ampel_store::*;
use ampel_store_sqlite::SqliteStore;
use ampel_tests::units::registry;

/// Two channels splitting the ZTF alerts by brightness of the triggering detection.
fn ingest(store: &dyn Store) {
    let channel = |name: &str, op: &str| {
        json!({"channel": name, "access": ["ZTF_PUB", "ZTF_PRIV"],
            "filter": {"unit": "CriteriaFilter", "config": {"criteria": [{"attribute": "magpsf", "operator": op, "value": 18.5}]}},
            "ingest": {"combine": [{"unit": "ZiT1Combiner", "state_t2": [{"unit": "T2MagSummary"}]}]}})
    };
    let cfg: T0Config = serde_json::from_value(json!({
        "supplier": {"unit": "ZiAlertSupplier"}, "shaper": {"unit": "ZiDataPointShaper"}, "muxer": {"unit": "ZiMuxer"},
        "directives": [channel("BRIGHT", "<"), channel("FAINT", ">=")]
    }))
    .unwrap();
    let registry = registry();
    ampel_tests::ingest_archive(
        cfg,
        &registry,
        store,
        &ampel_tests::real_alerts().join("ztf"),
    );
}

fn t3(units: Value) -> T3Config {
    serde_json::from_value(json!({ "process": "audit", "units": units })).unwrap()
}

#[test]
fn a_channel_unit_sees_only_its_channel() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("t3.db")).unwrap();
    ingest(&store);
    let both = store
        .select_stocks(&StockSelection {
            channel_all: vec!["BRIGHT".into(), "FAINT".into()],
            ..Default::default()
        })
        .unwrap();
    let faint_only = store
        .select_stocks(&StockSelection {
            channel_any: vec!["FAINT".into()],
            tag_without: vec![],
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .filter(|s| !both.contains(s))
        .collect::<Vec<_>>();
    assert!(
        !faint_only.is_empty(),
        "the data must have stocks outside BRIGHT"
    );
    let cfg =
        t3(json!([{ "unit": "ChannelAudit", "channel": "BRIGHT" }, { "unit": "ChannelAudit" }]));
    let report = run_t3(&cfg, &registry(), &store, &Clock::archive(1e9), dir.path()).unwrap();
    assert_eq!(
        report.documents.len(),
        2,
        "one document per configured unit"
    );
    let docs = store.find_t3(Some("audit")).unwrap();
    let bright = &docs[0];
    assert_eq!(bright.channel.as_deref(), Some("BRIGHT"));
    assert_eq!(
        bright.body["channels_seen"],
        json!(["BRIGHT"]),
        "no FAINT document reached the BRIGHT unit"
    );
    let seen: Vec<i64> = serde_json::from_value(bright.body["stocks"].clone()).unwrap();
    assert!(
        faint_only.iter().all(|s| !seen.contains(s)),
        "FAINT-only stocks are not shown to BRIGHT"
    );
    for s in &seen {
        let stock = store.get_stock(*s).unwrap().unwrap();
        assert!(stock.tag.contains("AUDITED"));
        assert!(stock
            .journal
            .iter()
            .any(|j| j.tier == Tier::T3 && j.action == JournalActionCode::T3_ADD_DOC));
    }
}

#[test]
fn a_public_channel_t3_sees_no_private_data_of_a_stock_it_shares_with_a_private_channel() {
    // both channels take every alert; only their access rights differ
    let channel = |name: &str, access: Value| {
        json!({"channel": name, "access": access,
            "filter": {"unit": "CriteriaFilter", "config": {"criteria": [{"attribute": "magpsf", "operator": "<", "value": 99}]}},
            "ingest": {"combine": [{"unit": "ZiT1Combiner", "state_t2": [{"unit": "T2MagSummary"}]}],
                       "point_t2": [{"unit": "T2PointEcho"}]}})
    };
    let cfg: T0Config = serde_json::from_value(json!({
        "supplier": {"unit": "ZiAlertSupplier"}, "shaper": {"unit": "ZiDataPointShaper"}, "muxer": {"unit": "ZiMuxer"},
        "directives": [channel("PUB", json!(["ZTF_PUB"])), channel("PRIV", json!(["ZTF_PUB", "ZTF_PRIV"]))]
    }))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("rights.db")).unwrap();
    let registry = registry();
    // real alerts with about a third of the previous detections and upper limits made
    // private (ZTF programid 2), as a partnership alert would carry them; chosen by
    // observation time, so a datapoint is private in every alert that repeats it
    ampel_tests::ingest_rewritten(
        cfg,
        &registry,
        &store,
        &ampel_tests::real_alerts().join("ztf/fink-2019-v3.1"),
        &mut |alert| {
            for p in alert["prv_candidates"].as_array_mut().into_iter().flatten() {
                let jd = p["jd"].as_f64().unwrap_or(0.0);
                if (jd * 86_400.0) as i64 % 3 == 0 {
                    p["programid"] = json!(2);
                }
            }
        },
    );
    let mut worker = ampel_core::t2::T2Worker::new(
        ampel_core::t2::T2WorkerConfig {
            data_time: true,
            ..Default::default()
        },
        &registry,
        &store,
    )
    .unwrap();
    worker
        .run(true, &std::sync::atomic::AtomicBool::new(false))
        .unwrap();
    // the stocks both channels hold that have private datapoints
    let mixed: Vec<i64> = store
        .select_stocks(&StockSelection {
            channel_all: vec!["PUB".into(), "PRIV".into()],
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .filter(|s| {
            store
                .stock_datapoints(*s)
                .unwrap()
                .iter()
                .any(|d| d.body.get("programid").and_then(Value::as_i64) == Some(2))
        })
        .collect();
    assert!(!mixed.is_empty(), "the real alerts hold private datapoints");
    let cfg = t3(json!([
        { "unit": "ChannelAudit", "channel": "PUB" },
        { "unit": "ChannelAudit", "channel": "PRIV" }
    ]));
    run_t3(&cfg, &registry, &store, &Clock::archive(1e9), dir.path()).unwrap();
    let docs = store.find_t3(Some("audit")).unwrap();
    let (public, private) = (&docs[0].body, &docs[1].body);
    assert_eq!(docs[0].channel.as_deref(), Some("PUB"));
    assert_eq!(
        public["private_datapoints"], 0,
        "PUB saw private datapoints"
    );
    assert!(
        private["private_datapoints"].as_u64().unwrap() > 0,
        "PRIV sees its rights"
    );
    assert!(
        public["datapoints"].as_u64().unwrap() < private["datapoints"].as_u64().unwrap(),
        "the same stocks, fewer datapoints for PUB: {public} / {private}"
    );
    // nothing of the other channel: no meta activity, journal entry, or time
    assert_eq!(public["channels_seen"], json!(["PUB"]), "{public}");
    assert_eq!(public["ts_keys"], json!(["PUB", "any"]), "{public}");
    assert_eq!(private["channels_seen"], json!(["PRIV"]), "{private}");
    // a point T2 of a private datapoint is no result of PUB's
    let visible: std::collections::BTreeSet<i64> = mixed
        .iter()
        .flat_map(|s| store.stock_datapoints(*s).unwrap())
        .filter(|d| d.body.get("programid").and_then(Value::as_i64) == Some(2))
        .map(|d| d.id)
        .collect();
    let links: Vec<i64> = serde_json::from_value(public["t2_links"].clone()).unwrap();
    assert!(
        links.iter().all(|l| !visible.contains(l)),
        "PUB got a private point T2"
    );
    let links: Vec<i64> = serde_json::from_value(private["t2_links"].clone()).unwrap();
    assert!(
        links.iter().any(|l| visible.contains(l)),
        "PRIV sees its point T2s"
    );
}

#[test]
fn a_failing_unit_is_recorded_and_the_others_still_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("t3.db")).unwrap();
    ingest(&store);
    let cfg =
        t3(json!([{ "unit": "FailingT3" }, { "unit": "T3ReportExporter", "channel": "FAINT" }]));
    let report = run_t3(&cfg, &registry(), &store, &Clock::archive(1e9), dir.path()).unwrap();
    assert_eq!(
        report.failed,
        vec![(
            "FailingT3".to_string(),
            "the report server is on fire".to_string()
        )]
    );
    assert_eq!(
        report.documents,
        vec![format!("audit-{}-1-T3ReportExporter", report.run)]
    );
    let event = store
        .events(&EventQuery {
            process: Some("audit".into()),
            ..Default::default()
        })
        .unwrap()
        .remove(0);
    assert_eq!(event.code, EventCode::ERROR, "the run is marked failed");
    assert_eq!(
        store
            .troubles(&TroubleQuery {
                unit: Some("FailingT3".into()),
                ..Default::default()
            })
            .unwrap()
            .len(),
        1
    );
    // the report: one row and one plot per FAINT stock
    let doc = &store.find_t3(Some("audit")).unwrap()[0];
    let out = dir.path().join(doc.body["dir"].as_str().unwrap());
    let csv = std::fs::read_to_string(out.join("objects.csv")).unwrap();
    assert_eq!(
        csv.lines().count() as u64,
        1 + doc.body["objects"].as_u64().unwrap()
    );
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        html.contains("<table>") && html.contains("plots/"),
        "{html}"
    );
    let rows: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("objects.json")).unwrap()).unwrap();
    let rows = rows.as_array().unwrap();
    assert!(rows.iter().all(|r| r["channels"] == json!(["FAINT"])));
    // each object: a page (plot, light-curve table, T2 results, links) and a plot
    // with axes and a band legend
    for r in rows {
        let page = std::fs::read_to_string(out.join(r["page"].as_str().unwrap())).unwrap();
        let name = r["name"].as_str().unwrap();
        for want in [
            "<svg",
            ">MJD</text>",
            ">date (UTC)</text>",
            "<table class=\"lc\">",
            "<h3 class=\"t2\">",
            &format!("https://fink-portal.org/{name}"),
            "https://simbad.cds.unistra.fr/",
        ] {
            assert!(page.contains(want), "{want}: {page}");
        }
        let plot = r["page"]
            .as_str()
            .unwrap()
            .replace("objects/", "plots/")
            .replace(".html", ".svg");
        let svg = std::fs::read_to_string(out.join(plot)).unwrap();
        assert!(
            svg.contains(">magnitude (AB)</text>") && svg.contains("class=\"det\""),
            "{svg}"
        );
        assert!(r["first_date"].as_str().unwrap().starts_with("20"), "{r}");
    }
    let index = std::fs::read_to_string(out.parent().unwrap().join("index.html")).unwrap();
    assert!(index.contains("latest: <a href=\"audit-run"), "{index}");
}

#[test]
fn unknown_units_are_all_reported_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("t3.db")).unwrap();
    let cfg = t3(
        json!([{ "unit": "ChanelAudit" }, { "unit": "T3ReportExporter", "config": { "dir": "../escape" } }]),
    );
    let e = run_t3(&cfg, &registry(), &store, &Clock::archive(1e9), dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("units[0]: unknown unit `ChanelAudit` (did you mean ChannelAudit?)"),
        "{e}"
    );
    assert!(
        e.contains("units[1]: invalid config for unit `T3ReportExporter`")
            && e.contains("`dir` = \"../escape\""),
        "{e}"
    );
    assert!(
        store.events(&EventQuery::default()).unwrap().is_empty(),
        "nothing ran"
    );
    ingest(&store);
    let typo = t3(json!([{ "unit": "ChannelAudit", "channel": "BRIHGT" }]));
    let e = run_t3(&typo, &registry(), &store, &Clock::archive(1e9), dir.path())
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "unknown channel `BRIHGT`: no stock in the store has ever been in it"
    );
}

/// A one-thread HTTP server on 127.0.0.1 that answers each request with the next
/// status from `statuses` and hands over the bodies it received.
fn http_server(statuses: Vec<u16>) -> (String, std::thread::JoinHandle<Vec<String>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/hook/secret-token",
        listener.local_addr().unwrap()
    );
    let handle = std::thread::spawn(move || {
        let mut bodies = Vec::new();
        for status in statuses {
            let (mut conn, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            bodies.push(String::from_utf8(body).unwrap());
            write!(
                conn,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
        }
        bodies
    });
    (url, handle)
}

#[test]
fn the_notifier_posts_slack_json_retrying_once_and_never_shows_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("t3.db")).unwrap();
    ingest(&store);
    let (url, server) = http_server(vec![500, 200]);
    std::env::set_var("AMPEL_SECRET_T3_TEST_HOOK", &url);
    let cfg = t3(json!([{ "unit": "T3HttpNotifier", "channel": "BRIGHT",
        "config": { "url_secret": "T3_TEST_HOOK", "backoff_seconds": 0.01, "max_objects": 3 } }]));
    let report = run_t3(&cfg, &registry(), &store, &Clock::archive(1e9), dir.path()).unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let bodies = server.join().unwrap();
    assert_eq!(bodies.len(), 2, "one failed attempt, one retry");
    let msg: Value = serde_json::from_str(&bodies[1]).unwrap();
    assert!(
        msg["text"].as_str().unwrap().starts_with("audit: "),
        "{msg}"
    );
    assert!(msg["text"].as_str().unwrap().contains("channel BRIGHT"));
    assert_eq!(msg["blocks"].as_array().unwrap().len(), 3);
    assert_eq!(msg["blocks"][0]["type"], "section");
    let doc = &store.find_t3(Some("audit")).unwrap()[0];
    assert_eq!(doc.body["attempts"], 2);
    let everything = serde_json::to_string(&store.find_t3(None).unwrap()).unwrap()
        + &serde_json::to_string(&store.get_config(doc.confid.unwrap()).unwrap()).unwrap();
    assert!(
        !everything.contains("secret-token"),
        "the URL must not be stored"
    );
}

#[test]
fn an_unreachable_notification_url_is_retried_then_recorded_without_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("t3.db")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::env::set_var(
        "AMPEL_SECRET_T3_DEAD_HOOK",
        format!("http://127.0.0.1:{port}/hook/secret-token"),
    );
    let cfg = t3(
        json!([{ "unit": "T3HttpNotifier", "config": { "url_secret": "T3_DEAD_HOOK", "attempts": 2, "backoff_seconds": 0.01 } }]),
    );
    let report = run_t3(&cfg, &registry(), &store, &Clock::archive(1e9), dir.path()).unwrap();
    let (unit, msg) = &report.failed[0];
    assert_eq!(unit, "T3HttpNotifier");
    assert!(
        msg.contains("secret `T3_DEAD_HOOK` failed after 2 attempts"),
        "{msg}"
    );
    assert!(
        !msg.contains("secret-token") && !msg.contains(&port.to_string()),
        "{msg}"
    );
    let troubles = store.troubles(&TroubleQuery::default()).unwrap();
    assert!(!serde_json::to_string(&troubles)
        .unwrap()
        .contains("secret-token"));
    // a URL in the config is refused: it must be a secret name
    let bad = t3(json!([{ "unit": "T3HttpNotifier", "config": { "url_secret": "http://x/y" } }]));
    let e = run_t3(&bad, &registry(), &store, &Clock::archive(1e9), dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("a secret name (letters, digits, _), not a URL"),
        "{e}"
    );
}
