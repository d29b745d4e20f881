//! The merger: the second phase of the two-phase aggregation. It reads the partials topic
//! (single partition, so every shard's partials come before the progress that covers them),
//! merges each shard's per-cell accumulators into its engine, and closes a window once the
//! minimum of the shards' watermarks has passed its end (idle shards excluded, a shard that never
//! reported holding it back) — then rolls up, writes KPI records and breach events, and keeps the
//! threshold machines.
//!
//! Guarantee: like a shard, every transaction holds the merger's outputs, its checkpoint
//! (engine state, every shard's progress, and the partials topic's next and low-water offsets)
//! and its consumer offset, so they commit or abort together. A restart re-reads the partials
//! topic from the low-water offset (the first partial of a window not yet emitted): partials
//! rebuild the open windows, progress records below the checkpointed offset are skipped (the
//! checkpoint holds newer progress). A partial is identified by (shard, window size, window
//! start) and a copy already held — one an aborted or repeated shard transaction left behind —
//! is ignored, so such copies cannot count twice.

use super::PipelineError;
use super::checkpoint::{committed_offsets, find_checkpoint};
use super::progress::{ShardMessage, ShardProgress, duplicate, merged_watermark};
use super::watermark::SourceState;
use crate::config::Settings;
use crate::engine::Engine;
use crate::engine::checkpoint::EngineCheckpoint;
use crate::engine::partial::{Partial, PartialTaken};
use crate::engine::sources::{PartialOrigin, Source};
use crate::kafka::client::{QuietConsumer, ctx, input_consumer};
use crate::model::validate::{Reason, Reject};
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The merger's checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergerCheckpoint {
    /// `<group_id>/merger`: also the record's key.
    pub key: String,
    /// Next offset of the partials topic (= the committed consumer offset).
    pub resume_until: i64,
    /// First offset still feeding an open window: reading resumes here.
    pub low_water: i64,
    pub shards: Vec<ShardProgress>,
    pub engine: EngineCheckpoint,
}

/// The merger's state besides the engine (which keeps what its open windows hold).
#[derive(Default)]
pub(super) struct Merge {
    pub(super) progress: BTreeMap<i32, ShardProgress>,
    pub(super) next_offset: i64,
    pub(super) dirty: bool,
    /// Input shards (partitions of the widest input topic).
    pub(super) shards: i32,
    /// When the shard whose progress last raised the pipeline's watermark moved its own.
    pub(super) moved_at: Option<i64>,
    /// The version of the baselines last written to the checkpoints topic.
    pub(super) baselines_written: Option<i64>,
}

impl Merge {
    /// Takes a shard's progress. Its watermark never goes back: a shard restarted from an
    /// older checkpoint reports less than the copies an aborted transaction of it left behind
    /// (which the merger may already have acted on), and then sends again what it had sent.
    fn progress_of(&mut self, mut p: ShardProgress) {
        if let Some(old) = self.progress.get(&p.shard)
            && old.watermark.at > p.watermark.at
        {
            p.watermark.at = old.watermark.at;
            p.advanced_at_ms = old.advanced_at_ms;
        }
        self.progress.insert(p.shard, p);
    }

    /// Takes the record of the partials topic at `offset` (`reread`: below the checkpointed
    /// position, it only rebuilds open windows). Returns why it is a dead letter, if it is.
    pub(super) fn take(
        &mut self,
        engine: &mut Engine,
        payload: &[u8],
        offset: i64,
        reread: bool,
    ) -> Option<Reject> {
        self.dirty |= !reread;
        let message = match ShardMessage::decode(payload) {
            Ok(m) => m,
            Err(e) => {
                let detail = format!("not a shard message: {e}");
                return (!reread).then(|| Reject::new(Reason::Malformed, detail));
            }
        };
        match message {
            ShardMessage::Partial(shard, p) => {
                self.take_partial(engine, shard, 0, p, offset, reread)
            }
            ShardMessage::PartialPart {
                shard,
                part,
                partial,
            } => self.take_partial(engine, shard, part, partial, offset, reread),
            ShardMessage::Progress(p) if !reread => {
                let before = merged_watermark(self.shards, &self.progress);
                let at = p.advanced_at_ms;
                self.progress_of(p);
                if merged_watermark(self.shards, &self.progress) > before {
                    // This shard's move is what lets the next windows close.
                    self.moved_at = Some(at);
                }
                None
            }
            ShardMessage::Progress(_) => None,
            ShardMessage::Outages(o) if !reread => {
                engine.take_shard_outages(o);
                None
            }
            ShardMessage::Outages(_) => None,
        }
    }

    /// Merges a partial (or part `part` of one) unless it is a copy of one already held.
    fn take_partial(
        &mut self,
        engine: &mut Engine,
        shard: i32,
        part: u32,
        p: Partial,
        offset: i64,
        reread: bool,
    ) -> Option<Reject> {
        let from = PartialOrigin {
            shard,
            part,
            offset,
        };
        match engine.ingest_partial(&p, from) {
            Ok(PartialTaken::Merged) => None,
            Ok(PartialTaken::Copy) => {
                tracing::debug!(
                    shard,
                    part,
                    start = p.start,
                    "copy of a partial already held: ignored"
                );
                None
            }
            Err(_)
                if reread
                    || duplicate(&self.progress, shard, &p)
                    || engine.shard_closed(shard, p.size_ms, p.start) =>
            {
                None
            }
            Err(e) => Some(Reject::new(
                Reason::Late,
                format!("partial of shard {shard}: {e}"),
            )),
        }
    }

    /// The first offset of the partials topic still feeding an open window, or the next one.
    pub(super) fn low_water(&self, engine: &Engine) -> i64 {
        engine
            .low_water(Source::Partials)
            .map_or(self.next_offset, |f| f.min(self.next_offset))
    }
}

/// The partials offset the merger's group (`consumer`'s) committed.
pub(super) fn committed_offset(
    settings: &Settings,
    consumer: &QuietConsumer,
) -> Result<Option<i64>, PipelineError> {
    let k = &settings.kafka;
    let mut tpl = TopicPartitionList::new();
    ctx(
        tpl.add_partition_offset(&k.partials_topic, 0, Offset::Invalid),
        || "building the assignment".into(),
    )?;
    let group = format!("{}.merger", k.group_id);
    Ok(committed_offsets(consumer, tpl, &group)?
        .first()
        .map(|(_, _, o)| *o))
}

/// The merger's checkpoint committed with `committed` (its group's offset).
pub(super) fn committed_checkpoint(
    settings: &Settings,
    committed: Option<i64>,
) -> Result<Option<MergerCheckpoint>, PipelineError> {
    let key = format!("{}/merger", settings.kafka.group_id);
    find_checkpoint(
        settings,
        &key,
        committed.is_some(),
        |c: &MergerCheckpoint| Some(c.resume_until) == committed,
    )
}

/// Watches the merger, wherever it runs, for `--exit-at-end` on an instance that does not run it:
/// the job is done when the merger has committed, since the watch began, a checkpoint with every
/// shard at its end. A check asks for the committed offset (one request) and reads the
/// checkpoints topic only when that offset moved.
pub(super) struct MergerWatch {
    consumer: QuietConsumer,
    /// The committed offset when the watch began, then at the last look at the checkpoint.
    seen: Option<i64>,
}

impl MergerWatch {
    pub(super) fn new(settings: &Settings) -> Result<Self, PipelineError> {
        let k = &settings.kafka;
        let consumer = input_consumer(k, &format!("{}.merger", k.group_id))?;
        let seen = committed_offset(settings, &consumer)?;
        Ok(MergerWatch { consumer, seen })
    }

    /// Whether the merger has finished since the watch began.
    pub(super) fn finished(
        &mut self,
        settings: &Settings,
        shards: i32,
    ) -> Result<bool, PipelineError> {
        let committed = committed_offset(settings, &self.consumer)?;
        if committed <= self.seen {
            return Ok(false);
        }
        self.seen = committed;
        Ok(
            committed_checkpoint(settings, committed)?.is_some_and(|cp| {
                cp.shards.len() == usize::try_from(shards).unwrap_or(0)
                    && cp
                        .shards
                        .iter()
                        .all(|s| s.watermark.state == SourceState::AtEnd)
            }),
        )
    }
}
