//! Prometheus names and labels of netkpi's KPI series, shared by the scraped gauges and remote
//! write: the name, unit scale and percentile label of every KPI, the numerators and denominators
//! exported beside them, and the samples of one KPI record.

use crate::engine::KpiRecord;
use crate::kpi::{Kpi, KpiValue};
use crate::model::level::Dim;

pub const GROUP_LABELS: [&str; 7] = [
    "level",
    "window",
    "cell",
    "site",
    "region",
    "area",
    "technology",
];
/// Percentile families add `percentile` (`quantile` is reserved for summaries).
pub const PERCENTILE_LABELS: [&str; 8] = [
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

/// Numerators and denominators of the ratio and mean KPIs, exported beside them so that
/// Prometheus can roll groups up correctly: sum of numerators over sum of denominators, never an
/// average of ratios. (`call_attempts`, `call_answered`, `call_drops`, `coverage_samples`,
/// `outage_seconds`, `outages_restored` are KPIs already.)
pub const COMPONENTS: [(&str, &str); 14] = [
    (
        "netkpi_call_network_successes",
        "Call attempts not failed by the network (numerator of network_connection_ratio).",
    ),
    (
        "netkpi_mos_total_score",
        "Sum of the MOS of calls with a MOS (numerator of mos_mean).",
    ),
    (
        "netkpi_mos_samples",
        "Calls with a MOS (denominator of mos_mean and poor_quality_call_ratio).",
    ),
    ("netkpi_poor_quality_calls", "Calls with MOS below 3.0."),
    (
        "netkpi_active_dl_bytes",
        "DL bytes of sessions with active time (numerator of dl_throughput).",
    ),
    (
        "netkpi_active_ul_bytes",
        "UL bytes of sessions with active time (numerator of ul_throughput).",
    ),
    (
        "netkpi_active_seconds",
        "Active (transfer) time of sessions (denominator of the throughputs).",
    ),
    (
        "netkpi_speed_compliant_sessions",
        "Sessions at or above their plan's speed.",
    ),
    (
        "netkpi_speed_eligible_sessions",
        "Sessions with a known plan and enough active time.",
    ),
    (
        "netkpi_packets_sent",
        "Packets sent (denominator of packet_loss_ratio).",
    ),
    ("netkpi_packets_lost", "Packets lost."),
    (
        "netkpi_coverage_covered_samples",
        "Coverage samples above the technology's thresholds.",
    ),
    (
        "netkpi_cell_seconds",
        "Inventory cells times window length (denominator of 1 - availability).",
    ),
    (
        "netkpi_restore_seconds",
        "Total duration of the outages restored in the window (numerator of mttr_seconds).",
    ),
];

pub fn component_values(a: &crate::kpi::Acc, inventory_cells: u64, window_ms: i64) -> [f64; 14] {
    [
        a.call_attempts.saturating_sub(a.call_network_failures) as f64,
        a.mos_total(),
        a.mos_count as f64,
        a.mos_poor as f64,
        a.active_dl_bytes as f64,
        a.active_ul_bytes as f64,
        a.active_ms as f64 / 1000.0,
        a.speed_ok as f64,
        a.speed_eligible as f64,
        a.packets_sent as f64,
        a.packets_lost as f64,
        a.coverage_covered as f64,
        inventory_cells as f64 * window_ms as f64 / 1000.0,
        a.restore_ms_sum as f64 / 1000.0,
    ]
}

/// One sample of a KPI record as Prometheus sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: &'static str,
    /// Label names, parallel to `label_values`.
    pub label_names: &'static [&'static str],
    pub label_values: SeriesKey,
    /// `None` when the KPI is null.
    pub value: Option<f64>,
}

/// Every sample (KPIs, numerators and denominators) of a KPI record.
pub fn samples(r: &KpiRecord<'_>) -> Vec<Sample> {
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
    let base = || -> SeriesKey {
        [r.level.to_string(), window.clone()]
            .into_iter()
            .chain(dims.iter().cloned())
            .collect()
    };
    let mut out = Vec::with_capacity(48);
    for (k, v) in Kpi::ALL.iter().zip(r.values.iter()) {
        let (name, percentile, scale) = prometheus_name(*k);
        let mut label_values = base();
        let label_names: &'static [&'static str] = if percentile.is_empty() {
            &GROUP_LABELS
        } else {
            label_values.push(percentile.to_string());
            &PERCENTILE_LABELS
        };
        let value = match v {
            KpiValue::Count(c) => Some(*c as f64),
            KpiValue::Real(x) => x.map(|x| x * scale),
        };
        out.push(Sample {
            name,
            label_names,
            label_values,
            value,
        });
    }
    if let Some(acc) = r.acc {
        let values = component_values(acc, r.inventory_cells, r.window_end - r.window_start);
        for ((name, _), v) in COMPONENTS.iter().zip(values) {
            out.push(Sample {
                name,
                label_names: &GROUP_LABELS,
                label_values: base(),
                value: Some(v),
            });
        }
    }
    out
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

/// Label values of one series, in label-name order.
pub type SeriesKey = Vec<String>;
