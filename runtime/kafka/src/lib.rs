//! Kafka alert streams, with rdkafka and its bundled librdkafka:
//!
//! - [`KafkaStream`]: the consumer a live T0 reads from ([`AlertStream`]): a
//!   consumer group, manual commits of exactly the offsets whose documents are
//!   persisted (the live loop commits after each flush), a bounded prefetch queue
//!   (backpressure), resumption from the committed offsets after a restart.
//!   A rebalance that takes partitions away is held (librdkafka waits for the
//!   unassign) until the live loop has persisted every message handed out and
//!   their offsets are committed, so the next owner neither repeats nor misses
//!   one ([`StreamContext`]).
//!   A broker that is down at start is retried with backoff, then named in a clear
//!   error; a broker lost mid-stream is reconnected by librdkafka while polls return
//!   nothing, and commits are retried until it is back.
//! - [`Producer`]: publishes alert files as messages (one ZTF container file or one
//!   Rubin Confluent-framed message each), optionally at a fixed rate; the project's
//!   own producer for tests, replays and benchmarks. [`create_topic`] makes topics
//!   (brokers such as tansu do not create them on demand).
//!
//! Extra librdkafka properties (security, SASL) can be given; they are never printed.

use ampel_core::live::{AlertStream, Message};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::message::Message as _;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::TopicPartitionList;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Where and what to consume.
#[derive(Debug, Clone)]
pub struct KafkaSettings {
    /// `host:port[,host:port...]`.
    pub brokers: String,
    /// Topics.
    pub topics: Vec<String>,
    /// Consumer group (offsets are committed for it).
    pub group: String,
    /// Extra librdkafka properties (never printed).
    pub properties: BTreeMap<String, String>,
    /// Attempts to reach the brokers at start.
    pub connect_attempts: u32,
    /// First wait between attempts (doubled each time, at most 30 s).
    pub connect_backoff: Duration,
}

impl KafkaSettings {
    /// Settings with the default retry policy (5 attempts from 1 s).
    pub fn new(brokers: &str, topics: Vec<String>, group: &str) -> Self {
        KafkaSettings {
            brokers: brokers.to_string(),
            topics,
            group: group.to_string(),
            properties: BTreeMap::new(),
            connect_attempts: 5,
            connect_backoff: Duration::from_secs(1),
        }
    }
}

/// What went wrong with Kafka.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// No broker answered.
    #[error("cannot reach the Kafka brokers {brokers} after {attempts} attempt(s) over {seconds:.0} s: {detail}")]
    Unreachable {
        /// Brokers.
        brokers: String,
        /// Attempts made.
        attempts: u32,
        /// Time spent.
        seconds: f64,
        /// The last error.
        detail: String,
    },
    /// A topic is missing.
    #[error("topic `{topic}` does not exist on {brokers} (create it: ampel kafka create-topic {topic} --brokers {brokers})")]
    NoTopic {
        /// Topic.
        topic: String,
        /// Brokers.
        brokers: String,
    },
    /// Any other client failure.
    #[error("kafka ({brokers}): {detail}")]
    Client {
        /// Brokers.
        brokers: String,
        /// What failed.
        detail: String,
    },
}

fn client(brokers: &str, properties: &BTreeMap<String, String>) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers)
        .set("client.id", "ampel-rs")
        .set("log_level", "3");
    for (k, v) in properties {
        c.set(k, v);
    }
    c
}

/// Wait until the brokers answer a metadata request (with backoff); every topic
/// named must exist.
fn wait_for_brokers<C: rdkafka::client::ClientContext>(
    client: &rdkafka::client::Client<C>,
    brokers: &str,
    topics: &[String],
    attempts: u32,
    backoff: Duration,
) -> Result<(), KafkaError> {
    let started = Instant::now();
    let mut wait = backoff;
    let mut last = String::new();
    for attempt in 1..=attempts.max(1) {
        match client.fetch_metadata(None, Duration::from_secs(5)) {
            Ok(md) if !md.brokers().is_empty() => {
                for t in topics {
                    let found = md.topics().iter().any(|mt| {
                        mt.name() == t && mt.error().is_none() && !mt.partitions().is_empty()
                    });
                    if !found {
                        return Err(KafkaError::NoTopic {
                            topic: t.clone(),
                            brokers: brokers.to_string(),
                        });
                    }
                }
                return Ok(());
            }
            Ok(_) => last = "no broker in the metadata".into(),
            Err(e) => last = e.to_string(),
        }
        if attempt < attempts {
            std::thread::sleep(wait);
            wait = (wait * 2).min(Duration::from_secs(30));
        }
    }
    Err(KafkaError::Unreachable {
        brokers: brokers.to_string(),
        attempts: attempts.max(1),
        seconds: started.elapsed().as_secs_f64(),
        detail: last,
    })
}

/// The consumer's context: it holds back the revocation of partitions (a
/// rebalance) until [`KafkaStream::poll`] has had the handed-out messages persisted
/// and committed; assignments and errors are applied at once.
#[derive(Default)]
pub struct StreamContext {
    /// A revocation waiting for the live loop (eager: the whole assignment;
    /// cooperative: these partitions).
    revoke: std::sync::Mutex<Option<TopicPartitionList>>,
    /// The consumer is closing: revocations are applied at once.
    closing: std::sync::atomic::AtomicBool,
}

impl rdkafka::client::ClientContext for StreamContext {}

impl ConsumerContext for StreamContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        use std::sync::atomic::Ordering;
        let revoke = err == RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS;
        if revoke && !self.closing.load(Ordering::SeqCst) {
            *self.revoke.lock().unwrap_or_else(|e| e.into_inner()) = Some(tpl.clone());
            return;
        }
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            rdkafka::consumer::RebalanceProtocol::Cooperative
        );
        let result = match (err, cooperative) {
            (RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, true) => {
                consumer.incremental_assign(tpl)
            }
            (RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, false) => consumer.assign(tpl),
            (_, true) if revoke => consumer.incremental_unassign(tpl),
            _ => consumer.unassign(),
        };
        if let Err(e) = result {
            eprintln!("kafka: rebalance ({err:?}) failed: {e}");
        }
    }
}

/// A consumer of alert messages, committing explicitly.
pub struct KafkaStream {
    consumer: BaseConsumer<StreamContext>,
    settings: KafkaSettings,
    /// Next offset to commit, per (topic, partition).
    pending: BTreeMap<(String, i32), i64>,
    /// The last transient error (a lost broker), reported once per change.
    last_error: Option<String>,
}

impl KafkaStream {
    /// Connect (retrying while the brokers are down), check the topics, subscribe.
    pub fn connect(settings: KafkaSettings) -> Result<KafkaStream, KafkaError> {
        let err = |e: rdkafka::error::KafkaError| KafkaError::Client {
            brokers: settings.brokers.clone(),
            detail: e.to_string(),
        };
        let consumer: BaseConsumer<StreamContext> = client(&settings.brokers, &settings.properties)
            .set("group.id", &settings.group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false")
            .set("session.timeout.ms", "10000")
            // backpressure: at most 64 MiB of prefetched messages
            .set("queued.max.messages.kbytes", "65536")
            // large fetches, answered without waiting long for more (latency)
            .set("fetch.message.max.bytes", "33554432")
            .set("fetch.wait.max.ms", "50")
            .create_with_context(StreamContext::default())
            .map_err(err)?;
        wait_for_brokers(
            consumer.client(),
            &settings.brokers,
            &settings.topics,
            settings.connect_attempts,
            settings.connect_backoff,
        )?;
        let topics: Vec<&str> = settings.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics).map_err(err)?;
        Ok(KafkaStream {
            consumer,
            settings,
            pending: BTreeMap::new(),
            last_error: None,
        })
    }
}

impl KafkaStream {
    /// A revocation held back by [`StreamContext`]: have every handed-out message
    /// persisted, commit them, then let the rebalance go on.
    fn settle_revoke(
        &mut self,
        persist: &mut dyn FnMut() -> Result<(), String>,
    ) -> Result<(), String> {
        let pending = self
            .consumer
            .context()
            .revoke
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some(tpl) = pending else { return Ok(()) };
        persist()?;
        self.commit()?;
        let cooperative = matches!(
            self.consumer.rebalance_protocol(),
            rdkafka::consumer::RebalanceProtocol::Cooperative
        );
        let result = if cooperative {
            self.consumer.incremental_unassign(&tpl)
        } else {
            self.consumer.unassign()
        };
        result.map_err(|e| format!("giving up partitions in a rebalance: {e}"))
    }
}

impl Drop for KafkaStream {
    fn drop(&mut self) {
        // closing revokes everything: apply it at once (whatever the loop did not
        // commit is read again by the next owner)
        let ctx = self.consumer.context();
        ctx.closing.store(true, std::sync::atomic::Ordering::SeqCst);
        if ctx
            .revoke
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .is_some()
        {
            let _ = self.consumer.unassign();
        }
    }
}

impl AlertStream for KafkaStream {
    fn poll(
        &mut self,
        timeout: Duration,
        persist: &mut dyn FnMut() -> Result<(), String>,
    ) -> Result<Option<Message>, String> {
        self.settle_revoke(persist)?;
        let Some(polled) = self.consumer.poll(timeout) else {
            // a revocation that arrived during this poll goes on without waiting
            // for the next message
            self.settle_revoke(persist)?;
            return Ok(None);
        };
        match polled {
            Ok(m) => {
                self.last_error = None;
                self.pending
                    .insert((m.topic().to_string(), m.partition()), m.offset() + 1);
                Ok(Some(Message {
                    origin: format!("kafka:{}/{}@{}", m.topic(), m.partition(), m.offset()),
                    payload: m.payload().unwrap_or(&[]).to_vec(),
                    timestamp_ms: m.timestamp().to_millis(),
                }))
            }
            Err(e) => {
                // transient (a broker went away): librdkafka reconnects by itself
                let msg = e.to_string();
                if self.last_error.as_ref() != Some(&msg) {
                    eprintln!("kafka ({}): {msg}; retrying", self.settings.brokers);
                    self.last_error = Some(msg);
                }
                Ok(None)
            }
        }
    }

    fn commit(&mut self) -> Result<(), String> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut tpl = TopicPartitionList::new();
        for ((t, p), o) in &self.pending {
            tpl.add_partition_offset(t, *p, rdkafka::Offset::Offset(*o))
                .map_err(|e| e.to_string())?;
        }
        // the documents are persisted: keep trying through a broker outage
        let started = Instant::now();
        let mut wait = Duration::from_millis(200);
        loop {
            match self.consumer.commit(&tpl, CommitMode::Sync) {
                Ok(()) => {
                    self.pending.clear();
                    return Ok(());
                }
                Err(e) if started.elapsed() < Duration::from_secs(300) => {
                    eprintln!(
                        "kafka ({}): commit failed ({e}); retrying in {:.1} s",
                        self.settings.brokers,
                        wait.as_secs_f64()
                    );
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(10));
                }
                Err(e) => return Err(format!("commit failed for 5 minutes: {e}")),
            }
        }
    }

    fn describe(&self) -> String {
        format!(
            "kafka {} topics {} group {}",
            self.settings.brokers,
            self.settings.topics.join(","),
            self.settings.group
        )
    }
}

/// A producer of alert messages.
pub struct Producer {
    producer: BaseProducer,
    brokers: String,
}

impl Producer {
    /// Connect (retrying while the brokers are down) and check the topic exists.
    pub fn connect(
        brokers: &str,
        topic: &str,
        properties: &BTreeMap<String, String>,
        attempts: u32,
    ) -> Result<Producer, KafkaError> {
        let producer: BaseProducer = client(brokers, properties)
            .set("linger.ms", "5")
            .set("message.max.bytes", "8388608")
            .set("queue.buffering.max.kbytes", "262144")
            .create()
            .map_err(|e| KafkaError::Client {
                brokers: brokers.into(),
                detail: e.to_string(),
            })?;
        wait_for_brokers(
            producer.client(),
            brokers,
            &[topic.to_string()],
            attempts,
            Duration::from_secs(1),
        )?;
        Ok(Producer {
            producer,
            brokers: brokers.to_string(),
        })
    }

    /// Queue one message (waiting while the local queue is full).
    pub fn send(&self, topic: &str, key: &str, payload: &[u8]) -> Result<(), KafkaError> {
        let mut record = BaseRecord::to(topic).key(key).payload(payload);
        loop {
            match self.producer.send(record) {
                Ok(()) => {
                    self.producer.poll(Duration::ZERO);
                    return Ok(());
                }
                Err((
                    rdkafka::error::KafkaError::MessageProduction(
                        rdkafka::types::RDKafkaErrorCode::QueueFull,
                    ),
                    r,
                )) => {
                    record = r;
                    self.producer.poll(Duration::from_millis(50));
                }
                Err((e, _)) => {
                    return Err(KafkaError::Client {
                        brokers: self.brokers.clone(),
                        detail: format!("cannot send to {topic}: {e}"),
                    })
                }
            }
        }
    }

    /// Wait until every queued message is delivered.
    pub fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        self.producer
            .flush(timeout)
            .map_err(|e| KafkaError::Client {
                brokers: self.brokers.clone(),
                detail: format!("not every message was delivered: {e}"),
            })
    }
}

/// Create a topic (an existing one is fine).
pub fn create_topic(brokers: &str, topic: &str, partitions: i32) -> Result<(), KafkaError> {
    let err = |detail: String| KafkaError::Client {
        brokers: brokers.into(),
        detail,
    };
    let admin: AdminClient<DefaultClientContext> = client(brokers, &BTreeMap::new())
        .create()
        .map_err(|e| err(e.to_string()))?;
    wait_for_brokers(admin.inner(), brokers, &[], 5, Duration::from_secs(1))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| err(e.to_string()))?;
    let results = rt
        .block_on(admin.create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        ))
        .map_err(|e| err(e.to_string()))?;
    for r in results {
        match r {
            Ok(_) => {}
            Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, code)) => return Err(err(format!("cannot create topic {t}: {code}"))),
        }
    }
    Ok(())
}
