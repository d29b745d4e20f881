//! The wall clock, read only at the edges (the core never reads it): the plausible-time bound of
//! docs/operating-limits.md and latency figures, never window assignment.

/// Wall-clock milliseconds since the epoch.
pub fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
