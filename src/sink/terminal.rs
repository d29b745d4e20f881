//! A terminal view of results for `netkpi demo`: one line per closed window of the coarse
//! levels (network, region) with the headline KPIs, and every breach event as it happens.

use crate::engine::{KpiRecord, Output};
use crate::kpi::Kpi;
use crate::threshold::{BreachEvent, BreachState};
use std::io::Write;

/// Prints headline KPIs of the `network` and `region` levels, and every breach.
pub struct TerminalView<W: Write> {
    out: W,
    last_window: i64,
}

impl<W: Write> TerminalView<W> {
    /// A view writing to `out`.
    pub fn new(out: W) -> Self {
        TerminalView {
            out,
            last_window: i64::MIN,
        }
    }
}

fn fmt_ratio(v: Option<f64>) -> String {
    v.map_or_else(|| "    –".to_string(), |x| format!("{:>6.2}%", x * 100.0))
}

fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (h, m) = ((secs / 3600) % 24, (secs / 60) % 60);
    format!("{h:02}:{m:02}")
}

impl<W: Write> Output for TerminalView<W> {
    type Error = std::io::Error;

    fn kpi(&mut self, r: &KpiRecord<'_>) -> Result<(), Self::Error> {
        if r.level != "network" && r.level != "region" {
            return Ok(());
        }
        if r.window_start != self.last_window {
            self.last_window = r.window_start;
            writeln!(
                self.out,
                "\n── window {}–{} UTC ({} min) ─────────────────────────────────────────────",
                utc(r.window_start),
                utc(r.window_end),
                (r.window_end - r.window_start) / 60_000
            )?;
            writeln!(
                self.out,
                "{:<16} {:>7} {:>8} {:>8} {:>9} {:>8} {:>9} {:>8}",
                "group", "calls", "connect", "drops", "DL Mbit/s", "speed", "coverage", "avail"
            )?;
        }
        let v = |k: Kpi| r.values[k as usize].as_f64();
        let name = r.group.first().map_or("NETWORK", |(_, v)| *v);
        writeln!(
            self.out,
            "{:<16} {:>7} {} {} {:>9} {} {} {}",
            name,
            v(Kpi::CallAttempts).unwrap_or(0.0),
            fmt_ratio(v(Kpi::NetworkConnectionRatio)),
            fmt_ratio(v(Kpi::DroppedCallRatio)),
            v(Kpi::DlThroughputBps).map_or_else(|| "–".to_string(), |b| format!("{:.1}", b / 1e6)),
            fmt_ratio(v(Kpi::SpeedComplianceRatio)),
            fmt_ratio(v(Kpi::CoverageRatio)),
            fmt_ratio(v(Kpi::AvailabilityRatio)),
        )
    }

    fn breach(&mut self, e: &BreachEvent) -> Result<(), Self::Error> {
        let mark = match e.state {
            BreachState::Raised => "▲ RAISED ",
            BreachState::Cleared => "▼ CLEARED",
        };
        let group: Vec<String> = e.group.iter().map(|(_, v)| v.clone()).collect();
        let outages = if e.outages.is_empty() {
            String::new()
        } else {
            format!(", outages {}", e.outages.join(", "))
        };
        writeln!(
            self.out,
            "  {mark} {:<8} {} on {} [{}]: {} = {:.4} (threshold {}{outages})",
            e.severity.as_str(),
            e.rule,
            e.level,
            group.join(", "),
            e.kpi,
            e.value,
            short(e.threshold)
        )
    }
}

/// A number with at most four decimals, trailing zeros dropped (`0.995`, `11.6833`).
fn short(x: f64) -> String {
    let text = format!("{x:.4}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}
