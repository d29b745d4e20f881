//! The per-(window, group) accumulator: every numerator, denominator and sketch the KPIs of
//! docs/kpis.md need, and nothing else. Accumulators merge exactly (counts and sums add, sketches
//! merge bucket-wise), which is what lets the engine aggregate per cell and roll cells up into
//! regions, technologies and the network when a window closes, and what a two-phase (partial →
//! global) aggregation across instances relies on.
//!
//! Counts and byte sums saturate instead of overflowing: hostile input cannot panic the process.

use super::sketch::Sketch;
use crate::model::{CallOutcome, CallRecord, DataSession, Technology};
use compact_str::CompactString;
use rustc_hash::FxHashMap;

/// Coverage thresholds of one technology (docs/kpis.md, `coverage_ratio`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CoverageThreshold {
    /// A sample is covered when `signal_dbm` is at least this.
    pub signal_dbm: f64,
    /// … and, when set and the sample has a SINR, `sinr_db` is at least this.
    pub sinr_db: Option<f64>,
}

impl CoverageThreshold {
    /// The default coverage thresholds of a technology (docs/kpis.md).
    pub fn default_for(tech: Technology) -> Self {
        match tech {
            Technology::Gsm => CoverageThreshold {
                signal_dbm: -94.0,
                sinr_db: None,
            },
            Technology::Umts => CoverageThreshold {
                signal_dbm: -100.0,
                sinr_db: None,
            },
            Technology::Lte | Technology::Nr | Technology::Unknown => CoverageThreshold {
                signal_dbm: -110.0,
                sinr_db: Some(-3.0),
            },
        }
    }

    fn covered(&self, signal_dbm: i32, sinr_db: Option<f64>) -> bool {
        f64::from(signal_dbm) >= self.signal_dbm
            && match (self.sinr_db, sinr_db) {
                (Some(threshold), Some(sinr)) => sinr >= threshold,
                _ => true,
            }
    }
}

/// What aggregation needs from the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct AggParams {
    /// Sessions shorter than this are left out of per-session throughput KPIs.
    pub min_active_ms: i64,
    /// Coverage thresholds indexed by [`Technology::index`].
    pub coverage: [CoverageThreshold; 5],
    /// Plan catalog: plan id → minimum DL throughput in bit/s.
    pub plans: FxHashMap<CompactString, f64>,
}

impl Default for AggParams {
    fn default() -> Self {
        AggParams {
            min_active_ms: 1000,
            coverage: Technology::ALL.map(CoverageThreshold::default_for),
            plans: FxHashMap::default(),
        }
    }
}

/// Everything a window of one group has seen.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Acc {
    /// Records of any stream counted in this window (decides whether a group without
    /// inventory cells is emitted).
    pub records: u64,
    pub call_attempts: u64,
    pub call_network_failures: u64,
    pub call_answered: u64,
    pub call_drops: u64,
    pub answered_duration_ms: u64,
    /// Sum of MOS values in units of 2⁻⁵² ([`MOS_UNIT`]): every `f64` in [1, 5] is a whole
    /// number of them, so the sum is exact and a mean does not depend on the order in which
    /// values were added or accumulators merged (cells, shards, instances).
    pub mos_sum: u128,
    pub mos_count: u64,
    pub mos_poor: u64,
    pub setup_ms: Sketch,
    pub sessions: u64,
    pub dl_bytes: u64,
    pub ul_bytes: u64,
    /// Sessions with `active_ms > 0`, and their bytes and active time (3GPP IP throughput).
    pub active_sessions: u64,
    pub active_dl_bytes: u64,
    pub active_ul_bytes: u64,
    pub active_ms: u64,
    pub session_dl_bps: Sketch,
    pub speed_eligible: u64,
    pub speed_ok: u64,
    pub rtt_ms: Sketch,
    pub packets_sent: u64,
    pub packets_lost: u64,
    pub coverage_samples: u64,
    pub coverage_covered: u64,
    /// Outage time inside the window, filled when the window closes.
    pub outage_ms: u64,
    pub outages_started: u64,
    pub outages_restored: u64,
    pub restore_ms_sum: u64,
    /// Outage records counted in this window (samples of the outage count KPIs).
    pub outage_records: u64,
}

/// 2⁵²: the unit of [`Acc::mos_sum`].
pub const MOS_UNIT: f64 = 4_503_599_627_370_496.0;

/// Records a group must have counted in its window before its sketches are
/// [`Sketch::add_busy`].
const BUSY_RECORDS: u64 = 8;

fn add(a: &mut u64, b: u64) {
    *a = a.saturating_add(b);
}

fn as_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl Acc {
    fn coverage(
        &mut self,
        params: &AggParams,
        tech: Technology,
        signal: Option<i32>,
        sinr: Option<f64>,
    ) {
        if let Some(signal) = signal {
            self.coverage_samples += 1;
            if params.coverage[tech.index()].covered(signal, sinr) {
                self.coverage_covered += 1;
            }
        }
    }

    /// Counts one valid call record of a cell of technology `tech`.
    pub fn add_call(&mut self, c: &CallRecord, tech: Technology, params: &AggParams) {
        self.records += 1;
        self.call_attempts += 1;
        match c.outcome {
            CallOutcome::NetworkFailure => self.call_network_failures += 1,
            CallOutcome::Answered => {
                self.call_answered += 1;
                if c.dropped {
                    self.call_drops += 1;
                }
                if let Some(d) = c.duration_ms {
                    add(&mut self.answered_duration_ms, as_u64(d));
                }
            }
            _ => {}
        }
        if let Some(setup) = c.setup_ms {
            self.setup_ms.add_busy(f64::from(setup), self.is_busy());
        }
        if let Some(mos) = c.mos {
            self.mos_sum = self.mos_sum.saturating_add((mos * MOS_UNIT) as u128);
            self.mos_count += 1;
            if mos < 3.0 {
                self.mos_poor += 1;
            }
        }
        self.coverage(params, tech, c.signal_dbm, c.sinr_db);
    }

    /// Counts one valid data-session report of a cell of technology `tech`.
    pub fn add_session(&mut self, s: &DataSession, tech: Technology, params: &AggParams) {
        self.records += 1;
        self.sessions += 1;
        add(&mut self.dl_bytes, as_u64(s.dl_bytes));
        add(&mut self.ul_bytes, as_u64(s.ul_bytes));
        if s.active_ms > 0 {
            self.active_sessions += 1;
            add(&mut self.active_dl_bytes, as_u64(s.dl_bytes));
            add(&mut self.active_ul_bytes, as_u64(s.ul_bytes));
            add(&mut self.active_ms, as_u64(s.active_ms));
        }
        if s.active_ms >= params.min_active_ms && s.active_ms > 0 {
            let bps = 8.0 * s.dl_bytes as f64 * 1000.0 / s.active_ms as f64;
            self.session_dl_bps.add_busy(bps, self.is_busy());
            if let Some(min_bps) = s.plan.as_deref().and_then(|p| params.plans.get(p)) {
                self.speed_eligible += 1;
                if bps >= *min_bps {
                    self.speed_ok += 1;
                }
            }
        }
        if let Some(rtt) = s.rtt_ms {
            self.rtt_ms.add_busy(rtt, self.is_busy());
        }
        add(&mut self.packets_sent, as_u64(s.packets_sent));
        add(&mut self.packets_lost, as_u64(s.packets_lost));
        self.coverage(params, tech, s.signal_dbm, s.sinr_db);
    }

    /// Counts a `DOWN` that opened (or would have opened) an outage in this window.
    pub fn add_outage_started(&mut self) {
        self.records += 1;
        self.outage_records += 1;
        self.outages_started += 1;
    }

    /// Counts a `RESTORED` whose outage lasted `duration_ms`.
    pub fn add_outage_restored(&mut self, duration_ms: i64) {
        self.records += 1;
        self.outage_records += 1;
        self.outages_restored += 1;
        add(&mut self.restore_ms_sum, as_u64(duration_ms));
    }

    /// Adds everything `other` counted.
    pub fn merge(&mut self, o: &Acc) {
        self.merge_traffic(o);
        add(&mut self.records, o.outage_records);
        add(&mut self.outage_ms, o.outage_ms);
        add(&mut self.outages_started, o.outages_started);
        add(&mut self.outages_restored, o.outages_restored);
        add(&mut self.restore_ms_sum, o.restore_ms_sum);
        add(&mut self.outage_records, o.outage_records);
    }

    /// Adds what `other` counted of calls and data sessions (its records but the outage ones,
    /// and everything but the outage fields).
    pub fn merge_traffic(&mut self, o: &Acc) {
        add(
            &mut self.records,
            o.records.saturating_sub(o.outage_records),
        );
        add(&mut self.call_attempts, o.call_attempts);
        add(&mut self.call_network_failures, o.call_network_failures);
        add(&mut self.call_answered, o.call_answered);
        add(&mut self.call_drops, o.call_drops);
        add(&mut self.answered_duration_ms, o.answered_duration_ms);
        self.mos_sum = self.mos_sum.saturating_add(o.mos_sum);
        add(&mut self.mos_count, o.mos_count);
        add(&mut self.mos_poor, o.mos_poor);
        self.setup_ms.merge(&o.setup_ms);
        add(&mut self.sessions, o.sessions);
        add(&mut self.dl_bytes, o.dl_bytes);
        add(&mut self.ul_bytes, o.ul_bytes);
        add(&mut self.active_sessions, o.active_sessions);
        add(&mut self.active_dl_bytes, o.active_dl_bytes);
        add(&mut self.active_ul_bytes, o.active_ul_bytes);
        add(&mut self.active_ms, o.active_ms);
        self.session_dl_bps.merge(&o.session_dl_bps);
        add(&mut self.speed_eligible, o.speed_eligible);
        add(&mut self.speed_ok, o.speed_ok);
        self.rtt_ms.merge(&o.rtt_ms);
        add(&mut self.packets_sent, o.packets_sent);
        add(&mut self.packets_lost, o.packets_lost);
        add(&mut self.coverage_samples, o.coverage_samples);
        add(&mut self.coverage_covered, o.coverage_covered);
    }

    fn is_busy(&self) -> bool {
        self.records >= BUSY_RECORDS
    }

    /// Whether this accumulator counted any call or data session.
    pub fn has_traffic(&self) -> bool {
        self.records > self.outage_records
    }

    /// Sorts the exact sketches, so that the percentile KPIs read them without copying.
    pub fn sort_sketches(&mut self) {
        self.setup_ms.sort_exact();
        self.session_dl_bps.sort_exact();
        self.rtt_ms.sort_exact();
    }

    /// The sum of MOS values.
    pub fn mos_total(&self) -> f64 {
        self.mos_sum as f64 / MOS_UNIT
    }

    /// Bytes this accumulator occupies, its sketches' heap included.
    pub fn footprint(&self) -> usize {
        std::mem::size_of::<Acc>()
            + self.setup_ms.heap_bytes()
            + self.session_dl_bps.heap_bytes()
            + self.rtt_ms.heap_bytes()
    }
}
