//! The live T0 loop over an in-memory stream of the real ZTF alerts, one message
//! per alert file as on ZTF's Kafka topics: every commit comes after the documents
//! of every alert handed out so far are in the store; a message that cannot be
//! decoded is a trouble record and is committed past; a stop flushes and commits,
//! and a restart on the rest of the stream (its partitions rebalanced away in the
//! middle of batches, each time persisted and committed first) ends with the same
//! documents as an archive ingestion of the same files — nothing lost, nothing
//! ingested twice.

use ampel_core::live::{run_live, AlertStream, LiveOptions, Message};
use ampel_core::t0::{T0Config, T0Processor};
use ampel_core::Clock;
use ampel_store::{Store, T2Filter};
use ampel_tests::{real_alerts, units::registry};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Messages from a list. At each commit it checks, in the store, that the alert of
/// every message handed out so far is persisted (its candidate datapoint exists).
/// With `revoke_every`, it gives its messages up every that many messages, as a
/// consumer-group rebalance does: it asks the loop to persist, then commits.
struct ListStream<'a> {
    store: &'a dyn Store,
    messages: VecDeque<(Option<i64>, Message)>,
    handed: Vec<i64>,
    commits: usize,
    revoke_every: Option<usize>,
    revoked_at: Vec<usize>,
}

impl AlertStream for ListStream<'_> {
    fn poll(
        &mut self,
        _: Duration,
        persist: &mut dyn FnMut() -> Result<(), String>,
    ) -> Result<Option<Message>, String> {
        let n = self.handed.len();
        if self
            .revoke_every
            .is_some_and(|k| n > 0 && n.is_multiple_of(k) && self.revoked_at.last() != Some(&n))
        {
            persist()?;
            self.commit()?;
            self.revoked_at.push(n);
        }
        Ok(self.messages.pop_front().map(|(candid, m)| {
            self.handed.extend(candid);
            m
        }))
    }
    fn commit(&mut self) -> Result<(), String> {
        let present = self
            .store
            .get_datapoints(&self.handed)
            .map_err(|e| e.to_string())?;
        if present.len() != self.handed.len() {
            return Err(format!(
                "commit {}: {} of {} handed-out alerts are not persisted",
                self.commits,
                self.handed.len() - present.len(),
                self.handed.len()
            ));
        }
        self.commits += 1;
        Ok(())
    }
    fn describe(&self) -> String {
        "list".into()
    }
}

fn config() -> T0Config {
    serde_json::from_value(serde_json::json!({
        "process": "live-test",
        "supplier": {"unit": "ZiAlertSupplier"},
        "shaper": {"unit": "ZiDataPointShaper"},
        "directives": [{
            "channel": "ALL",
            "access": ["ZTF_PUB"],
            "ingest": {"combine": [{"unit": "ZiT1Combiner", "state_t2": [{"unit": "T2MagSummary"}]}]}
        }]
    }))
    .unwrap()
}

/// The fink alerts, named by candid, as messages; a garbage one after the tenth.
fn messages() -> Vec<(Option<i64>, Message)> {
    let dir = real_alerts().join("ztf/fink-2020-v3.3");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut out: Vec<(Option<i64>, Message)> = files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let candid: i64 = f.file_stem().unwrap().to_str().unwrap().parse().unwrap();
            (
                Some(candid),
                Message {
                    origin: format!("list/0@{i}"),
                    payload: std::fs::read(f).unwrap(),
                    timestamp_ms: None,
                },
            )
        })
        .collect();
    out.insert(
        10,
        (
            None,
            Message {
                origin: "list/0@poison".into(),
                payload: b"\x00\x00\x00\x03\x84not an alert".to_vec(),
                timestamp_ms: None,
            },
        ),
    );
    out
}

/// Entries of the array `key` over every document of `collection`.
fn entries(store: &dyn Store, collection: &str, key: &str) -> u64 {
    let mut n = 0u64;
    store
        .dump(collection, &mut |d| {
            n += d[key].as_array().map_or(0, Vec::len) as u64;
            Ok(())
        })
        .unwrap();
    n
}

fn summary(store: &dyn Store) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    m.insert("t0 meta records".into(), entries(store, "t0", "meta"));
    for (k, n) in store.info().unwrap().counts {
        if ["t0", "t1", "t2", "stock"].contains(&k.as_str()) {
            m.insert(k, n);
        }
    }
    m.insert(
        "stock journal entries".into(),
        entries(store, "stock", "journal"),
    );
    m
}

#[test]
fn live_batches_commit_after_persisting_and_a_restart_loses_and_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry();
    let clock = Clock::Live;
    let live =
        ampel_commands::open_store(&format!("sqlite:{}", dir.path().join("live.db").display()))
            .unwrap();
    let all = messages();
    let n = all.len();
    let opts = LiveOptions {
        batch_max: 7,
        batch_wait: Duration::from_millis(50),
        idle_stop: Some(Duration::from_millis(200)),
        max_messages: None,
        ..LiveOptions::default()
    };
    // first run: stopped after the third batch
    let mut stream = ListStream {
        store: live.as_ref(),
        messages: all.into(),
        handed: vec![],
        commits: 0,
        revoke_every: None,
        revoked_at: vec![],
    };
    let stop = AtomicBool::new(false);
    let mut t0 = T0Processor::new(config(), &registry, live.as_ref(), &clock).unwrap();
    let first = run_live(&mut t0, &mut stream, &opts, &stop, &mut |s| {
        if s.batches == 3 {
            stop.store(true, std::sync::atomic::Ordering::SeqCst); // SIGTERM
        }
    })
    .unwrap();
    t0.finish(0.0, None).unwrap();
    assert_eq!(first.ended, "stopped");
    assert_eq!((first.batches, stream.commits), (3, 3));
    assert_eq!(first.damaged, 1, "the poison message");
    // restart on what was not committed
    let rest: Vec<_> = stream.messages.drain(..).collect();
    assert_eq!(first.messages + rest.len(), n);
    // the restarted consumer's partitions are rebalanced away every 3 messages,
    // in the middle of its batches of 7
    let mut stream2 = ListStream {
        store: live.as_ref(),
        messages: rest.into(),
        handed: vec![],
        commits: 0,
        revoke_every: Some(3),
        revoked_at: vec![],
    };
    let mut t0 = T0Processor::new(config(), &registry, live.as_ref(), &clock).unwrap();
    let second = run_live(
        &mut t0,
        &mut stream2,
        &opts,
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap();
    t0.finish(0.0, None).unwrap();
    assert_eq!(second.ended, "idle");
    assert_eq!(first.messages + second.messages, n);
    assert!(stream2.revoked_at.len() >= 3, "{:?}", stream2.revoked_at);
    let troubles = live.troubles(&Default::default()).unwrap();
    assert!(
        troubles
            .iter()
            .any(|t| t.doc.as_deref() == Some("list/0@poison")),
        "{troubles:?}"
    );
    // the same documents as one archive ingestion of the same files
    let archive = ampel_commands::open_store(&format!(
        "sqlite:{}",
        dir.path().join("archive.db").display()
    ))
    .unwrap();
    let mut t0 = T0Processor::new(config(), &registry, archive.as_ref(), &clock).unwrap();
    ampel_avro::input::walk(
        &[real_alerts().join("ztf/fink-2020-v3.3")],
        &ampel_avro::ReadOptions::default(),
        &mut |item| {
            t0.process(item).unwrap();
            true
        },
    );
    t0.finish(0.0, None).unwrap();
    assert_eq!(summary(live.as_ref()), summary(archive.as_ref()));
    let ids = |s: &dyn Store| -> Vec<String> {
        s.find_t2(&T2Filter::default())
            .unwrap()
            .into_iter()
            .map(|d| d.id)
            .collect()
    };
    assert_eq!(ids(live.as_ref()), ids(archive.as_ref()));
}
