//! The pure core: event-time windows, per-cell accumulation, roll-up to every level, KPI records
//! and threshold evaluation (docs/time-and-windows.md). No I/O, no clock: records and watermarks go in,
//! KPI records and breach events come out through an [`Output`].
//!
//! Guarantees (docs/time-and-windows.md and docs/semantics.md):
//! * A record is aggregated into the window of every configured size that is still open; it is
//!   late for a size when that window's end is at or below the watermark ([`Engine::ingest`]
//!   decides lateness against the watermark *before* the record).
//! * Windows of a size are emitted once each, in order, from the earliest window that received
//!   a record, gap windows included; [`Engine::advance_to`] closes every window whose end the
//!   watermark reached, [`Engine::finish`] closes everything up to the window holding the largest
//!   event time. Windows of different sizes close in order of their end, then of configuration.
//! * Within a window, levels come out in configured order and groups sorted by their values;
//!   every group holding an inventory cell is emitted (silent cells show zero counts), and a
//!   group without one only when it received a record.
//!
//! The same input in the same order gives the same outputs, bit for bit.

pub mod baseline;
mod bounds;
pub mod checkpoint;
mod close;
pub mod evaluate;
mod output;
pub mod sleeping;
pub use output::{KpiRecord, Output};
mod fold;
mod forget;
pub mod groups;
pub mod outage;
pub mod partial;
pub mod settings;
pub mod shard_outages;
pub mod sources;
mod window;

use crate::inventory::Cell;
use crate::kpi::AggParams;
use crate::model::validate::{Reason, Reject};
use crate::model::{Event, OutageState, Stream, Technology};
use crate::threshold::Thresholds;
use evaluate::Baselines;
use groups::{CellTable, LevelTable};
use outage::{DownEffect, OutageTracker};
pub use settings::EngineSettings;
use sources::{Fronts, Origin, Source};
use window::{SizeState, cell_acc};

/// What happened to one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    /// Aggregated into every window size.
    Aggregated,
    /// Late for at least one size (aggregated into the others, if any). Outage records still
    /// changed the outage state.
    Late,
    /// Outage records only: the outage was already open; the record counts nowhere.
    Ignored,
    /// Not aggregated at all (an outage on a cell outside the inventory).
    Rejected(Reject),
}

/// What becomes of a record after the engine took it: the one classification `replay` and
/// `run` share, so that the two cannot count or dead-letter differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Counted where it belongs (or, an outage already open, nowhere): nothing to report.
    Kept,
    /// An outage record late for a window: it still moved the outage state, so it is counted
    /// (`late_outage_records`), not dead-lettered.
    LateOutage,
    /// A dead letter, with its reason and detail.
    DeadLetter(Reject),
}

impl Ingested {
    /// What becomes of record `ev`, which the engine answered with `self`.
    pub fn disposition(self, ev: &Event) -> Disposition {
        match self {
            Ingested::Aggregated | Ingested::Ignored => Disposition::Kept,
            Ingested::Late if ev.stream() == Stream::Outage => Disposition::LateOutage,
            Ingested::Late => Disposition::DeadLetter(Reject::new(
                Reason::Late,
                format!(
                    "event_time {} is in a window the watermark already closed",
                    ev.event_time()
                ),
            )),
            Ingested::Rejected(reject) => Disposition::DeadLetter(reject),
        }
    }
}

/// Counters the engine keeps about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Records that reached aggregation, by stream (calls, sessions, outages).
    pub records: [u64; 3],
    /// Records late for each size, in configured order.
    pub late: Vec<u64>,
    /// Call and session records on cells outside the inventory.
    pub unknown_cell_records: u64,
    /// Windows emitted (all sizes).
    pub windows_emitted: u64,
    /// KPI records emitted.
    pub kpi_records: u64,
    /// Breach events emitted.
    pub breach_events: u64,
    /// Record-less windows of a gap longer than `windows.max_gap` that were skipped, per size.
    pub skipped_windows: Vec<u64>,
    /// Unknown cells forgotten after `kpi.unknown_cell_ttl` of silence.
    pub unknown_cells_forgotten: u64,
}

/// The KPI engine.
#[derive(Debug)]
pub struct Engine {
    agg: AggParams,
    allowed_delay_ms: i64,
    cells: CellTable,
    levels: Vec<LevelTable>,
    /// Roll-up order: (level, source level or `None` for cells), finest first.
    rollup: Vec<(usize, Option<usize>)>,
    /// Per window size, the finer size its windows are folded from (`fold`).
    fold_base: Vec<Option<usize>>,
    sizes: Vec<SizeState>,
    outages: OutageTracker,
    thresholds: Thresholds,
    watermark: Option<i64>,
    /// Per source, the largest event time of a valid record (moves the watermark).
    fronts: Fronts,
    /// Largest event time aggregated into some window (bounds the windows `finish` emits).
    max_aggregated: Option<i64>,
    stats: EngineStats,
    /// Shard mode: closed windows go out as [`partial::Partial`]s, not rolled up.
    shard: bool,
    /// Plausible event times: `[not_before, not_after]` (`not_after` set from the edge's clock).
    not_before: i64,
    not_after: Option<i64>,
    max_future_ms: i64,
    max_gap_ms: i64,
    unknown_cell_ttl_ms: i64,
    restored_retention_ms: i64,
    /// Event time of the next sweep for silent unknown cells.
    next_forget_sweep: i64,
    /// Merger: each shard's outages of the windows it has not closed.
    shard_outages: std::collections::BTreeMap<i32, shard_outages::ShardOutages>,
    /// Merger: `(cell, outage id)` of the open windows (size index, start), from partials.
    partial_outage_ids: std::collections::BTreeMap<(usize, i64), outage::CellOutageIds>,
    /// Baselines of sleeping-cell and baseline rules.
    baselines: Baselines,
}

impl Engine {
    /// An engine for validated settings and a loaded inventory.
    pub fn new(settings: &EngineSettings, inventory: &[Cell]) -> Self {
        Engine::build(settings, inventory, false)
    }

    /// An engine; in shard mode without rules (and so without baselines): they are the
    /// merger's.
    fn build(settings: &EngineSettings, inventory: &[Cell], shard: bool) -> Self {
        let rules: &[crate::threshold::rule::Rule] = if shard { &[] } else { &settings.rules };
        let cells = CellTable::new(inventory);
        let mut levels: Vec<LevelTable> = settings
            .levels
            .iter()
            .map(|l| LevelTable::new(*l))
            .collect();
        for idx in 0..cells.len() as u32 {
            for t in &mut levels {
                t.add_cell(idx, &cells);
            }
        }
        // Each non-cell level rolls up from the finest configured level it is coarser than
        // (fewest extra dimensions), or from the cells.
        let mut order: Vec<usize> = (0..levels.len()).filter(|&i| !levels[i].per_cell).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(levels[i].level.len()));
        let rollup = order
            .iter()
            .map(|&i| {
                let l = levels[i].level;
                let source = order
                    .iter()
                    .copied()
                    .filter(|&j| {
                        let m = levels[j].level;
                        j != i && m.len() > l.len() && l.is_coarser_or_equal(m)
                    })
                    .min_by_key(|&j| levels[j].level.len());
                (i, source)
            })
            .collect();
        let timezone =
            jiff::tz::TimeZone::get(&settings.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
        let baselines = Baselines::new(
            rules,
            &cells,
            settings.baseline,
            settings.sleeping,
            timezone,
        );
        Engine {
            baselines,
            partial_outage_ids: std::collections::BTreeMap::new(),
            agg: settings.agg.clone(),
            allowed_delay_ms: settings.allowed_delay_ms,
            cells,
            levels,
            rollup,
            fold_base: fold::fold_bases(&settings.window_sizes_ms),
            sizes: settings
                .window_sizes_ms
                .iter()
                .map(|&w| SizeState::new(w))
                .collect(),
            outages: OutageTracker::default(),
            thresholds: Thresholds::new(rules.to_vec()),
            watermark: None,
            fronts: Fronts::default(),
            max_aggregated: None,
            stats: EngineStats {
                late: vec![0; settings.window_sizes_ms.len()],
                skipped_windows: vec![0; settings.window_sizes_ms.len()],
                ..EngineStats::default()
            },
            shard,
            not_before: settings.not_before_ms,
            not_after: None,
            max_future_ms: settings.max_future_ms,
            max_gap_ms: settings.max_gap_ms,
            unknown_cell_ttl_ms: settings.unknown_cell_ttl_ms,
            restored_retention_ms: settings.restored_outage_retention_ms,
            next_forget_sweep: i64::MIN,
            shard_outages: std::collections::BTreeMap::new(),
        }
    }

    /// An engine in shard mode: it aggregates and closes windows like any engine, but hands
    /// each closed window's per-cell accumulators to [`Output::partial`] for a merger
    /// ([`Engine::ingest_partial`]) instead of rolling up and evaluating thresholds.
    pub fn new_shard(settings: &EngineSettings, inventory: &[Cell]) -> Self {
        Engine::build(settings, inventory, true)
    }

    /// The current watermark.
    pub fn watermark(&self) -> Option<i64> {
        self.watermark
    }

    /// The largest event time of a valid record from any source.
    pub fn max_event_time(&self) -> Option<i64> {
        self.fronts.max()
    }

    /// The event-time front of one source: the largest event time of a valid record it
    /// delivered (a partition's watermark is this minus the allowed delay).
    pub fn front(&self, source: Source) -> Option<i64> {
        self.fronts.of(source)
    }

    /// Restores a source's front from a checkpoint (before any record is re-read).
    pub fn restore_front(&mut self, source: Source, front: Option<i64>) {
        self.fronts.restore(source, front);
    }

    /// The first offset of `source` that fed a window still open: a restart must re-read from
    /// there (`None` when no open window holds anything from it).
    pub fn low_water(&self, source: Source) -> Option<i64> {
        self.sizes.iter().filter_map(|s| s.low_water(source)).min()
    }

    /// Counters.
    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    /// End of the last window that changed a baseline (`None`: none yet): what a checkpoint
    /// that leaves the baselines out names them by.
    pub fn baselines_version(&self) -> Option<i64> {
        self.baselines.version
    }

    /// Bytes held by the baselines of sleeping-cell and baseline rules.
    pub fn baseline_bytes(&self) -> usize {
        self.baselines.bytes()
    }

    /// Number of (rule, group) alarms firing.
    pub fn alarms_firing(&self) -> usize {
        self.thresholds.firing()
    }

    /// Every firing alarm with its group (restored ones of groups not seen yet left out).
    pub fn firing_alarms(&self) -> Vec<crate::threshold::FiringAlarm> {
        let rules = self.thresholds.rules();
        self.thresholds
            .states()
            .filter_map(|(r, g, state)| {
                let rule = rules.get(r)?;
                let table = self.levels.get(rule.level_index)?;
                Some(crate::threshold::FiringAlarm {
                    breach_id: state.firing.clone()?,
                    rule: rule.name.clone(),
                    severity: rule.severity.as_str(),
                    kpi: rule.watched.name(),
                    level: table.name.clone(),
                    group: table
                        .group_values(g, &self.cells)
                        .map(|(d, v)| (d, v.to_string()))
                        .collect(),
                    since: state.since,
                })
            })
            .collect()
    }

    /// Alarms firing per rule.
    pub fn alarms_firing_by_rule(&self) -> impl Iterator<Item = (&str, usize)> {
        self.thresholds.firing_by_rule()
    }

    /// Windows currently open (all sizes) and the per-cell accumulators they hold; cheap enough
    /// to call after every record.
    pub fn open_state(&self) -> (usize, usize) {
        self.sizes.iter().fold((0, 0), |(w, g), s| {
            let (sw, sg) = s.open_counts();
            (w + sw, g + sg)
        })
    }

    /// Windows currently open (all sizes) and bytes held by their accumulators (walks every
    /// accumulator: for reports, not for the hot path).
    pub fn open_windows(&self) -> (usize, usize) {
        self.sizes.iter().fold((0, 0), |(n, b), s| {
            let (sn, sb) = s.footprint();
            (n + sn, b + sb)
        })
    }

    /// Aggregates one valid record, deciding lateness against the current watermark. Does not
    /// move the watermark: the caller does, with [`Engine::advance_to`].
    pub fn ingest(&mut self, ev: &Event, from: Origin) -> Ingested {
        if let Some(reject) = self.out_of_range(ev) {
            return Ingested::Rejected(reject);
        }
        let t = ev.event_time();
        let (cell, tech) = match ev {
            Event::Outage(_) => match self.cells.lookup(ev.cell_id()) {
                Some((idx, tech)) if self.cells.is_known(idx) => (idx, tech),
                _ => {
                    return Ingested::Rejected(Reject::new(
                        Reason::UnknownCell,
                        format!(
                            "outage on cell `{}` which is not in the inventory",
                            ev.cell_id()
                        ),
                    ));
                }
            },
            _ => self.cell_index(ev.cell_id(), t),
        };
        // Outage state changes are global and happen whether or not the record is late.
        let counts = match ev {
            Event::Outage(o) => match o.state {
                OutageState::Down => {
                    let late_everywhere = self.sizes.iter().all(|s| s.is_late(t, self.watermark));
                    self.outages.down(&o.outage_id, cell, t, late_everywhere) != DownEffect::Ignored
                }
                OutageState::Restored => {
                    let started = o.started_at.unwrap_or(t);
                    self.outages.restored(&o.outage_id, cell, started, t);
                    true
                }
            },
            _ => true,
        };
        self.fronts.saw(from.source, t);
        if !counts {
            return Ingested::Ignored;
        }
        let stream_idx = match ev.stream() {
            Stream::Call => 0,
            Stream::Session => 1,
            Stream::Outage => 2,
        };
        self.stats.records[stream_idx] += 1;
        let mut late = false;
        let traffic = !matches!(ev, Event::Outage(_));
        let mut takers = fold::Takers::default();
        for (size_index, size) in self.sizes.iter_mut().enumerate() {
            let Some(window) = size.window_for(t, self.watermark) else {
                takers.refused();
                self.stats.late[size_index] += 1;
                late = true;
                continue;
            };
            let aggregates = takers.aggregates(&self.fold_base, size_index);
            self.max_aggregated = Some(self.max_aggregated.map_or(t, |m| m.max(t)));
            // A window's outage counts are in the checkpoint: only calls and sessions are re-read.
            if traffic {
                window.feeders.fed(from);
                if !aggregates {
                    continue;
                }
                window.unfolded = true;
            }
            let acc = cell_acc(&mut window.accs, cell, self.cells.len());
            match ev {
                Event::Call(c) => acc.add_call(c, tech, &self.agg),
                Event::Session(s) => acc.add_session(s, tech, &self.agg),
                Event::Outage(o) => match o.state {
                    OutageState::Down => acc.add_outage_started(),
                    OutageState::Restored => acc.add_outage_restored(t - o.started_at.unwrap_or(t)),
                },
            }
        }
        if late {
            Ingested::Late
        } else {
            Ingested::Aggregated
        }
    }

    /// Index and technology of the cell of a call or session, adding it when it is unknown.
    fn cell_index(&mut self, cell_id: &str, t: i64) -> (u32, Technology) {
        if let Some((idx, tech)) = self.cells.lookup(cell_id) {
            if !self.cells.is_known(idx) {
                self.stats.unknown_cell_records += 1;
                self.cells.seen(idx, t);
            }
            return (idx, tech);
        }
        let idx = self.add_unknown_cell(cell_id);
        self.cells.seen(idx, t);
        self.stats.unknown_cell_records += 1;
        (idx, self.cells.info(idx).technology)
    }

    /// Adds a cell outside the inventory to the cell table and every level.
    fn add_unknown_cell(&mut self, cell_id: &str) -> u32 {
        let (idx, _) = self.cells.get_or_add_unknown(cell_id);
        for t in &mut self.levels {
            t.add_cell(idx, &self.cells);
        }
        idx
    }

    /// Ingests a record and moves the single-partition watermark (largest event time minus the
    /// allowed delay), closing what it passes: the replay semantics of docs/time-and-windows.md.
    pub fn ingest_and_advance<O: Output>(
        &mut self,
        ev: &Event,
        from: Origin,
        out: &mut O,
    ) -> Result<Ingested, O::Error> {
        let result = self.ingest(ev, from);
        if !matches!(result, Ingested::Rejected(_))
            && let Some(max) = self.fronts.of(from.source)
        {
            self.advance_to(max - self.allowed_delay_ms, out)?;
        }
        Ok(result)
    }

    /// Moves the watermark to `wm` (never backwards) and emits every window whose end it reached.
    pub fn advance_to<O: Output>(&mut self, wm: i64, out: &mut O) -> Result<(), O::Error> {
        if self.watermark.is_some_and(|cur| cur >= wm) {
            return Ok(());
        }
        self.watermark = Some(wm);
        self.close_through(|_, end| end <= wm, out)
    }

    /// End of a finite input: emits every window up to the one holding the largest event time
    /// aggregated (docs/semantics.md).
    pub fn finish<O: Output>(&mut self, out: &mut O) -> Result<(), O::Error> {
        let Some(max) = self.max_aggregated else {
            return Ok(());
        };
        self.close_through(|size, end| end - size <= max, out)
    }
}

#[cfg(test)]
mod tests;
