//! `ampel kafka ...`: make topics, publish alert files, and run a live T0 from a
//! topic; and the runner `ampel serve` uses for live T0 processes.

use crate::args::RuntimeArgs;
use crate::output::{report, table, CommandError, Report};
use crate::uri::open_store;
use ampel_core::live::{drive_live, LiveOptions};
use ampel_core::serve::{KafkaSource, ProcessConfig};
use ampel_core::t0::{T0Config, T0Processor};
use ampel_core::ClockMode;
use ampel_interface::Registry;
use ampel_kafka::{create_topic, KafkaSettings, KafkaStream, Producer};
use clap::{Args, Subcommand};
use comfy_table::Table;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// Where the brokers are.
#[derive(Debug, Clone, Args)]
pub struct Brokers {
    /// Kafka brokers, `host:port[,host:port]`.
    #[arg(long, env = "AMPEL_KAFKA_BROKERS")]
    pub brokers: String,
}

/// `ampel kafka ...`
#[derive(Debug, Clone, Subcommand)]
pub enum KafkaCommand {
    /// Create a topic (brokers like tansu do not create them on first use).
    CreateTopic {
        /// Topic name.
        name: String,
        /// The brokers.
        #[command(flatten)]
        brokers: Brokers,
        /// Partitions.
        #[arg(long, default_value_t = 1)]
        partitions: i32,
    },
    /// Publish alert files, one message each (a ZTF Avro container file, or a Rubin
    /// Confluent-framed message); directories are read in sorted order.
    ///
    /// Example: ampel kafka produce --brokers 127.0.0.1:9092 --topic ztf tests/data/alerts/ztf/fink-2020-v3.3
    Produce {
        /// The brokers.
        #[command(flatten)]
        brokers: Brokers,
        /// Topic.
        #[arg(long)]
        topic: String,
        /// Messages per second (0: as fast as possible).
        #[arg(long, default_value_t = 0.0)]
        rate: f64,
        /// Write `key,unix_ms` (send time) per message to this file (latency studies).
        #[arg(long)]
        log: Option<PathBuf>,
        /// Files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Live T0: consume topics into the store. Offsets are committed only after the
    /// documents of the alerts are persisted; SIGTERM or Ctrl-C finishes the batch in
    /// hand, commits it and stops; a restart resumes from the committed offsets.
    ///
    /// Example: ampel kafka consume --manifest manifests/ztf-demo.toml --brokers 127.0.0.1:9092 --topic ztf --group demo
    Consume {
        /// The T0 process: --manifest (an instance manifest) or --config.
        #[command(flatten)]
        process: crate::args::T0Source,
        /// The brokers.
        #[command(flatten)]
        brokers: Brokers,
        /// Topics.
        #[arg(long = "topic", required = true)]
        topics: Vec<String>,
        /// Consumer group.
        #[arg(long, default_value = "ampel")]
        group: String,
        /// Messages per batch (one flush and one commit).
        #[arg(long, default_value_t = 500)]
        batch: usize,
        /// A batch closes after this many milliseconds even if not full.
        #[arg(long, default_value_t = 200)]
        batch_ms: u64,
        /// Stop after this many seconds without a message (default: run until stopped).
        #[arg(long)]
        until_idle: Option<f64>,
        /// Stop after this many messages.
        #[arg(long)]
        max_messages: Option<usize>,
        /// Attempts to reach the brokers at start (with doubling backoff from 1 s).
        #[arg(long, default_value_t = 5)]
        connect_attempts: u32,
        /// A librdkafka consumer property, KEY=VALUE (e.g. fetch.wait.max.ms=20,
        /// security.protocol=SASL_SSL); repeatable; values are never printed.
        #[arg(long = "property", value_parser = property)]
        properties: Vec<(String, String)>,
    },
}

fn property(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("`{s}`: expected KEY=VALUE"))
}

fn fail(e: impl std::fmt::Display) -> CommandError {
    CommandError::Usage(e.to_string())
}

fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CommandError> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) -> Result<(), CommandError> {
        if p.is_dir() {
            let mut e: Vec<PathBuf> = std::fs::read_dir(p)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            e.sort();
            for x in e {
                walk(&x, out)?;
            }
        } else if p.is_file() {
            out.push(p.to_path_buf());
        } else {
            return Err(fail(format!("{} does not exist", p.display())));
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        walk(p, &mut out)?;
    }
    Ok(out)
}

/// Run a live T0 from `source` into the store at `db` until `stop`.
pub fn consume(
    registry: &Registry,
    db: &str,
    cfg: T0Config,
    settings: KafkaSettings,
    opts: &LiveOptions,
    stop: &AtomicBool,
    on_batch: &mut dyn FnMut(&ampel_core::live::LiveStats),
) -> Result<(ampel_core::live::LiveStats, ampel_core::t0::T0Stats), CommandError> {
    let store = open_store(db)?;
    let clock = opts.clock.t0_clock();
    let t0 = T0Processor::new(cfg, registry, store.as_ref(), &clock)?;
    let mut stream = KafkaStream::connect(settings).map_err(fail)?;
    drive_live(t0, &mut stream, opts, stop, on_batch).map_err(|e| fail(e.to_string()))
}

/// Run a Kafka command.
pub fn run(
    registry: &Registry,
    args: &RuntimeArgs,
    cmd: &KafkaCommand,
) -> Result<(), CommandError> {
    match cmd {
        KafkaCommand::CreateTopic {
            name,
            brokers,
            partitions,
        } => {
            create_topic(&brokers.brokers, name, *partitions).map_err(fail)?;
            report(
                args.json,
                &Topic {
                    topic: name.clone(),
                    partitions: *partitions,
                    brokers: brokers.brokers.clone(),
                },
            )
        }
        KafkaCommand::Produce {
            brokers,
            topic,
            rate,
            log,
            paths,
        } => {
            let files = files(paths)?;
            let p =
                Producer::connect(&brokers.brokers, topic, &Default::default(), 5).map_err(fail)?;
            let started = Instant::now();
            let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) && files.len() > 100 {
                indicatif::ProgressBar::new(files.len() as u64)
            } else {
                indicatif::ProgressBar::hidden()
            };
            let mut bytes = 0u64;
            let mut sent_log = String::new();
            for (i, f) in files.iter().enumerate() {
                if *rate > 0.0 {
                    let due = Duration::from_secs_f64(i as f64 / rate);
                    if let Some(w) = due.checked_sub(started.elapsed()) {
                        std::thread::sleep(w);
                    }
                }
                let payload = std::fs::read(f)?;
                bytes += payload.len() as u64;
                let key = f
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                p.send(topic, &key, &payload).map_err(fail)?;
                if log.is_some() {
                    let ms = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_millis())
                        .unwrap_or(0);
                    sent_log.push_str(&format!("{key},{ms}\n"));
                }
                bar.inc(1);
            }
            if let Some(path) = log {
                std::fs::write(path, sent_log)?;
            }
            p.flush(Duration::from_secs(60)).map_err(fail)?;
            bar.finish_and_clear();
            let secs = started.elapsed().as_secs_f64();
            report(
                args.json,
                &Produced {
                    topic: topic.clone(),
                    messages: files.len(),
                    bytes,
                    seconds: secs,
                },
            )
        }
        KafkaCommand::Consume {
            process,
            brokers,
            topics,
            group,
            batch,
            batch_ms,
            until_idle,
            max_messages,
            connect_attempts,
            properties,
        } => {
            let cfg = process.load(registry)?;
            let mut settings = KafkaSettings::new(&brokers.brokers, topics.clone(), group);
            settings.connect_attempts = *connect_attempts;
            settings.properties.extend(properties.iter().cloned());
            let opts = LiveOptions {
                batch_max: *batch,
                batch_wait: Duration::from_millis(*batch_ms),
                idle_stop: until_idle.map(Duration::from_secs_f64),
                max_messages: *max_messages,
                clock: args.clock_mode(ClockMode::Live),
            };
            let stop = crate::stop_on_signals()?;
            eprintln!(
                "consuming {} from {} as group {group}; SIGTERM or Ctrl-C stops after the batch in hand",
                topics.join(", "),
                brokers.brokers
            );
            let (live, stats) =
                consume(registry, &args.db, cfg, settings, &opts, &stop, &mut |s| {
                    eprintln!("  batch {}: {} messages so far", s.batches, s.messages);
                })?;
            report(args.json, &Consumed { live, t0: stats })
        }
    }
}

/// What `ampel kafka create-topic` prints.
#[derive(Serialize)]
struct Topic {
    topic: String,
    partitions: i32,
    brokers: String,
}

impl Report for Topic {
    fn table(&self) -> Table {
        let mut t = table(&["topic", "partitions", "brokers"]);
        t.add_row([
            self.topic.clone(),
            self.partitions.to_string(),
            self.brokers.clone(),
        ]);
        t
    }
}

/// What `ampel kafka produce` prints.
#[derive(Serialize)]
struct Produced {
    topic: String,
    messages: usize,
    bytes: u64,
    seconds: f64,
}

impl Report for Produced {
    fn table(&self) -> Table {
        let mut t = table(&["topic", "messages", "MB", "messages/s"]);
        t.add_row([
            self.topic.clone(),
            self.messages.to_string(),
            format!("{:.1}", self.bytes as f64 / 1e6),
            format!("{:.0}", self.messages as f64 / self.seconds.max(1e-9)),
        ]);
        t
    }
}

/// What `ampel kafka consume` prints: the stream's counts and T0's.
#[derive(Serialize)]
struct Consumed {
    live: ampel_core::live::LiveStats,
    t0: ampel_core::t0::T0Stats,
}

impl Report for Consumed {
    fn table(&self) -> Table {
        let mut t = table(&["", ""]);
        t.add_row(["messages".to_string(), self.live.messages.to_string()]);
        t.add_row([
            "batches committed".to_string(),
            self.live.batches.to_string(),
        ]);
        t.add_row([
            "undecodable messages".to_string(),
            self.live.damaged.to_string(),
        ]);
        t.add_row(["alerts ingested".to_string(), self.t0.ingested.to_string()]);
        t.add_row(["ended".to_string(), self.live.ended.clone()]);
        t
    }
}

/// The runner of live T0 processes for `ampel serve`: a process's own T0 config
/// file (relative to `base`), else `instance_t0`; brokers from the process, else
/// `$AMPEL_KAFKA_BROKERS`.
pub fn live_runner<'a>(
    registry: &'a Registry,
    args: &RuntimeArgs,
    base: PathBuf,
    instance_t0: Option<T0Config>,
) -> impl Fn(&ProcessConfig, &AtomicBool) -> Result<String, String> + Sync + 'a {
    let db = args.db.clone();
    let clock = args.clock_mode(ClockMode::Live);
    move |p: &ProcessConfig, stop: &AtomicBool| {
        let source: &KafkaSource = p.kafka.as_ref().ok_or("no kafka source")?;
        let mut cfg = match (&p.t0_config, &instance_t0) {
            (Some(f), _) => {
                ampel_core::job::load_t0_config(&base.join(f)).map_err(|e| e.to_string())?
            }
            (None, Some(c)) => c.clone(),
            (None, None) => return Err("no T0 config (t0_config = FILE)".into()),
        };
        cfg.process = p.name.clone();
        let brokers = if source.brokers.is_empty() {
            std::env::var("AMPEL_KAFKA_BROKERS")
                .map_err(|_| "no brokers: set kafka.brokers or AMPEL_KAFKA_BROKERS".to_string())?
        } else {
            source.brokers.clone()
        };
        let settings = KafkaSettings::new(&brokers, source.topics.clone(), &source.group);
        let opts = LiveOptions {
            batch_max: 500,
            batch_wait: Duration::from_millis(200),
            idle_stop: None,
            max_messages: None,
            clock,
        };
        consume(registry, &db, cfg, settings, &opts, stop, &mut |_| {})
            .map(|(l, s)| format!("{} messages, {} alerts ingested", l.messages, s.ingested))
            .map_err(|e| e.to_string())
    }
}
