//! Closing windows (docs/time-and-windows.md): in order of window end then size, each closed window's
//! cells get their outage time and outage ids, roll up into every level, go out as KPI records
//! (or, in shard mode, as one partial) and feed the rules. Gaps longer than `windows.max_gap`
//! are skipped, not emitted.

use super::evaluate::{self, GroupWindow};
use super::outage::WindowOutages;
use super::{Engine, KpiRecord, Output, baseline};
use crate::kpi::{Acc, GroupContext, Kpi};
use crate::model::level::Dim;

impl Engine {
    /// Closes, in order of window end then size, every window whose (size, end) `closable` allows.
    pub(super) fn close_through<O: Output>(
        &mut self,
        closable: impl Fn(i64, i64) -> bool,
        out: &mut O,
    ) -> Result<(), O::Error> {
        loop {
            let next = self
                .sizes
                .iter()
                .enumerate()
                .filter_map(|(size_index, s)| s.next_end().map(|end| (end, size_index, s.size_ms)))
                .filter(|&(end, _, size)| closable(size, end))
                .min();
            let Some((_, size_index, _)) = next else {
                break;
            };
            let horizon = self
                .watermark
                .map_or(i64::MAX, |wm| self.sizes[size_index].start_of(wm));
            if let Some((from, to)) = self.sizes[size_index].skip_gap(self.max_gap_ms, horizon) {
                let size_ms = self.sizes[size_index].size_ms;
                self.stats.skipped_windows[size_index] +=
                    u64::try_from((to - from) / size_ms).unwrap_or(0);
                out.windows_skipped(size_ms, from, to)?;
                continue;
            }
            let (start, accs, unfolded) = self.sizes[size_index].pop_front();
            if unfolded {
                self.fold_into_coarser(size_index, start, &accs);
            }
            self.close_window(size_index, start, accs, out)?;
        }
        self.forget_silent_unknown_cells(out)?;
        let prune = self
            .sizes
            .iter()
            .filter_map(|s| s.lowest_open_start(self.watermark))
            .min();
        if let Some(t) = prune {
            self.outages.prune_before(t, self.restored_retention_ms);
        }
        Ok(())
    }

    fn close_window<O: Output>(
        &mut self,
        size_index: usize,
        start: i64,
        mut cell_accs: Vec<Acc>,
        out: &mut O,
    ) -> Result<(), O::Error> {
        let window_ms = self.sizes[size_index].size_ms;
        let end = start + window_ms;
        let outage_ids = self.window_outages(size_index, start, &mut cell_accs);
        if self.shard {
            self.stats.windows_emitted += 1;
            return match self.partial_of(window_ms, start, cell_accs, &outage_ids) {
                Some(p) => out.partial(&p),
                None => Ok(()),
            };
        }
        let mut level_accs = self.roll_up(&cell_accs);
        for table in &mut self.levels {
            table.refresh_order(&self.cells);
        }
        let slot = baseline::Slot::of(start, &self.baselines.timezone);
        let sleep = self.baselines.judge_cells(size_index, slot, &cell_accs);
        self.baselines.learned(size_index, end);
        let rules_at = self.rules_by_level(size_index);
        let empty = Acc::default();
        let no_outages: Vec<String> = Vec::new();
        let mut group: Vec<(Dim, &str)> = Vec::with_capacity(5);
        for ((li, table), rules) in self.levels.iter().enumerate().zip(&rules_at) {
            let accs = if table.per_cell {
                &mut cell_accs
            } else {
                &mut level_accs[li]
            };
            let outages = if !rules.is_empty() && !outage_ids.is_empty() {
                evaluate::outages_by_group(table, &outage_ids)
            } else {
                Default::default()
            };
            for &g in table.order() {
                // Sorted here, just before its percentiles are read, while its values are in
                // the cache (a separate pass over every group first loaded them twice).
                let acc = match accs.get_mut(g as usize) {
                    Some(acc) => {
                        acc.sort_sketches();
                        &*acc
                    }
                    None => &empty,
                };
                let inventory_cells = table.inventory_cells(g);
                if inventory_cells == 0 && acc.records == 0 {
                    continue;
                }
                let ctx = GroupContext {
                    window_ms,
                    inventory_cells,
                };
                group.clear();
                group.extend(table.group_values(g, &self.cells));
                let record = KpiRecord {
                    window_start: start,
                    window_end: end,
                    level: &table.name,
                    group: &group,
                    values: Kpi::ALL.map(|k| k.value(acc, ctx)),
                    pooling_samples: crate::kpi::pooling_samples(acc, ctx),
                    acc: Some(acc),
                    inventory_cells,
                };
                out.kpi(&record)?;
                self.stats.kpi_records += 1;
                if rules.is_empty() {
                    continue;
                }
                let w = GroupWindow {
                    group_index: g,
                    table,
                    group: &group,
                    acc,
                    ctx,
                    values: &record.values,
                    start,
                    end,
                    slot,
                    sleep: sleep.as_deref(),
                    outages: outages.get(&g).unwrap_or(&no_outages),
                };
                let stats = &mut self.stats;
                evaluate::evaluate_group(
                    &mut self.thresholds,
                    &mut self.baselines,
                    &self.cells,
                    rules,
                    &w,
                    |event| {
                        stats.breach_events += 1;
                        out.breach(event)
                    },
                )?;
            }
        }
        self.stats.windows_emitted += 1;
        out.window_closed(start, end)
    }

    /// The outages of window `start` of size `size_index` (this engine's, the shards' of windows
    /// they have not closed, and those their partials carried): each cell's outage time goes
    /// into its accumulator; returns the ids of the outages open in the window by cell.
    fn window_outages(
        &mut self,
        size_index: usize,
        start: i64,
        cell_accs: &mut Vec<Acc>,
    ) -> super::outage::CellOutageIds {
        let end = start + self.sizes[size_index].size_ms;
        let ncells = self.cells.len();
        let mut outages = self.outages.in_window(start, end);
        if !self.shard_outages.is_empty() {
            outages.merge(self.unclosed_shard_outages(size_index, start, end));
        }
        if let Some(ids) = self.partial_outage_ids.remove(&(size_index, start)) {
            outages.merge(WindowOutages {
                ms: Vec::new(),
                ids,
            });
        }
        for &(cell, ms) in &outages.ms {
            let idx = cell as usize;
            if cell_accs.len() <= idx {
                cell_accs.resize_with(ncells.max(idx + 1), Acc::default);
            }
            if let Some(acc) = cell_accs.get_mut(idx) {
                acc.outage_ms = acc.outage_ms.max(ms);
            }
        }
        outages.ids
    }

    /// The rules watching windows of size `size_index`, by level.
    fn rules_by_level(&self, size_index: usize) -> Vec<Vec<usize>> {
        let mut rules_at: Vec<Vec<usize>> = vec![Vec::new(); self.levels.len()];
        for (ri, r) in self.thresholds.rules().iter().enumerate() {
            if r.window_index == size_index
                && let Some(at) = rules_at.get_mut(r.level_index)
            {
                at.push(ri);
            }
        }
        rules_at
    }

    /// The accumulators of every non-cell level, rolled up from the cells (finest first).
    fn roll_up(&self, cell_accs: &[Acc]) -> Vec<Vec<Acc>> {
        let mut level_accs: Vec<Vec<Acc>> = (0..self.levels.len()).map(|_| Vec::new()).collect();
        for &(li, source) in &self.rollup {
            let table = &self.levels[li];
            let mut accs = vec![Acc::default(); table.len()];
            let (src_accs, src_table) = match source {
                None => (cell_accs, None),
                Some(s) => (level_accs[s].as_slice(), Some(&self.levels[s])),
            };
            for (g, acc) in src_accs.iter().enumerate() {
                if acc.records == 0 && acc.outage_ms == 0 {
                    continue;
                }
                let cell = src_table.map_or(g as u32, |t| t.rep_cell(g as u32));
                accs[table.group_of(cell) as usize].merge(acc);
            }
            level_accs[li] = accs;
        }
        level_accs
    }
}
