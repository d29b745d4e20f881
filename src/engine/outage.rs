//! Outage intervals per cell (docs/time-and-windows.md and docs/semantics.md).
//!
//! A `DOWN` opens outage `outage_id` at its event time; a `RESTORED` closes it and records its own
//! `[started_at, event_time)` on its own cell. When a window closes, a cell's outage time in it is
//! the length of the union of its intervals inside the window, an outage still open counting up
//! to the window's end. The tracker is global (shared by all window sizes) and is updated by
//! every outage record, late or not: lateness only removes a record's counts from closed windows,
//! which the engine decides.
//!
//! Bounded (docs/operating-limits.md): closed intervals are forgotten once every window that could hold them is
//! closed, and restored ids `kpi.restored_outage_retention` (1 day) of event time after their
//! `RESTORED` ([`OutageTracker::prune_before`]), so the state holds the recent past only. A
//! `DOWN` of a forgotten outage that is late for every size and older than the newest forgotten
//! restore opens nothing, as it would not have had its `RESTORED` been remembered.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// Closed intervals `(cell, start, end, outage id)`.
pub type Intervals<C> = Vec<(C, i64, i64, String)>;

/// `(cell, outage id)` pairs: which outages were open on which cells in a window.
pub type CellOutageIds = Vec<(u32, Box<str>)>;

/// What the outages of a window come to: outage milliseconds per cell (the union of its
/// intervals inside the window; cells with none left out) and which outages were open in it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowOutages {
    /// `(cell, ms)`, sorted by cell.
    pub ms: Vec<(u32, u64)>,
    /// `(cell, outage id)`, sorted, each once.
    pub ids: CellOutageIds,
}

impl WindowOutages {
    /// From intervals `(cell, start, end, outage id)` (an empty id: one saved before ids were
    /// kept), clipped to `[start, end)`.
    pub fn of<'a>(
        start: i64,
        end: i64,
        intervals: impl Iterator<Item = (u32, i64, i64, &'a str)>,
    ) -> WindowOutages {
        let mut per_cell: FxHashMap<u32, Vec<(i64, i64)>> = FxHashMap::default();
        let mut ids = CellOutageIds::new();
        for (cell, a, b, id) in intervals {
            let (a, b) = (a.max(start), b.min(end));
            if a < b {
                per_cell.entry(cell).or_default().push((a, b));
                if !id.is_empty() {
                    ids.push((cell, id.into()));
                }
            }
        }
        let mut ms: Vec<(u32, u64)> = per_cell
            .into_iter()
            .map(|(cell, ivs)| (cell, union_len(ivs)))
            .filter(|(_, ms)| *ms > 0)
            .collect();
        ms.sort_unstable();
        ids.sort_unstable();
        ids.dedup();
        WindowOutages { ms, ids }
    }

    /// Adds another source's outages of the same window (a cell in both keeps the longer time).
    pub fn merge(&mut self, other: WindowOutages) {
        for (cell, ms) in other.ms {
            match self.ms.binary_search_by_key(&cell, |(c, _)| *c) {
                Ok(i) => {
                    if let Some((_, mine)) = self.ms.get_mut(i) {
                        *mine = (*mine).max(ms);
                    }
                }
                Err(i) => self.ms.insert(i, (cell, ms)),
            }
        }
        self.ids.extend(other.ids);
        self.ids.sort_unstable();
        self.ids.dedup();
    }
}

/// Open outages `(cell, DOWN time, outage id)`.
pub type OpenOutages<C> = Vec<(C, i64, String)>;

/// The tracker's state with cells by id, for a checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutageSnapshot {
    /// (outage_id, cell_id, DOWN time), sorted.
    pub open: Vec<(String, String, i64)>,
    /// Restored outage ids of a checkpoint written before restore times were kept (read only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restored: Vec<String>,
    /// Restored outage ids with the time of their `RESTORED`, sorted.
    #[serde(default)]
    pub restored_at: Vec<(String, i64)>,
    /// Newest `RESTORED` time among the forgotten restored ids.
    #[serde(default)]
    pub forgotten_until: Option<i64>,
    /// (cell_id, start, end), sorted.
    pub closed: Vec<(String, i64, i64)>,
    /// The outage id of each of `closed` (empty in a checkpoint written before ids were kept).
    #[serde(default)]
    pub closed_ids: Vec<String>,
}

/// Open outages, restored ids and closed intervals.
#[derive(Debug, Default)]
pub struct OutageTracker {
    /// outage_id → (cell, DOWN time).
    open: FxHashMap<Box<str>, (u32, i64)>,
    /// Ids whose `RESTORED` was seen (a later `DOWN` of them opens nothing), with its time.
    restored: FxHashMap<Box<str>, i64>,
    /// Newest `RESTORED` time among restored ids already forgotten.
    forgotten_until: Option<i64>,
    /// Closed intervals per cell, with their outage id.
    closed: FxHashMap<u32, Vec<(i64, i64, Box<str>)>>,
}

/// What a `DOWN` record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownEffect {
    /// The outage was already open: the record counts nowhere (docs/semantics.md).
    Ignored,
    /// It opened the outage.
    Opened,
    /// Its `RESTORED` came first: it counts as started but opens nothing.
    AfterRestore,
}

impl OutageTracker {
    /// Applies a `DOWN` of `id` on `cell` at `t`; `late_everywhere`: its window is closed for
    /// every size.
    pub fn down(&mut self, id: &str, cell: u32, t: i64, late_everywhere: bool) -> DownEffect {
        let maybe_forgotten = late_everywhere && self.forgotten_until.is_some_and(|f| t < f);
        if self.open.contains_key(id) {
            DownEffect::Ignored
        } else if maybe_forgotten || self.restored.contains_key(id) {
            DownEffect::AfterRestore
        } else {
            self.open.insert(id.into(), (cell, t));
            DownEffect::Opened
        }
    }

    /// Applies a `RESTORED` of `id` on `cell`: ends the open interval and records
    /// `[started_at, t)`.
    pub fn restored(&mut self, id: &str, cell: u32, started_at: i64, t: i64) {
        self.open.remove(id);
        match self.restored.get_mut(id) {
            Some(at) => *at = (*at).max(t),
            None => {
                self.restored.insert(id.into(), t);
            }
        }
        if t > started_at {
            self.closed
                .entry(cell)
                .or_default()
                .push((started_at, t, id.into()));
        }
    }

    /// Outage time and outage ids of the window `[start, end)`: every closed interval and every
    /// open outage (up to the window's end) that lies in it.
    pub fn in_window(&self, start: i64, end: i64) -> WindowOutages {
        let closed = self
            .closed
            .iter()
            .flat_map(|(&cell, ivs)| ivs.iter().map(move |(a, b, id)| (cell, *a, *b, &**id)));
        let open = self
            .open
            .iter()
            .map(|(id, (cell, down))| (*cell, *down, end, &**id));
        WindowOutages::of(start, end, closed.chain(open))
    }

    /// Forgets closed intervals that end at or before `t` (no open window can contain them: `t`
    /// is the lowest start an open window can have) and restored ids restored more than
    /// `retention_ms` before `t`.
    pub fn prune_before(&mut self, t: i64, retention_ms: i64) {
        self.closed.retain(|_, ivs| {
            ivs.retain(|(_, end, _)| *end > t);
            !ivs.is_empty()
        });
        let mut forgotten = self.forgotten_until;
        self.restored.retain(|_, at| {
            let keep = *at >= t.saturating_sub(retention_ms);
            if !keep {
                forgotten = Some(forgotten.map_or(*at, |f| f.max(*at)));
            }
            keep
        });
        self.forgotten_until = forgotten;
    }

    /// Restored ids remembered (bounded by the restores of the open windows).
    pub fn restored_count(&self) -> usize {
        self.restored.len()
    }

    /// Open outages `(cell, DOWN time, id)` and closed intervals `(cell, start, end, id)`,
    /// cells named with `cell_id`, sorted (what a shard reports to the merger; no restored ids).
    pub fn intervals<C: Ord>(&self, cell_id: impl Fn(u32) -> C) -> (OpenOutages<C>, Intervals<C>) {
        let mut open: Vec<_> = self
            .open
            .iter()
            .map(|(id, (c, t))| (cell_id(*c), *t, id.to_string()))
            .collect();
        let mut closed: Vec<_> = self
            .closed
            .iter()
            .flat_map(|(c, ivs)| {
                ivs.iter()
                    .map(|(a, b, id)| (cell_id(*c), *a, *b, id.to_string()))
            })
            .collect();
        open.sort();
        closed.sort();
        (open, closed)
    }

    /// The state, naming cells with `cell_id`.
    pub fn snapshot(&self, cell_id: impl Fn(u32) -> String) -> OutageSnapshot {
        let mut open: Vec<_> = self
            .open
            .iter()
            .map(|(id, (c, t))| (id.to_string(), cell_id(*c), *t))
            .collect();
        let mut restored_at: Vec<_> = self
            .restored
            .iter()
            .map(|(id, at)| (id.to_string(), *at))
            .collect();
        let (_, intervals) = self.intervals(&cell_id);
        let (closed, closed_ids) = intervals
            .into_iter()
            .map(|(c, a, b, id)| ((c, a, b), id))
            .unzip();
        open.sort();
        restored_at.sort();
        OutageSnapshot {
            open,
            restored: Vec::new(),
            restored_at,
            forgotten_until: self.forgotten_until,
            closed,
            closed_ids,
        }
    }

    /// Replaces the state with a snapshot; cells unknown to `cell_index` are dropped.
    pub fn restore(&mut self, s: &OutageSnapshot, cell_index: impl Fn(&str) -> Option<u32>) {
        *self = OutageTracker::default();
        for (id, cell, t) in &s.open {
            if let Some(c) = cell_index(cell) {
                self.open.insert(id.as_str().into(), (c, *t));
            }
        }
        // Ids of an older checkpoint have no time: kept until the first prune.
        let legacy = s.restored.iter().map(|id| (id.as_str().into(), i64::MIN));
        self.restored = s
            .restored_at
            .iter()
            .map(|(id, at)| (id.as_str().into(), *at))
            .chain(legacy)
            .collect();
        self.forgotten_until = s.forgotten_until;
        for (i, (cell, a, b)) in s.closed.iter().enumerate() {
            if let Some(c) = cell_index(cell) {
                let id = s.closed_ids.get(i).map_or("", String::as_str);
                self.closed.entry(c).or_default().push((*a, *b, id.into()));
            }
        }
    }

    /// Number of outages currently open.
    pub fn open_count(&self) -> usize {
        self.open.len()
    }
}

/// Length of the union of half-open intervals.
pub(super) fn union_len(mut ivs: Vec<(i64, i64)>) -> u64 {
    ivs.sort_unstable();
    let mut total: u64 = 0;
    let mut current: Option<(i64, i64)> = None;
    for (a, b) in ivs {
        current = match current {
            Some((ca, cb)) if a <= cb => Some((ca, cb.max(b))),
            Some((ca, cb)) => {
                total += (cb - ca) as u64;
                Some((a, b))
            }
            None => Some((a, b)),
        };
    }
    if let Some((ca, cb)) = current {
        total += (cb - ca) as u64;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_of_overlapping_intervals() {
        assert_eq!(union_len(vec![(0, 10), (5, 15), (20, 30)]), 25);
        assert_eq!(union_len(vec![(20, 30), (0, 10), (10, 12)]), 22);
        assert_eq!(union_len(vec![]), 0);
    }

    #[test]
    fn open_outage_counts_to_window_end() {
        let mut t = OutageTracker::default();
        assert_eq!(t.down("o1", 3, 1_000, false), DownEffect::Opened);
        assert_eq!(t.down("o1", 3, 1_500, false), DownEffect::Ignored);
        assert_eq!(t.in_window(0, 5_000).ms, vec![(3, 4_000)]);
        assert_eq!(t.in_window(5_000, 10_000).ms, vec![(3, 5_000)]);
        t.restored("o1", 3, 1_000, 7_000);
        assert_eq!(t.in_window(5_000, 10_000).ms, vec![(3, 2_000)]);
        assert_eq!(t.open_count(), 0);
        assert_eq!(t.down("o1", 3, 8_000, false), DownEffect::AfterRestore);
        assert_eq!(t.in_window(5_000, 10_000).ms, vec![(3, 2_000)]);
    }

    #[test]
    fn overlapping_outages_of_one_cell_are_not_double_counted() {
        let mut t = OutageTracker::default();
        t.restored("a", 1, 0, 4_000);
        t.restored("b", 1, 2_000, 6_000);
        t.down("c", 1, 5_000, false);
        t.restored("d", 2, 0, 1_000);
        assert_eq!(t.in_window(0, 10_000).ms, vec![(1, 10_000), (2, 1_000)]);
        t.prune_before(5_000, 0);
        // `a` is gone; `b` [2s, 6s) and the open `c` [5s, 10s) remain.
        assert_eq!(t.in_window(0, 10_000).ms, vec![(1, 8_000)]);
        // `a` was restored at 4 s: forgotten; `b` (6 s) and `d` (1 s → forgotten) too.
        assert_eq!(t.restored_count(), 1);
    }

    #[test]
    fn restored_ids_are_forgotten_and_a_late_down_of_one_opens_nothing() {
        let mut t = OutageTracker::default();
        for i in 0..1000 {
            t.restored(&format!("o{i}"), 1, i * 10, i * 10 + 5);
        }
        t.prune_before(20_000, 5_000);
        assert_eq!(t.restored_count(), 0);
        assert_eq!(t.snapshot(|c| c.to_string()).restored_at.len(), 0);
        // A DOWN of a forgotten outage, late everywhere: it does not reopen it.
        assert_eq!(t.down("o5", 1, 50, true), DownEffect::AfterRestore);
        assert_eq!(t.open_count(), 0);
        // A new outage's DOWN opens as usual.
        assert_eq!(t.down("new", 1, 30_000, false), DownEffect::Opened);
    }
}
