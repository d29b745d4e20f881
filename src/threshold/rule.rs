//! A validated threshold rule (docs/thresholds.md).

use crate::kpi::Kpi;
use crate::model::level::{Dim, Level};
use std::fmt;

/// Direction of a threshold: alarm below (`<`) or above (`>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Below,
    Above,
}

impl Op {
    /// Parses `<` or `>`.
    pub fn parse(s: &str) -> Option<Op> {
        match s.trim() {
            "<" => Some(Op::Below),
            ">" => Some(Op::Above),
            _ => None,
        }
    }

    /// `value op threshold`, strictly.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Op::Below => value < threshold,
            Op::Above => value > threshold,
        }
    }

    /// The symbol.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Below => "<",
            Op::Above => ">",
        }
    }
}

/// ITU-T X.733 perceived severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Critical,
    Major,
    Minor,
    Warning,
}

impl Severity {
    /// Parses a severity name.
    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "critical" => Some(Severity::Critical),
            "major" => Some(Severity::Major),
            "minor" => Some(Severity::Minor),
            "warning" => Some(Severity::Warning),
            _ => None,
        }
    }

    /// The public name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Major => "major",
            Severity::Minor => "minor",
            Severity::Warning => "warning",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a rule watches: a KPI of the record, or a cell's traffic (call and session records in
/// the window, docs/sleeping-cells.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watched {
    Kpi(Kpi),
    Traffic,
}

impl Watched {
    /// The public name (`kpi` of a breach event).
    pub fn name(self) -> &'static str {
        match self {
            Watched::Kpi(k) => k.name(),
            Watched::Traffic => TRAFFIC_RECORDS,
        }
    }
}

/// The name of the traffic a sleeping-cell rule watches.
pub const TRAFFIC_RECORDS: &str = "traffic_records";

/// How a rule decides that a window breaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// `value op raise` with constant thresholds (docs/thresholds.md).
    Fixed,
    /// `raise` and `clear` are factors of the value's baseline for the window's hour (11.3).
    Baseline,
    /// A cell carries (almost) no traffic while its neighbours carry theirs (11.2).
    SleepingCell,
}

/// What a rule does while a cell of its group is in outage (docs/sleeping-cells.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuringOutage {
    /// Evaluate as usual; breach events carry the ids of the open outages.
    Annotate,
    /// Neither raise nor count towards `for_windows`.
    Suppress,
}

impl DuringOutage {
    /// Parses `annotate` or `suppress`.
    pub fn parse(s: &str) -> Option<DuringOutage> {
        match s {
            "annotate" => Some(DuringOutage::Annotate),
            "suppress" => Some(DuringOutage::Suppress),
            _ => None,
        }
    }
}

/// A rule, with its level and window resolved to the configured ones.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    pub watched: Watched,
    pub kind: RuleKind,
    pub level: Level,
    /// Index of `level` in the configured levels.
    pub level_index: usize,
    /// Required dimension values.
    pub matches: Vec<(Dim, String)>,
    pub op: Op,
    pub raise: f64,
    pub clear: f64,
    pub for_windows: u32,
    pub clear_windows: u32,
    pub min_samples: u64,
    pub severity: Severity,
    /// Index of the watched size in the configured window sizes.
    pub window_index: usize,
    pub during_outage: DuringOutage,
}
