//! The progress of long work (`replay` of large files, `gen`): records, records per second,
//! event-time position and, when the total is known, share done and time left. On a terminal
//! it is one line redrawn in place on stderr; otherwise a plain log line every 10 s, so that a
//! log file gets no control characters.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// How often the terminal line is redrawn.
const REDRAW: Duration = Duration::from_millis(250);
/// How often a log line is written when stderr is not a terminal.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Where the work stands.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Position {
    pub records: u64,
    /// Event time of the latest record, epoch ms.
    pub event_time: Option<i64>,
    /// Share of the work done, 0–1, when the total is known.
    pub done: Option<f64>,
}

/// Terminal line or log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Terminal,
    Log,
}

/// The display of one piece of work.
#[derive(Debug)]
pub struct ProgressDisplay {
    label: &'static str,
    mode: Mode,
    started: Instant,
    last_shown: Instant,
    shown: bool,
}

impl ProgressDisplay {
    /// A display for `label` (`replay`, `gen`): a terminal line when stderr is a terminal.
    pub fn new(label: &'static str) -> Self {
        let mode = if std::io::stderr().is_terminal() {
            Mode::Terminal
        } else {
            Mode::Log
        };
        Self::with_mode(label, mode, Instant::now())
    }

    pub fn with_mode(label: &'static str, mode: Mode, now: Instant) -> Self {
        ProgressDisplay {
            label,
            mode,
            started: now,
            last_shown: now,
            shown: false,
        }
    }

    /// Shows `at` when the last showing is old enough (cheap otherwise: call it per record).
    pub fn update(&mut self, now: Instant, at: &Position) {
        let every = match self.mode {
            Mode::Terminal => REDRAW,
            Mode::Log => LOG_EVERY,
        };
        if now.duration_since(self.last_shown) < every {
            return;
        }
        self.last_shown = now;
        let text = self.line(now, at);
        match self.mode {
            Mode::Terminal => {
                // Carriage return and "erase line": the line is redrawn in place.
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r\x1b[2K{text}");
                let _ = err.flush();
                self.shown = true;
            }
            Mode::Log => tracing::info!(label = self.label, "{text}"),
        }
    }

    /// Clears the terminal line (the summary line follows it).
    pub fn finish(&mut self) {
        if self.mode == Mode::Terminal && self.shown {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
            self.shown = false;
        }
    }

    /// The text shown for `at` at `now`.
    pub fn line(&self, now: Instant, at: &Position) -> String {
        let seconds = now.duration_since(self.started).as_secs_f64();
        let rate = if seconds > 0.0 {
            at.records as f64 / seconds
        } else {
            0.0
        };
        let mut text = format!(
            "{}: {} records, {}/s",
            self.label,
            grouped(at.records),
            grouped(rate as u64)
        );
        if let Some(t) = at
            .event_time
            .and_then(|t| jiff::Timestamp::from_millisecond(t).ok())
        {
            text.push_str(&format!(", event time {}", t.strftime("%Y-%m-%dT%H:%MZ")));
        }
        if let Some(done) = at.done.filter(|d| d.is_finite()).map(|d| d.clamp(0.0, 1.0)) {
            text.push_str(&format!(", {:.0} %", done * 100.0));
            if done > 0.0 && seconds > 0.0 {
                let left = seconds * (1.0 - done) / done;
                text.push_str(&format!(", ETA {}", short_duration(left)));
            }
        }
        text
    }
}

/// `1234567` as `1 234 567`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// Seconds as `42 s`, `3 min 5 s`, `2 h 10 min`.
fn short_duration(seconds: f64) -> String {
    let s = seconds.round().max(0.0) as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_says_records_rate_event_time_share_and_time_left() {
        let start = Instant::now();
        let d = ProgressDisplay::with_mode("replay", Mode::Terminal, start);
        let at = Position {
            records: 1_234_567,
            event_time: Some(1_767_225_600_000), // 2026-01-01T00:00Z
            done: Some(0.25),
        };
        let line = d.line(start + Duration::from_secs(10), &at);
        assert_eq!(
            line,
            "replay: 1 234 567 records, 123 456/s, event time 2026-01-01T00:00Z, 25 %, ETA 30 s"
        );
        // Unknown total: no share and no ETA.
        let line = d.line(
            start + Duration::from_secs(10),
            &Position { done: None, ..at },
        );
        assert!(!line.contains('%') && !line.contains("ETA"), "{line}");
    }

    #[test]
    fn durations_and_numbers_read_at_a_glance() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1 000");
        assert_eq!(short_duration(59.4), "59 s");
        assert_eq!(short_duration(185.0), "3 min 5 s");
        assert_eq!(short_duration(7_800.0), "2 h 10 min");
    }
}
