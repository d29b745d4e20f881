//! One input shard of `netkpi run`: partition *p* of every input topic, read by one engine in
//! shard mode whose closed windows go to the merger as partial accumulators. The shard's
//! transactions hold its dead letters, partials and progress (watermark, idleness, end), its
//! checkpoint and its consumer offsets; the guarantee is described in the parent module.

use super::checkpoint::{committed_checkpoint, committed_offsets, shard_commit};
use super::live::{Live, Pending, Record};
use super::output::KafkaOutput;
use super::partitions::{PartitionId, Partitions};
use super::progress::ShardProgress;
use super::reread::RereadWatch;
use super::unit::{Clients, Commit, Step, UnitOutput, UnitWork, drive};
use super::watermark::{SourceState, Watermark};
use super::{Control, PipelineError, RunOptions, RunSummary};
use crate::clock::wall_ms;
use crate::config::Settings;
use crate::engine::Engine;
use crate::engine::shard_outages::ShardOutages;
use crate::engine::sources::Source;
use crate::inventory::Cell;
use crate::kafka::client::{ctx, partitions_of};
use crate::kafka::high_watermark::cached_high;
use crate::model::Stream;
use crate::telemetry::health::Health;
use rdkafka::consumer::Consumer;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use std::time::{Duration, Instant};

/// Runs input shard `shard` (partition `shard` of every input topic that has it) until its end
/// (`exit_at_end`) or a stop request.
pub(super) fn run_shard(
    settings: &Settings,
    cells: &[Cell],
    shard: i32,
    opts: RunOptions,
    control: &Control,
) -> Result<RunSummary, PipelineError> {
    let k = &settings.kafka;
    let clients = Clients::new(
        k,
        &format!("{}.shard-{shard}", k.transactional_id),
        &k.group_id,
        control,
    )?;
    let unit = ShardUnit::start(settings, cells, shard, opts, control, &clients)?;
    drive(unit, &clients, k, &settings.window_sizes_ms, control)
}

/// A running shard: its engine and partitions, and what the loop needs between polls.
struct ShardUnit {
    name: String,
    shard: i32,
    live: Live,
    /// Each assigned partition and its topic.
    ids: Vec<(PartitionId, String)>,
    checkpoint_key: String,
    input_topics: [String; 3],
    exit_at_end: bool,
    allowed_delay_ms: i64,
    idle: Duration,
    reread: RereadWatch,
    /// New records that arrive while other partitions are still re-reading wait here (their
    /// partitions paused), so that the engine is back at the checkpointed state before anything
    /// new moves it.
    pending: Vec<Pending>,
    paused: TopicPartitionList,
    clock_read: Instant,
    polls_since_end_check: u32,
    windows_emitted: u64,
    /// The watermark and when it last moved.
    advanced: (Option<i64>, Instant),
    /// The watermark as the last tick found it: active, idle or at the end.
    standing: Watermark,
    last_progress: Option<ShardProgress>,
    last_outages: Option<ShardOutages>,
}

impl ShardUnit {
    /// Assigns the shard's partitions from their checkpointed low water and restores the engine.
    fn start(
        settings: &Settings,
        cells: &[Cell],
        shard: i32,
        opts: RunOptions,
        control: &Control,
        clients: &Clients,
    ) -> Result<Self, PipelineError> {
        let k = &settings.kafka;
        let consumer = &clients.consumer;
        let ids = assigned_partitions(k, consumer, shard)?;
        let checkpoint_key = format!("{}/shard-{shard}", k.group_id);
        let mut all = TopicPartitionList::new();
        for ((_, p), topic) in &ids {
            ctx(all.add_partition_offset(topic, *p, Offset::Invalid), || {
                "building the assignment".into()
            })?;
        }
        let committed = committed_offsets(consumer, all, &k.group_id)?;
        let checkpoint = committed_checkpoint(settings, &checkpoint_key, &committed)?;
        let mut engine = Engine::new_shard(&settings.engine(), cells);
        engine.set_clock(wall_ms());
        let (parts, assign) = resume_points(&ids, checkpoint.as_ref(), &mut engine)?;
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
        tracing::info!(shard, partitions = ids.len(), "shard consuming");
        let live = Live {
            engine,
            parts,
            decoders: crate::kafka::registry::InputDecoders::new(k, &control.schemas),
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
        let name = format!("shard-{shard}");
        Ok(ShardUnit {
            reread: RereadWatch::new(&name),
            name,
            shard,
            windows_emitted: live.engine.stats().windows_emitted,
            advanced: (live.engine.watermark(), Instant::now()),
            live,
            ids,
            checkpoint_key,
            input_topics: k.input_topics.clone(),
            exit_at_end: opts.exit_at_end,
            allowed_delay_ms: settings.allowed_delay_ms,
            idle: Duration::from_millis(u64::try_from(settings.idle_timeout_ms).unwrap_or(60_000)),
            pending: Vec::new(),
            paused: TopicPartitionList::new(),
            clock_read: Instant::now(),
            polls_since_end_check: 0,
            standing: Watermark {
                at: None,
                state: SourceState::Active,
            },
            last_progress: None,
            last_outages: None,
        })
    }

    fn stream_of(&self, topic: &str) -> Option<Stream> {
        let i = self.input_topics.iter().position(|x| x == topic)?;
        Stream::ALL.get(i).copied()
    }

    /// Holds a new record back while other partitions re-read, pausing its partition.
    fn hold_back(&mut self, r: &Record<'_>, clients: &Clients) -> Result<(), PipelineError> {
        self.pending.push(Pending::of(r));
        if self.paused.find_partition(r.topic, r.partition).is_none() {
            self.paused.add_partition(r.topic, r.partition);
            let mut one = TopicPartitionList::new();
            one.add_partition(r.topic, r.partition);
            ctx(clients.consumer.pause(&one), || {
                "pausing a partition".into()
            })?;
        }
        Ok(())
    }

    /// Every so often (and when a poll found nothing), each partition's end and lag from the
    /// high watermark librdkafka last saw.
    fn check_ends(
        &mut self,
        polled_nothing: bool,
        clients: &Clients,
        metrics: Option<&crate::telemetry::metrics::Metrics>,
    ) {
        if polled_nothing {
            self.polls_since_end_check = u32::MAX;
        }
        self.polls_since_end_check = self.polls_since_end_check.saturating_add(1);
        if self.polls_since_end_check < 10_000 {
            return;
        }
        self.polls_since_end_check = 0;
        for ((stream, p), topic) in &self.ids {
            let Some(high) = cached_high(&clients.consumer, topic, *p) else {
                continue;
            };
            self.live.parts.set_end((*stream, *p), high);
            if let (Some(m), Some(progress)) = (metrics, self.live.parts.get((*stream, *p))) {
                m.consumer_lag
                    .with_label_values(&[topic.as_str(), &p.to_string()])
                    .set((high - progress.next_offset).max(0));
            }
        }
    }

    /// The progress message of this transaction, and the outages of unclosed windows when they
    /// changed.
    fn send_progress(&mut self, out: &mut UnitOutput<'_>) -> Result<(), PipelineError> {
        // Built only for a commit: the wall clock is read here, not per record.
        let since_move =
            i64::try_from(Instant::now().duration_since(self.advanced.1).as_millis()).unwrap_or(0);
        let progress = ShardProgress {
            shard: self.shard,
            watermark: self.standing,
            advanced_at_ms: wall_ms() - since_move,
        };
        let outages = self.live.engine.shard_outages(self.shard);
        if self.last_outages.as_ref() != Some(&outages) {
            out.shard_outages(&outages)?;
            self.last_outages = Some(outages);
        }
        out.progress(&progress)?;
        self.last_progress = Some(progress);
        Ok(())
    }
}

/// Partition `shard` of every input topic that has it.
fn assigned_partitions(
    k: &crate::config::KafkaSettings,
    consumer: &crate::kafka::client::QuietConsumer,
    shard: i32,
) -> Result<Vec<(PartitionId, String)>, PipelineError> {
    let mut ids = Vec::new();
    for (stream, topic) in Stream::ALL.into_iter().zip(&k.input_topics) {
        if partitions_of(consumer, topic)?.contains(&shard) {
            ids.push(((stream, shard), topic.to_string()));
        }
    }
    Ok(ids)
}

/// Where each partition resumes: from its checkpointed low water (the first record still
/// feeding an open window), re-reading up to its checkpointed position; from the start without
/// a checkpoint. Each partition's event-time front goes back into `engine`.
fn resume_points(
    ids: &[(PartitionId, String)],
    checkpoint: Option<&super::checkpoint::Checkpoint>,
    engine: &mut Engine,
) -> Result<(Partitions, TopicPartitionList), PipelineError> {
    let now = Instant::now();
    let mut parts = Partitions::default();
    let mut assign = TopicPartitionList::new();
    for ((stream, p), topic) in ids {
        let saved = checkpoint.and_then(|c| {
            c.partitions
                .iter()
                .find(|x| &x.topic == topic && x.partition == *p)
        });
        let (start, until, max) = saved.map_or((0, 0, None), |s| {
            (s.low_water, s.resume_until, s.max_event_time)
        });
        parts.add((*stream, *p), start, until, now);
        engine.restore_front(Source::Input(*stream, *p), max);
        tracing::debug!(topic = %topic, partition = p, start, resume_until = until, ?max, "partition assigned");
        ctx(
            assign.add_partition_offset(topic, *p, Offset::Offset(start)),
            || "building the assignment".into(),
        )?;
    }
    Ok((parts, assign))
}

impl UnitWork for ShardUnit {
    fn name(&self) -> &str {
        &self.name
    }

    fn output<'a>(&self, out: KafkaOutput<'a>) -> KafkaOutput<'a> {
        out.for_shard(self.shard)
    }

    fn before_poll(
        &mut self,
        clients: &Clients,
        out: &mut UnitOutput<'_>,
    ) -> Result<(), PipelineError> {
        if self.live.parts.is_rereading() || self.pending.is_empty() {
            return Ok(());
        }
        for p in std::mem::take(&mut self.pending) {
            self.live.process(&p.record(), out, Instant::now())?;
        }
        ctx(clients.consumer.resume(&self.paused), || {
            "resuming partitions".into()
        })?;
        self.paused = TopicPartitionList::new();
        Ok(())
    }

    fn take(
        &mut self,
        m: &BorrowedMessage<'_>,
        clients: &Clients,
        out: &mut UnitOutput<'_>,
        now: Instant,
    ) -> Result<(), PipelineError> {
        // The wall clock bounds plausible event times (docs/operating-limits.md); read at most
        // every 100 ms.
        if now.duration_since(self.clock_read) >= Duration::from_millis(100) {
            self.live.engine.set_clock(wall_ms());
            self.clock_read = now;
        }
        let Some(stream) = self.stream_of(m.topic()) else {
            return Ok(());
        };
        let record = Record {
            stream,
            topic: m.topic(),
            partition: m.partition(),
            offset: m.offset(),
            key: m.key(),
            payload: m.payload().unwrap_or_default(),
        };
        let id = (stream, record.partition);
        if self.live.parts.is_rereading() && !self.live.parts.is_reread(id, record.offset) {
            return self.hold_back(&record, clients);
        }
        self.live.process(&record, out, now)
    }

    fn tick(
        &mut self,
        polled_nothing: bool,
        clients: &Clients,
        out: &mut UnitOutput<'_>,
        health: &Health,
        now: Instant,
    ) -> Result<Step, PipelineError> {
        self.check_ends(polled_nothing, clients, out.metrics());
        let parts = &self.live.parts;
        if parts.is_rereading() {
            self.reread
                .check(parts.position(), || parts.rereading(), now, health)?;
            return Ok(Step::REREADING);
        }
        if !self.pending.is_empty() {
            return Ok(Step::REREADING);
        }
        self.reread.finished(health);
        let live = &mut self.live;
        if let Some(wm) = live.parts.watermark(
            &live.engine,
            self.allowed_delay_ms,
            self.idle,
            self.exit_at_end,
            now,
        ) {
            live.engine.advance_to(wm, out)?;
        }
        let at_end = self.exit_at_end && live.parts.all_at_end();
        if at_end {
            live.engine.finish(out)?;
        }
        let watermark = live.engine.watermark();
        if watermark != self.advanced.0 {
            self.advanced = (watermark, now);
        }
        let state = if at_end {
            SourceState::AtEnd
        } else if live.parts.all_inactive(self.idle, self.exit_at_end, now) {
            SourceState::Idle
        } else {
            SourceState::Active
        };
        self.standing = Watermark {
            at: watermark,
            state,
        };
        let moved = self
            .last_progress
            .as_ref()
            .is_none_or(|p| p.watermark != self.standing);
        Ok(Step {
            rereading: false,
            emitted: live.engine.stats().windows_emitted != self.windows_emitted,
            dirty: live.dirty || moved,
            at_end,
        })
    }

    fn checkpoint(
        &mut self,
        out: &mut UnitOutput<'_>,
        last: bool,
    ) -> Result<Commit, PipelineError> {
        if last {
            // Stopping: the last progress again, so the merger knows the committed state.
            if let Some(p) = &self.last_progress {
                out.progress(p)?;
            }
        } else {
            self.send_progress(out)?;
        }
        shard_commit(
            &self.live.engine,
            &self.live.parts,
            &self.ids,
            &self.checkpoint_key,
        )
    }

    fn committed(&mut self) {
        self.live.dirty = false;
        self.windows_emitted = self.live.engine.stats().windows_emitted;
    }

    fn summary(&mut self) -> &mut RunSummary {
        &mut self.live.summary
    }

    fn engine(&self) -> &Engine {
        &self.live.engine
    }
}
