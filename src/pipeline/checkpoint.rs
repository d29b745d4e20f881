//! The checkpoint written in every transaction of `netkpi run`, how a transaction is committed
//! (outputs, checkpoint and consumer offsets together), and how a restart finds the checkpoint
//! committed with the group's offsets. The guarantee is described in the parent module.

use super::output::KafkaOutput;
use super::partitions::{PartitionId, Partitions};
use super::unit::Commit;
use super::{PipelineError, TIMEOUT};
use crate::config::Settings;
use crate::engine::Engine;
use crate::engine::checkpoint::EngineCheckpoint;
use crate::engine::sources::Source;
use crate::kafka::client::ctx;
use crate::kafka::tail::find_from_end;
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};

/// Offsets and watermark of one input partition in a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionCheckpoint {
    pub topic: String,
    pub partition: i32,
    /// Next offset to read when the checkpoint was taken (= the committed consumer offset).
    pub resume_until: i64,
    /// Lowest offset still feeding an open window: reading resumes here.
    pub low_water: i64,
    /// The partition's event-time front (the engine's, saved here with the partition).
    pub max_event_time: Option<i64>,
}

/// The record a shard writes to the checkpoints topic in every transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// `<group_id>/shard-<p>`: also the record's key.
    pub key: String,
    pub partitions: Vec<PartitionCheckpoint>,
    pub engine: EngineCheckpoint,
}

/// The offsets group `group` (the consumer's) committed for the partitions of `tpl`.
pub(super) fn committed_offsets(
    consumer: &crate::kafka::client::QuietConsumer,
    tpl: TopicPartitionList,
    group: &str,
) -> Result<Vec<(String, i32, i64)>, PipelineError> {
    use rdkafka::consumer::Consumer;
    let committed_tpl = ctx(consumer.committed_offsets(tpl, TIMEOUT), || {
        format!("reading committed offsets of group `{group}`")
    })?;
    let committed = committed_tpl
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some((e.topic().to_string(), e.partition(), o)),
            _ => None,
        })
        .collect();
    // Dropped before the consumer (a list from `committed()` outliving it hangs the drop).
    drop(committed_tpl);
    Ok(committed)
}

/// The newest checkpoint under `key` whose partitions' next offsets `matches` (`None` when
/// nothing was committed yet: a first start). The checkpoints topic is read backwards from its
/// end ([`crate::kafka::tail`]), so a restart reads only the checkpoints written since this
/// unit's last commit, however long the deployment has been running.
pub(super) fn find_checkpoint<T: serde::de::DeserializeOwned>(
    settings: &Settings,
    key: &str,
    committed_anything: bool,
    matches: impl Fn(&T) -> bool,
) -> Result<Option<T>, PipelineError> {
    let k = &settings.kafka;
    if !committed_anything {
        return Ok(None);
    }
    let started = std::time::Instant::now();
    let mut scanned = 0usize;
    let found = find_from_end(k, &k.checkpoints_topic, |records| {
        scanned += records.len();
        records
            .iter()
            .rev()
            .filter(|r| r.key == key.as_bytes())
            .filter_map(|r| serde_json::from_slice::<T>(&r.value).ok())
            .find(|cp| matches(cp))
    })?;
    tracing::info!(
        key,
        checkpoints_scanned = scanned,
        found = found.is_some(),
        seconds = format!("{:.3}", started.elapsed().as_secs_f64()),
        "looked up the committed checkpoint from the end of the checkpoints topic"
    );
    found
        .map(Some)
        .ok_or_else(|| PipelineError::NoCheckpoint(key.to_string(), k.checkpoints_topic.clone()))
}

pub(super) fn committed_checkpoint(
    settings: &Settings,
    key: &str,
    committed: &[(String, i32, i64)],
) -> Result<Option<Checkpoint>, PipelineError> {
    find_checkpoint(settings, key, !committed.is_empty(), |cp: &Checkpoint| {
        committed.iter().all(|(t, p, off)| {
            cp.partitions
                .iter()
                .any(|c| &c.topic == t && c.partition == *p && c.resume_until == *off)
        })
    })
}

/// A shard's checkpoint (engine state, and per partition the resume offset, low water and
/// largest event time) and the consumer offsets that go with it.
pub(super) fn shard_commit(
    engine: &Engine,
    parts: &Partitions,
    ids: &[(PartitionId, String)],
    key: &str,
) -> Result<Commit, PipelineError> {
    let mut offsets = TopicPartitionList::new();
    let mut cps = Vec::new();
    for (id, topic) in ids {
        let Some(progress) = parts.get(*id) else {
            continue;
        };
        let source = Source::Input(id.0, id.1);
        let low_water = engine
            .low_water(source)
            .map_or(progress.next_offset, |l| l.min(progress.next_offset));
        // While a partition is still re-reading, the engine's state already covers everything
        // up to `resume_until`: that, not the read position, is where new records begin.
        let resume_until = progress.next_offset.max(progress.resume_until);
        cps.push(PartitionCheckpoint {
            topic: topic.clone(),
            partition: id.1,
            resume_until,
            low_water,
            max_event_time: engine.front(source),
        });
        ctx(
            offsets.add_partition_offset(topic, id.1, Offset::Offset(resume_until)),
            || "building offsets".into(),
        )?;
    }
    let checkpoint = Checkpoint {
        key: key.to_string(),
        partitions: cps,
        engine: engine.checkpoint(),
    };
    Ok(Commit {
        key: key.to_string(),
        checkpoint: serde_json::to_vec(&checkpoint).map_err(PipelineError::CheckpointEncode)?,
        offsets,
    })
}

/// Commits the current transaction with the `checkpoint` record under `key` and the consumer
/// `offsets`; returns the checkpoint's size in bytes.
pub(super) fn commit_with(
    producer: &BaseProducer,
    group: &rdkafka::consumer::ConsumerGroupMetadata,
    out: &mut KafkaOutput<'_>,
    key: &str,
    checkpoint: &[u8],
    offsets: &TopicPartitionList,
) -> Result<usize, PipelineError> {
    out.checkpoint(key, checkpoint)?;
    // The checkpoint must be on the broker before the offsets: a broker that applies
    // transactional offsets before the commit (Tansu does) would otherwise keep offsets whose
    // checkpoint a crash lost.
    ctx(producer.flush(TIMEOUT), || {
        "flushing the transaction".into()
    })?;
    ctx(
        producer.send_offsets_to_transaction(offsets, group, TIMEOUT),
        || "sending offsets to the transaction".into(),
    )?;
    ctx(producer.commit_transaction(TIMEOUT), || {
        "committing the transaction".into()
    })?;
    Ok(checkpoint.len())
}
