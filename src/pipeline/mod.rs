//! `netkpi run`: Kafka in, the pure engine in the middle, Kafka out, exactly once.
//!
//! # Delivery guarantee (enforced here)
//! Every transaction of the output producer holds: the KPI records and breach events of the
//! windows closed since the previous one, the dead letters of the records read since, one
//! checkpoint record (the engine's non-window state — watermark, next windows to emit, outage
//! state, open windows' outage counts, threshold machines — plus, per input partition, the next
//! offset to read, the lowest offset still feeding an open window, and the largest event time),
//! and the consumer offsets = the next offset to read of every partition. So outputs, checkpoint
//! and offsets commit or abort together.
//!
//! On start (or after a crash), the committed offsets identify the checkpoint committed with them
//! (the one whose next-offsets equal them; a copy left by an aborted transaction cannot match,
//! because consumption only moves forward). The engine restores it, each partition is read again
//! from its low-water offset, and records below the checkpointed next offset are re-read through
//! [`Engine::reingest`]: they rebuild the open windows' call and session accumulators, and emit
//! nothing. From then on the run continues as if it had never stopped. Outputs are deterministic
//! and keyed (KPI records by level, group and window; breach events by rule and group), so a copy
//! left behind by an aborted or repeated transaction is byte-identical to the committed record
//! under the same key: on a full Kafka, `read_committed` readers see each record once, and a
//! broker that shows aborted records (as Tansu and librdkafka's mock cluster do) shows duplicates
//! that compaction or a keyed reader drops.
//!
//! Scale-out is not implemented yet: one instance consumes every partition of the input topics
//! (manual assignment). See the README.

mod checkpoint;
mod live;
mod output;
pub mod partitions;

pub use checkpoint::{Checkpoint, PartitionCheckpoint};
use checkpoint::{commit, committed_checkpoint};
use live::{Live, Pending};

use crate::config::Settings;
use crate::engine::Engine;
use crate::inventory::Cell;
use crate::kafka::client::{
    KafkaOpError, QuietConsumer, QuietContext, base_config, ctx, ensure_topics, partitions_of,
};
use crate::kafka::codec::OutputEncoder;
use crate::kafka::watermarks::cached_high;
use crate::model::Stream;
use crate::telemetry::Counters;
use output::KafkaOutput;
use partitions::{PartitionId, Partitions};
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::{Offset, TopicPartitionList};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const STREAMS: [Stream; 3] = [Stream::Call, Stream::Session, Stream::Outage];
const TIMEOUT: Duration = Duration::from_secs(30);

/// Why `netkpi run` stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Kafka(#[from] KafkaOpError),
    #[error(
        "input topic `{0}` does not exist: create it (netkpi gen --kafka creates the input topics)"
    )]
    MissingTopic(String),
    #[error(
        "the committed offsets of group `{0}` match no checkpoint in `{1}`: the checkpoints topic was deleted or belongs to another deployment"
    )]
    NoCheckpoint(String, String),
    #[error("checkpoint is unusable: {0}")]
    BadCheckpoint(String),
    #[error("cannot encode output: {0}")]
    Encode(#[from] crate::kafka::codec::EncodeError),
    #[error(transparent)]
    Registry(#[from] crate::kafka::registry::RegistryUnavailable),
    #[error("cannot build Avro codecs: {0}")]
    Avro(#[from] apache_avro::Error),
}

/// How `run` behaves.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Stop when every partition has reached its end, closing all windows (backfill).
    pub exit_at_end: bool,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub counters: Counters,
    pub transactions: u64,
    pub restored: bool,
    /// Microseconds from the watermark passing a window's end to the commit of the transaction
    /// holding that window's breach events.
    /// (One value per transaction that carried breach events.)
    pub breach_latency_us: Vec<u64>,
    /// Seconds spent consuming (after assignment and restore).
    pub seconds: f64,
}

impl Default for RunSummary {
    fn default() -> Self {
        RunSummary {
            counters: Counters::default(),
            transactions: 0,
            restored: false,
            breach_latency_us: Vec::new(),
            seconds: 0.0,
        }
    }
}

/// Flags shared with the signal handlers and the HTTP endpoint, and the metrics.
#[derive(Clone, Default)]
pub struct Control {
    /// Where the pipeline reports (None: nowhere).
    pub metrics: Option<Arc<crate::telemetry::metrics::Metrics>>,
    /// Set to stop gracefully.
    pub shutdown: Arc<AtomicBool>,
    /// Set once partitions are assigned and state restored.
    pub ready: Arc<AtomicBool>,
}

/// Runs the pipeline until the end of input (`exit_at_end`) or a shutdown request.
pub fn run(
    settings: &Settings,
    cells: &[Cell],
    opts: RunOptions,
    control: &Control,
) -> Result<RunSummary, PipelineError> {
    let k = &settings.kafka;
    let outputs = [
        k.kpis_topic.as_str(),
        k.breaches_topic.as_str(),
        k.dead_letters_topic.as_str(),
    ];
    ensure_topics(k, &outputs, k.output_partitions)?;
    ensure_topics(k, &[k.checkpoints_topic.as_str()], 1)?;

    let producer: BaseProducer = ctx(
        base_config(k)
            .set("transactional.id", &k.transactional_id)
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .set("compression.type", "lz4")
            .create(),
        || "creating the transactional producer".into(),
    )?;
    // Fences a previous instance with the same transactional id and aborts what it left open.
    ctx(producer.init_transactions(TIMEOUT), || {
        format!("initialising transactions as `{}`", k.transactional_id)
    })?;
    let consumer: QuietConsumer = ctx(
        base_config(k)
            .set("group.id", &k.group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "true")
            .set("isolation.level", "read_committed")
            .set("auto.offset.reset", "earliest")
            .set("fetch.wait.max.ms", "50")
            .create_with_context(QuietContext),
        || "creating the consumer".into(),
    )?;

    let mut all = TopicPartitionList::new();
    let mut ids: Vec<(PartitionId, String)> = Vec::new();
    for (si, topic) in k.input_topics.iter().enumerate() {
        let parts = partitions_of(&consumer, topic)?;
        if parts.is_empty() {
            return Err(PipelineError::MissingTopic(topic.clone()));
        }
        for p in parts {
            ctx(all.add_partition_offset(topic, p, Offset::Invalid), || {
                "building the assignment".into()
            })?;
            ids.push(((si, p), topic.clone()));
        }
    }
    let committed_tpl = ctx(consumer.committed_offsets(all, TIMEOUT), || {
        format!("reading committed offsets of group `{}`", k.group_id)
    })?;
    let committed: Vec<(String, i32, i64)> = committed_tpl
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some((e.topic().to_string(), e.partition(), o)),
            _ => None,
        })
        .collect();
    drop(committed_tpl);
    let checkpoint = committed_checkpoint(settings, &committed)?;

    let mut engine = Engine::new(settings, cells);
    let now = Instant::now();
    let mut parts = Partitions::default();
    let mut assign = TopicPartitionList::new();
    for ((si, p), topic) in &ids {
        let saved = checkpoint.as_ref().and_then(|c| {
            c.partitions
                .iter()
                .find(|x| &x.topic == topic && x.partition == *p)
        });
        let (start, until, max) = saved.map_or((0, 0, None), |s| {
            (s.low_water, s.resume_until, s.max_event_time)
        });
        parts.add((*si, *p), start, until, max, now);
        tracing::debug!(topic = %topic, partition = p, start, replay_until = until, ?max, "partition assigned");
        ctx(
            assign.add_partition_offset(topic, *p, Offset::Offset(start)),
            || "building the assignment".into(),
        )?;
    }
    if let Some(cp) = &checkpoint {
        engine
            .restore(&cp.engine)
            .map_err(|e| PipelineError::BadCheckpoint(e.to_string()))?;
        tracing::info!(
            partitions = cp.partitions.len(),
            "restored from checkpoint; re-reading open windows"
        );
    }
    ctx(consumer.assign(&assign), || {
        "assigning the input partitions".into()
    })?;
    let group_metadata = consumer
        .group_metadata()
        .ok_or_else(|| PipelineError::BadCheckpoint("the consumer has no group metadata".into()))?;
    control.ready.store(true, Ordering::SeqCst);
    tracing::info!(partitions = ids.len(), group = %k.group_id, "consuming");

    let started = Instant::now();
    let encoder = OutputEncoder::new()?;
    ctx(producer.begin_transaction(), || {
        "beginning a transaction".into()
    })?;
    let mut live = Live {
        engine,
        parts,
        out: KafkaOutput::new(&producer, &encoder, k, control.metrics.clone()),
        decoders: crate::kafka::registry::InputDecoders::new(k),
        records_counters: control.metrics.as_ref().map_or_else(Vec::new, |m| {
            k.input_topics
                .iter()
                .map(|t| m.records.with_label_values(&[t.as_str()]))
                .collect()
        }),
        summary: RunSummary {
            restored: checkpoint.is_some(),
            ..RunSummary::default()
        },
        dirty: false,
    };
    let commit_every = Duration::from_millis(u64::try_from(k.commit_interval_ms).unwrap_or(1000));
    let idle = Duration::from_millis(u64::try_from(settings.idle_timeout_ms).unwrap_or(60_000));
    let mut last_commit = Instant::now();
    let mut windows_emitted = live.engine.stats().windows_emitted;
    let mut polls_since_end_check = 0u32;
    let mut breaches_seen = live.engine.stats().breach_events;
    let mut breaches_since: Option<Instant> = None;
    let mut windows_since: Option<Instant> = None;
    let topic_index = |t: &str| k.input_topics.iter().position(|x| x == t);
    // New records that arrive while other partitions are still re-reading wait here (their
    // partitions paused), so that the engine is back at the checkpointed state before anything
    // new moves it.
    let mut pending: Vec<Pending> = Vec::new();
    let mut paused = TopicPartitionList::new();

    loop {
        if control.shutdown.load(Ordering::SeqCst) {
            tracing::info!("shutdown requested: committing and leaving");
            break;
        }
        let replaying = live.parts.replaying();
        if !replaying && !pending.is_empty() {
            for p in std::mem::take(&mut pending) {
                live.process(
                    p.stream,
                    &p.topic,
                    p.partition,
                    p.offset,
                    p.key.as_deref(),
                    &p.payload,
                    Instant::now(),
                )?;
            }
            ctx(consumer.resume(&paused), || "resuming partitions".into())?;
            paused = TopicPartitionList::new();
        }
        let polled = consumer.poll(Duration::from_millis(100));
        let now = Instant::now();
        match polled {
            Some(Ok(m)) => {
                let Some(si) = topic_index(m.topic()) else {
                    continue;
                };
                let id = (si, m.partition());
                if replaying && !live.parts.is_replay(id, m.offset()) {
                    pending.push(Pending {
                        stream: si,
                        topic: m.topic().to_string(),
                        partition: m.partition(),
                        offset: m.offset(),
                        key: m.key().map(<[u8]>::to_vec),
                        payload: m.payload().unwrap_or_default().to_vec(),
                    });
                    if paused.find_partition(m.topic(), m.partition()).is_none() {
                        paused.add_partition(m.topic(), m.partition());
                        let mut one = TopicPartitionList::new();
                        one.add_partition(m.topic(), m.partition());
                        ctx(consumer.pause(&one), || "pausing a partition".into())?;
                    }
                    continue;
                }
                live.process(
                    si,
                    m.topic(),
                    m.partition(),
                    m.offset(),
                    m.key(),
                    m.payload().unwrap_or_default(),
                    now,
                )?;
                if replaying {
                    continue;
                }
            }
            Some(Err(KafkaError::PartitionEOF(_))) | None => polls_since_end_check = u32::MAX,
            Some(Err(e)) => tracing::warn!(error = %e, "consumer error (librdkafka retries)"),
        }
        polls_since_end_check = polls_since_end_check.saturating_add(1);
        if polls_since_end_check >= 10_000 {
            polls_since_end_check = 0;
            for ((si, p), topic) in &ids {
                if let Some(high) = cached_high(&consumer, topic, *p) {
                    live.parts.set_end((*si, *p), high);
                    if let (Some(m), Some(progress)) = (&control.metrics, live.parts.get((*si, *p)))
                    {
                        m.consumer_lag
                            .with_label_values(&[topic.as_str(), &p.to_string()])
                            .set((high - progress.next_offset).max(0));
                    }
                }
            }
        }
        if live.parts.replaying() || !pending.is_empty() {
            continue;
        }
        if let Some(wm) =
            live.parts
                .watermark(settings.allowed_delay_ms, idle, opts.exit_at_end, now)
        {
            live.engine.advance_to(wm, &mut live.out)?;
        }
        let emitted_now = live.engine.stats().windows_emitted != windows_emitted;
        if let (Some(m), Some(wm)) = (&control.metrics, live.engine.watermark()) {
            let wall = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            m.watermark_delay_seconds.set((wall - wm) as f64 / 1000.0);
            let (windows, groups) = live.engine.open_state();
            m.open_windows.set(windows as i64);
            m.open_groups.set(groups as i64);
            if emitted_now {
                for (rule, n) in live.engine.alarms_firing_by_rule() {
                    m.alarms_firing.with_label_values(&[rule]).set(n as i64);
                }
            }
        }
        let at_end = opts.exit_at_end && live.parts.all_at_end();
        if at_end {
            live.engine.finish(&mut live.out)?;
        }
        if live.engine.stats().breach_events != breaches_seen {
            breaches_seen = live.engine.stats().breach_events;
            breaches_since.get_or_insert(now);
        }
        let emitted = live.engine.stats().windows_emitted != windows_emitted;
        if emitted {
            windows_since.get_or_insert(now);
        }
        if emitted || at_end || (live.dirty && now.duration_since(last_commit) >= commit_every) {
            windows_emitted = live.engine.stats().windows_emitted;
            live.commit(&producer, &group_metadata, &ids, settings)?;
            last_commit = Instant::now();
            if let (Some(since), Some(m)) = (windows_since.take(), &control.metrics) {
                m.commit_seconds
                    .observe(last_commit.duration_since(since).as_secs_f64());
            }
            if let Some(m) = &control.metrics {
                m.transactions.with_label_values(&["committed"]).inc();
            }
            if let Some(since) = breaches_since.take() {
                let us = u64::try_from(last_commit.duration_since(since).as_micros())
                    .unwrap_or(u64::MAX);
                live.summary.breach_latency_us.push(us);
            }
            if at_end {
                break;
            }
            ctx(producer.begin_transaction(), || {
                "beginning a transaction".into()
            })?;
        }
    }
    let Live {
        engine,
        parts,
        mut out,
        mut summary,
        ..
    } = live;
    if !opts.exit_at_end || !parts.all_at_end() {
        let mut parts = parts;
        parts.emitted(&engine.fronts());
        commit(
            &producer,
            &group_metadata,
            &mut out,
            &engine,
            &parts,
            &ids,
            settings,
        )?;
        summary.transactions += 1;
    }
    summary.seconds = started.elapsed().as_secs_f64();
    let mut lat = summary.breach_latency_us.clone();
    lat.sort_unstable();
    let rank = |permille: u64| {
        lat[(crate::kpi::sketch::nearest_rank(permille as u32, lat.len() as u64) - 1) as usize]
    };
    if !lat.is_empty() {
        tracing::info!(
            transactions_with_breaches = lat.len(),
            p50_ms = format!("{:.2}", rank(500) as f64 / 1000.0),
            p99_ms = format!("{:.2}", rank(990) as f64 / 1000.0),
            max_ms = format!("{:.2}", rank(1000) as f64 / 1000.0),
            "breach latency (watermark past window end → breach committed)"
        );
    }
    crate::telemetry::log_summary(
        "run",
        &summary.counters,
        engine.stats(),
        &settings.window_sizes_ms,
        started.elapsed().as_secs_f64(),
    );
    Ok(summary)
}
