//! What the engine is configured with — window sizes, lateness, time bounds, levels, KPI
//! parameters, rules, baselines — and nothing of Kafka, HTTP or files.

use crate::kpi::AggParams;
use crate::model::level::Level;
use crate::threshold::rule::Rule;

/// The engine's own settings (from [`crate::config::Settings::engine`]).
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Window sizes in configured order (rules watch the first unless they say otherwise).
    pub window_sizes_ms: Vec<i64>,
    /// The watermark's allowed delay.
    pub allowed_delay_ms: i64,
    /// Earliest plausible event time.
    pub not_before_ms: i64,
    /// How far ahead of the clock an event time may be.
    pub max_future_ms: i64,
    /// Longest record-less gap whose windows are emitted.
    pub max_gap_ms: i64,
    /// How long a silent cell outside the inventory is remembered.
    pub unknown_cell_ttl_ms: i64,
    /// How long a restored outage id is remembered.
    pub restored_outage_retention_ms: i64,
    /// Aggregation levels in configured order.
    pub levels: Vec<Level>,
    /// KPI parameters (plans, coverage thresholds, minimum active time).
    pub agg: AggParams,
    /// Threshold, baseline and sleeping-cell rules.
    pub rules: Vec<Rule>,
    pub baseline: super::baseline::BaselineSettings,
    pub sleeping: super::sleeping::SleepingSettings,
    /// IANA time zone of the baselines' hours of the day (the report's time zone).
    pub timezone: String,
}
