//! Memory per open (window, group) and peak RSS for one million cells with one open 5-minute
//! window (3 and 10 records per cell, the shipped configuration), and the baselines of a million
//! cells (run: `cargo bench --bench memory [-- CASE]`; each case runs in a process of its own).
//! Prints a report; asserts nothing about time.
//!
//! Records, and their cell ids, are made on the fly (not held) so that the peak RSS is the
//! engine's: cell table, level tables, baselines and the open window's per-cell accumulators.

mod common;

use netkpi::config::from_toml_str;
use netkpi::engine::sources::Origin;
use netkpi::engine::{Engine, KpiRecord, Output};
use netkpi::model::{CallOutcome, CallRecord, DataSession, Event};
use netkpi::threshold::BreachEvent;
use netkpi::traffic::{Rng, synthetic_cell_id, synthetic_inventory};
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

/// The shipped configuration (5-minute and 1-hour windows), or the same with only the 5-minute
/// windows (`five_minutes_only`: one open window, the 1-hour ones left out).
fn shipped_config(five_minutes_only: bool) -> netkpi::config::Settings {
    let shipped = include_str!("../config/netkpi.toml");
    let text = if five_minutes_only {
        shipped
            .replace("sizes = [\"5m\", \"1h\"]", "sizes = [\"5m\"]")
            .replace("window = \"1h\"", "window = \"5m\"")
    } else {
        shipped.to_string()
    };
    from_toml_str(&text, Path::new("config")).expect("config")
}

/// Feeds `per_cell` records to each of `n` cells in one window; returns bytes per cell group.
fn fill(n: usize, per_cell: u64, report: bool, five_minutes_only: bool) -> f64 {
    let settings = shipped_config(five_minutes_only);
    let cells = synthetic_inventory(n, 3);
    let unbuilt = common::status_kib("VmRSS:");
    let mut engine = Engine::new(&settings.engine(), &cells);
    let built = common::status_kib("VmRSS:");
    // As `replay` does once its engine is built.
    drop(cells);
    netkpi::return_freed_memory();
    let before = common::status_kib("VmRSS:");
    let t0 = 1_767_268_800_000i64;
    let mut rng = Rng::new(5);
    let mut out = Count(0);
    for round in 0..per_cell {
        for i in 0..n {
            let t = t0 + rng.below(240_000) as i64;
            let _ = engine.ingest_and_advance(
                &event(&mut rng, synthetic_cell_id(i), t, round),
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
            "RSS added by building the engine (cell table, level tables, baselines): {:.1} MiB",
            built.saturating_sub(unbuilt) as f64 / 1024.0
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

/// The cases, each run in a process of its own so that its peak RSS is its own.
const CASES: [&str; 5] = [
    "baselines",
    "footprint",
    "million-3",
    "million-3-5m-only",
    "million-10",
];

fn run_case(case: &str) {
    match case {
        "baselines" => {
            println!("== baselines of one million cells (a sleeping-cell rule) ==");
            baselines(1_000_000);
        }
        "footprint" => {
            println!(
                "== per-group footprint by load (bytes per open (window, cell) accumulator) =="
            );
            for per_cell in [0, 2, 10, 64, 200, 1000] {
                println!(
                    "{per_cell:>5} records per cell: {:>7.0} B",
                    fill(1000, per_cell, false, false)
                );
            }
        }
        "million-3" => {
            println!("== one million cells, 3 million records in one 5-minute window ==");
            fill(1_000_000, 3, true, false);
        }
        "million-3-5m-only" => {
            println!("== the same with 5-minute windows only (no 1-hour window open beside it) ==");
            fill(1_000_000, 3, true, true);
        }
        "million-10" => {
            println!("== one million cells, 10 million records in one 5-minute window ==");
            fill(1_000_000, 10, true, false);
        }
        other => println!("no case `{other}`: one of {CASES:?}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo test --benches` runs this without `--bench`: only `cargo bench` does the work.
    if !args.iter().any(|a| a == "--bench") {
        println!(
            "memory report: run `cargo bench --bench memory [-- CASE]`, CASE one of {CASES:?}"
        );
        return;
    }
    if let Some(case) = args.iter().find(|a| CASES.contains(&a.as_str())) {
        run_case(case);
        return;
    }
    let me = std::env::current_exe().expect("own path");
    for case in CASES {
        let status = std::process::Command::new(&me)
            .args(["--bench", case])
            .status()
            .expect("run a case");
        assert!(status.success(), "case {case} failed");
        println!();
    }
}
