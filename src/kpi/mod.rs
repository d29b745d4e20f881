//! KPIs of docs/kpis.md: their names, the accumulator that feeds them, the quantile sketch and
//! the sort of its exact values, and the pure formulas that turn a closed window's accumulator
//! into KPI values and samples.

pub mod acc;
pub mod sketch;
pub mod value_sort;

pub use acc::{Acc, AggParams, CoverageThreshold};

/// Every KPI of docs/kpis.md, in the order of its table (and of every output).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kpi {
    CallAttempts,
    CallNetworkFailures,
    CallAnswered,
    CallDrops,
    NetworkConnectionRatio,
    CallAnswerRatio,
    DroppedCallRatio,
    CallSetupMsP50,
    CallSetupMsP95,
    CallSetupMsP99,
    MosMean,
    PoorQualityCallRatio,
    TrafficErlangs,
    Sessions,
    DlBytes,
    UlBytes,
    DlThroughputBps,
    UlThroughputBps,
    SessionDlThroughputBpsP05,
    SessionDlThroughputBpsP50,
    SessionDlThroughputBpsP95,
    SpeedComplianceRatio,
    RttMsP50,
    RttMsP95,
    RttMsP99,
    PacketLossRatio,
    CoverageSamples,
    CoverageRatio,
    OutageSeconds,
    AvailabilityRatio,
    OutagesStarted,
    OutagesRestored,
    MttrSeconds,
}

/// Number of KPIs.
pub const KPI_COUNT: usize = 33;

/// Samples counts a KPI record carries beside its KPIs (fields of `kpis` after the KPIs), so that
/// a report can pool a mean or ratio whose denominator is not itself a KPI: each name with the
/// KPI whose samples (docs/kpis.md) it is.
pub const POOLING_SAMPLES: [(&str, Kpi); POOLING_COUNT] = [
    ("mos_samples", Kpi::MosMean),
    ("throughput_samples", Kpi::DlThroughputBps),
    ("speed_samples", Kpi::SpeedComplianceRatio),
    ("packets_sent", Kpi::PacketLossRatio),
];

/// Number of pooling samples counts in a KPI record.
pub const POOLING_COUNT: usize = 4;

/// A KPI's value in a record: an exact count, or a real that may be undefined (`null`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KpiValue {
    Count(u64),
    Real(Option<f64>),
}

impl KpiValue {
    /// The value as a rule compares it (counts widened to f64).
    pub fn as_f64(self) -> Option<f64> {
        match self {
            KpiValue::Count(c) => Some(c as f64),
            KpiValue::Real(r) => r,
        }
    }
}

/// What a closed window's group knows besides its accumulator.
#[derive(Debug, Clone, Copy)]
pub struct GroupContext {
    /// Window size in milliseconds.
    pub window_ms: i64,
    /// Inventory cells in the group.
    pub inventory_cells: u64,
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

impl Kpi {
    /// Every KPI, in output order.
    pub const ALL: [Kpi; KPI_COUNT] = [
        Kpi::CallAttempts,
        Kpi::CallNetworkFailures,
        Kpi::CallAnswered,
        Kpi::CallDrops,
        Kpi::NetworkConnectionRatio,
        Kpi::CallAnswerRatio,
        Kpi::DroppedCallRatio,
        Kpi::CallSetupMsP50,
        Kpi::CallSetupMsP95,
        Kpi::CallSetupMsP99,
        Kpi::MosMean,
        Kpi::PoorQualityCallRatio,
        Kpi::TrafficErlangs,
        Kpi::Sessions,
        Kpi::DlBytes,
        Kpi::UlBytes,
        Kpi::DlThroughputBps,
        Kpi::UlThroughputBps,
        Kpi::SessionDlThroughputBpsP05,
        Kpi::SessionDlThroughputBpsP50,
        Kpi::SessionDlThroughputBpsP95,
        Kpi::SpeedComplianceRatio,
        Kpi::RttMsP50,
        Kpi::RttMsP95,
        Kpi::RttMsP99,
        Kpi::PacketLossRatio,
        Kpi::CoverageSamples,
        Kpi::CoverageRatio,
        Kpi::OutageSeconds,
        Kpi::AvailabilityRatio,
        Kpi::OutagesStarted,
        Kpi::OutagesRestored,
        Kpi::MttrSeconds,
    ];

    /// The public name (docs/kpis.md).
    pub fn name(self) -> &'static str {
        match self {
            Kpi::CallAttempts => "call_attempts",
            Kpi::CallNetworkFailures => "call_network_failures",
            Kpi::CallAnswered => "call_answered",
            Kpi::CallDrops => "call_drops",
            Kpi::NetworkConnectionRatio => "network_connection_ratio",
            Kpi::CallAnswerRatio => "call_answer_ratio",
            Kpi::DroppedCallRatio => "dropped_call_ratio",
            Kpi::CallSetupMsP50 => "call_setup_ms_p50",
            Kpi::CallSetupMsP95 => "call_setup_ms_p95",
            Kpi::CallSetupMsP99 => "call_setup_ms_p99",
            Kpi::MosMean => "mos_mean",
            Kpi::PoorQualityCallRatio => "poor_quality_call_ratio",
            Kpi::TrafficErlangs => "traffic_erlangs",
            Kpi::Sessions => "sessions",
            Kpi::DlBytes => "dl_bytes",
            Kpi::UlBytes => "ul_bytes",
            Kpi::DlThroughputBps => "dl_throughput_bps",
            Kpi::UlThroughputBps => "ul_throughput_bps",
            Kpi::SessionDlThroughputBpsP05 => "session_dl_throughput_bps_p05",
            Kpi::SessionDlThroughputBpsP50 => "session_dl_throughput_bps_p50",
            Kpi::SessionDlThroughputBpsP95 => "session_dl_throughput_bps_p95",
            Kpi::SpeedComplianceRatio => "speed_compliance_ratio",
            Kpi::RttMsP50 => "rtt_ms_p50",
            Kpi::RttMsP95 => "rtt_ms_p95",
            Kpi::RttMsP99 => "rtt_ms_p99",
            Kpi::PacketLossRatio => "packet_loss_ratio",
            Kpi::CoverageSamples => "coverage_samples",
            Kpi::CoverageRatio => "coverage_ratio",
            Kpi::OutageSeconds => "outage_seconds",
            Kpi::AvailabilityRatio => "availability_ratio",
            Kpi::OutagesStarted => "outages_started",
            Kpi::OutagesRestored => "outages_restored",
            Kpi::MttrSeconds => "mttr_seconds",
        }
    }

    /// Looks a KPI up by its public name.
    pub fn from_name(name: &str) -> Option<Kpi> {
        Kpi::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether the KPI is a percentile of its window's values (it cannot be pooled over windows).
    pub fn is_percentile(self) -> bool {
        matches!(
            self,
            Kpi::CallSetupMsP50
                | Kpi::CallSetupMsP95
                | Kpi::CallSetupMsP99
                | Kpi::SessionDlThroughputBpsP05
                | Kpi::SessionDlThroughputBpsP50
                | Kpi::SessionDlThroughputBpsP95
                | Kpi::RttMsP50
                | Kpi::RttMsP95
                | Kpi::RttMsP99
        )
    }

    /// Whether the KPI is an exact count (a `long` in Avro, an integer in JSON).
    pub fn is_count(self) -> bool {
        let ctx = GroupContext {
            window_ms: 1,
            inventory_cells: 0,
        };
        matches!(self.value(&Acc::default(), ctx), KpiValue::Count(_))
    }

    /// The KPI's value for one group's closed window.
    pub fn value(self, a: &Acc, ctx: GroupContext) -> KpiValue {
        use KpiValue::{Count, Real};
        let window_s = ctx.window_ms as f64 / 1000.0;
        match self {
            Kpi::CallAttempts => Count(a.call_attempts),
            Kpi::CallNetworkFailures => Count(a.call_network_failures),
            Kpi::CallAnswered => Count(a.call_answered),
            Kpi::CallDrops => Count(a.call_drops),
            Kpi::NetworkConnectionRatio => Real(ratio(
                a.call_attempts.saturating_sub(a.call_network_failures),
                a.call_attempts,
            )),
            Kpi::CallAnswerRatio => Real(ratio(a.call_answered, a.call_attempts)),
            Kpi::DroppedCallRatio => Real(ratio(a.call_drops, a.call_answered)),
            Kpi::CallSetupMsP50 => Real(a.setup_ms.quantile(500)),
            Kpi::CallSetupMsP95 => Real(a.setup_ms.quantile(950)),
            Kpi::CallSetupMsP99 => Real(a.setup_ms.quantile(990)),
            Kpi::MosMean => Real((a.mos_count > 0).then(|| a.mos_total() / a.mos_count as f64)),
            Kpi::PoorQualityCallRatio => Real(ratio(a.mos_poor, a.mos_count)),
            Kpi::TrafficErlangs => Real(Some(a.answered_duration_ms as f64 / ctx.window_ms as f64)),
            Kpi::Sessions => Count(a.sessions),
            Kpi::DlBytes => Count(a.dl_bytes),
            Kpi::UlBytes => Count(a.ul_bytes),
            Kpi::DlThroughputBps => Real(
                (a.active_sessions > 0 && a.active_ms > 0)
                    .then(|| 8.0 * a.active_dl_bytes as f64 / (a.active_ms as f64 / 1000.0)),
            ),
            Kpi::UlThroughputBps => Real(
                (a.active_sessions > 0 && a.active_ms > 0)
                    .then(|| 8.0 * a.active_ul_bytes as f64 / (a.active_ms as f64 / 1000.0)),
            ),
            Kpi::SessionDlThroughputBpsP05 => Real(a.session_dl_bps.quantile(50)),
            Kpi::SessionDlThroughputBpsP50 => Real(a.session_dl_bps.quantile(500)),
            Kpi::SessionDlThroughputBpsP95 => Real(a.session_dl_bps.quantile(950)),
            Kpi::SpeedComplianceRatio => Real(ratio(a.speed_ok, a.speed_eligible)),
            Kpi::RttMsP50 => Real(a.rtt_ms.quantile(500)),
            Kpi::RttMsP95 => Real(a.rtt_ms.quantile(950)),
            Kpi::RttMsP99 => Real(a.rtt_ms.quantile(990)),
            Kpi::PacketLossRatio => Real(ratio(a.packets_lost, a.packets_sent)),
            Kpi::CoverageSamples => Count(a.coverage_samples),
            Kpi::CoverageRatio => Real(ratio(a.coverage_covered, a.coverage_samples)),
            Kpi::OutageSeconds => Real(Some(a.outage_ms as f64 / 1000.0)),
            Kpi::AvailabilityRatio => Real((ctx.inventory_cells > 0).then(|| {
                1.0 - (a.outage_ms as f64 / 1000.0) / (ctx.inventory_cells as f64 * window_s)
            })),
            Kpi::OutagesStarted => Count(a.outages_started),
            Kpi::OutagesRestored => Count(a.outages_restored),
            Kpi::MttrSeconds => Real(
                (a.outages_restored > 0)
                    .then(|| a.restore_ms_sum as f64 / 1000.0 / a.outages_restored as f64),
            ),
        }
    }

    /// The KPI's samples (what a rule's `min_samples` is compared with; docs/kpis.md and docs/semantics.md).
    pub fn samples(self, a: &Acc, ctx: GroupContext) -> u64 {
        match self {
            Kpi::CallAttempts
            | Kpi::CallNetworkFailures
            | Kpi::CallAnswered
            | Kpi::CallDrops
            | Kpi::NetworkConnectionRatio
            | Kpi::CallAnswerRatio => a.call_attempts,
            Kpi::DroppedCallRatio | Kpi::TrafficErlangs => a.call_answered,
            Kpi::CallSetupMsP50 | Kpi::CallSetupMsP95 | Kpi::CallSetupMsP99 => a.setup_ms.count(),
            Kpi::MosMean | Kpi::PoorQualityCallRatio => a.mos_count,
            Kpi::Sessions | Kpi::DlBytes | Kpi::UlBytes => a.sessions,
            Kpi::DlThroughputBps | Kpi::UlThroughputBps => a.active_sessions,
            Kpi::SessionDlThroughputBpsP05
            | Kpi::SessionDlThroughputBpsP50
            | Kpi::SessionDlThroughputBpsP95 => a.session_dl_bps.count(),
            Kpi::SpeedComplianceRatio => a.speed_eligible,
            Kpi::RttMsP50 | Kpi::RttMsP95 | Kpi::RttMsP99 => a.rtt_ms.count(),
            Kpi::PacketLossRatio => a.packets_sent,
            Kpi::CoverageSamples | Kpi::CoverageRatio => a.coverage_samples,
            Kpi::AvailabilityRatio => ctx.inventory_cells,
            Kpi::OutageSeconds | Kpi::OutagesStarted | Kpi::OutagesRestored => a.outage_records,
            Kpi::MttrSeconds => a.outages_restored,
        }
    }
}

/// The pooling samples counts of a closed window's group, in [`POOLING_SAMPLES`] order.
pub fn pooling_samples(a: &Acc, ctx: GroupContext) -> [u64; POOLING_COUNT] {
    POOLING_SAMPLES.map(|(_, k)| k.samples(a, ctx))
}

#[cfg(test)]
mod tests;
