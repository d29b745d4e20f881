//! What comes out of the engine: KPI records, and the [`Output`] every sink implements (KPI
//! records, breach events, partials of shard engines, and the events of closing windows).

use super::partial;
use crate::kpi::{Acc, KPI_COUNT, KpiValue, POOLING_COUNT};
use crate::model::level::Dim;
use crate::threshold::BreachEvent;

/// One KPI record (docs/outputs.md), borrowing names from the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct KpiRecord<'a> {
    pub window_start: i64,
    pub window_end: i64,
    pub level: &'a str,
    pub group: &'a [(Dim, &'a str)],
    /// Values in [`Kpi::ALL`] order.
    pub values: [KpiValue; KPI_COUNT],
    /// Samples counts for pooling, in [`crate::kpi::POOLING_SAMPLES`] order.
    pub pooling_samples: [u64; POOLING_COUNT],
    /// The accumulator behind the values (numerators and denominators), when the engine made
    /// the record; `None` for a record read back from a topic.
    pub acc: Option<&'a Acc>,
    /// Inventory cells of the group.
    pub inventory_cells: u64,
}

/// Where the engine's results go.
pub trait Output {
    /// Error of the underlying sink.
    type Error;
    /// A KPI record of a closed window.
    fn kpi(&mut self, record: &KpiRecord<'_>) -> Result<(), Self::Error>;
    /// A breach event.
    fn breach(&mut self, event: &BreachEvent) -> Result<(), Self::Error>;
    /// The per-cell accumulators of a closed window (engines in shard mode only).
    fn partial(&mut self, _partial: &partial::Partial) -> Result<(), Self::Error> {
        Ok(())
    }
    /// The record-less windows `[from, to)` of size `size_ms` were skipped: the gap before them
    /// was longer than `windows.max_gap` (docs/operating-limits.md). The default logs it.
    fn windows_skipped(&mut self, size_ms: i64, from: i64, to: i64) -> Result<(), Self::Error> {
        crate::telemetry::events::windows_skipped(size_ms, from, to, None);
        Ok(())
    }
    /// `count` silent cells outside the inventory were forgotten (docs/operating-limits.md); `remaining`
    /// unknown cells are still known. The default logs it.
    fn cells_forgotten(&mut self, count: u64, remaining: usize) -> Result<(), Self::Error> {
        crate::telemetry::events::unknown_cells_forgotten(count, remaining, None);
        Ok(())
    }
    /// Every KPI record and breach event of the window `[start, end)` was given.
    fn window_closed(&mut self, _start: i64, _end: i64) -> Result<(), Self::Error> {
        Ok(())
    }
}
