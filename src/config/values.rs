//! Typed values of the configuration: durations, byte sizes, integers, each within a stated
//! range, with the message that names the key and the range when it is not.

use super::read::Problems;

/// Parses an RFC 3339 time (`2000-01-01T00:00:00Z`) into epoch milliseconds (times before the
/// epoch are refused: no event time can be negative).
pub fn parse_time_ms(text: &str) -> Result<i64, String> {
    let t = humantime::parse_rfc3339_weak(text.trim()).map_err(|e| {
        format!("`{text}` is not an RFC 3339 time ({e}); expected e.g. \"2000-01-01T00:00:00Z\"")
    })?;
    let since = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| format!("`{text}` is before 1970-01-01"))?;
    i64::try_from(since.as_millis()).map_err(|_| format!("`{text}` is too far ahead"))
}

/// Parses a duration such as `5m`, `30s`, `1h30m`, `250ms` into whole milliseconds.
pub fn parse_duration_ms(text: &str) -> Result<i64, String> {
    let d = humantime::parse_duration(text.trim())
        .map_err(|e| format!("`{text}` is not a duration ({e}); expected e.g. \"5m\", \"30s\""))?;
    if d.subsec_nanos() % 1_000_000 != 0 {
        return Err(format!("`{text}` is not a whole number of milliseconds"));
    }
    i64::try_from(d.as_millis()).map_err(|_| format!("`{text}` is too long"))
}

/// Longest duration any key accepts: 100 years, far beyond any use and far from overflow.
pub(super) const MAX_DURATION_MS: i64 = 100 * 365 * 86_400_000;

/// `v` when it lies in `range`, else a problem naming the key and the range.
pub(super) fn in_range(
    v: i64,
    range: std::ops::RangeInclusive<i64>,
    key: &str,
    unit: &str,
    p: &mut Problems,
) -> Option<i64> {
    if range.contains(&v) {
        Some(v)
    } else {
        p.add(
            key,
            format!(
                "{v} is out of range; expected {} to {} {unit}",
                range.start(),
                range.end()
            ),
        );
        None
    }
}

/// A duration key within `range` (ms), or `default` after reporting the problem.
pub(super) fn duration_in(
    text: &str,
    range: std::ops::RangeInclusive<i64>,
    key: &str,
    default: i64,
    p: &mut Problems,
) -> i64 {
    match parse_duration_ms(text) {
        Ok(ms) if range.contains(&ms) => ms,
        Ok(_) => {
            p.add(
                key,
                format!(
                    "`{text}` is out of range; expected {} to {}",
                    humantime::format_duration(std::time::Duration::from_millis(
                        range.start().unsigned_abs()
                    )),
                    humantime::format_duration(std::time::Duration::from_millis(
                        range.end().unsigned_abs()
                    ))
                ),
            );
            default
        }
        Err(e) => {
            p.add(key, e);
            default
        }
    }
}

/// Parses a byte size such as `1MiB`, `64 MiB`, `512KiB`, `4096` (bytes).
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a size; expected e.g. \"1MiB\", \"64KiB\""))?;
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "KB" | "K" => 1 << 10,
        "MiB" | "MB" | "M" => 1 << 20,
        "GiB" | "GB" | "G" => 1 << 30,
        other => return Err(format!("`{other}` is not a size unit (B, KiB, MiB, GiB)")),
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("`{text}` is too large"))
}

pub(super) fn bytes_in(
    text: &str,
    range: std::ops::RangeInclusive<u64>,
    key: &str,
    default: usize,
    p: &mut Problems,
) -> usize {
    match parse_bytes(text) {
        Ok(n) if range.contains(&n) => usize::try_from(n).unwrap_or(default),
        Ok(n) => {
            p.add(
                key,
                format!(
                    "{n} bytes is out of range; expected {} to {} bytes",
                    range.start(),
                    range.end()
                ),
            );
            default
        }
        Err(e) => {
            p.add(key, e);
            default
        }
    }
}

pub(super) fn count(
    v: Option<super::raw::Integer>,
    default: i64,
    min: i64,
    key: String,
    p: &mut Problems,
) -> i64 {
    match v.map(|v| v.0) {
        None => default,
        Some(n) if n >= min && n <= i64::from(u32::MAX) => n,
        Some(n) => {
            p.add(
                key,
                format!(
                    "{n} is out of range; expected an integer from {min} to {}",
                    u32::MAX
                ),
            );
            default
        }
    }
}
