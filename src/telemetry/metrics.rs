//! Prometheus metrics: every KPI of the latest closed window of each group of the exported levels,
//! and netkpi's own health. Names follow Prometheus conventions: base units (seconds, bytes;
//! throughputs in bytes per second, ×8 for the spec's bit/s), ratios 0–1 ending in `_ratio`, per-window counts as gauges (not `_total`
//! counters, which only ever grow), percentiles as one gauge with a `percentile` label (`50`, `95`,
//! …; `quantile` is reserved for summaries).
//!
//! KPI series carry `level`, `window` and the group's dimensions (`cell`, `site`, `region`,
//! `area`, `technology`; absent dimensions are empty, which Prometheus treats as no label). A
//! group's series are replaced when its next window closes. When a window closes, the series of
//! a group that was not emitted in it (a cell outside the inventory that sent nothing) and of a
//! KPI that is null in it disappear; the others hold the latest closed window's values.

use crate::engine::KpiRecord;
use crate::kpi::{Kpi, KpiValue};
use crate::model::level::Dim;
use crate::model::validate::Reason;
use crate::threshold::BreachEvent;
use prometheus::{
    Encoder, GaugeVec, Histogram, HistogramOpts, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

const GROUP_LABELS: [&str; 7] = [
    "level",
    "window",
    "cell",
    "site",
    "region",
    "area",
    "technology",
];
/// Percentile families add `percentile` (`quantile` is reserved for summaries).
const PERCENTILE_LABELS: [&str; 8] = [
    "level",
    "window",
    "cell",
    "site",
    "region",
    "area",
    "technology",
    "percentile",
];

/// The Prometheus name, percentile label (empty for other KPIs) and scale of a KPI.
pub fn prometheus_name(k: Kpi) -> (&'static str, &'static str, f64) {
    match k {
        Kpi::CallSetupMsP50 => ("netkpi_call_setup_seconds", "50", 0.001),
        Kpi::CallSetupMsP95 => ("netkpi_call_setup_seconds", "95", 0.001),
        Kpi::CallSetupMsP99 => ("netkpi_call_setup_seconds", "99", 0.001),
        Kpi::RttMsP50 => ("netkpi_rtt_seconds", "50", 0.001),
        Kpi::RttMsP95 => ("netkpi_rtt_seconds", "95", 0.001),
        Kpi::RttMsP99 => ("netkpi_rtt_seconds", "99", 0.001),
        Kpi::SessionDlThroughputBpsP05 => {
            ("netkpi_session_dl_throughput_bytes_per_second", "5", 0.125)
        }
        Kpi::SessionDlThroughputBpsP50 => {
            ("netkpi_session_dl_throughput_bytes_per_second", "50", 0.125)
        }
        Kpi::SessionDlThroughputBpsP95 => {
            ("netkpi_session_dl_throughput_bytes_per_second", "95", 0.125)
        }
        Kpi::DlThroughputBps => ("netkpi_dl_throughput_bytes_per_second", "", 0.125),
        Kpi::UlThroughputBps => ("netkpi_ul_throughput_bytes_per_second", "", 0.125),
        Kpi::CallAttempts => ("netkpi_call_attempts", "", 1.0),
        Kpi::CallNetworkFailures => ("netkpi_call_network_failures", "", 1.0),
        Kpi::CallAnswered => ("netkpi_call_answered", "", 1.0),
        Kpi::CallDrops => ("netkpi_call_drops", "", 1.0),
        Kpi::NetworkConnectionRatio => ("netkpi_network_connection_ratio", "", 1.0),
        Kpi::CallAnswerRatio => ("netkpi_call_answer_ratio", "", 1.0),
        Kpi::DroppedCallRatio => ("netkpi_dropped_call_ratio", "", 1.0),
        Kpi::MosMean => ("netkpi_mos_mean", "", 1.0),
        Kpi::PoorQualityCallRatio => ("netkpi_poor_quality_call_ratio", "", 1.0),
        Kpi::TrafficErlangs => ("netkpi_traffic_erlangs", "", 1.0),
        Kpi::Sessions => ("netkpi_sessions", "", 1.0),
        Kpi::DlBytes => ("netkpi_dl_bytes", "", 1.0),
        Kpi::UlBytes => ("netkpi_ul_bytes", "", 1.0),
        Kpi::SpeedComplianceRatio => ("netkpi_speed_compliance_ratio", "", 1.0),
        Kpi::PacketLossRatio => ("netkpi_packet_loss_ratio", "", 1.0),
        Kpi::CoverageSamples => ("netkpi_coverage_samples", "", 1.0),
        Kpi::CoverageRatio => ("netkpi_coverage_ratio", "", 1.0),
        Kpi::OutageSeconds => ("netkpi_outage_seconds", "", 1.0),
        Kpi::AvailabilityRatio => ("netkpi_availability_ratio", "", 1.0),
        Kpi::OutagesStarted => ("netkpi_outages_started", "", 1.0),
        Kpi::OutagesRestored => ("netkpi_outages_restored", "", 1.0),
        Kpi::MttrSeconds => ("netkpi_mttr_seconds", "", 1.0),
    }
}

/// A window size as a label: `5m`, `1h`, `90s`.
pub fn window_label(ms: i64) -> String {
    match ms {
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms if ms % 1000 == 0 => format!("{}s", ms / 1000),
        ms => format!("{ms}ms"),
    }
}

type SeriesKey = Vec<String>;
/// KPI series (metric name, label values) set for one window.
type SeriesSet = HashSet<(&'static str, SeriesKey)>;

/// Why a metric could not be registered (a defect: names are fixed).
#[derive(Debug, thiserror::Error)]
#[error("cannot register metrics: {0}")]
pub struct MetricsError(#[from] prometheus::Error);

/// All metrics of one process.
pub struct Metrics {
    registry: Registry,
    kpis: HashMap<&'static str, GaugeVec>,
    exported_levels: Vec<String>,
    /// Window label → (series set while the current window closes, series of the previous one).
    series: Mutex<HashMap<String, (SeriesSet, SeriesSet)>>,
    pub records: IntCounterVec,
    pub dead_letters: IntCounterVec,
    pub late_outage_records: IntCounterVec,
    pub windows_emitted: IntCounterVec,
    pub breach_events: IntCounterVec,
    pub transactions: IntCounterVec,
    pub consumer_lag: IntGaugeVec,
    pub watermark_delay_seconds: prometheus::Gauge,
    pub open_windows: IntGauge,
    pub commit_seconds: Histogram,
}

impl Metrics {
    /// Metrics exporting KPIs of `exported_levels` (canonical level names).
    pub fn new(exported_levels: Vec<String>) -> Result<Self, MetricsError> {
        let registry = Registry::new();
        let mut kpis = HashMap::new();
        for k in Kpi::ALL {
            let (name, percentile, _) = prometheus_name(k);
            if kpis.contains_key(name) {
                continue;
            }
            let help = format!(
                "KPI of the latest closed window of each group (spec KPI {}).",
                k.name()
            );
            let labels: &[&str] = if percentile.is_empty() {
                &GROUP_LABELS
            } else {
                &PERCENTILE_LABELS
            };
            let g = GaugeVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(g.clone()))?;
            kpis.insert(name, g);
        }
        let counter =
            |name: &str, help: &str, labels: &[&str]| -> Result<IntCounterVec, MetricsError> {
                let c = IntCounterVec::new(Opts::new(name, help), labels)?;
                registry.register(Box::new(c.clone()))?;
                Ok(c)
            };
        let records = counter(
            "netkpi_records_consumed_total",
            "Input records read, by topic (or file).",
            &["topic"],
        )?;
        let dead_letters = counter(
            "netkpi_dead_letters_total",
            "Records not aggregated, by reason (late records included).",
            &["reason"],
        )?;
        for r in Reason::ALL {
            dead_letters.with_label_values(&[r.as_str()]);
        }
        let late_outage_records = counter(
            "netkpi_late_outage_records_total",
            "Outage records late for some window size (counted, not dead letters).",
            &["window"],
        )?;
        let windows_emitted = counter(
            "netkpi_windows_emitted_total",
            "Windows closed and emitted, by size.",
            &["window"],
        )?;
        let breach_events = counter(
            "netkpi_breach_events_total",
            "Breach events emitted, by rule and state.",
            &["rule", "state"],
        )?;
        let transactions = counter(
            "netkpi_transactions_total",
            "Output transactions, by outcome.",
            &["outcome"],
        )?;
        let consumer_lag = IntGaugeVec::new(
            Opts::new(
                "netkpi_consumer_lag_records",
                "High watermark minus the next offset to read, per input partition.",
            ),
            &["topic", "partition"],
        )?;
        registry.register(Box::new(consumer_lag.clone()))?;
        let watermark_delay_seconds = prometheus::Gauge::new(
            "netkpi_watermark_delay_seconds",
            "Wall clock minus the pipeline's watermark.",
        )?;
        registry.register(Box::new(watermark_delay_seconds.clone()))?;
        let open_windows =
            IntGauge::new("netkpi_open_windows", "Windows currently open (all sizes).")?;
        registry.register(Box::new(open_windows.clone()))?;
        let commit_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "netkpi_window_commit_seconds",
                "From the watermark passing a window's end to the commit of its outputs.",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
        )?;
        registry.register(Box::new(commit_seconds.clone()))?;
        Ok(Metrics {
            registry,
            kpis,
            exported_levels,
            series: Mutex::new(HashMap::new()),
            records,
            dead_letters,
            late_outage_records,
            windows_emitted,
            breach_events,
            transactions,
            consumer_lag,
            watermark_delay_seconds,
            open_windows,
            commit_seconds,
        })
    }

    /// Sets the KPI series of one closed window's group (if its level is exported).
    pub fn kpi_record(&self, r: &KpiRecord<'_>) {
        if !self.exported_levels.iter().any(|l| l == r.level) {
            return;
        }
        let window = window_label(r.window_end - r.window_start);
        let mut dims: [String; 5] = Default::default();
        for (d, v) in r.group {
            let i = match d {
                Dim::Cell => 0,
                Dim::Site => 1,
                Dim::Region => 2,
                Dim::Area => 3,
                Dim::Technology => 4,
            };
            dims[i] = v.to_string();
        }
        let Ok(mut series) = self.series.lock() else {
            return;
        };
        let entry = series.entry(window.clone()).or_default();
        for (k, v) in Kpi::ALL.iter().zip(r.values.iter()) {
            let (name, percentile, scale) = prometheus_name(*k);
            let Some(g) = self.kpis.get(name) else {
                continue;
            };
            let mut key: SeriesKey = Vec::with_capacity(8);
            key.push(r.level.to_string());
            key.push(window.clone());
            key.extend(dims.iter().cloned());
            if !percentile.is_empty() {
                key.push(percentile.to_string());
            }
            let labels: Vec<&str> = key.iter().map(String::as_str).collect();
            match v {
                KpiValue::Count(c) => g.with_label_values(&labels).set(*c as f64),
                KpiValue::Real(Some(x)) => g.with_label_values(&labels).set(x * scale),
                KpiValue::Real(None) => {
                    let _ = g.remove_label_values(&labels);
                    continue;
                }
            }
            entry.0.insert((name, key));
        }
    }

    /// A window of `window_ms` finished closing: series set for the previous window of that
    /// size and not set again now (groups not emitted, KPIs now null) go away.
    pub fn window_closed(&self, window_ms: i64) {
        self.windows_emitted
            .with_label_values(&[&window_label(window_ms)])
            .inc();
        let Ok(mut series) = self.series.lock() else {
            return;
        };
        let Some((current, previous)) = series.get_mut(&window_label(window_ms)) else {
            return;
        };
        for (name, key) in previous.difference(current) {
            if let Some(g) = self.kpis.get(name) {
                let labels: Vec<&str> = key.iter().map(String::as_str).collect();
                let _ = g.remove_label_values(&labels);
            }
        }
        *previous = std::mem::take(current);
    }

    /// Counts a breach event.
    pub fn breach(&self, e: &BreachEvent) {
        self.breach_events
            .with_label_values(&[e.rule.as_str(), e.state.as_str()])
            .inc();
    }

    /// The exposition in the Prometheus text format.
    pub fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        buf
    }
}
