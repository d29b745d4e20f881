//! The processor's own counters and log events, named in one place. Labels are bounded: dead
//! letters are counted by [`Reason`] (a closed set), late records by window size.

pub mod alarms;
pub mod events;
pub mod health;
pub mod http;
pub mod kpi_gauges;
pub mod metrics;
pub mod progress_display;
pub mod remote_write;
pub mod series;

use crate::engine::EngineStats;
use crate::model::validate::Reason;
use std::collections::BTreeMap;

/// Counters of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Records read from the inputs (valid or not).
    pub records_read: u64,
    /// Dead letters written, by reason.
    pub dead_letters: BTreeMap<Reason, u64>,
    /// Outage records late for some size (counted, not dead-lettered).
    pub late_outage_records: u64,
}

impl Counters {
    /// Counts one dead letter.
    pub fn dead_letter(&mut self, reason: Reason) {
        *self.dead_letters.entry(reason).or_default() += 1;
    }

    /// Adds another run's (or unit's) counters.
    pub fn add(&mut self, o: &Counters) {
        self.records_read += o.records_read;
        for (r, n) in &o.dead_letters {
            *self.dead_letters.entry(*r).or_default() += n;
        }
        self.late_outage_records += o.late_outage_records;
    }

    /// Total dead letters.
    pub fn dead_letters_total(&self) -> u64 {
        self.dead_letters.values().sum()
    }
}

/// Where results are reported besides the outputs: the metrics registry and, beside it, the
/// remote-write sink.
#[derive(Clone, Copy, Default)]
pub struct Reporters<'a> {
    pub metrics: Option<&'a metrics::Metrics>,
    pub remote_write: Option<&'a remote_write::RemoteWriter>,
}

/// The one metrics layer around every [`Output`](crate::engine::Output) (replay's files and the
/// pipeline's topics alike): KPI gauges, breach and window counters, remote write, and the
/// engine's telemetry events. It dereferences to the output it wraps.
pub struct Observed<'a, O> {
    pub inner: O,
    pub to: Reporters<'a>,
}

impl<'a, O> Observed<'a, O> {
    pub fn new(inner: O, to: Reporters<'a>) -> Self {
        Observed { inner, to }
    }

    /// The metrics reported to, if any.
    pub fn metrics(&self) -> Option<&'a metrics::Metrics> {
        self.to.metrics
    }
}

impl<O> std::ops::Deref for Observed<'_, O> {
    type Target = O;
    fn deref(&self) -> &O {
        &self.inner
    }
}

impl<O> std::ops::DerefMut for Observed<'_, O> {
    fn deref_mut(&mut self) -> &mut O {
        &mut self.inner
    }
}

impl<O: crate::engine::Output> crate::engine::Output for Observed<'_, O> {
    type Error = O::Error;

    fn kpi(&mut self, r: &crate::engine::KpiRecord<'_>) -> Result<(), Self::Error> {
        if let Some(m) = self.to.metrics {
            m.kpi_record(r);
        }
        if let Some(w) = self.to.remote_write {
            w.push(r);
        }
        self.inner.kpi(r)
    }

    fn partial(&mut self, p: &crate::engine::partial::Partial) -> Result<(), Self::Error> {
        self.inner.partial(p)
    }

    fn breach(&mut self, e: &crate::threshold::BreachEvent) -> Result<(), Self::Error> {
        if let Some(m) = self.to.metrics {
            m.breach(e);
        }
        self.inner.breach(e)
    }

    fn window_closed(&mut self, start: i64, end: i64) -> Result<(), Self::Error> {
        if let Some(m) = self.to.metrics {
            m.window_closed(start, end);
        }
        self.inner.window_closed(start, end)
    }

    fn cells_forgotten(&mut self, count: u64, remaining: usize) -> Result<(), Self::Error> {
        events::unknown_cells_forgotten(count, remaining, self.to.metrics);
        Ok(())
    }

    fn windows_skipped(&mut self, size_ms: i64, from: i64, to: i64) -> Result<(), Self::Error> {
        events::windows_skipped(size_ms, from, to, self.to.metrics);
        Ok(())
    }
}

/// Logs the end-of-run summary.
pub fn log_summary(
    what: &str,
    c: &Counters,
    e: &EngineStats,
    window_sizes_ms: &[i64],
    seconds: f64,
) {
    let rate = if seconds > 0.0 {
        c.records_read as f64 / seconds
    } else {
        0.0
    };
    tracing::info!(
        records_read = c.records_read,
        calls = e.records[0],
        sessions = e.records[1],
        outages = e.records[2],
        unknown_cell_records = e.unknown_cell_records,
        dead_letters = c.dead_letters_total(),
        late_outage_records = c.late_outage_records,
        windows_emitted = e.windows_emitted,
        skipped_windows = e.skipped_windows.iter().sum::<u64>(),
        unknown_cells_forgotten = e.unknown_cells_forgotten,
        kpi_records = e.kpi_records,
        breach_events = e.breach_events,
        seconds = format!("{seconds:.3}"),
        records_per_second = format!("{rate:.0}"),
        "{what} finished"
    );
    for (reason, n) in &c.dead_letters {
        tracing::info!(
            reason = reason.as_str(),
            count = n,
            "dead letters by reason"
        );
    }
    for (size, n) in window_sizes_ms.iter().zip(&e.late) {
        if *n > 0 {
            tracing::info!(
                window_ms = size,
                late_records = n,
                "late records by window size"
            );
        }
    }
}
