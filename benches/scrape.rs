//! Cell-level Prometheus export: 100 000 and 1 000 000 KPI series (2 150 and 21 500 cells, each
//! with its KPIs and numerators) served from netkpi's own state at scrape time. For each size it
//! prints the RSS the series add and then times a scrape (one `/metrics` answer) and the update
//! of every series at a window close. The baseline, measured in the same run, is the same series
//! held the `prometheus` crate's way (one registered gauge per label set, as netkpi did before):
//! its RSS, and its scrape time for the 100 000 series.

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use netkpi::engine::KpiRecord;
use netkpi::kpi::{Acc, GroupContext, Kpi};
use netkpi::model::level::Dim;
use netkpi::telemetry::metrics::Metrics;
use prometheus::{Encoder, GaugeVec, Opts, Registry, TextEncoder};
use std::hint::black_box;

fn acc() -> Acc {
    let mut acc = Acc {
        call_attempts: 40,
        call_network_failures: 1,
        call_answered: 30,
        sessions: 20,
        active_sessions: 20,
        active_ms: 60_000,
        active_dl_bytes: 1 << 30,
        packets_sent: 1000,
        coverage_samples: 50,
        coverage_covered: 48,
        mos_count: 20,
        mos_sum: (80.0 * netkpi::kpi::acc::MOS_UNIT) as u128,
        ..Acc::default()
    };
    for v in [800.0, 1100.0, 2500.0] {
        acc.setup_ms.add(v);
        acc.rtt_ms.add(v / 20.0);
        acc.session_dl_bps.add(v * 10_000.0);
    }
    acc
}

/// Sets the series of `cells` cells for the window starting at `start`, then closes it.
fn update(metrics: &Metrics, ids: &[String], acc: &Acc, start: i64) {
    let ctx = GroupContext {
        window_ms: 300_000,
        inventory_cells: 1,
    };
    for id in ids {
        let group = [(Dim::Cell, id.as_str()), (Dim::Region, "North")];
        let r = KpiRecord {
            window_start: start,
            window_end: start + 300_000,
            level: "cell",
            group: &group,
            values: Kpi::ALL.map(|k| k.value(acc, ctx)),
            pooling_samples: netkpi::kpi::pooling_samples(acc, ctx),
            acc: Some(acc),
            inventory_cells: 1,
        };
        metrics.kpi_record(&r);
    }
    metrics.window_closed(start, start + 300_000);
}

/// The same series as registered gauges (the baseline).
fn registered_gauges(metrics_text: &str) -> Registry {
    let registry = Registry::new();
    let mut families: std::collections::BTreeMap<&str, (GaugeVec, Vec<String>)> =
        std::collections::BTreeMap::new();
    for line in metrics_text.lines().filter(|l| !l.starts_with('#')) {
        let Some((name, rest)) = line.split_once('{') else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        let pairs: Vec<(&str, &str)> = labels
            .split("\",")
            .filter_map(|p| p.split_once("=\""))
            .map(|(n, v)| (n, v.trim_end_matches('"')))
            .collect();
        let (family, _) = families.entry(name).or_insert_with(|| {
            let names: Vec<String> = pairs.iter().map(|(n, _)| n.to_string()).collect();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let g = GaugeVec::new(Opts::new(name, "baseline"), &refs).expect("gauge");
            registry.register(Box::new(g.clone())).expect("register");
            (g, names)
        });
        let values: Vec<&str> = pairs.iter().map(|(_, v)| *v).collect();
        family
            .with_label_values(&values)
            .set(value.parse().unwrap_or(0.0));
    }
    registry
}

fn bench(c: &mut Criterion) {
    let acc = acc();
    let mut g = c.benchmark_group("scrape");
    g.sample_size(10);
    let mut keep = Vec::new();
    for (label, cells) in [("100k", 2_150usize), ("1m", 21_500)] {
        let ids: Vec<String> = (0..cells).map(|i| format!("C{i:07}")).collect();
        let before = common::status_kib("VmRSS:");
        let metrics = Metrics::new(vec!["cell".into()]).expect("metrics");
        update(&metrics, &ids, &acc, 0);
        let added = common::status_kib("VmRSS:").saturating_sub(before);
        let text = String::from_utf8(metrics.encode()).expect("utf-8");
        println!(
            "scrape {label}: {} KPI series, {:.1} MiB of exposition, RSS added {:.1} MiB",
            metrics.kpi_series(),
            text.len() as f64 / f64::from(1 << 20),
            added as f64 / 1024.0
        );
        if label == "100k" {
            let before = common::status_kib("VmRSS:");
            let baseline = registered_gauges(&text);
            let added = common::status_kib("VmRSS:").saturating_sub(before);
            println!(
                "baseline {label} (registered gauges): RSS added {:.1} MiB",
                added as f64 / 1024.0
            );
            g.bench_function("baseline_registered_gauges_encode_100k_series", |b| {
                b.iter(|| {
                    let mut buf = Vec::new();
                    let _ = TextEncoder::new().encode(&baseline.gather(), &mut buf);
                    black_box(buf.len())
                })
            });
            keep.push(baseline);
        }
        g.bench_function(format!("encode_{label}_series"), |b| {
            b.iter(|| black_box(metrics.encode()).len())
        });
        g.bench_function(format!("update_{label}_series_at_window_close"), |b| {
            b.iter(|| update(&metrics, &ids, &acc, 0))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
