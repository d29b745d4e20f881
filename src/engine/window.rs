//! Open windows of one size: epoch-aligned tumbling windows `[k·W, (k+1)·W)`, each holding one
//! accumulator per cell (allocated on the window's first record) and the feeders of what it
//! holds (the first offset per source, the partials merged). `front` is the start of the next
//! window to emit; windows are emitted strictly in order from there, gaps included, and a window
//! before `front` is never reopened once anything was emitted.

use super::sources::{Feeders, PartialOrigin, Source};
use crate::kpi::Acc;

/// One open window: its start, one accumulator per cell, the latest event time it received and
/// where what it holds was read.
#[derive(Debug)]
pub(super) struct OpenWindow {
    start: i64,
    pub(super) accs: Vec<Acc>,
    latest: i64,
    pub(super) feeders: Feeders,
    /// Holds calls or sessions that the coarser sizes folded from this one do not (docs
    /// in `fold`): set by records, never by merged partials.
    pub(super) unfolded: bool,
}

impl OpenWindow {
    fn new(start: i64, t: i64) -> Self {
        OpenWindow {
            start,
            accs: Vec::new(),
            latest: t,
            feeders: Feeders::default(),
            unfolded: false,
        }
    }
}

/// State of one window size.
#[derive(Debug)]
pub struct SizeState {
    pub size_ms: i64,
    /// Start of the next window to emit (set by the first record).
    front: Option<i64>,
    /// Whether any window was emitted.
    emitted: bool,
    /// Open windows that received records, sorted by start; each holds per-cell accumulators.
    open: Vec<OpenWindow>,
    /// The latest event time of the emitted windows that received records (gaps are measured
    /// from it).
    last_record: Option<i64>,
}

/// The accumulator of `cell` in a window, growing the window to `ncells` cells when needed.
#[inline]
pub fn cell_acc(accs: &mut Vec<Acc>, cell: u32, ncells: usize) -> &mut Acc {
    let idx = cell as usize;
    if idx >= accs.len() {
        accs.resize_with(ncells.max(idx + 1), Acc::default);
    }
    &mut accs[idx]
}

impl SizeState {
    /// No window yet.
    pub fn new(size_ms: i64) -> Self {
        SizeState {
            size_ms,
            front: None,
            emitted: false,
            open: Vec::new(),
            last_record: None,
        }
    }

    /// Start of the window holding `t`.
    pub fn start_of(&self, t: i64) -> i64 {
        t.div_euclid(self.size_ms) * self.size_ms
    }

    /// The open window for event time `t`, or `None` when that window is late (its end is at or
    /// below the watermark, or it was already emitted).
    pub(super) fn window_for(&mut self, t: i64, watermark: Option<i64>) -> Option<&mut OpenWindow> {
        // Most records fall in the newest open window: its start saves the 64-bit division.
        let start = match self.open.last() {
            Some(w) if (w.start..w.start + self.size_ms).contains(&t) => w.start,
            _ => self.start_of(t),
        };
        if watermark.is_some_and(|wm| start + self.size_ms <= wm) {
            return None;
        }
        match self.front {
            Some(f) if start < f && self.emitted => return None,
            Some(f) if start >= f => {}
            _ => self.front = Some(start),
        }
        // Few windows are open at once (usually one or two): a scan from the back is fastest.
        let pos = match self.open.iter().rposition(|w| w.start <= start) {
            Some(p) if self.open[p].start == start => p,
            Some(p) => {
                self.open.insert(p + 1, OpenWindow::new(start, t));
                p + 1
            }
            None => {
                self.open.insert(0, OpenWindow::new(start, t));
                0
            }
        };
        let window = &mut self.open[pos];
        window.latest = window.latest.max(t);
        Some(window)
    }

    /// End of the next window to emit, if any record started this size.
    pub fn next_end(&self) -> Option<i64> {
        self.front.map(|f| f + self.size_ms)
    }

    /// Takes the next window to emit (empty when no record reached it) and moves `front` on:
    /// its start, its accumulators and whether it is [`OpenWindow::unfolded`].
    pub fn pop_front(&mut self) -> (i64, Vec<Acc>, bool) {
        let start = self.front.unwrap_or(0);
        self.front = Some(start + self.size_ms);
        self.emitted = true;
        if self.open.first().is_some_and(|w| w.start == start) {
            let window = self.open.remove(0);
            let latest = window.latest;
            self.last_record = Some(self.last_record.map_or(latest, |l| l.max(latest)));
            (start, window.accs, window.unfolded)
        } else {
            (start, Vec::new(), false)
        }
    }

    /// The open window holding `t`, if it exists (nothing is created or moved).
    pub(super) fn existing_window(&mut self, t: i64) -> Option<&mut OpenWindow> {
        let start = self.start_of(t);
        self.open.iter_mut().rev().find(|w| w.start == start)
    }

    /// Follows a renumbering of the cells (old → new, monotonic; `None`: forgotten, and holding
    /// nothing in any open window).
    pub fn remap_cells(&mut self, remap: &[Option<u32>]) {
        for OpenWindow { accs, .. } in &mut self.open {
            let mut write = 0;
            for read in 0..accs.len() {
                if let Some(Some(_)) = remap.get(read) {
                    accs.swap(write, read);
                    write += 1;
                }
            }
            accs.truncate(write);
        }
    }

    /// Whether a record at `t` would be late for this size.
    pub fn is_late(&self, t: i64, watermark: Option<i64>) -> bool {
        let start = self.start_of(t);
        watermark.is_some_and(|wm| start.saturating_add(self.size_ms) <= wm)
            || self.front.is_some_and(|f| start < f && self.emitted)
    }

    /// docs/operating-limits.md (gaps): when the next window to emit received no record and starts `max_gap_ms` or
    /// more after the last record of the emitted windows, moves `front` over the rest of the gap — to
    /// the next window that received records, or at most to the window starting at `horizon`
    /// (the one holding the watermark). Returns the skipped range `[from, to)`.
    pub fn skip_gap(&mut self, max_gap_ms: i64, horizon: i64) -> Option<(i64, i64)> {
        let front = self.front?;
        let last = self.last_record?;
        if front < last.saturating_add(max_gap_ms)
            || self.open.first().is_some_and(|w| w.start == front)
        {
            return None;
        }
        let next = self.open.first().map_or(i64::MAX, |w| w.start);
        let target = self.start_of(next.min(horizon));
        if target <= front {
            return None;
        }
        self.front = Some(target);
        Some((front, target))
    }

    /// The lowest start a window of this size that is open, or could still open, can have.
    pub fn lowest_open_start(&self, watermark: Option<i64>) -> Option<i64> {
        let wm = watermark?;
        Some(self.front?.min(self.start_of(wm)))
    }

    /// Start of the next window to emit, once a record started this size.
    pub fn front(&self) -> Option<i64> {
        self.front
    }

    /// Whether any window of this size was emitted.
    pub fn emitted(&self) -> bool {
        self.emitted
    }

    /// Open windows with their per-cell accumulators.
    pub fn open(&self) -> impl Iterator<Item = (i64, &[Acc])> {
        self.open.iter().map(|w| (w.start, w.accs.as_slice()))
    }

    /// Restores `front` and `emitted` from a checkpoint (before any record is re-read).
    pub fn restore(&mut self, front: Option<i64>, emitted: bool, last_record: Option<i64>) {
        self.front = front;
        self.emitted = emitted;
        self.last_record = last_record;
    }

    /// The latest event time of the emitted windows that received records.
    pub fn last_record(&self) -> Option<i64> {
        self.last_record
    }

    /// The window holding `t` when it is at or after `front`, created when missing; no
    /// lateness check.
    pub(super) fn window_at(&mut self, t: i64) -> Option<&mut OpenWindow> {
        if self.front.is_none_or(|f| self.start_of(t) < f) {
            return None;
        }
        self.window_for(t, None)
    }

    /// The first offset of `source` feeding an open window.
    pub fn low_water(&self, source: Source) -> Option<i64> {
        self.open
            .iter()
            .filter_map(|w| w.feeders.first(source))
            .min()
    }

    /// Whether the open window starting at `start` already merged this partial.
    pub fn holds(&self, start: i64, from: PartialOrigin) -> bool {
        self.open
            .iter()
            .any(|w| w.start == start && w.feeders.holds(from))
    }

    /// Open windows and the per-cell accumulators they hold (cheap: no walk over the cells).
    pub fn open_counts(&self) -> (usize, usize) {
        (
            self.open.len(),
            self.open.iter().map(|w| w.accs.len()).sum(),
        )
    }

    /// Open windows and the bytes their accumulators hold.
    pub fn footprint(&self) -> (usize, usize) {
        let bytes = self
            .open
            .iter()
            .map(|w| w.accs.iter().map(Acc::footprint).sum::<usize>())
            .sum();
        (self.open.len(), bytes)
    }
}
