//! Shared helpers of the workspace integration tests (`tests/it`): test backends
//! and paths to fixtures and the real alerts of `tests/data`.

use ampel_store::conformance::Backend;
use ampel_store::Store;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

pub mod mongo;
pub mod python;
pub use mongo::MongoBackend;

/// Run T0 in archive mode (clock from the data) over every alert below `path` into
/// `store`, as `ampel t0 --source` does; the run's counts.
pub fn ingest_archive(
    cfg: ampel_core::t0::T0Config,
    registry: &ampel_interface::Registry,
    store: &dyn Store,
    path: &std::path::Path,
) -> ampel_core::t0::T0Stats {
    let clock = ampel_core::Clock::archive(0.0);
    let mut t0 = ampel_core::t0::T0Processor::new(cfg, registry, store, &clock).expect("t0");
    ampel_avro::input::walk(
        &[path.to_path_buf()],
        &ampel_avro::ReadOptions::default(),
        &mut |item| {
            t0.process(item).expect("t0 process");
            true
        },
    );
    t0.finish(0.0, None).expect("t0 finish")
}

/// Run one T2 worker until no ticket is left; every ticket must succeed.
pub fn process_all_tickets(
    registry: &ampel_interface::Registry,
    store: &dyn Store,
) -> ampel_core::t2::T2Stats {
    let cfg = ampel_core::t2::T2WorkerConfig {
        owner: "w".into(),
        ..Default::default()
    };
    let mut w = ampel_core::t2::T2Worker::new(cfg, registry, store).expect("worker");
    w.run(true, &std::sync::atomic::AtomicBool::new(false))
        .expect("t2 run");
    let stats = w.finish().expect("t2 finish");
    assert!(stats.failed.is_empty(), "{stats:?}");
    stats
}

/// As [`ingest_archive`], with each alert decoded to JSON and given to `rewrite`
/// first (alerts derived from the real ones, e.g. with private datapoints).
pub fn ingest_rewritten(
    cfg: ampel_core::t0::T0Config,
    registry: &ampel_interface::Registry,
    store: &dyn Store,
    path: &std::path::Path,
    rewrite: &mut dyn FnMut(&mut serde_json::Value),
) -> ampel_core::t0::T0Stats {
    let clock = ampel_core::Clock::archive(0.0);
    let mut t0 = ampel_core::t0::T0Processor::new(cfg, registry, store, &clock).expect("t0");
    let opts = ampel_avro::ReadOptions {
        json: true,
        ..ampel_avro::ReadOptions::default()
    };
    ampel_avro::input::walk(&[path.to_path_buf()], &opts, &mut |item| {
        let item = match item {
            ampel_avro::Item::Packet(mut p) => {
                let mut json = std::mem::replace(
                    &mut p.payload,
                    ampel_avro::Payload::Json(Default::default()),
                )
                .into_json();
                rewrite(&mut json);
                p.payload = ampel_avro::Payload::Json(json);
                ampel_avro::Item::Packet(p)
            }
            other => other,
        };
        t0.process(item).expect("t0 process");
        true
    });
    t0.finish(0.0, None).expect("t0 finish")
}

/// Root of the repository.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The real alerts shipped with the repository (`tests/data/alerts`, with their
/// sources and licenses in its README).
pub fn real_alerts() -> PathBuf {
    repo_root().join("tests").join("data").join("alerts")
}

/// A fixture file under `tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests").join("fixtures").join(name)
}

/// The embedded backend, each fresh store a new file in a temp dir.
pub struct SqliteBackend {
    dir: tempfile::TempDir,
    n: AtomicUsize,
}

impl SqliteBackend {
    /// A backend with its own temp dir.
    pub fn new() -> Self {
        SqliteBackend {
            dir: tempfile::tempdir().expect("tempdir"),
            n: AtomicUsize::new(0),
        }
    }
}

impl Default for SqliteBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl Backend for SqliteBackend {
    fn fresh_uri(&self) -> String {
        let n = self.n.fetch_add(1, Ordering::SeqCst);
        format!(
            "sqlite:{}",
            self.dir.path().join(format!("store-{n}.db")).display()
        )
    }
    fn open(&self, uri: &str) -> Box<dyn Store> {
        ampel_commands::open_store(uri).expect("open store")
    }
}

/// Test units used by the T2 tests and the worker helper process.
pub mod units {
    use ampel_interface::serde_json::json;
    use ampel_interface::*;
    use serde::{Deserialize, Serialize};

    /// Config of [`TouchStock`].
    #[derive(Serialize, Deserialize, Default)]
    #[serde(default, deny_unknown_fields)]
    pub struct TouchConfig {
        /// Time each ticket takes [ms].
        pub sleep_ms: u64,
        /// Fail for stocks divisible by this (0: never).
        pub fail_every: i64,
    }
    impl UnitConfig for TouchConfig {}

    /// A stock T2 that reports the stock's journal length.
    pub struct TouchStock(TouchConfig);
    impl Unit for TouchStock {
        const NAME: &'static str = "TouchStock";
        const VERSION: &'static str = "1.0.0";
        const SOURCE: &'static str = "touch stock v1";
        type Config = TouchConfig;
        fn new(c: TouchConfig) -> Result<Self, ConfigError> {
            Ok(TouchStock(c))
        }
    }
    impl StockT2 for TouchStock {
        fn process(&self, stock: &Stock) -> Result<UnitResult, UnitError> {
            if self.0.sleep_ms > 0 {
                std::thread::sleep(std::time::Duration::from_millis(self.0.sleep_ms));
            }
            if self.0.fail_every > 0 && stock.stock % self.0.fail_every == 0 {
                return Err(UnitError::new(format!("stock {} is unlucky", stock.stock)));
            }
            Ok(UnitResult::ok(json!({ "journal": stock.journal.len() })))
        }
    }

    /// The same unit name in a later version (for outdated-result tests).
    pub struct TouchStockV2(TouchConfig);
    impl Unit for TouchStockV2 {
        const NAME: &'static str = "TouchStock";
        const VERSION: &'static str = "2.0.0";
        const SOURCE: &'static str = "touch stock v2";
        type Config = TouchConfig;
        fn new(c: TouchConfig) -> Result<Self, ConfigError> {
            Ok(TouchStockV2(c))
        }
    }
    impl StockT2 for TouchStockV2 {
        fn process(&self, stock: &Stock) -> Result<UnitResult, UnitError> {
            TouchStock(TouchConfig {
                sleep_ms: self.0.sleep_ms,
                fail_every: self.0.fail_every,
            })
            .process(stock)
        }
    }

    /// A T3 unit that reports which channels it was shown, and tags what it saw.
    pub struct ChannelAudit;
    impl Unit for ChannelAudit {
        const NAME: &'static str = "ChannelAudit";
        const VERSION: &'static str = "1.0.0";
        const SOURCE: &'static str = "channel audit";
        type Config = NoConfig;
        fn new(_: NoConfig) -> Result<Self, ConfigError> {
            Ok(ChannelAudit)
        }
    }
    impl T3Unit for ChannelAudit {
        fn process(&self, _: &T3Context, views: &[StockView]) -> Result<T3Output, UnitError> {
            let mut seen = std::collections::BTreeSet::new();
            for v in views {
                let s = v.stock.as_ref().expect("stock loaded");
                seen.extend(s.channel.iter().cloned());
                seen.extend(s.ts.keys().filter(|k| *k != ANY_CHANNEL).cloned());
                seen.extend(s.journal.iter().flat_map(|j| j.channel.iter().cloned()));
                seen.extend(v.t0.iter().flat_map(|d| d.channel.iter().cloned()));
                seen.extend(v.t1.iter().flat_map(|d| d.channel.iter().cloned()));
                seen.extend(v.logs.iter().filter_map(|l| l.channel.clone()));
                let metas = v.t1.iter().flat_map(|t| t.meta.iter());
                let metas = metas.chain(v.t2.iter().flat_map(|t| t.meta.iter()));
                for m in metas {
                    seen.extend(m.activity.iter().flat_map(|a| a.channel.iter().cloned()));
                }
            }
            // datapoints by ZTF program (2: private), and where T1 states left some out
            let private: usize = views
                .iter()
                .flat_map(|v| v.t0.iter())
                .filter(|d| d.body.get("programid").and_then(|p| p.as_i64()) == Some(2))
                .count();
            let ts_keys: std::collections::BTreeSet<String> = views
                .iter()
                .filter_map(|v| v.stock.as_ref())
                .flat_map(|s| s.ts.keys().cloned())
                .collect();
            let stocks: Vec<i64> = views.iter().map(|v| v.id).collect();
            let updates = stocks
                .iter()
                .map(|s| StockUpdate {
                    stock: *s,
                    add_tag: ["AUDITED".to_string()].into(),
                    ..Default::default()
                })
                .collect();
            let body = json!({ "stocks": stocks, "channels_seen": seen, "datapoints": views.iter().map(|v| v.t0.len()).sum::<usize>(),
                "private_datapoints": private, "ts_keys": ts_keys,
                "t2_links": views.iter().flat_map(|v| v.t2.iter().map(|t| t.link)).collect::<Vec<_>>(),
                "logs": views.iter().map(|v| v.logs.len()).sum::<usize>() });
            Ok(T3Output {
                updates,
                document: Some(UnitResult::ok(body)),
            })
        }
    }

    /// A point T2 that echoes its datapoint's id (for data-rights tests).
    pub struct T2PointEcho;
    impl Unit for T2PointEcho {
        const NAME: &'static str = "T2PointEcho";
        const VERSION: &'static str = "1.0.0";
        const SOURCE: &'static str = "point echo";
        type Config = NoConfig;
        fn new(_: NoConfig) -> Result<Self, ConfigError> {
            Ok(T2PointEcho)
        }
    }
    impl PointT2 for T2PointEcho {
        fn process(&self, dp: &DataPoint) -> Result<UnitResult, UnitError> {
            Ok(UnitResult::ok(json!({ "id": dp.id })))
        }
    }

    /// A T3 unit that always fails.
    pub struct FailingT3;
    impl Unit for FailingT3 {
        const NAME: &'static str = "FailingT3";
        const VERSION: &'static str = "1.0.0";
        const SOURCE: &'static str = "failing t3";
        type Config = NoConfig;
        fn new(_: NoConfig) -> Result<Self, ConfigError> {
            Ok(FailingT3)
        }
    }
    impl T3Unit for FailingT3 {
        fn process(&self, _: &T3Context, _: &[StockView]) -> Result<T3Output, UnitError> {
            Err(UnitError::new("the report server is on fire"))
        }
    }

    /// Every real unit plus [`TouchStock`].
    pub fn registry() -> Registry {
        let mut r = Registry::new();
        ampel_units_basic::register(&mut r).expect("units");
        ampel_units_ztf::register(&mut r).expect("units");
        ampel_units_lightcurve::register(&mut r).expect("units");
        ampel_units_report::register(&mut r).expect("units");
        r.stock_t2::<TouchStock>().expect("units");
        r.t3::<ChannelAudit>().expect("units");
        r.point_t2::<T2PointEcho>().expect("units");
        r.t3::<FailingT3>().expect("units");
        r
    }
}
