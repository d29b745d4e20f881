//! The KPI gauges of the latest closed window of every exported group, held as netkpi's own
//! compact state and written in the Prometheus text format at scrape time (a custom collector:
//! no series object per label set). A group keeps its labels once, already escaped and in
//! label-name order, and one value per KPI slot (the KPIs, then the numerators and
//! denominators); a slot without a value (a null KPI) has no series. Families come out sorted
//! by name, each whole with one HELP and TYPE, its series group by group in the order of the
//! groups' labels.

use super::series::{COMPONENTS, GROUP_LABELS, component_values, prometheus_name, window_label};
use crate::engine::KpiRecord;
use crate::kpi::{Kpi, KpiValue};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;

/// Value slots of a group: every KPI, then every numerator/denominator.
const SLOTS: usize = Kpi::ALL.len() + COMPONENTS.len();

/// One group's latest closed window.
struct Group {
    window_ms: i64,
    /// End of the window that set the values.
    last_end: i64,
    /// Where the `percentile` label goes in the labels (the key): before `region`.
    split: u32,
    values: [Option<f64>; SLOTS],
}

/// One metric family: its name, help and the slots it shows (with their percentile label).
struct Family {
    name: &'static str,
    help: String,
    slots: Vec<(usize, &'static str)>,
}

/// The KPI gauges of every exported group.
pub struct KpiGauges {
    /// Key: the group's escaped labels, `area="…",cell="…",level="…",region="…",…`.
    groups: Mutex<HashMap<Box<str>, Group>>,
    families: Vec<Family>,
}

impl Default for KpiGauges {
    fn default() -> Self {
        Self::new()
    }
}

impl KpiGauges {
    pub fn new() -> Self {
        let mut families: Vec<Family> = Vec::new();
        for (slot, k) in Kpi::ALL.iter().enumerate() {
            let (name, percentile, _) = prometheus_name(*k);
            match families.iter_mut().find(|f| f.name == name) {
                Some(f) => f.slots.push((slot, percentile)),
                None => families.push(Family {
                    name,
                    help: format!(
                        "KPI {} of the latest closed window of each group (docs/kpis.md).",
                        k.name()
                    ),
                    slots: vec![(slot, percentile)],
                }),
            }
        }
        for (i, (name, help)) in COMPONENTS.iter().enumerate() {
            families.push(Family {
                name,
                help: (*help).to_string(),
                slots: vec![(Kpi::ALL.len() + i, "")],
            });
        }
        families.sort_by_key(|f| f.name);
        KpiGauges {
            groups: Mutex::new(HashMap::new()),
            families,
        }
    }

    /// Sets the gauges of one closed window's group.
    pub fn set(&self, r: &KpiRecord<'_>) {
        let window_ms = r.window_end - r.window_start;
        let (labels, split) = labels_of(r, &window_label(window_ms));
        let components = r
            .acc
            .map(|a| component_values(a, r.inventory_cells, window_ms));
        let mut values = [None; SLOTS];
        for (slot, v) in values.iter_mut().enumerate() {
            *v = match (Kpi::ALL.get(slot), r.values.get(slot)) {
                (Some(_), Some(KpiValue::Count(c))) => Some(*c as f64),
                (Some(k), Some(KpiValue::Real(x))) => x.map(|x| x * prometheus_name(*k).2),
                _ => components.and_then(|c| c.get(slot - Kpi::ALL.len()).copied()),
            };
        }
        let Ok(mut groups) = self.groups.lock() else {
            return;
        };
        groups.insert(
            labels.into_boxed_str(),
            Group {
                window_ms,
                last_end: r.window_end,
                split,
                values,
            },
        );
    }

    /// A window of `window_ms` ending at `window_end` finished closing: groups of that size it
    /// did not set lose their gauges.
    pub fn window_closed(&self, window_ms: i64, window_end: i64) {
        let Ok(mut groups) = self.groups.lock() else {
            return;
        };
        groups.retain(|_, g| g.window_ms != window_ms || g.last_end == window_end);
    }

    /// Series held (one per group and non-null slot).
    pub fn series(&self) -> usize {
        let Ok(groups) = self.groups.lock() else {
            return 0;
        };
        groups
            .values()
            .map(|g| g.values.iter().filter(|v| v.is_some()).count())
            .sum()
    }

    /// Appends every gauge in the text format.
    pub fn encode(&self, out: &mut String) {
        let Ok(groups) = self.groups.lock() else {
            return;
        };
        let mut sorted: Vec<(&str, &Group)> = groups.iter().map(|(k, g)| (&**k, g)).collect();
        sorted.sort_unstable_by_key(|(k, _)| *k);
        for f in &self.families {
            let mut header = false;
            for (labels, g) in &sorted {
                for &(slot, percentile) in &f.slots {
                    let Some(value) = g.values.get(slot).copied().flatten() else {
                        continue;
                    };
                    if !header {
                        let _ = writeln!(out, "# HELP {} {}", f.name, escape(&f.help, false));
                        let _ = writeln!(out, "# TYPE {} gauge", f.name);
                        header = true;
                    }
                    let (before, after) = labels.split_at((g.split as usize).min(labels.len()));
                    out.push_str(f.name);
                    out.push('{');
                    out.push_str(before);
                    if !percentile.is_empty() {
                        let _ = write!(out, ",percentile=\"{percentile}\"");
                    }
                    out.push_str(after);
                    let _ = writeln!(out, "}} {value}");
                }
            }
        }
    }
}

/// A group's labels in label-name order, escaped, and where `percentile` goes among them.
fn labels_of(r: &KpiRecord<'_>, window: &str) -> (String, u32) {
    let mut values: [&str; 7] = [r.level, window, "", "", "", "", ""];
    for (d, v) in r.group {
        let name = d.as_str();
        if let Some(i) = GROUP_LABELS.iter().position(|l| *l == name)
            && let Some(slot) = values.get_mut(i)
        {
            *slot = v;
        }
    }
    let mut pairs: Vec<(&str, &str)> = GROUP_LABELS.iter().copied().zip(values).collect();
    pairs.sort_unstable_by_key(|(name, _)| *name);
    let mut labels = String::with_capacity(128);
    let mut split = 0;
    for (i, (name, value)) in pairs.iter().enumerate() {
        if *name > "percentile" && split == 0 {
            split = labels.len();
        }
        if i > 0 {
            labels.push(',');
        }
        let _ = write!(labels, "{name}=\"{}\"", escape(value, true));
    }
    (labels, u32::try_from(split).unwrap_or(0))
}

/// Escapes a label value (`\`, newline and `"`) or a help text (`\` and newline).
fn escape(v: &str, quote: bool) -> std::borrow::Cow<'_, str> {
    if !v.contains(['\\', '\n', '"']) {
        return v.into();
    }
    let mut s = String::with_capacity(v.len() + 8);
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '"' if quote => s.push_str("\\\""),
            c => s.push(c),
        }
    }
    s.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kpi::Acc;
    use crate::model::level::Dim;
    use crate::telemetry::metrics::tests::record;

    /// The text a scrape reads: one HELP and TYPE per family, families sorted and whole, series
    /// group by group, `percentile` in its label-name place, label values escaped.
    #[test]
    fn the_exposition_is_the_text_format() {
        let gauges = KpiGauges::new();
        let mut acc = Acc {
            call_attempts: 3,
            call_answered: 2,
            ..Acc::default()
        };
        for ms in [800.0, 1200.0, 3000.0] {
            acc.setup_ms.add(ms);
        }
        let odd = [(Dim::Cell, "Q\"\\\nZ"), (Dim::Region, "North")];
        let plain = [(Dim::Cell, "A1"), (Dim::Region, "North")];
        gauges.set(&record(0, &odd, &acc));
        gauges.set(&record(0, &plain, &acc));
        let mut text = String::new();
        gauges.encode(&mut text);
        assert!(text.contains(
            "netkpi_call_attempts{area=\"\",cell=\"A1\",level=\"cell\",region=\"North\",site=\"\",technology=\"\",window=\"5m\"} 3\n"
        ), "{text}");
        assert!(
            text.contains(r#"cell="Q\"\\\nZ",level="cell""#),
            "escaped: {text}"
        );
        let families: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .collect();
        let mut sorted = families.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(families, sorted, "sorted, each once");
        // Every sample line follows its own family's header, A1 before Q.
        let mut family = "";
        let mut last = String::new();
        for line in text.lines() {
            if let Some(t) = line.strip_prefix("# TYPE ") {
                family = t.split(' ').next().unwrap_or_default();
                last.clear();
            } else if !line.starts_with('#') {
                assert!(line.starts_with(&format!("{family}{{")), "{line}");
                let labels = line.split('}').next().unwrap_or_default().to_string();
                assert!(
                    last.is_empty() || family.ends_with("_seconds") || labels > last,
                    "{line}"
                );
                last = labels;
            }
        }
        assert!(
            text.contains(",level=\"cell\",percentile=\"95\",region=\"North\","),
            "{text}"
        );
        // Null KPIs (no sessions, no MOS) have no series.
        assert!(!text.contains("netkpi_mos_mean"));
        assert_eq!(
            gauges.series(),
            text.lines().filter(|l| !l.starts_with('#')).count()
        );
        gauges.window_closed(300_000, 600_000);
        assert_eq!(gauges.series(), 0, "not set by the next window: gone");
    }
}
