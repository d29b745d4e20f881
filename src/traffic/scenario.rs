//! Faults the generator can be told to make, so that a report or an alarm can be shown on data
//! whose right answer is known: a region whose calls fail in the busy hours, cells that drop
//! calls every day, cells that go down for hours every day, days a region sends nothing, and
//! cells that fall asleep (carry no traffic, with no outage, while their site carries on).

use crate::inventory::Cell;

/// Faults by name, as `netkpi gen` takes them (`REGION=P`, `CELL=P`, `CELL=HOURS`, `REGION=DAY`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scenario {
    /// Extra probability that a call of the region fails in the network during busy hours.
    pub busy_hour_failures: Vec<(String, f64)>,
    /// Probability that an answered call of the cell drops (instead of the usual).
    pub drop_cells: Vec<(String, f64)>,
    /// The cell goes down every day at 01:00 UTC for this many hours.
    pub daily_outages: Vec<(String, f64)>,
    /// The region's cells send nothing on this day (0 = the first day of the run).
    pub silent_days: Vec<(String, i64)>,
    /// The cell sleeps from hour `from` to hour `to` of the run (hours since its start).
    pub sleeping_cells: Vec<(String, f64, f64)>,
}

/// Why a fault could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioError {
    #[error("`{0}` is not NAME=NUMBER")]
    Shape(String),
    #[error("`{0}`: no cell or region of that name in the inventory")]
    Unknown(String),
    #[error("`{0}` is not CELL=FROM-TO (hours since the start of the run, FROM < TO)")]
    Span(String),
}

/// Parses `CELL=FROM-TO` (hours since the start of the run).
pub fn span(text: &str) -> Result<(String, f64, f64), ScenarioError> {
    let bad = || ScenarioError::Span(text.into());
    let (name, hours) = text.split_once('=').ok_or_else(bad)?;
    let (from, to) = hours.split_once('-').ok_or_else(bad)?;
    let hour = |h: &str| {
        h.trim()
            .parse::<f64>()
            .ok()
            .filter(|h| h.is_finite() && *h >= 0.0)
    };
    match (hour(from), hour(to)) {
        (Some(a), Some(b)) if a < b => Ok((name.trim().to_string(), a, b)),
        _ => Err(bad()),
    }
}

/// Parses `NAME=NUMBER`.
pub fn pair(text: &str) -> Result<(String, f64), ScenarioError> {
    let (name, number) = text
        .split_once('=')
        .ok_or_else(|| ScenarioError::Shape(text.into()))?;
    let number: f64 = number
        .trim()
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite() && *n >= 0.0)
        .ok_or_else(|| ScenarioError::Shape(text.into()))?;
    Ok((name.trim().to_string(), number))
}

/// The scenario resolved to cells.
#[derive(Debug, Clone, Default)]
pub(super) struct CellFaults {
    pub busy_hour_failure: f64,
    pub drop: Option<f64>,
    pub daily_outage_ms: Option<i64>,
    pub silent_days: Vec<i64>,
    /// `[from, to)` event times (ms) in which the cell sleeps.
    pub asleep: Vec<(i64, i64)>,
}

impl Scenario {
    /// Checks every name against the inventory.
    pub fn check(&self, cells: &[Cell]) -> Result<(), ScenarioError> {
        let region = |r: &str| cells.iter().any(|c| c.region == r);
        let cell = |id: &str| cells.iter().any(|c| c.cell_id == id);
        let regions = self.busy_hour_failures.iter().map(|(r, _)| r);
        let regions = regions.chain(self.silent_days.iter().map(|(r, _)| r));
        if let Some(r) = regions.into_iter().find(|r| !region(r)) {
            return Err(ScenarioError::Unknown(r.clone()));
        }
        let ids = self
            .drop_cells
            .iter()
            .chain(&self.daily_outages)
            .map(|(id, _)| id);
        let ids = ids.chain(self.sleeping_cells.iter().map(|(id, _, _)| id));
        if let Some(id) = ids.into_iter().find(|id| !cell(id)) {
            return Err(ScenarioError::Unknown(id.clone()));
        }
        Ok(())
    }

    pub(super) fn per_cell(&self, cells: &[Cell], start_ms: i64) -> Vec<CellFaults> {
        let ms = |h: f64| start_ms.saturating_add((h * 3_600_000.0) as i64);
        cells
            .iter()
            .map(|c| CellFaults {
                busy_hour_failure: self
                    .busy_hour_failures
                    .iter()
                    .filter(|(r, _)| *r == c.region)
                    .map(|(_, p)| *p)
                    .sum(),
                drop: self
                    .drop_cells
                    .iter()
                    .find(|(id, _)| *id == c.cell_id)
                    .map(|(_, p)| *p),
                daily_outage_ms: self
                    .daily_outages
                    .iter()
                    .find(|(id, _)| *id == c.cell_id)
                    .map(|(_, h)| (h * 3_600_000.0) as i64),
                silent_days: self
                    .silent_days
                    .iter()
                    .filter(|(r, _)| *r == c.region)
                    .map(|(_, d)| *d)
                    .collect(),
                asleep: self
                    .sleeping_cells
                    .iter()
                    .filter(|(id, _, _)| *id == c.cell_id)
                    .map(|(_, a, b)| (ms(*a), ms(*b)))
                    .collect(),
            })
            .collect()
    }
}
