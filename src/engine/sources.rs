//! Where the engine's input is read from. Each [`Source`] (an input partition, the merger's
//! partials topic, or `replay`'s file) has an event-time front: the largest event time of a
//! valid record it delivered. Each open window keeps its [`Feeders`]: the first offset of every
//! source that fed it and, on the merger, the shard partials it merged. The engine is the only
//! keeper of both; a window takes its feeders with it when it is emitted, so the offsets a
//! checkpoint resumes from are always those of the windows still open.

use crate::model::Stream;
use std::collections::{BTreeMap, BTreeSet};

/// Where a record or a partial was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// The one input of `replay`.
    File,
    /// A partition of an input topic.
    Input(Stream, i32),
    /// The merger's partials topic (one partition).
    Partials,
}

/// The source and offset of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub source: Source,
    pub offset: i64,
}

impl Origin {
    /// The `n`th record of `replay`'s input (its inputs are read as one stream).
    pub fn file(n: u64) -> Origin {
        Origin {
            source: Source::File,
            offset: i64::try_from(n).unwrap_or(i64::MAX),
        }
    }
}

/// Who sent a partial (or one part of one) and where the merger read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartialOrigin {
    pub shard: i32,
    pub part: u32,
    /// Offset in the partials topic.
    pub offset: i64,
}

/// What an open window holds from where.
#[derive(Debug, Default)]
pub(super) struct Feeders {
    /// Per source, the first offset that fed the window (few sources: a short list).
    first: Vec<(Source, i64)>,
    /// Merger: (shard, part) of the partials merged into the window.
    partials: BTreeSet<(i32, u32)>,
}

impl Feeders {
    /// Notes that the record at `origin` fed the window.
    pub(super) fn fed(&mut self, origin: Origin) {
        match self.first.iter_mut().find(|(s, _)| *s == origin.source) {
            Some((_, first)) => *first = (*first).min(origin.offset),
            None => self.first.push((origin.source, origin.offset)),
        }
    }

    /// The first offset of `source` that fed the window.
    pub(super) fn first(&self, source: Source) -> Option<i64> {
        self.first
            .iter()
            .find(|(s, _)| *s == source)
            .map(|(_, first)| *first)
    }

    /// Whether the window already merged this part of this shard's partial.
    pub(super) fn holds(&self, from: PartialOrigin) -> bool {
        self.partials.contains(&(from.shard, from.part))
    }

    /// Notes that the window merged a partial.
    pub(super) fn merged(&mut self, from: PartialOrigin) {
        self.partials.insert((from.shard, from.part));
        self.fed(Origin {
            source: Source::Partials,
            offset: from.offset,
        });
    }
}

/// The event-time front of each source.
#[derive(Debug, Default)]
pub(super) struct Fronts(BTreeMap<Source, i64>);

impl Fronts {
    /// Moves `source`'s front to `t` when `t` is later.
    pub(super) fn saw(&mut self, source: Source, t: i64) {
        self.0
            .entry(source)
            .and_modify(|m| *m = (*m).max(t))
            .or_insert(t);
    }

    /// Sets a front restored from a checkpoint.
    pub(super) fn restore(&mut self, source: Source, front: Option<i64>) {
        match front {
            Some(t) => self.0.insert(source, t),
            None => self.0.remove(&source),
        };
    }

    pub(super) fn of(&self, source: Source) -> Option<i64> {
        self.0.get(&source).copied()
    }

    /// The largest event time of any source.
    pub(super) fn max(&self) -> Option<i64> {
        self.0.values().copied().max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_keeps_the_first_offset_of_each_source_and_its_partials() {
        let a = Source::Input(Stream::Call, 0);
        let b = Source::Input(Stream::Session, 0);
        let mut f = Feeders::default();
        for (source, offset) in [(a, 7), (b, 3), (a, 5), (b, 9)] {
            f.fed(Origin { source, offset });
        }
        assert_eq!((f.first(a), f.first(b)), (Some(5), Some(3)));
        assert_eq!(f.first(Source::Partials), None);
        let p = PartialOrigin {
            shard: 1,
            part: 2,
            offset: 40,
        };
        assert!(!f.holds(p));
        f.merged(p);
        assert!(f.holds(p) && !f.holds(PartialOrigin { part: 3, ..p }));
        assert_eq!(f.first(Source::Partials), Some(40));
    }

    /// What a record fed comes back from the engine: each source's low water is the first
    /// offset still feeding an open window, and moves when that window is emitted.
    #[test]
    fn the_low_water_of_a_source_follows_the_open_windows() {
        use crate::engine::Engine;
        use crate::model::{CallOutcome, CallRecord, Event};
        let toml = "[inventory]\npath = \"cells.csv\"\n[windows]\nsizes = [\"5m\"]\n";
        let settings =
            crate::config::from_toml_str(toml, std::path::Path::new(".")).expect("valid config");
        let mut engine = Engine::new_shard(&settings.engine(), &[]);
        let t0 = 1_767_225_600_000; // 2026-01-01T00:00Z
        let call = |t: i64| {
            Event::Call(CallRecord {
                call_id: format!("c{t}").into(),
                event_time: t,
                cell_id: "A1".into(),
                outcome: CallOutcome::Busy,
                setup_ms: None,
                duration_ms: None,
                dropped: false,
                mos: None,
                signal_dbm: None,
                sinr_db: None,
            })
        };
        let (a, b) = (
            Source::Input(Stream::Call, 0),
            Source::Input(Stream::Call, 1),
        );
        let minute = 60_000;
        for (source, offset, t) in [
            (a, 10, t0 + minute),
            (b, 3, t0 + 2 * minute),
            (a, 11, t0 + 6 * minute),
        ] {
            engine.ingest(&call(t), Origin { source, offset });
        }
        assert_eq!(
            (engine.low_water(a), engine.low_water(b)),
            (Some(10), Some(3))
        );
        assert_eq!(engine.front(a), Some(t0 + 6 * minute));
        let mut out = crate::engine::partial::tests::Collect::default();
        engine
            .advance_to(t0 + 5 * minute, &mut out)
            .expect("advance");
        assert_eq!(out.partials.len(), 1, "the first window closed");
        assert_eq!((engine.low_water(a), engine.low_water(b)), (Some(11), None));
        engine
            .advance_to(t0 + 10 * minute, &mut out)
            .expect("advance");
        assert_eq!(engine.low_water(a), None, "no window open");
    }

    #[test]
    fn a_front_never_goes_back() {
        let mut fronts = Fronts::default();
        fronts.saw(Source::File, 10);
        fronts.saw(Source::File, 4);
        fronts.saw(Source::Partials, 12);
        assert_eq!(fronts.of(Source::File), Some(10));
        assert_eq!(fronts.max(), Some(12));
        fronts.restore(Source::Partials, None);
        assert_eq!(fronts.max(), Some(10));
    }
}
