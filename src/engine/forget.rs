//! Forgetting cells outside the inventory (docs/operating-limits.md): an unknown cell that sent nothing for
//! `kpi.unknown_cell_ttl` (and holds nothing in an open window, and no alarm state) is dropped
//! from the cell table and every level, and the cells after it are renumbered, so that a stream
//! of made-up cell ids costs memory and window-close time only while those ids keep coming. A
//! forgotten cell that sends again is simply seen anew. Sweeps run at most every quarter TTL of
//! event time, so their cost is spread over the windows in between.

use super::{Engine, Output};

impl Engine {
    /// Forgets silent unknown cells when a sweep is due; tells `out` how many went.
    pub(super) fn forget_silent_unknown_cells<O: Output>(
        &mut self,
        out: &mut O,
    ) -> Result<(), O::Error> {
        let Some(wm) = self.watermark else {
            return Ok(());
        };
        if wm < self.next_forget_sweep || self.cells.len() == self.cells.inventory_len() {
            return Ok(());
        }
        self.next_forget_sweep = wm.saturating_add((self.unknown_cell_ttl_ms / 4).max(1_000));
        let lowest_open = self
            .sizes
            .iter()
            .filter_map(|s| s.lowest_open_start(self.watermark))
            .min()
            .unwrap_or(wm);
        let horizon = wm.saturating_sub(self.unknown_cell_ttl_ms).min(lowest_open);
        let per_cell: Vec<bool> = self.levels.iter().map(|l| l.per_cell).collect();
        let on_cells = |r: &crate::threshold::rule::Rule| per_cell[r.level_index];
        let alarmed = self.thresholds.groups_with_state(on_cells);
        let silent = |idx: u32, cell: &super::groups::CellInfo| {
            cell.last_seen < horizon && alarmed.binary_search(&idx).is_err()
        };
        let count = self
            .cells
            .unknown()
            .filter(|(idx, cell)| silent(*idx, cell))
            .count() as u64;
        if count == 0 {
            return Ok(());
        }
        let remap = self.cells.forget(silent);
        for table in &mut self.levels {
            table.remap_cells(&remap);
        }
        for size in &mut self.sizes {
            size.remap_cells(&remap);
        }
        self.thresholds.remap_groups(on_cells, &remap);
        let rule_on_cells: Vec<bool> = self.thresholds.rules().iter().map(on_cells).collect();
        self.baselines
            .remap_groups(|r| rule_on_cells.get(r).copied().unwrap_or(false), &remap);
        self.stats.unknown_cells_forgotten += count;
        let remaining = self.cells.len() - self.cells.inventory_len();
        out.cells_forgotten(count, remaining)
    }
}
