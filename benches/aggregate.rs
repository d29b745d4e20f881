//! Core aggregation speed: decoded records through the engine (validation done, no I/O), the
//! shipped configuration (four levels, 5-minute and 1-hour windows, shipped rules), 10 000
//! cells; window closes, roll-ups, KPI records and threshold evaluation included (into a sink
//! that discards them). A second run leaves out the baseline and sleeping-cell rules (and so the
//! baselines), to compare the same records with and without them in one run.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use netkpi::config::from_toml_str;
use netkpi::engine::sources::Origin;
use netkpi::engine::{Engine, KpiRecord, Output};
use netkpi::model::Event;
use netkpi::threshold::BreachEvent;
use netkpi::traffic::{GenItem, GenOptions, Generator, synthetic_inventory};
use std::hint::black_box;
use std::path::Path;

struct Discard(u64);

impl Output for Discard {
    type Error = std::convert::Infallible;
    fn kpi(&mut self, r: &KpiRecord<'_>) -> Result<(), Self::Error> {
        self.0 += r.values.len() as u64;
        Ok(())
    }
    fn breach(&mut self, _: &BreachEvent) -> Result<(), Self::Error> {
        self.0 += 1;
        Ok(())
    }
}

fn records(cells: &[netkpi::inventory::Cell], n: u64) -> Vec<Event> {
    // Peak-hour traffic: ~555 records/s of event time, so 1 M records span ~30 minutes (6 windows).
    let opts = GenOptions {
        start_ms: 1_767_268_800_000,
        duration_ms: i64::MAX / 4,
        max_records: n,
        peak_rate: 555.0,
        ..GenOptions::default()
    };
    Generator::new(cells.to_vec(), opts)
        .filter_map(|i| match i {
            GenItem::Event(e) => Some(e),
            GenItem::Bad(_) => None,
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let cells = synthetic_inventory(10_000, 1);
    let settings = from_toml_str(include_str!("../config/netkpi.toml"), Path::new("config"))
        .expect("shipped config");
    let events = records(&cells, 1_000_000);
    let with_baselines = settings.engine();
    let mut without_baselines = settings.engine();
    without_baselines
        .rules
        .retain(|r| r.kind == netkpi::threshold::rule::RuleKind::Fixed);
    assert!(without_baselines.rules.len() < with_baselines.rules.len());
    let mut g = c.benchmark_group("aggregate");
    g.sample_size(10);
    g.throughput(Throughput::Elements(events.len() as u64));
    for (name, engine_settings) in [
        ("10k_cells_4_levels_5m_shipped_rules", &with_baselines),
        ("10k_cells_4_levels_5m_fixed_rules_only", &without_baselines),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut engine = Engine::new(engine_settings, &cells);
                let mut out = Discard(0);
                for e in &events {
                    let _ = engine.ingest_and_advance(black_box(e), Origin::file(0), &mut out);
                }
                let _ = engine.finish(&mut out);
                black_box(out.0)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
