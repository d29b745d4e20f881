//! Pooling KPI records over several windows (docs/reports.md): the sums a pooled value needs,
//! kept exactly (integers, and reals as fixed-point 128-bit integers) so that the same records
//! in any order give the same value to the last bit, and the value, samples and failures of a
//! KPI over the pooled windows.

use super::row::KpiRow;
use crate::kpi::Kpi;

/// A sum of reals that does not depend on the order of its terms: each term is rounded once to
/// a multiple of 2⁻⁴⁰ and the multiples are added as integers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExactSum(i128);

const SCALE: f64 = (1u64 << 40) as f64;

impl ExactSum {
    pub fn add(&mut self, x: f64) {
        if x.is_finite() {
            self.0 = self.0.saturating_add((x * SCALE).round() as i128);
        }
    }
    pub fn merge(&mut self, o: ExactSum) {
        self.0 = self.0.saturating_add(o.0);
    }
    pub fn get(self) -> f64 {
        self.0 as f64 / SCALE
    }
}

/// What a set of windows of one group adds up to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sums {
    pub windows: u64,
    pub attempts: u64,
    pub network_failures: u64,
    pub answered: u64,
    pub drops: u64,
    pub mos: ExactSum,
    pub mos_samples: u64,
    pub poor_quality: u64,
    pub traffic: ExactSum,
    pub sessions: u64,
    pub dl_bytes: u64,
    pub ul_bytes: u64,
    pub dl_throughput: ExactSum,
    pub ul_throughput: ExactSum,
    pub throughput_samples: u64,
    pub speed_ok: u64,
    pub speed_samples: u64,
    pub packets_lost: ExactSum,
    pub packets_sent: u64,
    pub coverage_covered: u64,
    pub coverage_samples: u64,
    pub outage_seconds: ExactSum,
    pub availability: ExactSum,
    pub availability_windows: u64,
    pub outages_started: u64,
    pub outages_restored: u64,
    pub repair_seconds: ExactSum,
}

/// Value · samples, rounded: the integer count behind a ratio of integers.
fn times(value: Option<f64>, samples: u64) -> u64 {
    value.map_or(0, |v| (v * samples as f64).round().max(0.0) as u64)
}

impl Sums {
    /// The sums of one record.
    pub fn of(r: &KpiRow) -> Sums {
        let n = |k: Kpi| r.get(k).map_or(0, |v| v as u64);
        let mut s = Sums {
            windows: 1,
            attempts: n(Kpi::CallAttempts),
            network_failures: n(Kpi::CallNetworkFailures),
            answered: n(Kpi::CallAnswered),
            drops: n(Kpi::CallDrops),
            mos_samples: r.pooling(Kpi::MosMean),
            throughput_samples: r.pooling(Kpi::DlThroughputBps),
            speed_samples: r.pooling(Kpi::SpeedComplianceRatio),
            packets_sent: r.pooling(Kpi::PacketLossRatio),
            sessions: n(Kpi::Sessions),
            dl_bytes: n(Kpi::DlBytes),
            ul_bytes: n(Kpi::UlBytes),
            coverage_samples: n(Kpi::CoverageSamples),
            outages_started: n(Kpi::OutagesStarted),
            outages_restored: n(Kpi::OutagesRestored),
            ..Sums::default()
        };
        let real = |k: Kpi| r.get(k);
        s.mos
            .add(real(Kpi::MosMean).unwrap_or(0.0) * s.mos_samples as f64);
        s.poor_quality = times(real(Kpi::PoorQualityCallRatio), s.mos_samples);
        s.traffic.add(real(Kpi::TrafficErlangs).unwrap_or(0.0));
        let tp = s.throughput_samples as f64;
        s.dl_throughput
            .add(real(Kpi::DlThroughputBps).unwrap_or(0.0) * tp);
        s.ul_throughput
            .add(real(Kpi::UlThroughputBps).unwrap_or(0.0) * tp);
        s.speed_ok = times(real(Kpi::SpeedComplianceRatio), s.speed_samples);
        s.packets_lost
            .add(real(Kpi::PacketLossRatio).unwrap_or(0.0) * s.packets_sent as f64);
        s.coverage_covered = times(real(Kpi::CoverageRatio), s.coverage_samples);
        s.outage_seconds
            .add(real(Kpi::OutageSeconds).unwrap_or(0.0));
        if let Some(a) = real(Kpi::AvailabilityRatio) {
            s.availability.add(a);
            s.availability_windows = 1;
        }
        s.repair_seconds
            .add(real(Kpi::MttrSeconds).unwrap_or(0.0) * s.outages_restored as f64);
        s
    }

    /// Adds another set of windows.
    pub fn merge(&mut self, o: &Sums) {
        macro_rules! add {
            ($($f:ident),*) => { $( self.$f = self.$f.saturating_add(o.$f); )* };
        }
        macro_rules! exact {
            ($($f:ident),*) => { $( self.$f.merge(o.$f); )* };
        }
        add!(
            windows,
            attempts,
            network_failures,
            answered,
            drops,
            mos_samples,
            poor_quality,
            sessions,
            dl_bytes,
            ul_bytes,
            throughput_samples,
            speed_ok,
            speed_samples,
            packets_sent,
            coverage_covered,
            coverage_samples,
            availability_windows,
            outages_started,
            outages_restored
        );
        exact!(
            mos,
            traffic,
            dl_throughput,
            ul_throughput,
            packets_lost,
            outage_seconds,
            availability,
            repair_seconds
        );
    }

    /// Traffic in erlang-windows as an exact integer-comparable quantity (the busy-hour order).
    pub fn traffic_key(&self) -> i128 {
        self.traffic.0
    }
}

/// A KPI over pooled windows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pooled {
    /// `None`: no data.
    pub value: Option<f64>,
    /// The KPI's samples (docs/kpis.md) over the windows.
    pub samples: u64,
    /// The failures behind the KPI (drops, network failures, outage seconds, …), when it has any.
    pub failures: Option<f64>,
}

fn ratio(num: f64, den: u64) -> Option<f64> {
    (den > 0).then(|| num / den as f64)
}

/// The pooled value of `kpi` over `s`; `inventory_cells` is the group's (availability samples).
pub fn pooled(kpi: Kpi, s: &Sums, inventory_cells: u64) -> Pooled {
    let f = |x: u64| x as f64;
    let (value, samples, failures) = match kpi {
        Kpi::CallAttempts => (Some(f(s.attempts)), s.attempts, None),
        Kpi::CallNetworkFailures => (Some(f(s.network_failures)), s.attempts, None),
        Kpi::CallAnswered => (Some(f(s.answered)), s.attempts, None),
        Kpi::CallDrops => (Some(f(s.drops)), s.attempts, None),
        Kpi::NetworkConnectionRatio => (
            ratio(f(s.attempts.saturating_sub(s.network_failures)), s.attempts),
            s.attempts,
            Some(f(s.network_failures)),
        ),
        Kpi::CallAnswerRatio => (
            ratio(f(s.answered), s.attempts),
            s.attempts,
            Some(f(s.attempts.saturating_sub(s.answered))),
        ),
        Kpi::DroppedCallRatio => (ratio(f(s.drops), s.answered), s.answered, Some(f(s.drops))),
        Kpi::MosMean => (ratio(s.mos.get(), s.mos_samples), s.mos_samples, None),
        Kpi::PoorQualityCallRatio => (
            ratio(f(s.poor_quality), s.mos_samples),
            s.mos_samples,
            Some(f(s.poor_quality)),
        ),
        // Erlangs are a mean traffic intensity: over equal windows, the mean of the windows.
        Kpi::TrafficErlangs => (ratio(s.traffic.get(), s.windows), s.answered, None),
        Kpi::Sessions => (Some(f(s.sessions)), s.sessions, None),
        Kpi::DlBytes => (Some(f(s.dl_bytes)), s.sessions, None),
        Kpi::UlBytes => (Some(f(s.ul_bytes)), s.sessions, None),
        Kpi::DlThroughputBps => (
            ratio(s.dl_throughput.get(), s.throughput_samples),
            s.throughput_samples,
            None,
        ),
        Kpi::UlThroughputBps => (
            ratio(s.ul_throughput.get(), s.throughput_samples),
            s.throughput_samples,
            None,
        ),
        Kpi::SpeedComplianceRatio => (
            ratio(f(s.speed_ok), s.speed_samples),
            s.speed_samples,
            Some(f(s.speed_samples.saturating_sub(s.speed_ok))),
        ),
        Kpi::PacketLossRatio => (
            ratio(s.packets_lost.get(), s.packets_sent),
            s.packets_sent,
            Some(s.packets_lost.get()),
        ),
        Kpi::CoverageSamples => (Some(f(s.coverage_samples)), s.coverage_samples, None),
        Kpi::CoverageRatio => (
            ratio(f(s.coverage_covered), s.coverage_samples),
            s.coverage_samples,
            Some(f(s.coverage_samples.saturating_sub(s.coverage_covered))),
        ),
        Kpi::OutageSeconds => (Some(s.outage_seconds.get()), s.windows, None),
        Kpi::AvailabilityRatio => (
            ratio(s.availability.get(), s.availability_windows),
            inventory_cells,
            Some(s.outage_seconds.get()),
        ),
        Kpi::OutagesStarted => (Some(f(s.outages_started)), s.windows, None),
        Kpi::OutagesRestored => (Some(f(s.outages_restored)), s.windows, None),
        Kpi::MttrSeconds => (
            ratio(s.repair_seconds.get(), s.outages_restored),
            s.outages_restored,
            Some(s.repair_seconds.get()),
        ),
        // Percentiles cannot be pooled; configuration refuses targets on them.
        _ => (None, 0, None),
    };
    Pooled {
        value: value.filter(|v| v.is_finite()),
        samples,
        failures,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kpi::KpiValue;

    fn row(
        attempts: u64,
        failures: u64,
        answered: u64,
        drops: u64,
        mos: Option<f64>,
        mos_n: u64,
    ) -> KpiRow {
        let mut values = Kpi::ALL.map(|_| KpiValue::Real(None));
        values[Kpi::CallAttempts as usize] = KpiValue::Count(attempts);
        values[Kpi::CallNetworkFailures as usize] = KpiValue::Count(failures);
        values[Kpi::CallAnswered as usize] = KpiValue::Count(answered);
        values[Kpi::CallDrops as usize] = KpiValue::Count(drops);
        values[Kpi::MosMean as usize] = KpiValue::Real(mos);
        KpiRow {
            window_start: 0,
            window_end: 3_600_000,
            level: "cell".into(),
            group: vec![],
            values,
            pooling_samples: [mos_n, 0, 0, 0],
        }
    }

    #[test]
    fn ratios_pool_their_counts_and_means_their_samples_never_the_ratios() {
        let mut s = Sums::of(&row(100, 10, 80, 8, Some(4.0), 50));
        s.merge(&Sums::of(&row(10, 5, 4, 0, Some(2.0), 10)));
        let ncr = pooled(Kpi::NetworkConnectionRatio, &s, 1);
        assert_eq!(ncr.value, Some(95.0 / 110.0));
        assert_eq!((ncr.samples, ncr.failures), (110, Some(15.0)));
        // An average of the two ratios would be 0.05; pooled it is 8/84.
        assert_eq!(pooled(Kpi::DroppedCallRatio, &s, 1).value, Some(8.0 / 84.0));
        assert_eq!(pooled(Kpi::MosMean, &s, 1).value, Some(220.0 / 60.0));
        assert_eq!(pooled(Kpi::MttrSeconds, &s, 1).value, None);
        assert_eq!(pooled(Kpi::RttMsP50, &s, 1).value, None);
    }

    #[test]
    fn exact_sums_do_not_depend_on_order() {
        let xs = [0.1, 1e9 * 3.7, 0.2, 1e-3, 12345.678, 0.3];
        let mut a = ExactSum::default();
        let mut b = ExactSum::default();
        xs.iter().for_each(|x| a.add(*x));
        xs.iter().rev().for_each(|x| b.add(*x));
        assert_eq!(a, b);
        assert!((a.get() - xs.iter().sum::<f64>()).abs() < 1e-6);
    }
}
