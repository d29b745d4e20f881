//! One series per firing alarm, as Prometheus exports its own `ALERTS`: `netkpi_alarm{rule,
//! severity, kind, kpi, level, <group dimensions>, outages} 1` from a `RAISED` until its
//! `CLEARED`, and `netkpi_alarm_raised_timestamp_seconds` with the same labels holding the end of
//! the raising window. A cleared alarm's series are removed, so the number of series is the
//! number of firing alarms. `outages` lists the outage ids its `RAISED` carried (comma-separated,
//! at most ten and a count of the rest; empty when none); `kind` is `threshold`, `baseline` or `sleeping_cell`.

use crate::model::level::Dim;
use crate::threshold::rule::{Rule, RuleKind};
use crate::threshold::{BreachEvent, BreachState};
use prometheus::{IntGaugeVec, Opts, Registry};
use std::collections::HashMap;
use std::sync::Mutex;

/// Label names of the alarm series.
pub const ALARM_LABELS: [&str; 11] = [
    "rule",
    "severity",
    "kind",
    "kpi",
    "level",
    "cell",
    "site",
    "region",
    "area",
    "technology",
    "outages",
];

/// Outage ids shown in the `outages` label at most; more are counted (`…,+12 more`), so that a
/// network-level alarm during many outages keeps a short label.
pub const OUTAGES_SHOWN: usize = 10;

fn outages_label(outages: &[String]) -> String {
    let mut label = outages
        .iter()
        .take(OUTAGES_SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(",");
    if outages.len() > OUTAGES_SHOWN {
        label.push_str(&format!(",+{} more", outages.len() - OUTAGES_SHOWN));
    }
    label
}

pub use crate::threshold::FiringAlarm;

/// The alarm series and the label values of each firing alarm.
pub struct AlarmSeries {
    firing: IntGaugeVec,
    raised_at: IntGaugeVec,
    kinds: Mutex<HashMap<String, &'static str>>,
    /// breach id → label values.
    active: Mutex<HashMap<String, Vec<String>>>,
}

fn kind_name(kind: RuleKind) -> &'static str {
    match kind {
        RuleKind::Fixed => "threshold",
        RuleKind::Baseline => "baseline",
        RuleKind::SleepingCell => "sleeping_cell",
    }
}

impl AlarmSeries {
    /// The series, registered in `registry`.
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let firing = IntGaugeVec::new(
            Opts::new(
                "netkpi_alarm",
                "1 for every firing alarm (rule, group), like Prometheus' ALERTS; gone when cleared.",
            ),
            &ALARM_LABELS,
        )?;
        let raised_at = IntGaugeVec::new(
            Opts::new(
                "netkpi_alarm_raised_timestamp_seconds",
                "End of the window that raised each firing alarm (Unix seconds).",
            ),
            &ALARM_LABELS,
        )?;
        registry.register(Box::new(firing.clone()))?;
        registry.register(Box::new(raised_at.clone()))?;
        Ok(AlarmSeries {
            firing,
            raised_at,
            kinds: Mutex::new(HashMap::new()),
            active: Mutex::new(HashMap::new()),
        })
    }

    /// Remembers the kind of every rule (for the `kind` label).
    pub fn set_rules<'r>(&self, rules: impl IntoIterator<Item = &'r Rule>) {
        if let Ok(mut kinds) = self.kinds.lock() {
            for r in rules {
                kinds.insert(r.name.clone(), kind_name(r.kind));
            }
        }
    }

    fn labels(
        &self,
        rule: &str,
        severity: &str,
        kpi: &str,
        level: &str,
        group: &[(Dim, String)],
        outages: &[String],
    ) -> Vec<String> {
        let kind = self
            .kinds
            .lock()
            .ok()
            .and_then(|k| k.get(rule).copied())
            .unwrap_or("threshold");
        let dim = |d: Dim| {
            group
                .iter()
                .find(|(g, _)| *g == d)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        vec![
            rule.to_string(),
            severity.to_string(),
            kind.to_string(),
            kpi.to_string(),
            level.to_string(),
            dim(Dim::Cell),
            dim(Dim::Site),
            dim(Dim::Region),
            dim(Dim::Area),
            dim(Dim::Technology),
            outages_label(outages),
        ]
    }

    fn raise(&self, breach_id: &str, labels: Vec<String>, since_ms: Option<i64>) {
        let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
        self.firing.with_label_values(&refs).set(1);
        if let Some(ms) = since_ms {
            self.raised_at.with_label_values(&refs).set(ms / 1000);
        }
        let old = self
            .active
            .lock()
            .ok()
            .and_then(|mut active| active.insert(breach_id.to_string(), labels.clone()));
        if let Some(old) = old.filter(|old| *old != labels) {
            let old: Vec<&str> = old.iter().map(String::as_str).collect();
            self.remove(&old);
        }
    }

    fn remove(&self, labels: &[&str]) {
        let _ = self.firing.remove_label_values(labels);
        let _ = self.raised_at.remove_label_values(labels);
    }

    /// Follows a breach event: a `RAISED` adds its series, a `CLEARED` removes them.
    pub fn breach(&self, e: &BreachEvent) {
        match e.state {
            BreachState::Raised => {
                let labels = self.labels(
                    &e.rule,
                    e.severity.as_str(),
                    e.kpi,
                    &e.level,
                    &e.group,
                    &e.outages,
                );
                self.raise(&e.breach_id, labels, Some(e.window_end));
            }
            BreachState::Cleared => {
                let Some(labels) = self
                    .active
                    .lock()
                    .ok()
                    .and_then(|mut a| a.remove(&e.breach_id))
                else {
                    return;
                };
                let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
                self.remove(&refs);
            }
        }
    }

    /// Shows alarms that were firing when the state was saved (after a restore).
    pub fn restore(&self, alarms: impl IntoIterator<Item = FiringAlarm>) {
        for a in alarms {
            let labels = self.labels(&a.rule, a.severity, a.kpi, &a.level, &a.group, &[]);
            self.raise(&a.breach_id, labels, a.since);
        }
    }

    /// Number of firing alarms shown.
    pub fn len(&self) -> usize {
        self.active.lock().map_or(0, |a| a.len())
    }

    /// Whether no alarm is shown.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threshold::rule::Severity;

    fn event(id: &str, state: BreachState, cell: &str) -> BreachEvent {
        BreachEvent {
            breach_id: id.into(),
            rule: "CellSleeping".into(),
            kpi: "traffic_records",
            severity: Severity::Major,
            state,
            level: "cell".into(),
            group: vec![(Dim::Cell, cell.into())],
            value: 0.0,
            threshold: 4.0,
            window_start: 0,
            window_end: 300_000,
            outages: vec![],
        }
    }

    #[test]
    fn one_series_per_firing_alarm_gone_when_cleared() {
        let registry = Registry::new();
        let a = AlarmSeries::new(&registry).expect("series");
        a.breach(&event("1", BreachState::Raised, "C1"));
        a.breach(&event("2", BreachState::Raised, "C2"));
        let text = |r: &Registry| {
            let mut buf = Vec::new();
            let _ =
                prometheus::Encoder::encode(&prometheus::TextEncoder::new(), &r.gather(), &mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        };
        let shown = text(&registry);
        assert!(
            shown.contains("netkpi_alarm{area=\"\",cell=\"C1\""),
            "{shown}"
        );
        assert!(shown.contains("netkpi_alarm_raised_timestamp_seconds{"));
        assert_eq!(a.len(), 2);
        a.breach(&event("1", BreachState::Cleared, "C1"));
        let shown = text(&registry);
        assert!(!shown.contains("cell=\"C1\""), "{shown}");
        assert!(shown.contains("cell=\"C2\""));
        assert_eq!(a.len(), 1);
        let many: Vec<String> = (0..25).map(|i| format!("o{i}")).collect();
        assert_eq!(outages_label(&many).split(',').count(), OUTAGES_SHOWN + 1);
        assert!(outages_label(&many).ends_with(",+15 more"));
    }
}
