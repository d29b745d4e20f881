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

use super::checkpoint::{commit_with, committed_offsets, find_checkpoint};
use super::output::KafkaOutput;
use super::progress::{ShardMessage, ShardProgress, duplicate, merged_watermark};
use super::{
    CommitClock, Control, PipelineError, RunOptions, RunSummary, input_consumer,
    transactional_producer, wall_ms,
};
use crate::config::Settings;
use crate::engine::Engine;
use crate::engine::checkpoint::EngineCheckpoint;
use crate::engine::partial::Partial;
use crate::inventory::Cell;
use crate::kafka::client::QuietConsumer;
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

/// The merger's state besides the engine.
#[derive(Default)]
struct Merge {
    progress: BTreeMap<i32, ShardProgress>,
    /// (shard, size, start) of the partials open windows hold.
    seen: BTreeSet<(i32, i64, i64, u32)>,
    /// (size, start) of open windows → first offset of a partial feeding them.
    feeding: BTreeMap<(i64, i64), i64>,
    next_offset: i64,
    dirty: bool,
    /// Input shards (partitions of the widest input topic).
    shards: i32,
    /// When the shard whose progress last raised the pipeline's watermark moved its own.
    moved_at: Option<i64>,
    /// The version of the baselines last written to the checkpoints topic.
    baselines_written: Option<i64>,
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

    /// Takes the record of the partials topic at `offset` (`reread`: below the checkpointed
    /// position, it only rebuilds open windows). Returns why it is a dead letter, if it is.
    fn take(
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
        if !self.seen.insert((shard, p.size_ms, p.start, part)) {
            tracing::debug!(
                shard,
                part,
                start = p.start,
                "copy of a partial already held: ignored"
            );
            return None;
        }
        match engine.ingest_partial(&p) {
            Ok(()) => {
                self.feeding.entry((p.size_ms, p.start)).or_insert(offset);
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

    /// Forgets what emitted windows needed.
    fn forget_emitted(&mut self, engine: &Engine, sizes: &[i64]) {
        let fronts = engine.fronts();
        let front = |size: i64| {
            sizes
                .iter()
                .position(|s| *s == size)
                .and_then(|i| fronts[i])
        };
        self.feeding
            .retain(|(size, start), _| front(*size).is_none_or(|f| *start >= f));
        self.seen
            .retain(|(_, size, start, _)| front(*size).is_none_or(|f| *start >= f));
    }

    fn low_water(&self) -> i64 {
        self.feeding
            .values()
            .copied()
            .min()
            .map_or(self.next_offset, |f| f.min(self.next_offset))
    }
}

/// The partials offset the merger's group (`consumer`'s) committed.
fn committed_offset(
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
fn committed_checkpoint(
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
                    && cp.shards.iter().all(|s| s.at_end)
            }),
        )
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
    let mut reread = super::reread::RereadWatch::new("merger");
    let producer = transactional_producer(k, &format!("{}.merger", k.transactional_id))?;
    let consumer = input_consumer(k, &format!("{}.merger", k.group_id))?;
    let checkpoint = committed_checkpoint(settings, committed_offset(settings, &consumer)?)?;
    let key = format!("{}/merger", k.group_id);
    let mut engine = Engine::new(settings, cells);
    let mut merge = Merge {
        shards,
        ..Merge::default()
    };
    let mut resume_until = 0;
    if let Some(cp) = &checkpoint {
        engine
            .restore(&cp.engine)
            .map_err(|e| PipelineError::BadCheckpoint(e.to_string()))?;
        if let Some(version) = cp.engine.baselines_at {
            match super::baselines::find(settings, &key, version)? {
                Some(b) => engine.restore_baselines(&b),
                None => tracing::warn!(
                    version,
                    "the baselines named by the checkpoint are not in the checkpoints topic: they are learned anew (sleeping-cell and baseline rules have no data for baseline.min_days)"
                ),
            }
            merge.baselines_written = Some(version);
        }
        if let Some(m) = &control.metrics {
            m.alarms.restore(engine.firing_alarms());
        }
        // "At its end" belongs to the run that saw it: a shard restored from a checkpoint
        // written at the end of an earlier `--exit-at-end` run is not at the end of this one's
        // input until it says so again (else this merger would finish at once, and the instance
        // stop its shards before they read what arrived since).
        merge.progress = cp
            .shards
            .iter()
            .map(|s| {
                let mut s = s.clone();
                // Idle is the same: judged on the wall clock of the run that saw it. A shard
                // restored idle would let the others close windows its own partials still
                // feed (seen after a restart following an `--exit-at-end` run); it says
                // again that it is idle within `windows.idle_timeout` if it is.
                s.at_end = false;
                s.idle = false;
                (s.shard, s)
            })
            .collect();
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
        .ok_or(PipelineError::NoGroupMetadata("merger"))?;
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
                let payload = m.payload().unwrap_or_default();
                if let Some(reject) =
                    merge.take(&mut engine, payload, offset, offset < resume_until)
                {
                    summary.counters.dead_letter(reject.reason);
                    let source = (topic.to_string(), 0, offset, m.key().map(<[u8]>::to_vec));
                    out.dead_letter(&reject, source, payload)?;
                }
            }
            Some(Err(KafkaError::PartitionEOF(_))) | None => caught_up = true,
            Some(Err(e)) => tracing::warn!(error = %e, "consumer error (librdkafka retries)"),
        }
        if merge.next_offset < resume_until {
            let (at, until) = (merge.next_offset, resume_until);
            let what = || format!("partials at offset {at}, re-reading up to {until}");
            reread.check(at, what, Instant::now(), &control.health)?;
            continue;
        }
        reread.finished(&control.health);
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
            unlocked_at = unlocked_at.or(merge.moved_at);
        }
        if clock.due(emitted, caught_up, merge.dirty, Instant::now()) || all_end {
            windows_emitted = engine.stats().windows_emitted;
            summary.checkpoint_bytes = commit(
                &producer,
                &group_metadata,
                &mut out,
                &engine,
                &mut merge,
                &key,
                settings,
            )?;
            summary.transactions += 1;
            control.health.done("merger");
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
        summary.checkpoint_bytes = commit(
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
) -> Result<usize, PipelineError> {
    merge.forget_emitted(engine, &settings.window_sizes_ms);
    let mut saved = engine.checkpoint();
    // Re-read partials rebuild the open windows whole, outage counts included.
    for size in &mut saved.sizes {
        size.windows.clear();
    }
    // Baselines go apart, and only when they changed (see `baselines`).
    saved.baselines = Default::default();
    if let Some(version) = engine.baselines_version()
        && merge.baselines_written != Some(version)
    {
        let bytes = super::baselines::write(out, key, version, &engine.baselines_checkpoint())?;
        tracing::debug!(version, bytes, "baselines written beside the checkpoint");
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
    let bytes = commit_with(producer, group, out, key, &cp, &offsets)?;
    merge.baselines_written = cp.engine.baselines_at;
    merge.dirty = false;
    Ok(bytes)
}
