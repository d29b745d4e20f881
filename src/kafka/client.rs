//! Kafka clients built from the configuration (librdkafka properties pass through, secrets never
//! logged), topic creation, and reading the checkpoints topic back.

use crate::config::{ClientRole, KafkaSettings};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::{Offset, TopicPartitionList};
use std::time::{Duration, Instant};

/// Client context for consumers: end-of-partition is expected (we ask for it), not an error;
/// every other client error is logged as a warning (librdkafka retries them).
#[derive(Debug, Clone, Copy, Default)]
pub struct QuietContext;

impl rdkafka::ClientContext for QuietContext {
    fn error(&self, error: KafkaError, reason: &str) {
        let eof = matches!(
            error,
            KafkaError::PartitionEOF(_)
                | KafkaError::Global(rdkafka::types::RDKafkaErrorCode::PartitionEOF)
        );
        if matches!(
            error,
            KafkaError::Global(rdkafka::types::RDKafkaErrorCode::AllBrokersDown)
        ) {
            crate::telemetry::health::brokers_down();
        }
        if !eof {
            let error = crate::config::secrets::redact(&error.to_string()).into_owned();
            let reason = crate::config::secrets::redact(reason);
            tracing::warn!(%error, %reason, "librdkafka");
        }
    }
}

impl rdkafka::consumer::ConsumerContext for QuietContext {}

/// The consumer type netkpi uses.
pub type QuietConsumer = BaseConsumer<QuietContext>;

/// A Kafka operation that failed, with what netkpi was doing. Its text never shows a secret
/// value, even one the client echoes back ([`crate::config::secrets`]).
#[derive(Debug, thiserror::Error)]
pub struct KafkaOpError {
    pub doing: String,
    /// Shown in this error's own text (not as a separate `source()`), so it is printed once.
    pub cause: KafkaCause,
}

/// What made a Kafka operation fail: the client's error, no answer in time, or a local step
/// (encoding a record, starting a runtime) before the client was involved.
#[derive(Debug, thiserror::Error)]
pub enum KafkaCause {
    #[error(transparent)]
    Client(#[from] KafkaError),
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
    #[error("{0}")]
    Local(String),
}

impl KafkaCause {
    /// The client's error, when the client failed.
    pub fn client(&self) -> Option<&KafkaError> {
        match self {
            KafkaCause::Client(e) => Some(e),
            _ => None,
        }
    }
}

impl std::fmt::Display for KafkaOpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = format!("{}: {}", self.doing, self.cause);
        f.write_str(&crate::config::secrets::redact(&text))
    }
}

/// A librdkafka property librdkafka does not take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyProblem {
    /// The role table it is in (`None`: `[kafka.properties]` itself).
    pub role: Option<ClientRole>,
    pub key: String,
    /// librdkafka's message, secrets redacted.
    pub message: String,
    /// Valid librdkafka, but not in this build (e.g. TLS without OpenSSL): a warning, since a
    /// build with the feature takes it.
    pub unsupported_here: bool,
}

impl PropertyProblem {
    /// Where it is in the configuration: `kafka.properties."KEY"` or
    /// `kafka.properties.consumer."KEY"`.
    pub fn path(&self) -> String {
        match self.role {
            None => format!("kafka.properties.\"{}\"", self.key),
            Some(r) => format!("kafka.properties.{}.\"{}\"", r.as_str(), self.key),
        }
    }
}

/// Checks the configured librdkafka properties the way librdkafka checks a client
/// configuration, without creating a client or connecting: each unknown property or invalid
/// value is returned with librdkafka's own message (secrets redacted).
pub fn check_properties(k: &KafkaSettings) -> Vec<PropertyProblem> {
    use std::ffi::{CStr, CString};
    let mut problems = Vec::new();
    // SAFETY: a conf object is created, used only on this thread, and destroyed below.
    let conf = unsafe { rdkafka_sys::rd_kafka_conf_new() };
    if conf.is_null() {
        return problems;
    }
    for (role, (key, value)) in k.all_properties() {
        let (Ok(ckey), Ok(cvalue)) = (CString::new(key.as_str()), CString::new(value.as_str()))
        else {
            problems.push(PropertyProblem {
                role,
                key: key.clone(),
                message: "contains a NUL byte".to_string(),
                unsupported_here: false,
            });
            continue;
        };
        let mut errstr = [0 as std::ffi::c_char; 512];
        // SAFETY: valid NUL-terminated strings and an error buffer of the size given.
        let result = unsafe {
            rdkafka_sys::rd_kafka_conf_set(
                conf,
                ckey.as_ptr(),
                cvalue.as_ptr(),
                errstr.as_mut_ptr(),
                errstr.len(),
            )
        };
        if result != rdkafka_sys::rd_kafka_conf_res_t::RD_KAFKA_CONF_OK {
            // SAFETY: librdkafka NUL-terminates the message within the buffer.
            let message = unsafe { CStr::from_ptr(errstr.as_ptr()) }.to_string_lossy();
            let mut message = crate::config::secrets::redact(&message).into_owned();
            if KafkaSettings::is_secret(key) && message.contains(value.as_str()) {
                message = message.replace(value.as_str(), crate::config::secrets::REDACTED);
            }
            let unsupported_here = message.contains("not supported in this build")
                || message.contains("not available at build time");
            problems.push(PropertyProblem {
                role,
                key: key.clone(),
                message,
                unsupported_here,
            });
        }
    }
    // SAFETY: `conf` came from rd_kafka_conf_new and was not handed to a client.
    unsafe { rdkafka_sys::rd_kafka_conf_destroy(conf) };
    problems
}

/// Attaches what was being done to a Kafka error.
pub fn ctx<T>(r: Result<T, KafkaError>, doing: impl FnOnce() -> String) -> Result<T, KafkaOpError> {
    r.map_err(|source| KafkaOpError {
        doing: doing(),
        cause: source.into(),
    })
}

/// Base configuration of a client of `role`: brokers plus the configured extra properties
/// (common, then the role's own).
pub fn base_config(k: &KafkaSettings, role: ClientRole) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &k.brokers);
    for (key, value) in k.properties_of(role) {
        c.set(key, value);
    }
    c
}

/// The transactional producer of one unit; fences the unit's previous owner.
pub fn transactional_producer(k: &KafkaSettings, id: &str) -> Result<BaseProducer, KafkaOpError> {
    let producer: BaseProducer = ctx(
        base_config(k, ClientRole::Producer)
            .set("transactional.id", id)
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .set("compression.type", "lz4")
            .create(),
        || "creating the transactional producer".into(),
    )?;
    // Fences a previous owner with the same transactional id and aborts what it left open.
    ctx(producer.init_transactions(Duration::from_secs(30)), || {
        format!("initialising transactions as `{id}`")
    })?;
    Ok(producer)
}

/// A `read_committed` consumer of group `group` for manual assignment.
pub fn input_consumer(k: &KafkaSettings, group: &str) -> Result<QuietConsumer, KafkaOpError> {
    ctx(
        base_config(k, ClientRole::Consumer)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "true")
            .set("isolation.level", "read_committed")
            .set("auto.offset.reset", "earliest")
            .set("fetch.wait.max.ms", "50")
            .create_with_context(QuietContext),
        || "creating the consumer".into(),
    )
}

/// What a topic netkpi creates is for, which decides its topic configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicRole {
    /// Input topics (`gen --kafka`): the broker's defaults.
    Input,
    /// KPI records, breach events, dead letters: `kafka.output_retention` when set.
    Output,
    /// The checkpoints topic: compacted, so it keeps each unit's latest checkpoint for ever and
    /// no history beyond it.
    Checkpoints,
    /// Shards → merger: the broker's defaults.
    Internal,
}

/// Creates the topics that do not exist yet, with `partitions` partitions each, the configured
/// replication factor (default: the broker's) and `min.insync.replicas`, and the topic
/// configuration of their `role`.
pub fn ensure_topics(
    k: &KafkaSettings,
    topics: &[&str],
    partitions: i32,
    role: TopicRole,
) -> Result<(), KafkaOpError> {
    let admin: AdminClient<DefaultClientContext> =
        ctx(base_config(k, ClientRole::Admin).create(), || {
            "creating the admin client".into()
        })?;
    let metadata = ctx(
        admin.inner().fetch_metadata(None, Duration::from_secs(10)),
        || format!("reading metadata from {}", k.brokers),
    )?;
    let missing: Vec<&str> = topics
        .iter()
        .copied()
        .filter(|t| {
            !metadata
                .topics()
                .iter()
                .any(|m| m.name() == *t && !m.partitions().is_empty())
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let replication = k.replication_factor.unwrap_or(-1);
    let min_insync = k.min_insync_replicas.map(|n| n.to_string());
    let retention = match role {
        TopicRole::Output => k.output_retention_ms.map(|ms| ms.to_string()),
        _ => None,
    };
    let new: Vec<NewTopic<'_>> = missing
        .iter()
        .map(|t| {
            let mut topic = NewTopic::new(t, partitions, TopicReplication::Fixed(replication));
            if role == TopicRole::Checkpoints {
                topic = topic.set("cleanup.policy", "compact");
            }
            if let Some(n) = &min_insync {
                topic = topic.set("min.insync.replicas", n);
            }
            if let Some(ms) = &retention {
                topic = topic.set("retention.ms", ms);
            }
            topic
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| KafkaOpError {
            doing: "starting a runtime for topic creation".into(),
            cause: KafkaCause::Local(e.to_string()),
        })?;
    let results = ctx(
        runtime.block_on(admin.create_topics(&new, &AdminOptions::new())),
        || format!("creating topics {missing:?}"),
    )?;
    for r in results {
        if let Err((topic, code)) = r
            && code != rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists
        {
            return Err(KafkaOpError {
                doing: format!("creating topic {topic}"),
                cause: KafkaError::AdminOp(code).into(),
            });
        }
    }
    Ok(())
}

/// Partition numbers of a topic (empty when it does not exist).
pub fn partitions_of(consumer: &QuietConsumer, topic: &str) -> Result<Vec<i32>, KafkaOpError> {
    let md = ctx(
        consumer.fetch_metadata(Some(topic), Duration::from_secs(10)),
        || format!("reading metadata of topic {topic}"),
    )?;
    let mut parts: Vec<i32> = md
        .topics()
        .iter()
        .filter(|t| t.name() == topic)
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    parts.sort_unstable();
    Ok(parts)
}

/// A consumer for reading topics back by manual assignment (`read_committed`, end of partition
/// reported, nothing committed).
pub fn topic_reader(k: &KafkaSettings) -> Result<QuietConsumer, KafkaOpError> {
    ctx(
        base_config(k, ClientRole::Consumer)
            .set("group.id", format!("{}-checkpoint-reader", k.group_id))
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            .set("auto.offset.reset", "earliest")
            .set("isolation.level", "read_committed")
            .set("fetch.wait.max.ms", "20")
            .create_with_context(QuietContext),
        || "creating a topic reader".into(),
    )
}

/// One message read back from a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicRecord {
    pub partition: i32,
    pub offset: i64,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub headers: Vec<(String, Vec<u8>)>,
}

/// Reads every message of `topic` (all partitions, from the beginning to the current end), in
/// the order they arrive (within a partition, offset order).
pub fn read_all(k: &KafkaSettings, topic: &str) -> Result<Vec<TopicRecord>, KafkaOpError> {
    let mut out = Vec::new();
    read_each(k, topic, &mut |r| out.push(r))?;
    Ok(out)
}

/// Calls `f` with every message of `topic` (all partitions, from the beginning to the end it had
/// when reading started), holding one message at a time. Fails if a minute passes with no
/// message and no partition reaching its end.
pub fn read_each(
    k: &KafkaSettings,
    topic: &str,
    f: &mut dyn FnMut(TopicRecord),
) -> Result<(), KafkaOpError> {
    let consumer = topic_reader(k)?;
    let parts = partitions_of(&consumer, topic)?;
    let mut tpl = TopicPartitionList::new();
    for p in &parts {
        ctx(
            tpl.add_partition_offset(topic, *p, Offset::Beginning),
            || "building an assignment".into(),
        )?;
    }
    ctx(consumer.assign(&tpl), || format!("assigning {topic}"))?;
    let mut at_end = std::collections::BTreeSet::new();
    let mut deadline = Instant::now() + Duration::from_secs(60);
    while at_end.len() < parts.len() {
        if Instant::now() > deadline {
            return Err(KafkaOpError {
                doing: format!("reading {topic} to its end"),
                cause: KafkaCause::TimedOut(Duration::from_secs(60)),
            });
        }
        match consumer.poll(Duration::from_millis(200)) {
            None => {}
            Some(Err(KafkaError::PartitionEOF(p))) => {
                at_end.insert(p);
            }
            Some(Err(e)) => {
                return Err(KafkaOpError {
                    doing: format!("reading {topic}"),
                    cause: e.into(),
                });
            }
            Some(Ok(m)) => {
                deadline = Instant::now() + Duration::from_secs(60);
                let headers = m
                    .headers()
                    .map(|hs| {
                        hs.iter()
                            .map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec()))
                            .collect()
                    })
                    .unwrap_or_default();
                f(TopicRecord {
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m.key().unwrap_or_default().to_vec(),
                    value: m.payload().unwrap_or_default().to_vec(),
                    headers,
                });
            }
        }
    }
    Ok(())
}
