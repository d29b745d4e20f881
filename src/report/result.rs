//! A compliance report as computed (docs/reports.md): the structure `report.json` is, and
//! that the CSV and HTML pages are drawn from.

use crate::model::level::Dim;
use serde::Serialize;
use serde::ser::SerializeMap;
use std::collections::BTreeMap;

/// A group's dimensions, written in canonical dimension order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GroupLabel(pub Vec<(Dim, String)>);

impl Serialize for GroupLabel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (d, v) in &self.0 {
            m.serialize_entry(d.as_str(), v)?;
        }
        m.end()
    }
}

impl GroupLabel {
    /// `North / NR`, or `Network`: the values, for tables.
    pub fn display(&self) -> String {
        if self.0.is_empty() {
            return "Network".to_string();
        }
        self.0
            .iter()
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
            .join(" / ")
    }

    /// `region=North, technology=NR`, or `network`.
    pub fn text(&self) -> String {
        if self.0.is_empty() {
            return "network".to_string();
        }
        self.0
            .iter()
            .map(|(d, v)| format!("{}={v}", d.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A number exactly as `report.json` writes it (shortest form that reads back the same).
pub fn json_number(x: f64) -> String {
    serde_json::to_string(&x).unwrap_or_else(|_| "null".into())
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub period: PeriodInfo,
    pub timezone: String,
    pub window: String,
    pub input: InputInfo,
    pub targets: Vec<TargetResult>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PeriodInfo {
    pub kind: &'static str,
    pub from: String,
    pub to: String,
    pub days: i64,
    /// Days with at least one record of the report's window size.
    pub days_with_data: u64,
}

/// What was read (records of other sizes, levels or days are ignored, repeats counted once).
#[derive(Debug, Clone, Serialize)]
pub struct InputInfo {
    #[serde(flatten)]
    pub read: super::collect::CollectStats,
    /// Cell records of cells not in the inventory (no `within` group: left out of shares).
    pub cells_outside_inventory: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetResult {
    pub name: String,
    pub kpi: &'static str,
    pub level: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub within: Option<String>,
    pub at: &'static str,
    pub op: &'static str,
    pub value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cells_share: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_share: Option<f64>,
    pub min_samples: u64,
    pub groups: Vec<GroupResult>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupResult {
    pub group: GroupLabel,
    pub periods: Vec<PeriodResult>,
    pub worst_cells: Vec<WorstCell>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PeriodResult {
    pub start: String,
    pub end: String,
    pub days: i64,
    pub days_with_data: u64,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// `None`: no data.
    pub complies: Option<bool>,
}

/// A group target's pooled value, or a cell-share target's shares.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Outcome {
    Value {
        value: Option<f64>,
        samples: u64,
        /// How far the value is on the good side of the target (negative: missed by).
        margin: Option<f64>,
        /// The day's value (busy hour or whole day), days with data only.
        value_by_day: BTreeMap<String, f64>,
    },
    Shares {
        /// Share of the group's cells with data that complied, days with data only.
        cells_share_by_day: BTreeMap<String, f64>,
        /// Cells with data (at or above `min_samples`) each day.
        cells_by_day: BTreeMap<String, u64>,
        days_complying: u64,
        days_share: Option<f64>,
        /// `days_share` − the required share.
        margin: Option<f64>,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct WorstCell {
    pub cell: String,
    pub value: f64,
    pub samples: u64,
    pub failures: Option<f64>,
    pub days_failed: u64,
}
