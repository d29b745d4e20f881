//! The merger as a unit of `netkpi run`: restores its engine (and baselines) from its
//! checkpoint, re-reads the partials topic from the low water, and on each tick closes the
//! windows every shard's watermark has passed. What it merges and how copies are recognised is
//! in [`super::merge`].

use super::merge::{Merge, MergerCheckpoint, committed_checkpoint, committed_offset};
use super::progress::merged_watermark;
use super::reread::RereadWatch;
use super::unit::{Clients, Commit, Step, UnitOutput, UnitWork, drive};
use super::watermark::SourceState;
use super::{Control, PipelineError, RunOptions, RunSummary};
use crate::clock::wall_ms;
use crate::config::Settings;
use crate::engine::Engine;
use crate::inventory::Cell;
use crate::kafka::client::ctx;
use crate::telemetry::health::Health;
use crate::telemetry::metrics::Metrics;
use rdkafka::consumer::Consumer;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use std::time::Instant;

/// Runs the merger until every shard reached its end (`exit_at_end`) or a stop request.
pub(super) fn run_merger(
    settings: &Settings,
    cells: &[Cell],
    shards: i32,
    opts: RunOptions,
    control: &Control,
) -> Result<RunSummary, PipelineError> {
    let k = &settings.kafka;
    let clients = Clients::new(
        k,
        &format!("{}.merger", k.transactional_id),
        &format!("{}.merger", k.group_id),
        control,
    )?;
    let unit = MergerUnit::start(settings, cells, shards, opts, control, &clients)?;
    drive(unit, &clients, k, &settings.window_sizes_ms, control)
}

/// The running merger.
struct MergerUnit {
    engine: Engine,
    merge: Merge,
    key: String,
    partials_topic: String,
    exit_at_end: bool,
    /// Offsets below this were merged before the restart: re-read, not acted on.
    resume_until: i64,
    reread: RereadWatch,
    summary: RunSummary,
    windows_emitted: u64,
    breaches_seen: u64,
    /// When the shard progress that unlocked the breach events waiting for a commit moved.
    unlocked_at: Option<i64>,
}

impl MergerUnit {
    fn start(
        settings: &Settings,
        cells: &[Cell],
        shards: i32,
        opts: RunOptions,
        control: &Control,
        clients: &Clients,
    ) -> Result<Self, PipelineError> {
        let k = &settings.kafka;
        let checkpoint =
            committed_checkpoint(settings, committed_offset(settings, &clients.consumer)?)?;
        let key = format!("{}/merger", k.group_id);
        let mut engine = Engine::new(&settings.engine(), cells);
        let mut merge = Merge {
            shards,
            ..Merge::default()
        };
        let mut resume_until = 0;
        if let Some(cp) = &checkpoint {
            restore(settings, &key, cp, &mut engine, &mut merge)?;
            if let Some(m) = &control.metrics {
                m.alarms.restore(engine.firing_alarms());
            }
            resume_until = cp.resume_until;
        }
        let mut assign = TopicPartitionList::new();
        ctx(
            assign.add_partition_offset(&k.partials_topic, 0, Offset::Offset(merge.next_offset)),
            || "building the assignment".into(),
        )?;
        ctx(clients.consumer.assign(&assign), || {
            "assigning the partials topic".into()
        })?;
        tracing::info!(shards, "merger consuming");
        Ok(MergerUnit {
            windows_emitted: engine.stats().windows_emitted,
            breaches_seen: engine.stats().breach_events,
            engine,
            merge,
            key,
            partials_topic: k.partials_topic.clone(),
            exit_at_end: opts.exit_at_end,
            resume_until,
            reread: RereadWatch::new("merger"),
            summary: RunSummary {
                restored: checkpoint.is_some(),
                ..RunSummary::default()
            },
            unlocked_at: None,
        })
    }

    /// Watermark delay, open windows and firing alarms to the metrics.
    fn report(&self, metrics: Option<&Metrics>) {
        let (Some(m), Some(wm)) = (metrics, self.engine.watermark()) else {
            return;
        };
        m.watermark_delay_seconds
            .set((wall_ms() - wm) as f64 / 1000.0);
        let (windows, groups) = self.engine.open_state();
        m.open_windows.set(windows as i64);
        m.open_groups.set(groups as i64);
        for (rule, n) in self.engine.alarms_firing_by_rule() {
            m.alarms_firing.with_label_values(&[rule]).set(n as i64);
        }
    }

    fn all_at_end(&self) -> bool {
        (0..self.merge.shards).all(|p| {
            self.merge
                .progress
                .get(&p)
                .is_some_and(|s| s.watermark.state == SourceState::AtEnd)
        })
    }
}

/// Restores the engine, its baselines and every shard's progress from `cp`.
fn restore(
    settings: &Settings,
    key: &str,
    cp: &MergerCheckpoint,
    engine: &mut Engine,
    merge: &mut Merge,
) -> Result<(), PipelineError> {
    engine
        .restore(&cp.engine)
        .map_err(|e| PipelineError::BadCheckpoint(e.to_string()))?;
    if let Some(version) = cp.engine.baselines_at {
        match super::baselines::find(settings, key, version)? {
            Some(b) => engine.restore_baselines(&b),
            None => tracing::warn!(
                version,
                "the baselines named by the checkpoint are not in the checkpoints topic: they are learned anew (sleeping-cell and baseline rules have no data for baseline.min_days)"
            ),
        }
        merge.baselines_written = Some(version);
    }
    // "At its end" and "idle" belong to the run that saw them: a shard restored from a
    // checkpoint written at the end of an earlier `--exit-at-end` run is not at the end of this
    // one's input until it says so again (else this merger would finish at once, and the
    // instance stop its shards before they read what arrived since); a shard restored idle
    // would let the others close windows its own partials still feed. Each says so again
    // within `windows.idle_timeout` if it is.
    merge.progress = cp
        .shards
        .iter()
        .map(|s| {
            let mut s = s.clone();
            s.watermark.state = SourceState::Active;
            (s.shard, s)
        })
        .collect();
    merge.next_offset = cp.low_water;
    tracing::info!(
        from = cp.low_water,
        until = cp.resume_until,
        "merger restored; re-reading open windows"
    );
    Ok(())
}

impl UnitWork for MergerUnit {
    fn name(&self) -> &str {
        "merger"
    }

    fn take(
        &mut self,
        m: &BorrowedMessage<'_>,
        _clients: &Clients,
        out: &mut UnitOutput<'_>,
        _now: Instant,
    ) -> Result<(), PipelineError> {
        let offset = m.offset();
        self.merge.next_offset = offset + 1;
        let payload = m.payload().unwrap_or_default();
        let reread = offset < self.resume_until;
        if let Some(reject) = self.merge.take(&mut self.engine, payload, offset, reread) {
            self.summary.counters.dead_letter(reject.reason);
            crate::telemetry::events::dead_letter(reject.reason, out.metrics());
            let source = (
                self.partials_topic.clone(),
                0,
                offset,
                m.key().map(<[u8]>::to_vec),
            );
            out.dead_letter(&reject, source, payload)?;
        }
        Ok(())
    }

    fn tick(
        &mut self,
        _polled_nothing: bool,
        _clients: &Clients,
        out: &mut UnitOutput<'_>,
        health: &Health,
        now: Instant,
    ) -> Result<Step, PipelineError> {
        if self.merge.next_offset < self.resume_until {
            let (at, until) = (self.merge.next_offset, self.resume_until);
            let what = || format!("partials at offset {at}, re-reading up to {until}");
            self.reread.check(at, what, now, health)?;
            return Ok(Step::REREADING);
        }
        self.reread.finished(health);
        if let Some(wm) = merged_watermark(self.merge.shards, &self.merge.progress) {
            self.engine.advance_to(wm, out)?;
        }
        let at_end = self.exit_at_end && self.all_at_end();
        if at_end {
            self.engine.finish(out)?;
        }
        let emitted = self.engine.stats().windows_emitted != self.windows_emitted;
        if emitted {
            self.report(out.metrics());
        }
        if self.engine.stats().breach_events != self.breaches_seen {
            self.breaches_seen = self.engine.stats().breach_events;
            self.unlocked_at = self.unlocked_at.or(self.merge.moved_at);
        }
        Ok(Step {
            rereading: false,
            emitted,
            dirty: self.merge.dirty,
            at_end,
        })
    }

    fn checkpoint(
        &mut self,
        out: &mut UnitOutput<'_>,
        _last: bool,
    ) -> Result<Commit, PipelineError> {
        let mut saved = self.engine.checkpoint();
        // Re-read partials rebuild the open windows whole, outage counts included.
        for size in &mut saved.sizes {
            size.windows.clear();
        }
        // Baselines go apart, and only when they changed (see `baselines`).
        saved.baselines = Default::default();
        if let Some(version) = self.engine.baselines_version()
            && self.merge.baselines_written != Some(version)
        {
            let baselines = self.engine.baselines_checkpoint();
            let bytes = super::baselines::write(out, &self.key, version, &baselines)?;
            tracing::debug!(version, bytes, "baselines written beside the checkpoint");
        }
        let next = self.merge.next_offset;
        let cp = MergerCheckpoint {
            key: self.key.clone(),
            resume_until: next,
            low_water: self.merge.low_water(&self.engine),
            shards: self.merge.progress.values().cloned().collect(),
            engine: saved,
        };
        let mut offsets = TopicPartitionList::new();
        ctx(
            offsets.add_partition_offset(&self.partials_topic, 0, Offset::Offset(next)),
            || "building offsets".into(),
        )?;
        self.merge.baselines_written = cp.engine.baselines_at;
        Ok(Commit {
            key: self.key.clone(),
            checkpoint: serde_json::to_vec(&cp).map_err(PipelineError::CheckpointEncode)?,
            offsets,
        })
    }

    fn committed(&mut self) {
        self.merge.dirty = false;
        self.windows_emitted = self.engine.stats().windows_emitted;
        if let Some(at) = self.unlocked_at.take() {
            let us = (wall_ms() - at).max(0) as u64 * 1000;
            self.summary.breach_latency_us.push(us);
        }
    }

    fn summary(&mut self) -> &mut RunSummary {
        &mut self.summary
    }

    fn engine(&self) -> &Engine {
        &self.engine
    }
}
