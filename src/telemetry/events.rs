//! Log events of the core that are also counted: each function logs and counts together, so the
//! log line and the metric cannot drift apart.

use super::metrics::Metrics;

/// Spec 10.2: record-less windows `[from, to)` of one size were skipped, not emitted.
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

/// Spec 10.4: unknown cells silent for `kpi.unknown_cell_ttl` were forgotten.
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
