//! What the scripted benchmarks share: this process's memory as `/proc/self/status` tells it,
//! and sizes read from the environment.

/// A `/proc/self/status` field in KiB (`"VmRSS:"`: resident now, `"VmHWM:"`: peak); 0 when
/// unreadable.
pub fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The peak RSS of this process in MiB.
#[allow(dead_code)] // not every bench reports its peak
pub fn peak_rss_mib() -> f64 {
    status_kib("VmHWM:") as f64 / 1024.0
}

/// A size from the environment variable `name`, or `default`.
#[allow(dead_code)] // not every bench takes its sizes from the environment
pub fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
