//! A shard's outage state as the merger needs it (two-phase aggregation, DESIGN principle 6):
//! a window's outage time lives in the partial of the shard holding the cell — but a shard
//! whose partitions went quiet (idle) or ran out (end of input) stops closing windows, and the
//! merger may still close later windows, in which that shard's cells in outage must count as
//! down (one engine would count them). So shards also report, whenever it changes, the start
//! of the next window they will close per size and their outage intervals that such windows can
//! still hold; the merger counts those for each window the shard did not close. Checkpointed
//! with the merger's engine.

use super::Engine;
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
}

impl Engine {
    /// This shard engine's [`ShardOutages`].
    pub fn shard_outages(&self, shard: i32) -> ShardOutages {
        let snapshot = self.outages.snapshot(|c| self.cells.info(c).id.to_string());
        ShardOutages {
            shard,
            fronts: self.fronts(),
            open: snapshot
                .open
                .into_iter()
                .map(|(_, cell, t)| (cell, t))
                .collect(),
            closed: snapshot.closed,
        }
    }

    /// Merger: takes a shard's latest [`ShardOutages`].
    pub fn take_shard_outages(&mut self, s: ShardOutages) {
        self.shard_outages.insert(s.shard, s);
    }

    /// Merger: outage milliseconds in `[start, end)` (window size `si`) of the cells of shards
    /// that have not closed that window, per cell index.
    pub(super) fn unclosed_shard_outage_ms(
        &self,
        si: usize,
        start: i64,
        end: i64,
    ) -> Vec<(u32, u64)> {
        let mut per_cell: std::collections::BTreeMap<u32, Vec<(i64, i64)>> = Default::default();
        for s in self.shard_outages.values() {
            let closed_it = s
                .fronts
                .get(si)
                .copied()
                .flatten()
                .is_some_and(|front| front > start);
            if closed_it {
                continue;
            }
            let intervals = s
                .open
                .iter()
                .map(|(cell, down)| (cell, *down, end))
                .chain(s.closed.iter().map(|(cell, a, b)| (cell, *a, *b)));
            for (cell, a, b) in intervals {
                let (a, b) = (a.max(start), b.min(end));
                if a < b
                    && let Some(idx) = self.cells.get(cell)
                {
                    per_cell.entry(idx).or_default().push((a, b));
                }
            }
        }
        per_cell
            .into_iter()
            .map(|(cell, ivs)| (cell, super::outage::union_len(ivs)))
            .filter(|(_, ms)| *ms > 0)
            .collect()
    }
}
