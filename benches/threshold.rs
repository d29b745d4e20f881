//! Threshold and sketch hot paths: one rule observation, sketch inserts, merges, quantiles and
//! the sort of an exact sketch at window close.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use netkpi::kpi::Kpi;
use netkpi::kpi::sketch::Sketch;
use netkpi::model::level::Level;
use netkpi::threshold::rule::{DuringOutage, Op, Rule, RuleKind, Severity, Watched};
use netkpi::threshold::{Observation, Reading, Thresholds};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("threshold");
    let rule = Rule {
        name: "R".into(),
        watched: Watched::Kpi(Kpi::DroppedCallRatio),
        kind: RuleKind::Fixed,
        during_outage: DuringOutage::Annotate,
        level: Level::NETWORK,
        level_index: 0,
        matches: vec![],
        op: Op::Above,
        raise: 0.02,
        clear: 0.01,
        for_windows: 2,
        clear_windows: 2,
        min_samples: 10,
        severity: Severity::Major,
        window_index: 0,
    };
    let mut t = Thresholds::new(vec![rule.clone()]);
    g.throughput(Throughput::Elements(100_000));
    g.bench_function("observe_100k_groups", |b| {
        let mut w = 0i64;
        b.iter(|| {
            w += 1;
            let mut n = 0;
            for group in 0..100_000u32 {
                let v = if (group as i64 + w) % 7 == 0 {
                    0.05
                } else {
                    0.0
                };
                let obs = Observation {
                    reading: Reading::of(&rule, Some(v), 100, None),
                    suppressed: false,
                    outages: &[],
                    window_start: w * 300_000,
                    window_end: (w + 1) * 300_000,
                    level: "cell",
                    group: &[],
                };
                n += usize::from(t.observe(0, black_box(group), obs).is_some());
            }
            n
        })
    });
    g.finish();

    let mut g = c.benchmark_group("sketch");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("add_1000", |b| {
        b.iter(|| {
            let mut s = Sketch::default();
            for i in 0..1000 {
                s.add(black_box(1.0 + i as f64 * 1.7));
            }
            s.count()
        })
    });
    let mut big = Sketch::default();
    for i in 0..10_000 {
        big.add(1.0 + (i * 7919 % 10_000) as f64);
    }
    g.throughput(Throughput::Elements(1));
    g.bench_function("quantile_p95_10k_values", |b| {
        b.iter(|| black_box(&big).quantile(950))
    });
    g.bench_function("merge_10k_into_empty", |b| {
        b.iter(|| {
            let mut s = Sketch::default();
            s.merge(black_box(&big));
            s.count()
        })
    });
    // Closing a window sorts every exact sketch: `sort_exact` (networks up to 16 values,
    // integer keys past 20) against sorting the same floats with `total_cmp`, the way it was
    // done before, as the baseline. A thousand different sets per iteration, as a window's
    // cells are: one set sorted again and again would teach the branch predictor its order.
    let mut rng = netkpi::traffic::Rng::new(11);
    for n in [4usize, 8, 12, 16, 24, 48, 64] {
        let sets: Vec<Vec<f64>> = (0..1000)
            .map(|_| (0..n).map(|_| rng.below(1 << 30) as f64 / 1000.0).collect())
            .collect();
        let sketches: Vec<Sketch> = sets
            .iter()
            .map(|v| Sketch::Exact(v.iter().copied().collect()))
            .collect();
        g.throughput(Throughput::Elements(sets.len() as u64));
        g.bench_function(format!("sort_exact_1000x{n}"), |b| {
            b.iter_batched_ref(
                || sketches.clone(),
                |all| all.iter_mut().for_each(Sketch::sort_exact),
                criterion::BatchSize::LargeInput,
            )
        });
        g.bench_function(format!("sort_total_cmp_1000x{n}_baseline"), |b| {
            b.iter_batched_ref(
                || sets.clone(),
                |all| {
                    all.iter_mut()
                        .for_each(|v| v.sort_unstable_by(f64::total_cmp))
                },
                criterion::BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
