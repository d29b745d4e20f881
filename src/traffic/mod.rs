//! A deterministic traffic generator (`netkpi gen`, the demo, tests and benchmarks): call,
//! data-session and outage records for an inventory, with a diurnal load curve, an
//! urban/suburban/rural and technology mix (from the inventory), a few degraded cells, outages
//! that open and restore, records out of order within the allowed delay, and, when asked, late
//! and bad records. The same options and seed give the same records.

use crate::inventory::Cell;
use crate::model::{
    Area, CallOutcome, CallRecord, DataSession, Event, Outage, OutageState, Technology,
};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

mod rng;
pub mod scenario;
mod synthetic;

pub use rng::Rng;
pub use synthetic::{synthetic_cell_id, synthetic_inventory};

use scenario::CellFaults;
pub use scenario::Scenario;

const DAY_MS: i64 = 86_400_000;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenOptions {
    /// Event time of the first record (epoch ms).
    pub start_ms: i64,
    /// Span of event time to cover (ms); generation stops at `start_ms + duration_ms` or at
    /// `max_records`, whichever comes first.
    pub duration_ms: i64,
    /// Upper bound on records.
    pub max_records: u64,
    /// Mean records per second of event time at the daily peak.
    pub peak_rate: f64,
    /// Seed.
    pub seed: u64,
    /// Share of cells that are degraded (more failures, drops, poor radio, slow data).
    pub degraded_share: f64,
    /// Outages per cell per day.
    pub outages_per_cell_day: f64,
    /// Share of records shifted late (behind the watermark).
    pub late_share: f64,
    /// Share of bad records (JSON output only).
    pub bad_share: f64,
    /// Largest out-of-order shift in ms (keep below the allowed delay).
    pub jitter_ms: i64,
    /// How far back a late record is shifted (ms; more than window + allowed delay).
    pub late_shift_ms: i64,
    /// Plans from premium to basic (drawn by the cell's technology), plus some sessions with no
    /// plan or a plan missing from the catalog.
    pub plans: Vec<String>,
    /// At the end, restore the outages still open (at the end time), so that consecutive
    /// chunks of generated history leave no outage open for ever.
    pub restore_at_end: bool,
    /// Faults made on purpose (busy-hour failures, drop cells, daily outages, silent days).
    pub scenario: Scenario,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            start_ms: 1_767_225_600_000, // 2026-01-01T00:00:00Z
            duration_ms: 3_600_000,
            max_records: u64::MAX,
            peak_rate: 200.0,
            seed: 1,
            degraded_share: 0.03,
            outages_per_cell_day: 0.2,
            late_share: 0.0,
            bad_share: 0.0,
            jitter_ms: 10_000,
            late_shift_ms: 11 * 60_000,
            plans: vec!["5G-PREMIUM".into(), "4G-STANDARD".into(), "BASIC".into()],
            restore_at_end: false,
            scenario: Scenario::default(),
        }
    }
}

/// One generated item: a valid event, or a bad JSON line.
#[derive(Debug, Clone, PartialEq)]
pub enum GenItem {
    Event(Event),
    Bad(String),
}

impl GenItem {
    /// The item as a JSON line (without the newline): the event encoded, or the bad line as is.
    pub fn into_json_line(self) -> String {
        match self {
            GenItem::Event(ev) => crate::source::json::encode_event(&ev),
            GenItem::Bad(line) => line,
        }
    }
}

/// The generator; an iterator of [`GenItem`].
pub struct Generator {
    cells: Vec<Cell>,
    degraded: Vec<bool>,
    faults: Vec<CellFaults>,
    /// Outages the scenario schedules: (DOWN time, cell index).
    scheduled: BinaryHeap<Reverse<(i64, usize)>>,
    opts: GenOptions,
    rng: Rng,
    now: f64,
    produced: u64,
    seq: u64,
    /// Pending restores: (restore time, outage sequence, cell index, started_at).
    restores: BinaryHeap<Reverse<(i64, u64, usize, i64)>>,
}

impl Generator {
    /// A generator over `cells` (must not be empty).
    pub fn new(cells: Vec<Cell>, opts: GenOptions) -> Self {
        let mut rng = Rng::new(opts.seed);
        let degraded = cells
            .iter()
            .map(|_| rng.chance(opts.degraded_share))
            .collect();
        let faults = opts.scenario.per_cell(&cells, opts.start_ms);
        let end = opts.start_ms.saturating_add(opts.duration_ms);
        let mut scheduled = BinaryHeap::new();
        for (cell, f) in faults.iter().enumerate() {
            if f.daily_outage_ms.is_none() {
                continue;
            }
            let mut at = opts.start_ms.div_euclid(DAY_MS) * DAY_MS + 3_600_000;
            while at < end {
                if at >= opts.start_ms {
                    scheduled.push(Reverse((at, cell)));
                }
                at += DAY_MS;
            }
        }
        Generator {
            now: opts.start_ms as f64,
            cells,
            degraded,
            faults,
            scheduled,
            rng,
            produced: 0,
            seq: 0,
            restores: BinaryHeap::new(),
            opts,
        }
    }

    /// Load relative to the daily peak at epoch-ms `t` (UTC): low at night, peaks late morning
    /// and evening.
    pub fn diurnal(t: f64) -> f64 {
        let hour = (t / 3_600_000.0).rem_euclid(24.0);
        let bump = |center: f64, width: f64| (-((hour - center) / width).powi(2)).exp();
        (0.12 + 0.75 * bump(11.0, 3.5) + 0.9 * bump(20.0, 2.5)).min(1.0)
    }

    fn next_id(&mut self, prefix: &str) -> String {
        self.seq += 1;
        format!("{prefix}-{:x}-{}", self.opts.seed, self.seq)
    }

    fn radio(&mut self, cell: usize) -> (Option<i32>, Option<f64>) {
        if self.rng.chance(0.1) {
            return (None, None);
        }
        let bad = if self.degraded[cell] { 12.0 } else { 0.0 };
        let (mean, has_sinr) = match self.cells[cell].technology {
            Technology::Gsm => (-80.0, false),
            Technology::Umts => (-88.0, false),
            _ => (-90.0, true),
        };
        let area_loss = match self.cells[cell].area {
            Area::Urban => 0.0,
            Area::Suburban => 4.0,
            Area::Rural => 9.0,
        };
        let signal = self.rng.normal(mean - bad - area_loss, 9.0).round() as i32;
        let sinr = has_sinr.then(|| (self.rng.normal(12.0 - bad, 7.0) * 10.0).round() / 10.0);
        (Some(signal), sinr)
    }

    fn call(&mut self, cell: usize, t: i64) -> Event {
        let degraded = self.degraded[cell];
        let r = self.rng.f64();
        let busy = Self::diurnal(t as f64) >= 0.75;
        let extra = self.faults.get(cell).map_or(0.0, |f| f.busy_hour_failure);
        let fail = if degraded { 0.12 } else { 0.008 } + if busy { extra } else { 0.0 };
        let drop = self.faults.get(cell).and_then(|f| f.drop);
        let outcome = if r < fail {
            CallOutcome::NetworkFailure
        } else if r < fail + 0.06 {
            CallOutcome::Busy
        } else if r < fail + 0.12 {
            CallOutcome::NoAnswer
        } else if r < fail + 0.14 {
            CallOutcome::Unreachable
        } else if r < fail + 0.15 {
            CallOutcome::Rejected
        } else {
            CallOutcome::Answered
        };
        let answered = outcome == CallOutcome::Answered;
        let setup = match self.cells[cell].technology {
            Technology::Nr => 900.0,
            Technology::Lte => 1600.0,
            _ => 3500.0,
        };
        let (signal_dbm, sinr_db) = self.radio(cell);
        let mos = (answered && self.rng.chance(0.8)).then(|| {
            let m = self.rng.normal(if degraded { 3.0 } else { 4.0 }, 0.45);
            (m.clamp(1.0, 5.0) * 100.0).round() / 100.0
        });
        Event::Call(CallRecord {
            call_id: self.next_id("call").into(),
            event_time: t,
            cell_id: self.cells[cell].cell_id.clone().into(),
            outcome,
            setup_ms: (outcome != CallOutcome::NetworkFailure)
                .then(|| (setup * (0.5 + self.rng.f64()).powi(2)) as i32),
            duration_ms: answered.then(|| (self.rng.f64().powi(2) * 600_000.0) as i64 + 5_000),
            dropped: answered
                && self
                    .rng
                    .chance(drop.unwrap_or(if degraded { 0.08 } else { 0.005 })),
            mos,
            signal_dbm,
            sinr_db,
        })
    }

    fn session(&mut self, cell: usize, t: i64) -> Event {
        let degraded = self.degraded[cell];
        let peak_bps = match self.cells[cell].technology {
            Technology::Nr => 400e6,
            Technology::Lte => 60e6,
            Technology::Umts => 12e6,
            _ => 0.2e6,
        };
        let load = Self::diurnal(t as f64);
        let bps = peak_bps
            * (1.1 - 0.6 * load)
            * if degraded { 0.15 } else { 1.0 }
            * (0.4 + 0.8 * self.rng.f64());
        let active_ms = if self.rng.chance(0.05) {
            0
        } else {
            (self.rng.f64().powi(2) * 20_000.0) as i64 + 200
        };
        let dl_bytes = (bps * active_ms as f64 / 8000.0) as i64;
        let packets_sent = (dl_bytes / 1200).max(1) + self.rng.below(50) as i64;
        let loss = if degraded { 0.03 } else { 0.002 };
        let packets_lost = ((packets_sent as f64) * loss * self.rng.f64() * 2.0) as i64;
        // Plans follow the cell's technology: premium plans mostly on NR, basic ones on 3G.
        let tier = match (self.cells[cell].technology, self.rng.below(10)) {
            (_, 0) => None,
            (Technology::Nr, k) => Some(if k < 6 {
                0
            } else if k < 9 {
                1
            } else {
                2
            }),
            (Technology::Lte, k) => Some(if k < 6 { 1 } else { 2 }),
            (Technology::Umts, _) => Some(2),
            _ => None,
        };
        let plan = match tier {
            None if self.rng.chance(0.5) => Some("LEGACY-UNLISTED".to_string()),
            None => None,
            Some(t) => self.opts.plans.get(t).or(self.opts.plans.last()).cloned(),
        };
        let (signal_dbm, sinr_db) = self.radio(cell);
        Event::Session(DataSession {
            session_id: self.next_id("sess").into(),
            event_time: t,
            cell_id: self.cells[cell].cell_id.clone().into(),
            plan: plan.map(Into::into),
            active_ms,
            dl_bytes,
            ul_bytes: dl_bytes / 8 + self.rng.below(10_000) as i64,
            rtt_ms: self.rng.chance(0.9).then(|| {
                let base = if degraded { 90.0 } else { 28.0 };
                ((base * (0.6 + self.rng.f64()).powi(2)) * 100.0).round() / 100.0
            }),
            packets_sent,
            packets_lost: packets_lost.min(packets_sent),
            signal_dbm,
            sinr_db,
        })
    }

    fn outage(
        &mut self,
        cell: usize,
        t: i64,
        state: OutageState,
        started_at: Option<i64>,
        id: String,
    ) -> Event {
        let causes = [
            "POWER",
            "TRANSMISSION",
            "HARDWARE",
            "SOFTWARE",
            "MAINTENANCE",
        ];
        let cause = causes[(self.seq as usize + cell) % causes.len()];
        Event::Outage(Outage {
            outage_id: id.into(),
            event_time: t,
            cell_id: self.cells[cell].cell_id.clone().into(),
            state,
            started_at,
            cause: cause.to_string().into(),
            planned: cause == "MAINTENANCE",
        })
    }

    fn bad_line(&mut self, t: i64) -> String {
        let cell = &self.cells[self.rng.below(self.cells.len() as u64) as usize].cell_id;
        match self.rng.below(8) {
            0 => format!(
                r#"{{"type":"call","call_id":"x","event_time":{t},"cell_id":"{cell}","outc"#
            ),
            1 => format!(
                r#"{{"type":"call","call_id":"x","event_time":{t},"cell_id":"{cell}","outcome":"HUNG_UP","dropped":false}}"#
            ),
            2 => format!(
                r#"{{"type":"data_session","session_id":"x","event_time":{t},"cell_id":"{cell}","active_ms":10,"dl_bytes":-5,"ul_bytes":0,"packets_sent":1,"packets_lost":0}}"#
            ),
            3 => format!(
                r#"{{"type":"data_session","session_id":"x","event_time":{t},"cell_id":"{cell}","active_ms":10,"dl_bytes":5,"ul_bytes":0,"packets_sent":1,"packets_lost":3}}"#
            ),
            4 => format!(
                r#"{{"type":"call","call_id":"x","event_time":{t},"cell_id":"{cell}","outcome":"ANSWERED","dropped":false,"mos":7.5}}"#
            ),
            5 => format!(
                r#"{{"type":"call","call_id":"x","event_time":{t},"outcome":"BUSY","dropped":false}}"#
            ),
            6 => format!(
                r#"{{"type":"outage","outage_id":"x","event_time":{t},"cell_id":"{cell}","state":"RESTORED","cause":"POWER","planned":false}}"#
            ),
            _ => format!(
                r#"{{"type":"call","call_id":"x","event_time":{t},"cell_id":"{cell}","outcome":"BUSY","dropped":false,"setup_ms":1500.0}}"#
            ),
        }
    }
}

impl Generator {
    /// The `RESTORED` of outage `seq` of `cell`, begun at `started`, at `at`.
    fn restore(&mut self, at: i64, seq: u64, cell: usize, started: i64) -> GenItem {
        self.produced += 1;
        let id = format!("out-{:x}-{seq}", self.opts.seed);
        GenItem::Event(self.outage(cell, at, OutageState::Restored, Some(started), id))
    }
}

impl Iterator for Generator {
    type Item = GenItem;

    fn next(&mut self) -> Option<GenItem> {
        let end = self.opts.start_ms + self.opts.duration_ms;
        loop {
            if self.produced >= self.opts.max_records || self.cells.is_empty() {
                return None;
            }
            // A pending restore (or scheduled outage) due before the next arrival goes first.
            if let Some(Reverse((at, _, _, _))) = self.restores.peek()
                && (*at as f64) <= self.now
            {
                let Reverse((at, seq, cell, started)) = self.restores.pop()?;
                return Some(self.restore(at, seq, cell, started));
            }
            if let Some(Reverse((at, cell))) = self.scheduled.peek().copied()
                && (at as f64) <= self.now
            {
                self.scheduled.pop();
                return Some(self.scheduled_outage(at, cell));
            }
            if self.now >= end as f64 {
                if !self.opts.restore_at_end {
                    return None;
                }
                let Reverse((at, seq, cell, started)) = self.restores.pop()?;
                return Some(self.restore(at.min(end.max(started + 1)), seq, cell, started));
            }
            if let Some(item) = self.arrival() {
                return Some(item);
            }
        }
    }
}

impl Generator {
    /// A DOWN the scenario scheduled, its RESTORED queued.
    fn scheduled_outage(&mut self, at: i64, cell: usize) -> GenItem {
        self.seq += 1;
        let seq = self.seq;
        let duration = self
            .faults
            .get(cell)
            .and_then(|f| f.daily_outage_ms)
            .unwrap_or(0);
        self.restores
            .push(Reverse((at + duration.max(1), seq, cell, at)));
        self.produced += 1;
        let id = format!("out-{:x}-{seq}", self.opts.seed);
        GenItem::Event(self.outage(cell, at, OutageState::Down, None, id))
    }

    /// The next arrival; `None` when it fell on a cell the scenario keeps silent (a silent day, or
    /// asleep).
    fn arrival(&mut self) -> Option<GenItem> {
        let rate = (self.opts.peak_rate * Self::diurnal(self.now)).max(1e-3);
        self.now += -(1.0 - self.rng.f64()).ln() / rate * 1000.0;
        let mut t = self.now as i64 - self.rng.below(self.opts.jitter_ms.max(0) as u64 + 1) as i64;
        if self.rng.chance(self.opts.late_share) {
            t -= self.opts.late_shift_ms;
        }
        let t = t.max(0);
        self.produced += 1;
        if self.rng.chance(self.opts.bad_share) {
            return Some(GenItem::Bad(self.bad_line(t)));
        }
        let cell = self.rng.below(self.cells.len() as u64) as usize;
        let day = (t - self.opts.start_ms).div_euclid(DAY_MS);
        if self.faults.get(cell).is_some_and(|f| {
            f.silent_days.contains(&day) || f.asleep.iter().any(|(a, b)| (*a..*b).contains(&t))
        }) {
            self.produced -= 1;
            return None;
        }
        let outage_p = self.opts.outages_per_cell_day * self.cells.len() as f64 / (86_400.0 * rate);
        if self.rng.chance(outage_p) {
            self.seq += 1;
            let seq = self.seq;
            let duration = (120_000.0 + self.rng.f64().powi(2) * 2_700_000.0) as i64;
            self.restores.push(Reverse((t + duration, seq, cell, t)));
            let id = format!("out-{:x}-{seq}", self.opts.seed);
            return Some(GenItem::Event(self.outage(
                cell,
                t,
                OutageState::Down,
                None,
                id,
            )));
        }
        Some(GenItem::Event(if self.rng.chance(0.45) {
            self.call(cell, t)
        } else {
            self.session(cell, t)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_bounded() {
        let cells = synthetic_inventory(30, 1);
        let opts = GenOptions {
            max_records: 500,
            bad_share: 0.05,
            late_share: 0.02,
            ..GenOptions::default()
        };
        let a: Vec<_> = Generator::new(cells.clone(), opts.clone()).collect();
        let b: Vec<_> = Generator::new(cells, opts).collect();
        assert_eq!(a, b);
        assert_eq!(a.len(), 500);
        assert!(a.iter().any(|i| matches!(i, GenItem::Bad(_))));
    }
}
