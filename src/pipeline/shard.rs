//! One input shard of `netkpi run`: partition *p* of every input topic, read by one engine in
//! shard mode whose closed windows go to the merger as partial accumulators. The shard's
//! transactions hold its dead letters, partials and progress (watermark, idleness, end), its
//! checkpoint and its consumer offsets; the guarantee is described in the parent module.

use super::checkpoint::{commit, committed_checkpoint, committed_offsets};
use super::live::{Live, Pending};
use super::output::KafkaOutput;
use super::partitions::{PartitionId, Partitions};
use super::progress::ShardProgress;
use super::{
    CommitClock, Control, PipelineError, RunOptions, RunSummary, input_consumer,
    transactional_producer, wall_ms,
};
use crate::config::Settings;
use crate::engine::Engine;
use crate::inventory::Cell;
use crate::kafka::client::{ctx, partitions_of};
use crate::kafka::codec::OutputEncoder;
use crate::kafka::high_watermark::cached_high;
use crate::model::Stream;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::Producer;
use rdkafka::{Offset, TopicPartitionList};
use std::sync::atomic::Ordering;
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
    let unit = format!("shard-{shard}");
    let mut reread = super::reread::RereadWatch::new(&unit);
    let producer = transactional_producer(k, &format!("{}.shard-{shard}", k.transactional_id))?;
    let consumer = input_consumer(k, &k.group_id)?;

    let mut all = TopicPartitionList::new();
    let mut ids: Vec<(PartitionId, String)> = Vec::new();
    for (stream, topic) in Stream::ALL.into_iter().zip(&k.input_topics) {
        if !partitions_of(&consumer, topic)?.contains(&shard) {
            continue;
        }
        ctx(
            all.add_partition_offset(topic, shard, Offset::Invalid),
            || "building the assignment".into(),
        )?;
        ids.push(((stream, shard), topic.to_string()));
    }
    let checkpoint_key = format!("{}/shard-{shard}", k.group_id);
    let committed = committed_offsets(&consumer, all, &k.group_id)?;
    let checkpoint = committed_checkpoint(settings, &checkpoint_key, &committed)?;

    let mut engine = Engine::new_shard(settings, cells);
    engine.set_clock(wall_ms());
    let now = Instant::now();
    let mut parts = Partitions::default();
    let mut assign = TopicPartitionList::new();
    for ((stream, p), topic) in &ids {
        let saved = checkpoint.as_ref().and_then(|c| {
            c.partitions
                .iter()
                .find(|x| &x.topic == topic && x.partition == *p)
        });
        let (start, until, max) = saved.map_or((0, 0, None), |s| {
            (s.low_water, s.resume_until, s.max_event_time)
        });
        parts.add((*stream, *p), start, until, max, now);
        tracing::debug!(topic = %topic, partition = p, start, resume_until = until, ?max, "partition assigned");
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
        .ok_or(PipelineError::NoGroupMetadata("shard"))?;
    tracing::info!(shard, partitions = ids.len(), "shard consuming");

    let started = Instant::now();
    let encoder = OutputEncoder::new()?;
    ctx(producer.begin_transaction(), || {
        "beginning a transaction".into()
    })?;
    let mut live = Live {
        engine,
        parts,
        out: KafkaOutput::new(&producer, &encoder, k, control.metrics.clone()).for_shard(shard),
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
        checkpoint_key,
    };
    let mut clock = CommitClock::new(k);
    let mut caught_up = false;
    let idle = Duration::from_millis(u64::try_from(settings.idle_timeout_ms).unwrap_or(60_000));
    let mut windows_emitted = live.engine.stats().windows_emitted;
    let mut polls_since_end_check = 0u32;
    let mut last_progress: Option<ShardProgress> = None;
    let mut last_outages = None;
    // The watermark and when it last moved.
    let mut advanced: (Option<i64>, Instant) = (live.engine.watermark(), Instant::now());
    let stream_of = |t: &str| {
        let i = k.input_topics.iter().position(|x| x == t)?;
        Stream::ALL.get(i).copied()
    };
    // New records that arrive while other partitions are still re-reading wait here (their
    // partitions paused), so that the engine is back at the checkpointed state before anything
    // new moves it.
    let mut pending: Vec<Pending> = Vec::new();
    let mut paused = TopicPartitionList::new();
    let mut clock_read = Instant::now();

    loop {
        if control.shutdown.load(Ordering::SeqCst) {
            tracing::info!("shutdown requested: committing and leaving");
            break;
        }
        let rereading = live.parts.is_rereading();
        if !rereading && !pending.is_empty() {
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
        // The wall clock bounds plausible event times (docs/operating-limits.md); read at most every 100 ms.
        if now.duration_since(clock_read) >= Duration::from_millis(100) {
            live.engine.set_clock(wall_ms());
            clock_read = now;
        }
        match polled {
            Some(Ok(m)) => {
                caught_up = false;
                let Some(stream) = stream_of(m.topic()) else {
                    continue;
                };
                let id = (stream, m.partition());
                if rereading && !live.parts.is_reread(id, m.offset()) {
                    pending.push(Pending {
                        stream,
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
                    stream,
                    m.topic(),
                    m.partition(),
                    m.offset(),
                    m.key(),
                    m.payload().unwrap_or_default(),
                    now,
                )?;
                if rereading {
                    continue;
                }
            }
            Some(Err(KafkaError::PartitionEOF(_))) | None => {
                polls_since_end_check = u32::MAX;
                caught_up = true;
            }
            Some(Err(e)) => tracing::warn!(error = %e, "consumer error (librdkafka retries)"),
        }
        polls_since_end_check = polls_since_end_check.saturating_add(1);
        if polls_since_end_check >= 10_000 {
            polls_since_end_check = 0;
            for ((stream, p), topic) in &ids {
                if let Some(high) = cached_high(&consumer, topic, *p) {
                    live.parts.set_end((*stream, *p), high);
                    if let (Some(m), Some(progress)) =
                        (&control.metrics, live.parts.get((*stream, *p)))
                    {
                        m.consumer_lag
                            .with_label_values(&[topic.as_str(), &p.to_string()])
                            .set((high - progress.next_offset).max(0));
                    }
                }
            }
        }
        if live.parts.is_rereading() {
            reread.check(
                live.parts.position(),
                || live.parts.rereading(),
                now,
                &control.health,
            )?;
            continue;
        }
        if !pending.is_empty() {
            continue;
        }
        reread.finished(&control.health);
        if let Some(wm) =
            live.parts
                .watermark(settings.allowed_delay_ms, idle, opts.exit_at_end, now)
        {
            live.engine.advance_to(wm, &mut live.out)?;
        }
        let at_end = opts.exit_at_end && live.parts.all_at_end();
        if at_end {
            live.engine.finish(&mut live.out)?;
        }
        let watermark = live.engine.watermark();
        if watermark != advanced.0 {
            advanced = (watermark, now);
        }
        let idle_now = live.parts.all_inactive(idle, opts.exit_at_end, now);
        let moved = last_progress
            .as_ref()
            .is_none_or(|p| (p.watermark, p.idle) != (watermark, idle_now));
        let emitted = live.engine.stats().windows_emitted != windows_emitted;
        if clock.due(emitted, caught_up, live.dirty || moved, now) || at_end {
            windows_emitted = live.engine.stats().windows_emitted;
            // Built only for a commit: the wall clock is read here, not per record.
            let since_move = i64::try_from(now.duration_since(advanced.1).as_millis()).unwrap_or(0);
            let progress = ShardProgress {
                shard,
                watermark,
                idle: idle_now,
                at_end,
                advanced_at_ms: wall_ms() - since_move,
            };
            let outages = live.engine.shard_outages(shard);
            if last_outages.as_ref() != Some(&outages) {
                live.out.shard_outages(&outages)?;
                last_outages = Some(outages);
            }
            live.out.progress(&progress)?;
            last_progress = Some(progress);
            live.commit(&producer, &group_metadata, &ids)?;
            clock.committed();
            control.health.done(&unit);
            if let Some(m) = &control.metrics {
                m.transactions.with_label_values(&["committed"]).inc();
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
        checkpoint_key,
        ..
    } = live;
    if !opts.exit_at_end || !parts.all_at_end() {
        let mut parts = parts;
        parts.forget_emitted(&engine.fronts());
        if let Some(p) = &last_progress {
            out.progress(p)?;
        }
        summary.checkpoint_bytes = commit(
            &producer,
            &group_metadata,
            &mut out,
            &engine,
            &parts,
            &ids,
            &checkpoint_key,
        )?;
        summary.transactions += 1;
    }
    summary.seconds = started.elapsed().as_secs_f64();
    crate::telemetry::log_summary(
        &format!("shard {shard}"),
        &summary.counters,
        engine.stats(),
        &settings.window_sizes_ms,
        started.elapsed().as_secs_f64(),
    );
    Ok(summary)
}
