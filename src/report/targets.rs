//! What a compliance report is asked (`[report]`, `[[targets]]`): validated targets, their
//! comparison and when each is taken (busy hour or whole day).

use crate::kpi::Kpi;
use crate::model::level::Level;

/// Validated `[report]` with its targets.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportSettings {
    /// The window size whose KPI records are read (ms).
    pub window_ms: i64,
    /// IANA name of the zone the calendar is taken in.
    pub timezone: String,
    /// Worst cells listed per group.
    pub worst_cells: usize,
    pub targets: Vec<Target>,
}

/// When in a day a target's value is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// The group's (or the cell's) busy hour.
    BusyHour,
    /// Every window of the day.
    Day,
}

impl At {
    pub fn as_str(self) -> &'static str {
        match self {
            At::BusyHour => "busy_hour",
            At::Day => "day",
        }
    }
}

/// How a value is compared with a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetOp {
    AtLeast,
    AtMost,
}

impl TargetOp {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetOp::AtLeast => ">=",
            TargetOp::AtMost => "<=",
        }
    }

    /// Whether `value` meets `target`.
    pub fn holds(self, value: f64, target: f64) -> bool {
        match self {
            TargetOp::AtLeast => value >= target,
            TargetOp::AtMost => value <= target,
        }
    }

    /// How far `value` is on the good side of `target` (negative: missed by that much).
    pub fn margin(self, value: f64, target: f64) -> f64 {
        match self {
            TargetOp::AtLeast => value - target,
            TargetOp::AtMost => target - value,
        }
    }
}

/// A cell-share target's shares (docs/reports.md).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shares {
    /// The level whose groups the shares are taken in (has no cell dimension).
    pub within: Level,
    /// A day complies when at least this share of the group's cells with data comply.
    pub cells_share: f64,
    /// The period complies when at least this share of its days with data comply.
    pub days_share: f64,
}

/// One `[[targets]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub name: String,
    pub kpi: Kpi,
    pub level: Level,
    pub at: At,
    pub op: TargetOp,
    pub value: f64,
    /// `Some` for a cell-share target (level `cell`).
    pub shares: Option<Shares>,
    pub min_samples: u64,
}

impl Target {
    /// The level whose groups the report lists for this target: `within` for a cell-share
    /// target, else the target's own level.
    pub fn group_level(&self) -> Level {
        self.shares.map_or(self.level, |s| s.within)
    }
}
