//! Memory per open (window, group) and peak RSS for one million cells with one open 5-minute
//! window, and the baselines of a million cells (run: `cargo bench --bench memory`). Prints a
//! report; asserts nothing about time.
//!
//! Records are made on the fly (not held) so that the peak RSS is the engine's: inventory, cell
//! table, level tables and the open window's per-cell accumulators with their sketches.

mod common;

use netkpi::config::from_toml_str;
use netkpi::engine::sources::Origin;
use netkpi::engine::{Engine, KpiRecord, Output};
use netkpi::model::{CallOutcome, CallRecord, DataSession, Event};
use netkpi::threshold::BreachEvent;
use netkpi::traffic::{Rng, synthetic_inventory};
use std::path::Path;

struct Count(u64);

impl Output for Count {
    type Error = std::convert::Infallible;
    fn kpi(&mut self, _: &KpiRecord<'_>) -> Result<(), Self::Error> {
        self.0 += 1;
        Ok(())
    }
    fn breach(&mut self, _: &BreachEvent) -> Result<(), Self::Error> {
        Ok(())
    }
}

fn event(rng: &mut Rng, cell_id: String, t: i64, i: u64) -> Event {
    if i.is_multiple_of(2) {
        Event::Call(CallRecord {
            call_id: String::new().into(),
            event_time: t,
            cell_id: cell_id.into(),
            outcome: if rng.chance(0.02) {
                CallOutcome::NetworkFailure
            } else {
                CallOutcome::Answered
            },
            setup_ms: Some(500 + rng.below(3000) as i32),
            duration_ms: Some(60_000),
            dropped: rng.chance(0.01),
            mos: Some(3.0 + rng.f64() * 1.5),
            signal_dbm: Some(-80 - rng.below(40) as i32),
            sinr_db: Some(rng.f64() * 20.0),
        })
    } else {
        let active = 1000 + rng.below(10_000) as i64;
        Event::Session(DataSession {
            session_id: String::new().into(),
            event_time: t,
            cell_id: cell_id.into(),
            plan: Some("5G-PREMIUM".into()),
            active_ms: active,
            dl_bytes: active * 1000 + rng.below(1_000_000) as i64,
            ul_bytes: 1000,
            rtt_ms: Some(10.0 + rng.f64() * 50.0),
            packets_sent: 1000,
            packets_lost: rng.below(10) as i64,
            signal_dbm: Some(-90),
            sinr_db: Some(5.0),
        })
    }
}

/// Feeds `per_cell` records to each of `n` cells in one window; returns bytes per cell group.
fn fill(n: usize, per_cell: u64, report: bool) -> f64 {
    let settings =
        from_toml_str(include_str!("../config/netkpi.toml"), Path::new("config")).expect("config");
    let cells = synthetic_inventory(n, 3);
    let ids: Vec<String> = cells.iter().map(|c| c.cell_id.clone()).collect();
    let mut engine = Engine::new(&settings.engine(), &cells);
    drop(cells);
    let before = common::status_kib("VmRSS:");
    let t0 = 1_767_268_800_000i64;
    let mut rng = Rng::new(5);
    let mut out = Count(0);
    for round in 0..per_cell {
        for id in &ids {
            let t = t0 + rng.below(240_000) as i64;
            let _ = engine.ingest_and_advance(
                &event(&mut rng, id.clone(), t, round),
                Origin::file(0),
                &mut out,
            );
        }
    }
    let (windows, bytes) = engine.open_windows();
    let per_group = bytes as f64 / n as f64;
    if report {
        println!(
            "cells: {n}, records: {} ({per_cell} per cell), open windows: {windows}",
            n as u64 * per_cell
        );
        println!(
            "accumulator bytes in the open window: {:.1} MiB, {per_group:.0} B per (window, cell group)",
            bytes as f64 / (1 << 20) as f64
        );
        println!(
            "RSS before records: {:.1} MiB; with the window open: {:.1} MiB",
            before as f64 / 1024.0,
            common::status_kib("VmRSS:") as f64 / 1024.0
        );
        let _ = engine.finish(&mut out);
        println!("KPI records emitted at close: {}", out.0);
        println!(
            "peak RSS (VmHWM, close and roll-up included): {:.1} MiB",
            common::peak_rss_mib()
        );
    }
    per_group
}

/// The traffic baselines of `n` cells (what a sleeping-cell rule keeps): bytes per cell, RSS
/// they add, and the time of one window's verdicts and learning.
fn baselines(n: usize) {
    use netkpi::engine::baseline::{BaselineSettings, Slot};
    use netkpi::engine::groups::CellTable;
    use netkpi::engine::sleeping::{Peers, SleepWatch, SleepingSettings};
    let cells = synthetic_inventory(n, 3);
    let table = CellTable::new(&cells);
    drop(cells);
    let peers = Peers::new(&table);
    let before = common::status_kib("VmRSS:");
    let settings = BaselineSettings::default();
    let mut watch = SleepWatch::new(0, n, settings);
    let after = common::status_kib("VmRSS:");
    let mut rng = Rng::new(9);
    let accs: Vec<netkpi::kpi::Acc> = (0..n)
        .map(|_| netkpi::kpi::Acc {
            call_attempts: 20 + rng.below(40),
            sessions: 20 + rng.below(40),
            ..netkpi::kpi::Acc::default()
        })
        .collect();
    // Three days of one hour's windows (12 a day), so that the last day judges every cell.
    let started = std::time::Instant::now();
    let mut closes = 0u32;
    for day in 0..3 {
        for _ in 0..12 {
            watch.close_window(
                Slot { day, hour: 10 },
                &accs,
                &peers,
                settings,
                SleepingSettings::default(),
            );
            closes += 1;
        }
    }
    let per_close = started.elapsed().as_secs_f64() / f64::from(closes);
    println!(
        "cells: {n}; baseline bytes per cell: {:.0} ({:.1} MiB in all); RSS added: {:.1} MiB",
        watch.bytes() as f64 / n as f64,
        watch.bytes() as f64 / (1 << 20) as f64,
        after.saturating_sub(before) as f64 / 1024.0
    );
    println!("one window's verdicts and learning for every cell: {per_close:.3} s on one thread");
}

fn main() {
    // `cargo test --benches` runs this without `--bench`: only `cargo bench` does the work.
    if !std::env::args().any(|a| a == "--bench") {
        println!("memory report: run `cargo bench --bench memory`");
        return;
    }
    // First, in a fresh heap, so that the RSS it adds is its own.
    println!("== baselines of one million cells (a sleeping-cell rule) ==");
    baselines(1_000_000);
    println!("\n== per-group footprint by load (bytes per open (window, cell) accumulator) ==");
    for per_cell in [0, 2, 10, 64, 200, 1000] {
        println!(
            "{per_cell:>5} records per cell: {:>7.0} B",
            fill(1000, per_cell, false)
        );
    }
    println!("\n== one million cells, one open 5-minute window ==");
    fill(1_000_000, 10, true);
}
