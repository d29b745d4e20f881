//! Prometheus metrics: every KPI of the latest closed window of each group of the exported levels,
//! and netkpi's own health. Names follow Prometheus conventions: base units (seconds, bytes;
//! throughputs in bytes per second, ×8 for the bit/s of the KPI records), ratios 0–1 ending in `_ratio`, per-window counts as gauges (not `_total`
//! counters, which only ever grow), percentiles as one gauge with a `percentile` label (`50`, `95`,
//! …; `quantile` is reserved for summaries).
//!
//! KPI series carry `level`, `window` and the group's dimensions (`cell`, `site`, `region`,
//! `area`, `technology`; absent dimensions are empty, which Prometheus treats as no label). A
//! group's series are replaced when its next window closes. When a window closes, the series of
//! a group that was not emitted in it (a cell outside the inventory that sent nothing) and of a
//! KPI that is null in it disappear; the others hold the latest closed window's values.

use super::kpi_gauges::KpiGauges;
use crate::engine::KpiRecord;
use crate::model::validate::Reason;
use crate::threshold::BreachEvent;
use prometheus::{
    Histogram, HistogramOpts, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

#[cfg(test)]
use super::series::prometheus_name;
use super::series::window_label;

/// Registers `metric` and hands it back.
fn registered<M: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: M,
) -> Result<M, MetricsError> {
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

/// Why a metric could not be registered (a defect: names are fixed).
#[derive(Debug, thiserror::Error)]
#[error("cannot register metrics: {0}")]
pub struct MetricsError(#[from] prometheus::Error);

/// All metrics of one process.
pub struct Metrics {
    registry: Registry,
    /// The KPI gauges, served from netkpi's own state at scrape time.
    kpis: KpiGauges,
    exported_levels: Vec<String>,
    pub records: IntCounterVec,
    pub dead_letters: IntCounterVec,
    pub late_outage_records: prometheus::IntCounter,
    pub windows_emitted: IntCounterVec,
    pub skipped_windows: IntCounterVec,
    pub unknown_cells_forgotten: prometheus::IntCounter,
    pub breach_events: IntCounterVec,
    pub transactions: IntCounterVec,
    pub consumer_lag: IntGaugeVec,
    pub watermark_delay_seconds: prometheus::Gauge,
    pub open_windows: IntGauge,
    pub open_groups: IntGauge,
    pub alarms_firing: IntGaugeVec,
    /// One series per firing alarm (`netkpi_alarm`).
    pub alarms: super::alarms::AlarmSeries,
    pub commit_seconds: Histogram,
}

impl Metrics {
    /// Metrics exporting KPIs of `exported_levels` (canonical level names).
    pub fn new(exported_levels: Vec<String>) -> Result<Self, MetricsError> {
        let registry = Registry::new();
        let counter =
            |name: &str, help: &str, labels: &[&str]| -> Result<IntCounterVec, MetricsError> {
                registered(
                    &registry,
                    IntCounterVec::new(Opts::new(name, help), labels)?,
                )
            };
        let records = counter(
            "netkpi_records_consumed_total",
            "Input records read, by topic (or file).",
            &["topic"],
        )?;
        let dead_letters = counter(
            "netkpi_dead_letters_total",
            "Records not aggregated, by reason (late records included).",
            &["reason"],
        )?;
        for r in Reason::ALL {
            dead_letters.with_label_values(&[r.as_str()]);
        }
        let late_outage_records = registered(
            &registry,
            prometheus::IntCounter::new(
                "netkpi_late_outage_records_total",
                "Outage records late for some window size (they still change outage state; not dead letters).",
            )?,
        )?;
        let windows_emitted = counter(
            "netkpi_windows_emitted_total",
            "Windows closed and emitted, by size.",
            &["window"],
        )?;
        let skipped_windows = counter(
            "netkpi_skipped_windows_total",
            "Record-less windows of a gap longer than windows.max_gap that were skipped, not emitted, by size.",
            &["window"],
        )?;
        let unknown_cells_forgotten = registered(
            &registry,
            prometheus::IntCounter::new(
                "netkpi_unknown_cells_forgotten_total",
                "Cells outside the inventory forgotten after kpi.unknown_cell_ttl of silence.",
            )?,
        )?;
        let breach_events = counter(
            "netkpi_breach_events_total",
            "Breach events emitted, by rule and state.",
            &["rule", "state"],
        )?;
        let transactions_help = "Output transactions, by outcome (committed, failed: the run stops and its open transaction is aborted on restart).";
        let transactions = counter("netkpi_transactions_total", transactions_help, &["outcome"])?;
        let consumer_lag = registered(
            &registry,
            IntGaugeVec::new(
                Opts::new(
                    "netkpi_consumer_lag_records",
                    "High watermark minus the next offset to read, per input partition.",
                ),
                &["topic", "partition"],
            )?,
        )?;
        let watermark_delay_seconds = registered(
            &registry,
            prometheus::Gauge::new(
                "netkpi_watermark_delay_seconds",
                "Wall clock minus the pipeline's watermark.",
            )?,
        )?;
        let open_windows =
            IntGauge::new("netkpi_open_windows", "Windows currently open (all sizes).")?;
        registry.register(Box::new(open_windows.clone()))?;
        let open_groups = registered(
            &registry,
            IntGauge::new(
                "netkpi_open_groups",
                "Per-cell accumulators held by open windows (all sizes); coarser groups are rolled up at close.",
            )?,
        )?;
        let alarms_firing = registered(
            &registry,
            IntGaugeVec::new(
                Opts::new(
                    "netkpi_alarms_firing",
                    "Alarms (rule, group) currently raised and not cleared, by rule.",
                ),
                &["rule"],
            )?,
        )?;
        let commit_seconds = registered(
            &registry,
            Histogram::with_opts(
                HistogramOpts::new(
                    "netkpi_window_commit_seconds",
                    "From the watermark passing a window's end to the commit of its outputs.",
                )
                .buckets(vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ]),
            )?,
        )?;
        let alarms = super::alarms::AlarmSeries::new(&registry)?;
        Ok(Metrics {
            alarms,
            registry,
            kpis: KpiGauges::new(),
            exported_levels,
            records,
            dead_letters,
            late_outage_records,
            windows_emitted,
            skipped_windows,
            unknown_cells_forgotten,
            breach_events,
            transactions,
            consumer_lag,
            watermark_delay_seconds,
            open_windows,
            open_groups,
            alarms_firing,
            commit_seconds,
        })
    }

    /// Sets the KPI series of one closed window's group (if its level is exported).
    pub fn kpi_record(&self, r: &KpiRecord<'_>) {
        if self.exported(r.level) {
            self.kpis.set(r);
        }
    }

    /// The registry every netkpi metric is in (remote write registers its counter here).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The levels exported (`[prometheus] levels`).
    pub fn exported_levels(&self) -> &[String] {
        &self.exported_levels
    }

    /// Publishes `netkpi_cell_info{cell,site,region,area,technology} 1` for every inventory cell
    /// (when the cell level is exported): dashboards use it to pick cells by region.
    pub fn set_inventory(&self, cells: &[crate::inventory::Cell]) -> Result<(), MetricsError> {
        if !self.exported("cell") {
            return Ok(());
        }
        let info = IntGaugeVec::new(
            Opts::new(
                "netkpi_cell_info",
                "The cell inventory: one series per cell with its site, region, area and technology.",
            ),
            &["cell", "site", "region", "area", "technology"],
        )?;
        self.registry.register(Box::new(info.clone()))?;
        for c in cells {
            info.with_label_values(&[
                c.cell_id.as_str(),
                &c.site_id,
                &c.region,
                c.area.as_str(),
                c.technology.as_str(),
            ])
            .set(1);
        }
        Ok(())
    }

    /// Creates the breach-event series of every rule (at zero), so that rates exist from the start.
    pub fn set_rules<'r>(&self, rules: impl IntoIterator<Item = &'r crate::threshold::rule::Rule>) {
        let rules: Vec<&crate::threshold::rule::Rule> = rules.into_iter().collect();
        self.alarms.set_rules(rules.iter().copied());
        for rule in rules.iter().map(|r| r.name.as_str()) {
            self.alarms_firing.with_label_values(&[rule]).set(0);
            for state in ["RAISED", "CLEARED"] {
                self.breach_events.with_label_values(&[rule, state]);
            }
        }
    }

    /// Whether KPI series of `level` are exported.
    pub fn exported(&self, level: &str) -> bool {
        self.exported_levels.iter().any(|l| l == level)
    }

    /// A window of `window_ms` finished closing: series set for the previous window of that
    /// size and not set again now (groups not emitted, KPIs now null) go away.
    pub fn window_closed(&self, window_start: i64, window_end: i64) {
        let window_ms = window_end - window_start;
        self.windows_emitted
            .with_label_values(&[&window_label(window_ms)])
            .inc();
        self.kpis.window_closed(window_ms, window_end);
    }

    /// Counts a breach event and follows its alarm's series.
    pub fn breach(&self, e: &BreachEvent) {
        self.alarms.breach(e);
        self.breach_events
            .with_label_values(&[e.rule.as_str(), e.state.as_str()])
            .inc();
    }

    /// The exposition in the Prometheus text format: the registry's metrics, then the KPI
    /// gauges.
    pub fn encode(&self) -> Vec<u8> {
        let mut text = String::new();
        let _ = TextEncoder::new().encode_utf8(&self.registry.gather(), &mut text);
        self.kpis.encode(&mut text);
        text.into_bytes()
    }

    /// KPI series currently exported.
    pub fn kpi_series(&self) -> usize {
        self.kpis.series()
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::kpi::{Acc, GroupContext, Kpi};
    use crate::model::level::Dim;

    /// A cell's KPI record of the 5-minute window starting at `start` (the telemetry tests').
    pub(in crate::telemetry) fn record<'a>(
        start: i64,
        group: &'a [(Dim, &'a str)],
        acc: &'a Acc,
    ) -> KpiRecord<'a> {
        let ctx = GroupContext {
            window_ms: 300_000,
            inventory_cells: 1,
        };
        KpiRecord {
            window_start: start,
            window_end: start + 300_000,
            level: "cell",
            group,
            values: Kpi::ALL.map(|k| k.value(acc, ctx)),
            pooling_samples: crate::kpi::pooling_samples(acc, ctx),
            acc: Some(acc),
            inventory_cells: 1,
        }
    }

    #[test]
    fn series_of_groups_missing_from_the_latest_window_disappear() {
        let m = Metrics::new(vec!["cell".into()]).unwrap();
        let acc = Acc {
            call_attempts: 4,
            call_network_failures: 1,
            ..Acc::default()
        };
        let (a, b) = ([(Dim::Cell, "A")], [(Dim::Cell, "B")]);
        m.kpi_record(&record(0, &a, &acc));
        m.kpi_record(&record(0, &b, &acc));
        m.window_closed(0, 300_000);
        let text = String::from_utf8(m.encode()).unwrap();
        assert!(text.contains(r#"netkpi_network_connection_ratio{area="",cell="B",level="cell",region="",site="",technology="",window="5m"} 0.75"#), "{text}");
        assert!(
            text.contains(r#"netkpi_call_network_successes{area="",cell="A""#),
            "{text}"
        );
        m.kpi_record(&record(300_000, &a, &acc));
        m.window_closed(300_000, 600_000);
        let text = String::from_utf8(m.encode()).unwrap();
        assert!(!text.contains(r#"cell="B""#), "B's series are gone: {text}");
        assert!(text.contains(r#"cell="A""#));
        // A null KPI has no series; levels not exported are ignored.
        assert!(!text.contains("netkpi_mos_mean{"));
        let other = Metrics::new(vec!["network".into()]).unwrap();
        other.kpi_record(&record(0, &a, &acc));
        assert!(
            !String::from_utf8(other.encode())
                .unwrap()
                .contains("netkpi_call_attempts{")
        );
    }

    #[test]
    fn names_follow_prometheus_conventions() {
        for k in Kpi::ALL {
            let (name, percentile, _) = prometheus_name(k);
            assert!(
                name.starts_with("netkpi_") && !name.ends_with("_total"),
                "{name}"
            );
            assert!(
                !name.contains("_ms") && !name.contains("bps") && !name.contains("bits"),
                "{name}: base units"
            );
            assert_eq!(
                k.name().ends_with("_ratio"),
                name.ends_with("_ratio"),
                "{name}"
            );
            assert_eq!(percentile.is_empty(), !k.name().contains("_p"), "{name}");
        }
        assert_eq!(window_label(300_000), "5m");
        assert_eq!(window_label(3_600_000), "1h");
        assert_eq!(window_label(90_000), "90s");
    }
}
