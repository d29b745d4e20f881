//! Scrape cost: 100 000 KPI series (2 800 cells × 33 KPIs plus numerators) encoded as one
//! `/metrics` answer, and the time to update them when a window closes.

use criterion::{Criterion, criterion_group, criterion_main};
use netkpi::engine::KpiRecord;
use netkpi::kpi::{Acc, GroupContext, Kpi};
use netkpi::model::level::Dim;
use netkpi::telemetry::metrics::Metrics;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let metrics = Metrics::new(vec!["cell".into()]).expect("metrics");
    let acc = Acc {
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
    let ctx = GroupContext {
        window_ms: 300_000,
        inventory_cells: 1,
    };
    let ids: Vec<String> = (0..2_800).map(|i| format!("C{i:07}")).collect();
    let update = |start: i64| {
        for id in &ids {
            let group = [(Dim::Cell, id.as_str())];
            let r = KpiRecord {
                window_start: start,
                window_end: start + 300_000,
                level: "cell",
                group: &group,
                values: Kpi::ALL.map(|k| k.value(&acc, ctx)),
                pooling_samples: netkpi::kpi::pooling_samples(&acc, ctx),
                acc: Some(&acc),
                inventory_cells: 1,
            };
            metrics.kpi_record(&r);
        }
        metrics.window_closed(start, start + 300_000);
    };
    update(0);
    let text = metrics.encode();
    let series = text
        .split(|b| *b == b'\n')
        .filter(|l| l.starts_with(b"netkpi_") && !l.starts_with(b"netkpi_dead"))
        .count();
    println!(
        "scrape: {series} KPI series, {:.1} MiB of exposition",
        text.len() as f64 / (1 << 20) as f64
    );
    let mut g = c.benchmark_group("scrape");
    g.sample_size(10);
    g.bench_function("encode_100k_series", |b| {
        b.iter(|| black_box(metrics.encode()).len())
    });
    g.bench_function("update_100k_series_at_window_close", |b| {
        b.iter(|| update(0))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
