//! Cells and the groups of every level (docs/kpis.md and docs/semantics.md).
//!
//! Cells get dense indices (inventory first, then every unknown cell as it is first seen), and
//! every level maps a cell index to a dense group index. The engine aggregates per cell and rolls
//! cells up into the groups of coarser levels when a window closes, so the per-record work is one
//! hash lookup and one accumulator update whatever the number of levels.
//!
//! A level that contains `cell` has exactly one group per cell, so it keeps no table of its own.

use crate::inventory::Cell;
use crate::model::level::{Dim, Level};
use crate::model::{Area, Technology};
use compact_str::CompactString;
use rustc_hash::{FxHashMap, FxHashSet};
use std::sync::Arc;

/// The value of a dimension for a cell outside the inventory.
pub const UNKNOWN: &str = "UNKNOWN";

/// A group's member cell of record when every member was forgotten.
const NO_CELL: u32 = u32::MAX;

/// What the engine knows of one cell. Site and region values are shared by every cell that
/// has them (a million cells hold a few thousand site and a few region strings, not a million
/// of each); an id of up to 24 bytes is stored inline; the area is one byte (72 bytes a cell).
#[derive(Debug, Clone)]
pub struct CellInfo {
    pub id: CompactString,
    pub site: Arc<str>,
    pub region: Arc<str>,
    /// `None` for a cell outside the inventory (`UNKNOWN`).
    pub area: Option<Area>,
    pub technology: Technology,
    /// Cells outside the inventory: the largest event time of their records so far.
    pub last_seen: i64,
}

impl CellInfo {
    /// The cell's value of a dimension.
    pub fn dim(&self, dim: Dim) -> &str {
        match dim {
            Dim::Cell => &self.id,
            Dim::Site => &self.site,
            Dim::Region => &self.region,
            Dim::Area => self.area.map_or(UNKNOWN, Area::as_str),
            Dim::Technology => self.technology.as_str(),
        }
    }
}

/// All cells seen so far, inventory first.
#[derive(Debug, Default)]
pub struct CellTable {
    /// Cell id → index. Ids up to 24 bytes are stored inline in the table, so a lookup compares
    /// bytes already in the probed bucket instead of following a pointer to the heap (the
    /// pointer chase was ~15 % of aggregation time: `cargo bench --bench aggregate`). The
    /// bucket also holds the cell's technology, in what was padding, so that aggregating a record
    /// reads no other cache line of the table.
    index: FxHashMap<CompactString, (u32, Technology)>,
    cells: Vec<CellInfo>,
    inventory_len: usize,
}

impl CellTable {
    /// A table holding the inventory.
    pub fn new(inventory: &[Cell]) -> Self {
        let mut t = CellTable::default();
        t.cells.reserve_exact(inventory.len());
        t.index.reserve(inventory.len());
        let mut shared: FxHashSet<Arc<str>> = FxHashSet::default();
        let mut share = |value: &str| -> Arc<str> {
            if let Some(known) = shared.get(value) {
                return Arc::clone(known);
            }
            let new: Arc<str> = value.into();
            shared.insert(Arc::clone(&new));
            new
        };
        for c in inventory {
            t.push(CellInfo {
                id: c.cell_id.as_str().into(),
                site: share(&c.site_id),
                region: share(&c.region),
                area: Some(c.area),
                technology: c.technology,
                last_seen: i64::MIN,
            });
        }
        t.inventory_len = t.cells.len();
        t
    }

    fn push(&mut self, info: CellInfo) -> u32 {
        let idx = self.cells.len() as u32;
        self.index.insert(info.id.clone(), (idx, info.technology));
        self.cells.push(info);
        idx
    }

    /// Index of a known or already-seen cell.
    #[inline]
    pub fn get(&self, cell_id: &str) -> Option<u32> {
        self.lookup(cell_id).map(|(idx, _)| idx)
    }

    /// Index and technology of a known or already-seen cell.
    #[inline]
    pub fn lookup(&self, cell_id: &str) -> Option<(u32, Technology)> {
        self.index.get(cell_id).copied()
    }

    /// Whether cell `idx` is in the inventory (the inventory's cells come first).
    #[inline]
    pub fn is_known(&self, idx: u32) -> bool {
        (idx as usize) < self.inventory_len
    }

    /// Index of a cell, adding it as an unknown cell when it was never seen.
    pub fn get_or_add_unknown(&mut self, cell_id: &str) -> (u32, bool) {
        match self.get(cell_id) {
            Some(idx) => (idx, false),
            None => {
                let idx = self.push(CellInfo {
                    id: cell_id.into(),
                    site: UNKNOWN.into(),
                    region: UNKNOWN.into(),
                    area: None,
                    technology: Technology::Unknown,
                    last_seen: i64::MIN,
                });
                (idx, true)
            }
        }
    }

    /// Notes a record at `t` on cell `idx`.
    #[inline]
    pub fn seen(&mut self, idx: u32, t: i64) {
        if let Some(c) = self.cells.get_mut(idx as usize)
            && c.last_seen < t
        {
            c.last_seen = t;
        }
    }

    /// Unknown cells (they follow the inventory's).
    pub fn unknown(&self) -> impl Iterator<Item = (u32, &CellInfo)> {
        self.cells
            .iter()
            .enumerate()
            .skip(self.inventory_len)
            .map(|(i, c)| (i as u32, c))
    }

    /// Drops the unknown cells `forget` names and renumbers the others, keeping their order
    /// (inventory cells never move). Returns old index → new index (`None`: forgotten).
    pub fn forget(&mut self, forget: impl Fn(u32, &CellInfo) -> bool) -> Vec<Option<u32>> {
        let mut remap = Vec::with_capacity(self.cells.len());
        let mut kept = Vec::with_capacity(self.cells.len());
        for (i, c) in std::mem::take(&mut self.cells).into_iter().enumerate() {
            let idx = i as u32;
            if i >= self.inventory_len && forget(idx, &c) {
                self.index.remove(&*c.id);
                remap.push(None);
            } else {
                let new = kept.len() as u32;
                if new != idx {
                    self.index
                        .insert(CompactString::from(&*c.id), (new, c.technology));
                }
                remap.push(Some(new));
                kept.push(c);
            }
        }
        self.cells = kept;
        remap
    }

    /// The cell at `idx`.
    #[inline]
    pub fn info(&self, idx: u32) -> &CellInfo {
        &self.cells[idx as usize]
    }

    /// Number of cells (inventory and unknown).
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether there is no cell at all.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Number of inventory cells.
    pub fn inventory_len(&self) -> usize {
        self.inventory_len
    }
}

/// The groups of one level.
#[derive(Debug)]
pub struct LevelTable {
    pub level: Level,
    /// Canonical name (`region,technology`).
    pub name: String,
    /// Whether groups are cells (the level has the `cell` dimension).
    pub per_cell: bool,
    /// Group values in canonical dimension order (empty when `per_cell`).
    keys: Vec<Box<[Box<str>]>>,
    index: FxHashMap<Box<[Box<str>]>, u32>,
    /// Group of each cell (empty when `per_cell`).
    group_of_cell: Vec<u32>,
    /// One member cell of each group (to map finer groups onto this level).
    rep_cell: Vec<u32>,
    /// Inventory cells per group.
    inventory_cells: Vec<u64>,
    /// Group indices sorted by their values; rebuilt when groups are added.
    sorted: Vec<u32>,
    sorted_len: usize,
}

impl LevelTable {
    /// An empty table for `level`.
    pub fn new(level: Level) -> Self {
        LevelTable {
            level,
            name: level.name(),
            per_cell: level.has(Dim::Cell),
            keys: Vec::new(),
            index: FxHashMap::default(),
            group_of_cell: Vec::new(),
            rep_cell: Vec::new(),
            inventory_cells: Vec::new(),
            sorted: Vec::new(),
            sorted_len: usize::MAX,
        }
    }

    /// Registers cell `idx` of `cells` (called for every cell, in index order).
    pub fn add_cell(&mut self, idx: u32, cells: &CellTable) {
        let (cell, known) = (cells.info(idx), cells.is_known(idx));
        if self.per_cell {
            self.inventory_cells.push(u64::from(known));
            return;
        }
        let key: Box<[Box<str>]> = self.level.dims().map(|d| cell.dim(d).into()).collect();
        let group = match self.index.get(&key) {
            Some(&g) => {
                if let Some(rep) = self.rep_cell.get_mut(g as usize)
                    && *rep == NO_CELL
                {
                    *rep = idx;
                }
                g
            }
            None => {
                let g = self.keys.len() as u32;
                self.index.insert(key.clone(), g);
                self.keys.push(key);
                self.rep_cell.push(idx);
                self.inventory_cells.push(0);
                g
            }
        };
        self.group_of_cell.push(group);
        if known {
            self.inventory_cells[group as usize] += 1;
        }
    }

    /// Follows a renumbering of the cells ([`CellTable::forget`]): forgotten cells leave their
    /// groups (the groups stay, with no inventory cell they are emitted only when they receive
    /// records); a group whose member cell of record was forgotten takes another member.
    pub fn remap_cells(&mut self, remap: &[Option<u32>]) {
        if self.per_cell {
            self.inventory_cells = remap
                .iter()
                .zip(&self.inventory_cells)
                .filter(|(new, _)| new.is_some())
                .map(|(_, n)| *n)
                .collect();
        } else {
            self.group_of_cell = remap
                .iter()
                .zip(&self.group_of_cell)
                .filter(|(new, _)| new.is_some())
                .map(|(_, g)| *g)
                .collect();
            for rep in &mut self.rep_cell {
                *rep = remap
                    .get(*rep as usize)
                    .copied()
                    .flatten()
                    .unwrap_or(NO_CELL);
            }
            for (cell, &g) in self.group_of_cell.iter().enumerate() {
                if let Some(rep) = self.rep_cell.get_mut(g as usize)
                    && *rep == NO_CELL
                {
                    *rep = cell as u32;
                }
            }
        }
        self.sorted_len = usize::MAX;
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.inventory_cells.len()
    }

    /// Whether the level has no group.
    pub fn is_empty(&self) -> bool {
        self.inventory_cells.is_empty()
    }

    /// Group of a cell.
    #[inline]
    pub fn group_of(&self, cell: u32) -> u32 {
        if self.per_cell {
            cell
        } else {
            self.group_of_cell[cell as usize]
        }
    }

    /// A member cell of a group.
    pub fn rep_cell(&self, group: u32) -> u32 {
        if self.per_cell {
            group
        } else {
            self.rep_cell[group as usize]
        }
    }

    /// Inventory cells of a group.
    pub fn inventory_cells(&self, group: u32) -> u64 {
        self.inventory_cells[group as usize]
    }

    /// The group's (dimension, value) pairs in canonical order.
    pub fn group_values<'a>(
        &'a self,
        group: u32,
        cells: &'a CellTable,
    ) -> impl Iterator<Item = (Dim, &'a str)> + 'a {
        // Per-cell groups are their cell; other groups are their key (their member cell of
        // record may have been forgotten).
        let cell = self.per_cell.then(|| cells.info(group));
        let key = (!self.per_cell).then(|| &self.keys[group as usize]);
        self.level
            .dims()
            .enumerate()
            .map(move |(k, d)| match (key, cell) {
                (Some(values), _) => (d, &*values[k]),
                (None, Some(c)) => (d, c.dim(d)),
                (None, None) => (d, UNKNOWN),
            })
    }

    /// The group with these values (canonical order), if it exists.
    pub fn find(&self, values: &[String], cells: &CellTable) -> Option<u32> {
        if self.per_cell {
            let cell = cells.get(values.first()?)?;
            let matches = self
                .group_values(cell, cells)
                .map(|(_, v)| v)
                .eq(values.iter().map(String::as_str));
            return matches.then_some(cell);
        }
        let key: Box<[Box<str>]> = values.iter().map(|v| v.as_str().into()).collect();
        self.index.get(&key).copied()
    }

    /// Group indices in the order of their values, as of the last [`Self::refresh_order`].
    pub fn order(&self) -> &[u32] {
        &self.sorted
    }

    /// Re-sorts the groups when groups were added since the last call.
    pub fn refresh_order(&mut self, cells: &CellTable) {
        if self.sorted_len != self.len() {
            let mut order: Vec<u32> = (0..self.len() as u32).collect();
            if self.per_cell {
                order.sort_unstable_by(|a, b| cells.info(*a).id.cmp(&cells.info(*b).id));
            } else {
                let keys = &self.keys;
                order.sort_unstable_by(|a, b| keys[*a as usize].cmp(&keys[*b as usize]));
            }
            self.sorted = order;
            self.sorted_len = self.len();
        }
    }
}
