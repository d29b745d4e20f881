//! Per-partition progress of the input topics: position, re-reading, end-of-partition and
//! idleness. Pure bookkeeping: the pipeline feeds it offsets and wall-clock instants; with the
//! engine's event-time front of each partition it answers the pipeline's watermark.
//!
//! The watermark is the minimum over active partitions of (largest event time − D).
//! A partition stops holding the watermark back when it has reached its end in `--exit-at-end`
//! mode, or when it has been silent for `idle_timeout` while streaming. A partition that never
//! delivered a record holds it back (as `None`) until then.

use super::watermark::{SourceState, Watermark, combined};
use crate::engine::Engine;
use crate::engine::sources::Source;
use crate::model::Stream;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One input partition: (its stream, partition number).
pub type PartitionId = (Stream, i32);

/// Progress of one partition.
#[derive(Debug, Clone)]
pub struct Progress {
    /// Next offset to read.
    pub next_offset: i64,
    /// Offsets below this were processed before the last restart: re-read, not re-emitted.
    pub resume_until: i64,
    /// At the end of the partition (as of the last fetch).
    pub at_end: bool,
    /// When it last delivered a record (wall clock).
    pub last_record: Instant,
}

/// All assigned input partitions.
#[derive(Debug, Default)]
pub struct Partitions {
    parts: BTreeMap<PartitionId, Progress>,
}

impl Progress {
    /// Idle for `idle`, or (with `exit_at_end`) at its end and done re-reading.
    fn inactive(&self, idle: Duration, exit_at_end: bool, now: Instant) -> bool {
        if exit_at_end {
            self.at_end && self.next_offset >= self.resume_until
        } else {
            now.duration_since(self.last_record) >= idle
        }
    }
}

impl Partitions {
    /// Adds a partition starting at `offset`.
    pub fn add(&mut self, id: PartitionId, offset: i64, resume_until: i64, now: Instant) {
        self.parts.insert(
            id,
            Progress {
                next_offset: offset,
                resume_until,
                at_end: false,
                last_record: now,
            },
        );
    }

    /// Every partition.
    pub fn iter(&self) -> impl Iterator<Item = (&PartitionId, &Progress)> {
        self.parts.iter()
    }

    /// One partition.
    pub fn get(&self, id: PartitionId) -> Option<&Progress> {
        self.parts.get(&id)
    }

    /// Records that the record at `offset` was read.
    pub fn read(&mut self, id: PartitionId, offset: i64, now: Instant) {
        if let Some(p) = self.parts.get_mut(&id) {
            p.next_offset = offset + 1;
            p.at_end = false;
            p.last_record = now;
        }
    }

    /// Whether `offset` of `id` is a re-read of an already processed record.
    pub fn is_reread(&self, id: PartitionId, offset: i64) -> bool {
        self.parts.get(&id).is_some_and(|p| offset < p.resume_until)
    }

    /// A number that grows while re-reading makes progress (the sum of the next offsets).
    pub fn position(&self) -> i64 {
        self.parts.values().map(|p| p.next_offset).sum()
    }

    /// What re-reading still waits for: `stream/partition at offset A, re-reading up to B`.
    pub fn rereading(&self) -> String {
        self.parts
            .iter()
            .filter(|(_, p)| p.next_offset < p.resume_until)
            .map(|((s, part), p)| {
                format!(
                    "input {}/{part} at offset {}, re-reading up to {}",
                    s.as_str(),
                    p.next_offset,
                    p.resume_until
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Whether some partition still has records to re-read.
    pub fn is_rereading(&self) -> bool {
        self.parts.values().any(|p| p.next_offset < p.resume_until)
    }

    /// Marks whether a partition is at its end (`high` is the high watermark from the last fetch).
    pub fn set_end(&mut self, id: PartitionId, high: i64) {
        if let Some(p) = self.parts.get_mut(&id) {
            p.at_end = high >= 0 && p.next_offset >= high;
        }
    }

    /// Whether every partition is at its end and nothing is left to re-read.
    pub fn all_at_end(&self) -> bool {
        self.parts
            .values()
            .all(|p| p.at_end && p.next_offset >= p.resume_until)
    }

    /// The pipeline's watermark: min over active partitions of their front in `engine` −
    /// `delay`. `exit_at_end`: partitions at their end do not count; otherwise silent ones (for
    /// `idle`) do not.
    pub fn watermark(
        &self,
        engine: &Engine,
        delay: i64,
        idle: Duration,
        exit_at_end: bool,
        now: Instant,
    ) -> Option<i64> {
        combined(self.parts.iter().map(|(&(stream, partition), p)| {
            let state = match (p.inactive(idle, exit_at_end, now), exit_at_end) {
                (false, _) => SourceState::Active,
                (true, true) => SourceState::AtEnd,
                (true, false) => SourceState::Idle,
            };
            Some(Watermark {
                at: engine
                    .front(Source::Input(stream, partition))
                    .map(|t| t - delay),
                state,
            })
        }))
    }

    /// Whether no partition holds the watermark back (all idle, or at their end with
    /// `exit_at_end`).
    pub fn all_inactive(&self, idle: Duration, exit_at_end: bool, now: Instant) -> bool {
        self.parts
            .values()
            .all(|p| p.inactive(idle, exit_at_end, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watermark_is_the_minimum_over_active_partitions() {
        let settings = crate::config::from_toml_str(
            include_str!("../../config/netkpi.toml"),
            std::path::Path::new("."),
        )
        .expect("shipped config");
        let mut engine = Engine::new_shard(&settings.engine(), &[]);
        let front = |partition| Source::Input(Stream::Call, partition);
        let now = Instant::now();
        let mut p = Partitions::default();
        p.add((Stream::Call, 0), 0, 0, now);
        p.add((Stream::Call, 1), 0, 0, now);
        p.read((Stream::Call, 0), 0, now);
        engine.restore_front(front(0), Some(100_000));
        let idle = Duration::from_secs(60);
        assert_eq!(
            p.watermark(&engine, 30_000, idle, true, now),
            None,
            "partition 1 has not delivered yet"
        );
        p.set_end((Stream::Call, 1), 0);
        assert_eq!(
            p.watermark(&engine, 30_000, idle, true, now),
            Some(70_000),
            "an empty partition at its end does not hold it"
        );
        p.read((Stream::Call, 1), 0, now);
        engine.restore_front(front(1), Some(50_000));
        assert_eq!(p.watermark(&engine, 30_000, idle, true, now), Some(20_000));
        // Streaming: a silent partition stops holding the watermark after the idle timeout.
        let later = now + Duration::from_secs(61);
        p.read((Stream::Call, 0), 1, later);
        engine.restore_front(front(0), Some(200_000));
        assert_eq!(
            p.watermark(&engine, 30_000, idle, false, later),
            Some(170_000)
        );
    }
}
