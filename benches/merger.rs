//! The merger at network scale: 1 000 000 cells (`NETKPI_BENCH_CELLS`), 3 000 000 records
//! (`NETKPI_BENCH_RECORDS`) of about one 5-minute window at peak, split over 3 shards by cell as
//! Kafka's partitioner would. Each shard engine closes its windows into partials; the merger
//! (one thread) takes every partial, cut into parts as shards send them, and closes the windows:
//! roll-up to every level, KPI records (into a sink that counts them) and thresholds, with the
//! shipped configuration. Prints the seconds of merging and of closing, per window emitted, and
//! the peak RSS of the whole run.

mod common;

use netkpi::config::from_toml_str;
use netkpi::engine::partial::Partial;
use netkpi::engine::sources::{Origin, PartialOrigin};
use netkpi::engine::{Engine, KpiRecord, Output};
use netkpi::pipeline::progress::{PART_BYTES, part_bounds, part_of};
use netkpi::threshold::BreachEvent;
use netkpi::traffic::{GenItem, GenOptions, Generator, synthetic_inventory};
use std::path::Path;
use std::time::Instant;

/// Counts KPI records and breach events; keeps partials.
#[derive(Default)]
struct Collect {
    kpis: u64,
    breaches: u64,
    partials: Vec<Partial>,
}

impl Output for Collect {
    type Error = std::convert::Infallible;
    fn kpi(&mut self, _: &KpiRecord<'_>) -> Result<(), Self::Error> {
        self.kpis += 1;
        Ok(())
    }
    fn breach(&mut self, _: &BreachEvent) -> Result<(), Self::Error> {
        self.breaches += 1;
        Ok(())
    }
    fn partial(&mut self, p: &Partial) -> Result<(), Self::Error> {
        self.partials.push(p.clone());
        Ok(())
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let (n_cells, n_records, shards) = (
        common::env_or("NETKPI_BENCH_CELLS", 1_000_000),
        common::env_or("NETKPI_BENCH_RECORDS", 3_000_000),
        3,
    );
    let settings = from_toml_str(include_str!("../config/netkpi.toml"), Path::new("config"))
        .expect("shipped config");
    let cells = synthetic_inventory(n_cells, 7);
    let opts = GenOptions {
        start_ms: 1_767_268_800_000,
        duration_ms: i64::MAX / 4,
        max_records: n_records as u64,
        peak_rate: 10_000.0,
        ..GenOptions::default()
    };
    let started = Instant::now();
    let mut engines: Vec<Engine> = (0..shards)
        .map(|_| Engine::new_shard(&settings.engine(), &cells))
        .collect();
    let mut outs: Vec<Collect> = (0..shards).map(|_| Collect::default()).collect();
    let shard_of = |id: &str| id.bytes().map(usize::from).sum::<usize>() % shards;
    for (n, item) in (0u64..).zip(Generator::new(cells.clone(), opts)) {
        let GenItem::Event(ev) = item else { continue };
        let s = shard_of(ev.cell_id());
        if let (Some(e), Some(o)) = (engines.get_mut(s), outs.get_mut(s)) {
            let _ = e.ingest_and_advance(&ev, Origin::file(n), o);
        }
    }
    let mut partials: Vec<(i32, Partial)> = Vec::new();
    for (shard, (e, o)) in (0..).zip(engines.iter_mut().zip(&mut outs)) {
        let _ = e.finish(o);
        partials.extend(o.partials.drain(..).map(|p| (shard, p)));
    }
    drop(engines);
    partials.sort_by_key(|(_, p)| (p.start + p.size_ms, p.size_ms));
    println!(
        "merger bench: {n_cells} cells, {n_records} records over {shards} shards ({:.1} s to generate and aggregate them); {} partials",
        started.elapsed().as_secs_f64(),
        partials.len()
    );
    let mut merger = Engine::new(&settings.engine(), &cells);
    let mut out = Collect::default();
    let (mut merging, mut closing, mut windows_5m) = (0.0f64, 0.0f64, 0u32);
    let mut offset = 0i64;
    let mut i = 0;
    while i < partials.len() {
        // Every shard's partials of one window, then the close that the shards' watermark allows.
        let (size, start) = partials
            .get(i)
            .map_or((0, 0), |(_, p)| (p.size_ms, p.start));
        let t = Instant::now();
        while let Some((shard, p)) = partials
            .get(i)
            .filter(|(_, p)| (p.size_ms, p.start) == (size, start))
        {
            for (part, range) in (0..).zip(part_bounds(p, PART_BYTES)) {
                let cut = part_of(p, range);
                let from = PartialOrigin {
                    shard: *shard,
                    part,
                    offset,
                };
                let _ = merger.ingest_partial(&cut, from);
                offset += 1;
            }
            i += 1;
        }
        merging += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let _ = merger.advance_to(start + size, &mut out);
        closing += t.elapsed().as_secs_f64();
        windows_5m += u32::from(size == 300_000);
    }
    let t = Instant::now();
    let _ = merger.finish(&mut out);
    closing += t.elapsed().as_secs_f64();
    let windows = merger.stats().windows_emitted;
    println!(
        "merger: {windows} windows emitted (5-minute and 1-hour; {windows_5m} 5-minute windows held partials), {} KPI records, {} breach events",
        out.kpis, out.breaches
    );
    println!(
        "merger on one thread: merging partials {merging:.2} s, closing (roll-up, KPI records, thresholds) {closing:.2} s; {:.2} s per window emitted",
        (merging + closing) / windows.max(1) as f64
    );
    println!(
        "peak RSS of the whole run: {:.0} MiB",
        common::peak_rss_mib()
    );
}
