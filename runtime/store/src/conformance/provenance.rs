//! Conformance checks for provenance: run ids, events, logs, trouble records,
//! config and trace registries, T3 documents.

use super::*;
use ampel_interface::*;
use serde_json::json;
use std::collections::BTreeSet;

/// Run ids are unique across concurrent handles and increase.
pub fn run_ids_are_unique_and_increasing(b: &dyn Backend) {
    let uri = b.fresh_uri();
    let lists: Vec<Vec<RunId>> = std::thread::scope(|scope| {
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let st = b.open(&uri);
                scope.spawn(move || (0..25).map(|_| st.next_run_id().unwrap()).collect())
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: Vec<RunId> = lists.iter().flatten().copied().collect();
    for l in &lists {
        assert!(
            l.windows(2).all(|w| w[0] < w[1]),
            "increasing per handle: {l:?}"
        );
    }
    all.sort_unstable();
    assert_eq!(all, (1..=100).collect::<Vec<_>>());
}

/// A run starts with its id and its event at once; a run whose process died is
/// taken over by exactly one process (compare-and-swap on code and owner); a T0
/// batch writes its documents and then its event.
pub fn runs_start_and_are_taken_over_once(b: &dyn Backend) {
    let st = fresh(b);
    let owner = |pid: u32| RunOwner {
        host: "h".into(),
        boot: "b".into(),
        pid,
        since: 7,
        id: format!("w{pid}"),
    };
    let ev = Event {
        run: 0,
        process: "p".into(),
        tier: Tier::T0,
        code: EventCode::RUNNING,
        start: 1.0,
        duration: None,
        jobid: None,
        ret: None,
        owner: Some(owner(1)),
    };
    let r1 = st.start_run(&ev).unwrap();
    let r2 = st.start_run(&ev).unwrap();
    assert_eq!(r2, r1 + 1);
    let stored = st.events(&EventQuery::default()).unwrap();
    assert_eq!(stored.iter().map(|e| e.run).collect::<Vec<_>>(), [r1, r2]);
    assert_eq!(stored[0].owner, Some(owner(1)));
    let dead = stored[0].clone();
    let mine = Event {
        owner: Some(owner(2)),
        ..dead.clone()
    };
    let theirs = Event {
        owner: Some(owner(3)),
        ..dead.clone()
    };
    assert!(st.take_over_run(&dead, &mine).unwrap());
    assert!(
        !st.take_over_run(&dead, &theirs).unwrap(),
        "a run is taken over once"
    );
    let gone = Event { run: 99, ..dead };
    assert!(!st.take_over_run(&gone, &theirs).unwrap(), "no such run");
    let now = st.events(&EventQuery::default()).unwrap();
    assert_eq!(now[0].owner, Some(owner(2)));
    assert_eq!(
        st.next_run_id().unwrap(),
        r2 + 1,
        "a takeover uses no new id"
    );
    // a batch: documents, then its event as the checkpoint
    let batch = T0Batch {
        datapoints: vec![dp(1, 10, &["A"], r1)],
        tickets: vec![ticket(10, "U", 1, &["A"])],
        event: Some(Event {
            ret: Some(json!({"items": 1})),
            ..now[0].clone()
        }),
        ..Default::default()
    };
    let counts = st.write_t0_batch(&batch).unwrap();
    assert_eq!(counts.datapoints.inserted, 1);
    assert_eq!(counts.tickets.inserted, 1);
    let after = st.events(&EventQuery::default()).unwrap();
    assert_eq!(after[0].ret, Some(json!({"items": 1})));
}

/// Events upsert by run and come back ascending; logs and troubles keep insertion order.
pub fn events_logs_troubles(b: &dyn Backend) {
    let st = fresh(b);
    let ev = |run, process: &str, code| Event {
        run,
        process: process.into(),
        tier: Tier::T2,
        code,
        start: run as f64,
        duration: None,
        jobid: None,
        ret: None,
        owner: None,
    };
    st.record_event(&ev(2, "p", EventCode::RUNNING)).unwrap();
    st.record_event(&ev(1, "p", EventCode::OK)).unwrap();
    st.record_event(&ev(3, "q", EventCode::OK)).unwrap();
    st.record_event(&Event {
        duration: Some(1.5),
        ..ev(2, "p", EventCode::EXCEPTION)
    })
    .unwrap();
    let all = st.events(&EventQuery::default()).unwrap();
    assert_eq!(all.iter().map(|e| e.run).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(all[1].code, EventCode::EXCEPTION);
    assert_eq!(all[1].duration, Some(1.5));
    let q = EventQuery {
        process: Some("p".into()),
        code: Some(vec![EventCode::OK]),
        ..Default::default()
    };
    assert_eq!(st.events(&q).unwrap().len(), 1);
    let q = EventQuery {
        last: Some(2),
        ..Default::default()
    };
    assert_eq!(
        st.events(&q)
            .unwrap()
            .iter()
            .map(|e| e.run)
            .collect::<Vec<_>>(),
        vec![2, 3]
    );
    let q = EventQuery {
        after_run: Some(1),
        ..Default::default()
    };
    assert_eq!(st.events(&q).unwrap().len(), 2);

    let log = |run, stock, msg: &str, flag| LogRecord {
        ts: 1.0,
        run,
        flag,
        stock,
        channel: Some("A".into()),
        unit: None,
        msg: msg.into(),
        extra: None,
    };
    st.insert_logs(&[
        log(1, Some(5), "first", LogFlag::T0 | LogFlag::INFO),
        log(1, None, "second", LogFlag::T0 | LogFlag::ERROR),
        log(2, Some(5), "third", LogFlag::T2 | LogFlag::INFO),
    ])
    .unwrap();
    let msgs = |q: LogQuery| {
        st.logs(&q)
            .unwrap()
            .into_iter()
            .map(|l| l.msg)
            .collect::<Vec<_>>()
    };
    assert_eq!(msgs(LogQuery::default()), vec!["first", "second", "third"]);
    assert_eq!(
        msgs(LogQuery {
            run: Some(1),
            ..Default::default()
        }),
        vec!["first", "second"]
    );
    assert_eq!(
        msgs(LogQuery {
            stock: Some(5),
            ..Default::default()
        }),
        vec!["first", "third"]
    );
    assert_eq!(
        msgs(LogQuery {
            flag: Some(LogFlag::ERROR),
            ..Default::default()
        }),
        vec!["second"]
    );
    assert_eq!(
        msgs(LogQuery {
            limit: Some(1),
            ..Default::default()
        }),
        vec!["first"]
    );

    let trouble = |run, unit: &str| TroubleRecord {
        ts: 1.0,
        tier: Tier::T2,
        run,
        process: "p".into(),
        unit: Some(unit.into()),
        stock: Some(4 + run),
        doc: None,
        message: format!("boom {run}"),
        context: Some(json!({"k": "v"})),
    };
    st.insert_trouble(&trouble(1, "U")).unwrap();
    st.insert_trouble(&trouble(2, "V")).unwrap();
    assert_eq!(st.troubles(&TroubleQuery::default()).unwrap().len(), 2);
    let q = TroubleQuery {
        unit: Some("V".into()),
        ..Default::default()
    };
    assert_eq!(st.troubles(&q).unwrap()[0].message, "boom 2");
    let about = |stock| {
        st.troubles(&TroubleQuery {
            stock: Some(stock),
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|t| t.message)
        .collect::<Vec<_>>()
    };
    assert_eq!(about(5), ["boom 1"], "by the stock the record is about");
    assert_eq!(about(9), Vec::<String>::new());
}

/// Config and trace registries are idempotent and refuse conflicts; T3 docs round-trip.
pub fn config_trace_and_t3_registries(b: &dyn Backend) {
    let st = fresh(b);
    let cfg = json!({"min_ndet": 2});
    let h = hash::config_hash(&cfg);
    st.register_config(h, &cfg).unwrap();
    st.register_config(h, &cfg).unwrap();
    assert!(matches!(
        st.register_config(h, &json!({"min_ndet": 3})),
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(st.get_config(h).unwrap(), Some(cfg.clone()));
    assert_eq!(st.get_config(h + 1).unwrap(), None);
    let trace = TraceRecord {
        id: hash::trace_id("U", "1.0.0", "abcd", &cfg),
        unit: "U".into(),
        version: "1.0.0".into(),
        digest: "abcd".into(),
        config: cfg,
    };
    st.register_trace(&trace).unwrap();
    st.register_trace(&trace).unwrap();
    let bad = TraceRecord {
        version: "2.0.0".into(),
        ..trace.clone()
    };
    assert!(matches!(
        st.register_trace(&bad),
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(st.get_trace(trace.id).unwrap(), Some(trace.clone()));
    assert_eq!(st.traces().unwrap(), vec![trace]);

    let t3 = T3Document {
        id: "p-1-Report".into(),
        process: "p".into(),
        unit: "Report".into(),
        confid: Some(h),
        channel: Some("A".into()),
        tag: BTreeSet::new(),
        code: DocumentCode::OK,
        meta: MetaRecord::new(1, 5.0, Tier::T3, DocumentCode::OK),
        stock: vec![1, 2],
        datetime: 5.0,
        body: json!({"n": 2}),
    };
    st.insert_t3(&t3).unwrap();
    st.insert_t3(&t3).unwrap();
    st.insert_t3(&T3Document {
        id: "q-2".into(),
        process: "q".into(),
        ..t3.clone()
    })
    .unwrap();
    assert_eq!(st.find_t3(Some("p")).unwrap(), vec![t3]);
    assert_eq!(st.find_t3(None).unwrap().len(), 2);
    let info = st.info().unwrap();
    assert_eq!(info.schema_version, SCHEMA_VERSION);
    assert_eq!(info.counts.get("t3"), Some(&2));
}
