//! netkpi's telemetry events, named in one place: each function logs and counts together, so a
//! log line and its metric cannot drift apart, and two paths (replay and Kafka, shard and merger)
//! report an event the same way.

use super::metrics::Metrics;

/// Record-less windows `[from, to)` of one size were skipped, not emitted.
pub fn windows_skipped(size_ms: i64, from: i64, to: i64, metrics: Option<&Metrics>) {
    let windows = (to - from) / size_ms.max(1);
    tracing::warn!(
        window_ms = size_ms,
        from,
        to,
        windows,
        "event time jumped over a gap longer than windows.max_gap: its record-less windows are skipped, not emitted"
    );
    if let Some(m) = metrics {
        m.skipped_windows
            .with_label_values(&[&super::series::window_label(size_ms)])
            .inc_by(u64::try_from(windows).unwrap_or(0));
    }
}

/// Unknown cells silent for `kpi.unknown_cell_ttl` were forgotten.
pub fn unknown_cells_forgotten(count: u64, remaining: usize, metrics: Option<&Metrics>) {
    tracing::info!(
        forgotten = count,
        remaining_unknown_cells = remaining,
        "forgot cells outside the inventory that sent nothing for kpi.unknown_cell_ttl"
    );
    if let Some(m) = metrics {
        m.unknown_cells_forgotten.inc_by(count);
    }
}

/// A record became a dead letter (the dead letter itself says why; counted by reason).
pub fn dead_letter(reason: crate::model::validate::Reason, metrics: Option<&Metrics>) {
    tracing::debug!(reason = reason.as_str(), "dead letter");
    if let Some(m) = metrics {
        m.dead_letters.with_label_values(&[reason.as_str()]).inc();
    }
}

/// An outage record came late for a window: it still changed the outage state (counted, not a
/// dead letter).
pub fn late_outage_record(metrics: Option<&Metrics>) {
    tracing::debug!("late outage record: outage state updated, windows already closed unchanged");
    if let Some(m) = metrics {
        m.late_outage_records.inc();
    }
}

/// A unit's transaction committed (`waited`: how long its first closed window waited for it).
pub fn transaction_committed(
    unit: &str,
    waited: Option<std::time::Duration>,
    metrics: Option<&Metrics>,
) {
    tracing::debug!(
        unit,
        waited_ms = waited.map(|w| w.as_millis() as u64),
        "transaction committed"
    );
    if let Some(m) = metrics {
        m.transactions.with_label_values(&["committed"]).inc();
        if let Some(w) = waited {
            m.commit_seconds.observe(w.as_secs_f64());
        }
    }
}

/// A unit's transaction failed to commit; the unit stops (and is restarted from its checkpoint
/// when the cause passes), and librdkafka's next `init_transactions` aborts what was left open.
pub fn transaction_failed(unit: &str, metrics: Option<&Metrics>) {
    tracing::debug!(unit, "transaction failed");
    if let Some(m) = metrics {
        m.transactions.with_label_values(&["failed"]).inc();
    }
}
