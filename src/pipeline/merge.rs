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

use super::checkpoint::{commit_with, find_checkpoint};
use super::output::KafkaOutput;
use super::{
    CommitClock, Control, PipelineError, RunOptions, RunSummary, TIMEOUT, input_consumer,
    transactional_producer, wall_ms,
};
use crate::config::Settings;
use crate::engine::Engine;
use crate::engine::checkpoint::EngineCheckpoint;
use crate::engine::partial::Partial;
use crate::inventory::Cell;
use crate::kafka::client::ctx;
use crate::kafka::codec::OutputEncoder;
use crate::model::validate::{Reason, Reject};
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::Producer;
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Where a shard stands, sent after the partials it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardProgress {
    pub shard: i32,
    /// The shard engine's watermark (`None` before its first record).
    pub watermark: Option<i64>,
    /// Every partition of the shard is idle: it does not hold the pipeline's watermark back.
    pub idle: bool,
    /// `--exit-at-end`: the shard reached the end of its partitions and closed its windows.
    pub at_end: bool,
    /// Wall-clock ms when the watermark last moved (for the breach-latency figure only).
    pub advanced_at_ms: i64,
}

/// A record of the partials topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ShardMessage {
    /// A closed window of shard `.0`.
    Partial(i32, Partial),
    Progress(ShardProgress),
}

impl ShardMessage {
    /// The shard that sent it.
    pub fn shard(&self) -> i32 {
        match self {
            ShardMessage::Partial(s, _) => *s,
            ShardMessage::Progress(p) => p.shard,
        }
    }

    /// Binary encoding (postcard).
    pub fn encode(&self) -> Vec<u8> {
        // Serialising plain data into a Vec cannot fail.
        postcard::to_stdvec(self).unwrap_or_default()
    }

    /// Decodes a record of the partials topic.
    pub fn decode(bytes: &[u8]) -> Result<Self, postcard::Error> {
        postcard::from_bytes(bytes)
    }
}

/// The merger's checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// The pipeline's watermark from the shards' progress (see the module doc).
pub fn merged_watermark(shards: i32, progress: &BTreeMap<i32, ShardProgress>) -> Option<i64> {
    let mut wm: Option<i64> = None;
    let mut any_active = false;
    for p in 0..shards {
        let s = progress.get(&p)?;
        if s.idle || s.at_end {
            continue;
        }
        any_active = true;
        let w = s.watermark?;
        wm = Some(wm.map_or(w, |m| m.min(w)));
    }
    if any_active {
        wm
    } else {
        progress.values().filter_map(|s| s.watermark).max()
    }
}

/// Whether a partial of an emitted window is a copy of one merged before: its shard had already
/// reported a watermark past the window's end, so it had sent that window then. (Otherwise the
/// shard was idle and fell behind: the partial is late.)
fn duplicate(progress: &BTreeMap<i32, ShardProgress>, shard: i32, p: &Partial) -> bool {
    progress
        .get(&shard)
        .and_then(|s| s.watermark)
        .is_some_and(|wm| wm >= p.start + p.size_ms)
}

/// The merger's state besides the engine.
#[derive(Default)]
struct Merge {
    progress: BTreeMap<i32, ShardProgress>,
    /// (shard, size, start) of the partials open windows hold.
    seen: BTreeSet<(i32, i64, i64)>,
    /// (size, start) of open windows → first offset of a partial feeding them.
    feeding: BTreeMap<(i64, i64), i64>,
    next_offset: i64,
    dirty: bool,
}

impl Merge {
    /// Takes a shard's progress. Its watermark never goes back: a shard restarted from an
    /// older checkpoint reports less than the copies an aborted transaction of it left behind
    /// (which the merger may already have acted on), and then sends again what it had sent.
    fn progress_of(&mut self, mut p: ShardProgress) {
        if let Some(old) = self.progress.get(&p.shard)
            && old.watermark > p.watermark
        {
            p.watermark = old.watermark;
            p.advanced_at_ms = old.advanced_at_ms;
        }
        self.progress.insert(p.shard, p);
    }

    /// Forgets what emitted windows needed.
    fn emitted(&mut self, engine: &Engine, sizes: &[i64]) {
        let front = |size: i64| {
            sizes
                .iter()
                .position(|s| *s == size)
                .and_then(|i| engine.fronts()[i])
        };
        self.feeding
            .retain(|(size, start), _| front(*size).is_none_or(|f| *start >= f));
        self.seen
            .retain(|(_, size, start)| front(*size).is_none_or(|f| *start >= f));
    }

    fn low_water(&self) -> i64 {
        self.feeding
            .values()
            .copied()
            .min()
            .map_or(self.next_offset, |f| f.min(self.next_offset))
    }
}

/// Runs the merger until every shard reached its end (`exit_at_end`) or a stop request.
pub(super) fn run_merger(
    settings: &Settings,
    cells: &[Cell],
    shards: i32,
    opts: RunOptions,
    control: &Control,
) -> Result<RunSummary, PipelineError> {
    let k = &settings.kafka;
    let topic = k.partials_topic.as_str();
    let producer = transactional_producer(k, &format!("{}.merger", k.transactional_id))?;
    let group = format!("{}.merger", k.group_id);
    let consumer = input_consumer(k, &group)?;
    let mut tpl = TopicPartitionList::new();
    ctx(tpl.add_partition_offset(topic, 0, Offset::Invalid), || {
        "building the assignment".into()
    })?;
    let committed_tpl = ctx(consumer.committed_offsets(tpl, TIMEOUT), || {
        format!("reading committed offsets of group `{group}`")
    })?;
    let committed = committed_tpl
        .elements()
        .first()
        .and_then(|e| match e.offset() {
            Offset::Offset(o) => Some(o),
            _ => None,
        });
    drop(committed_tpl);
    let key = format!("{}/merger", k.group_id);
    let checkpoint = find_checkpoint(
        settings,
        &key,
        committed.is_some(),
        |c: &MergerCheckpoint| Some(c.resume_until) == committed,
    )?;
    let mut engine = Engine::new(settings, cells);
    let mut merge = Merge::default();
    let mut resume_until = 0;
    if let Some(cp) = &checkpoint {
        engine
            .restore(&cp.engine)
            .map_err(|e| PipelineError::BadCheckpoint(e.to_string()))?;
        merge.progress = cp.shards.iter().map(|s| (s.shard, s.clone())).collect();
        merge.next_offset = cp.low_water;
        resume_until = cp.resume_until;
        tracing::info!(
            from = cp.low_water,
            until = cp.resume_until,
            "merger restored; re-reading open windows"
        );
    }
    let mut assign = TopicPartitionList::new();
    ctx(
        assign.add_partition_offset(topic, 0, Offset::Offset(merge.next_offset)),
        || "building the assignment".into(),
    )?;
    ctx(consumer.assign(&assign), || {
        "assigning the partials topic".into()
    })?;
    let group_metadata = consumer
        .group_metadata()
        .ok_or_else(|| PipelineError::BadCheckpoint("the consumer has no group metadata".into()))?;
    tracing::info!(shards, "merger consuming");

    let started = Instant::now();
    let encoder = OutputEncoder::new()?;
    let mut out = KafkaOutput::new(&producer, &encoder, k, control.metrics.clone());
    let mut summary = RunSummary {
        restored: checkpoint.is_some(),
        ..RunSummary::default()
    };
    let mut clock = CommitClock::new(k);
    let mut caught_up = false;
    let mut windows_emitted = engine.stats().windows_emitted;
    let mut breaches_seen = engine.stats().breach_events;
    let mut unlocked_at: Option<i64> = None;
    // When the shard whose progress last raised the pipeline's watermark moved its own.
    let mut moved_at: Option<i64> = None;
    ctx(producer.begin_transaction(), || {
        "beginning a transaction".into()
    })?;
    loop {
        if control.shutdown.load(Ordering::SeqCst) {
            break;
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                caught_up = false;
                let offset = m.offset();
                merge.next_offset = offset + 1;
                let replay = offset < resume_until;
                let payload = m.payload().unwrap_or_default();
                let source = || (topic.to_string(), 0, offset, m.key().map(<[u8]>::to_vec));
                match ShardMessage::decode(payload) {
                    Err(e) if !replay => {
                        let reject =
                            Reject::new(Reason::Malformed, format!("not a shard message: {e}"));
                        summary.counters.dead_letter(reject.reason);
                        out.dead_letter(&reject, source(), payload)?;
                    }
                    Err(_) => {}
                    Ok(ShardMessage::Partial(shard, p)) => {
                        if !merge.seen.insert((shard, p.size_ms, p.start)) {
                            tracing::debug!(
                                shard,
                                start = p.start,
                                "copy of a partial already held: ignored"
                            );
                        } else {
                            match engine.ingest_partial(&p) {
                                Ok(()) => {
                                    merge.feeding.entry((p.size_ms, p.start)).or_insert(offset);
                                }
                                Err(_) if duplicate(&merge.progress, shard, &p) => {
                                    tracing::debug!(
                                        shard,
                                        start = p.start,
                                        "copy of a partial already emitted: ignored"
                                    );
                                }
                                Err(e) if !replay => {
                                    let reject = Reject::new(
                                        Reason::Late,
                                        format!("partial of shard {shard}: {e}"),
                                    );
                                    summary.counters.dead_letter(reject.reason);
                                    out.dead_letter(&reject, source(), payload)?;
                                }
                                Err(_) => {}
                            }
                        }
                    }
                    Ok(ShardMessage::Progress(p)) => {
                        if !replay {
                            let before = merged_watermark(shards, &merge.progress);
                            let at = p.advanced_at_ms;
                            merge.progress_of(p);
                            if merged_watermark(shards, &merge.progress) > before {
                                // This shard's move is what lets the next windows close.
                                moved_at = Some(at);
                            }
                        }
                    }
                }
                merge.dirty |= !replay;
            }
            Some(Err(KafkaError::PartitionEOF(_))) | None => caught_up = true,
            Some(Err(e)) => tracing::warn!(error = %e, "consumer error (librdkafka retries)"),
        }
        if merge.next_offset < resume_until {
            continue;
        }
        if let Some(wm) = merged_watermark(shards, &merge.progress) {
            engine.advance_to(wm, &mut out)?;
        }
        let all_end = opts.exit_at_end
            && (0..shards).all(|p| merge.progress.get(&p).is_some_and(|s| s.at_end));
        if all_end {
            engine.finish(&mut out)?;
        }
        let emitted = engine.stats().windows_emitted != windows_emitted;
        if emitted {
            report(control, &engine);
        }
        if engine.stats().breach_events != breaches_seen {
            breaches_seen = engine.stats().breach_events;
            unlocked_at = unlocked_at.or(moved_at);
        }
        if clock.due(emitted, caught_up, merge.dirty, Instant::now()) || all_end {
            windows_emitted = engine.stats().windows_emitted;
            commit(
                &producer,
                &group_metadata,
                &mut out,
                &engine,
                &mut merge,
                &key,
                settings,
            )?;
            summary.transactions += 1;
            let waited = clock.committed();
            if let Some(m) = &control.metrics {
                m.transactions.with_label_values(&["committed"]).inc();
                if let Some(w) = waited {
                    m.commit_seconds.observe(w.as_secs_f64());
                }
            }
            if let Some(at) = unlocked_at.take() {
                let us = (wall_ms() - at).max(0) as u64 * 1000;
                summary.breach_latency_us.push(us);
            }
            if all_end {
                break;
            }
            ctx(producer.begin_transaction(), || {
                "beginning a transaction".into()
            })?;
        }
    }
    if !(opts.exit_at_end
        && merge.progress.values().all(|s| s.at_end)
        && merge.progress.len() as i32 == shards)
    {
        commit(
            &producer,
            &group_metadata,
            &mut out,
            &engine,
            &mut merge,
            &key,
            settings,
        )?;
        summary.transactions += 1;
    }
    summary.seconds = started.elapsed().as_secs_f64();
    crate::telemetry::log_summary(
        "merger",
        &summary.counters,
        engine.stats(),
        &settings.window_sizes_ms,
        summary.seconds,
    );
    Ok(summary)
}

/// Watermark delay, open windows and firing alarms to the metrics.
fn report(control: &Control, engine: &Engine) {
    let (Some(m), Some(wm)) = (&control.metrics, engine.watermark()) else {
        return;
    };
    m.watermark_delay_seconds
        .set((wall_ms() - wm) as f64 / 1000.0);
    let (windows, groups) = engine.open_state();
    m.open_windows.set(windows as i64);
    m.open_groups.set(groups as i64);
    for (rule, n) in engine.alarms_firing_by_rule() {
        m.alarms_firing.with_label_values(&[rule]).set(n as i64);
    }
}

fn commit(
    producer: &rdkafka::producer::BaseProducer,
    group: &rdkafka::consumer::ConsumerGroupMetadata,
    out: &mut KafkaOutput<'_>,
    engine: &Engine,
    merge: &mut Merge,
    key: &str,
    settings: &Settings,
) -> Result<(), PipelineError> {
    merge.emitted(engine, &settings.window_sizes_ms);
    let mut saved = engine.checkpoint();
    // Re-read partials rebuild the open windows whole, outage counts included.
    for size in &mut saved.sizes {
        size.windows.clear();
    }
    let cp = MergerCheckpoint {
        key: key.to_string(),
        resume_until: merge.next_offset,
        low_water: merge.low_water(),
        shards: merge.progress.values().cloned().collect(),
        engine: saved,
    };
    let mut offsets = TopicPartitionList::new();
    ctx(
        offsets.add_partition_offset(
            &settings.kafka.partials_topic,
            0,
            Offset::Offset(merge.next_offset),
        ),
        || "building offsets".into(),
    )?;
    commit_with(producer, group, out, key, &cp, &offsets)?;
    merge.dirty = false;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(shard: i32, watermark: Option<i64>, idle: bool) -> ShardProgress {
        ShardProgress {
            shard,
            watermark,
            idle,
            at_end: false,
            advanced_at_ms: 0,
        }
    }

    #[test]
    fn merged_watermark_is_the_minimum_over_active_shards() {
        let mut m = BTreeMap::new();
        m.insert(0, p(0, Some(100), false));
        assert_eq!(merged_watermark(2, &m), None, "shard 1 never reported");
        m.insert(1, p(1, Some(50), false));
        assert_eq!(merged_watermark(2, &m), Some(50));
        m.insert(1, p(1, Some(50), true));
        assert_eq!(
            merged_watermark(2, &m),
            Some(100),
            "idle shards do not hold it"
        );
        m.insert(0, p(0, Some(100), true));
        assert_eq!(merged_watermark(2, &m), Some(100), "all idle: the largest");
        m.insert(1, p(1, None, false));
        assert_eq!(
            merged_watermark(2, &m),
            None,
            "an active shard without records holds it"
        );
    }

    #[test]
    fn shard_messages_round_trip() {
        let msg = ShardMessage::Progress(p(3, Some(-5), true));
        assert_eq!(ShardMessage::decode(&msg.encode()).unwrap(), msg);
        assert!(ShardMessage::decode(b"\xff\xff\xff").is_err());
    }
}
