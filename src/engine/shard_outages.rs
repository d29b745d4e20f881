//! A shard's outage state as the merger needs it (two-phase aggregation, DESIGN principle 6):
//! a window's outage time lives in the partial of the shard holding the cell — but a shard
//! whose partitions went quiet (idle) or ran out (end of input) stops closing windows, and the
//! merger may still close later windows, in which that shard's cells in outage must count as
//! down (one engine would count them). So shards also report, whenever it changes, the start
//! of the next window they will close per size and their outage intervals that such windows can
//! still hold; the merger counts those for each window the shard did not close, and knows a
//! partial of a window the shard had closed for a copy. Checkpointed with the merger's engine.

use super::Engine;
use super::outage::WindowOutages;
use serde::{Deserialize, Serialize};

/// What a shard knows of outages for the windows it has not closed yet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardOutages {
    pub shard: i32,
    /// Start of the next window the shard will close, per window size (configured order).
    pub fronts: Vec<Option<i64>>,
    /// Outages still open: (cell_id, DOWN time).
    pub open: Vec<(String, i64)>,
    /// Closed outage intervals such windows may hold: (cell_id, start, end).
    pub closed: Vec<(String, i64, i64)>,
    /// The outage id of each of `open` (docs/sleeping-cells.md).
    #[serde(default)]
    pub open_ids: Vec<String>,
    /// The outage id of each of `closed`.
    #[serde(default)]
    pub closed_ids: Vec<String>,
}

impl Engine {
    /// This shard engine's [`ShardOutages`].
    pub fn shard_outages(&self, shard: i32) -> ShardOutages {
        let (open, closed) = self
            .outages
            .intervals(|c| self.cells.info(c).id.to_string());
        let (open, open_ids) = open.into_iter().map(|(c, t, id)| ((c, t), id)).unzip();
        let (closed, closed_ids) = closed
            .into_iter()
            .map(|(c, a, b, id)| ((c, a, b), id))
            .unzip();
        ShardOutages {
            shard,
            fronts: self.fronts(),
            open,
            closed,
            open_ids,
            closed_ids,
        }
    }

    /// Merger: takes a shard's latest [`ShardOutages`]. Its fronts never go back here: a shard
    /// restarted from an older checkpoint re-sends windows it had closed, and those are copies.
    pub fn take_shard_outages(&mut self, mut s: ShardOutages) {
        if let Some(old) = self.shard_outages.get(&s.shard) {
            for (new, old) in s.fronts.iter_mut().zip(&old.fronts) {
                *new = (*new).max(*old);
            }
        }
        self.shard_outages.insert(s.shard, s);
    }

    /// Merger: whether `shard` had reported closing the window of size `size_ms` starting at
    /// `start` (so a partial of it arriving now is a copy of one it sent before) — also a
    /// window it closed at the end of its input, ahead of its watermark.
    pub fn shard_closed(&self, shard: i32, size_ms: i64, start: i64) -> bool {
        let Some(size_index) = self.sizes.iter().position(|s| s.size_ms == size_ms) else {
            return false;
        };
        self.shard_outages
            .get(&shard)
            .and_then(|s| s.fronts.get(size_index).copied().flatten())
            .is_some_and(|front| front > start)
    }

    /// Merger: the outages in `[start, end)` (window size `size_index`) of the cells of shards that
    /// have not closed that window.
    pub(super) fn unclosed_shard_outages(
        &self,
        size_index: usize,
        start: i64,
        end: i64,
    ) -> WindowOutages {
        let unclosed = self.shard_outages.values().filter(|s| {
            s.fronts
                .get(size_index)
                .copied()
                .flatten()
                .is_none_or(|front| front <= start)
        });
        let intervals = unclosed.flat_map(|s| {
            let open = s
                .open
                .iter()
                .enumerate()
                .map(move |(i, (cell, down))| (cell, *down, end, s.open_ids.get(i)));
            let closed = s
                .closed
                .iter()
                .enumerate()
                .map(move |(i, (cell, a, b))| (cell, *a, *b, s.closed_ids.get(i)));
            open.chain(closed)
        });
        let known = intervals.filter_map(|(cell, a, b, id)| {
            let idx = self.cells.get(cell)?;
            Some((idx, a, b, id.map_or("", String::as_str)))
        });
        WindowOutages::of(start, end, known)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_a_shard_reported_closed_stays_closed_for_it() {
        let settings = crate::config::from_toml_str(
            "[inventory]\npath = \"c.csv\"\n",
            std::path::Path::new("."),
        )
        .expect("config");
        let mut merger = Engine::new(&settings.engine(), &[]);
        let report = |front| ShardOutages {
            shard: 0,
            fronts: vec![Some(front)],
            ..ShardOutages::default()
        };
        merger.take_shard_outages(report(600_000));
        assert!(merger.shard_closed(0, 300_000, 300_000));
        assert!(!merger.shard_closed(0, 300_000, 600_000));
        assert!(!merger.shard_closed(1, 300_000, 0), "another shard");
        // A shard restarted from an older checkpoint reports an older front: not taken back.
        merger.take_shard_outages(report(300_000));
        assert!(merger.shard_closed(0, 300_000, 300_000));
    }
}
