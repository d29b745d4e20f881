//! The engine against the brute-force reference on generated traffic with every difficulty the
//! generator has: out-of-order and late records, bad records, unknown cells and plans, frequent
//! and overlapping outages, two window sizes, rules on several levels.

use crate::oracle;
use crate::*;
use netkpi::traffic::{GenItem, GenOptions, Generator, synthetic_inventory};

const RULES: &str = r#"
[windows]
sizes = ["5m", "15m"]
allowed_delay = "30s"
[plans."5G-PREMIUM"]
min_dl_bps = 100000000
[plans."4G-STANDARD"]
min_dl_bps = 20000000
[[rules]]
name = "CellFail"
kpi = "network_connection_ratio"
level = "cell"
op = "<"
raise = 0.9
clear = 0.95
for_windows = 1
clear_windows = 2
min_samples = 3
severity = "minor"
[[rules]]
name = "RegionDrops"
kpi = "dropped_call_ratio"
level = "region,technology"
op = ">"
raise = 0.01
clear = 0.005
for_windows = 2
severity = "major"
[[rules]]
name = "CellDown"
kpi = "availability_ratio"
level = "cell"
op = "<"
raise = 0.99
clear = 0.999
severity = "critical"
window = "15m"
[[rules]]
name = "RegionCoverage"
kpi = "coverage_ratio"
level = "region"
match = { region = "North" }
op = "<"
raise = 0.9
severity = "warning"
"#;

fn traffic(seed: u64, cells: &[netkpi::inventory::Cell]) -> Vec<String> {
    let opts = GenOptions {
        duration_ms: 100 * 60_000,
        peak_rate: 8.0,
        seed,
        degraded_share: 0.2,
        outages_per_cell_day: 40.0,
        late_share: 0.03,
        bad_share: 0.02,
        jitter_ms: 25_000,
        late_shift_ms: 6 * 60_000,
        ..GenOptions::default()
    };
    let mut known = cells.to_vec();
    // Traffic also lands on cells missing from the inventory the engine is given.
    known.extend(synthetic_inventory(3, 99).into_iter().map(|mut c| {
        c.cell_id = format!("GHOST-{}", c.cell_id);
        c
    }));
    Generator::new(known, opts)
        .map(GenItem::into_json_line)
        .collect()
}

#[test]
fn generated_traffic_matches_the_reference() {
    let cells = synthetic_inventory(24, 5);
    let s = settings(RULES);
    for seed in [1, 2, 3] {
        let lines = traffic(seed, &cells);
        let engine = replay_lines(&s, &cells, &lines);
        let reference = oracle::run(&s, &cells, &lines);
        assert!(engine.kpis.len() > 1000, "enough output to mean something");
        assert_same_kpis(&engine.kpis, &reference.kpis);
        assert_same_breaches(&engine.breaches, &reference.breaches);
        assert_eq!(
            dead_by_reason(&engine.dead),
            reference.dead,
            "dead letters by reason"
        );
        assert!(
            reference.dead.get("late").copied().unwrap_or(0) > 0,
            "the traffic has late records"
        );
        assert!(!engine.breaches.is_empty(), "the traffic raises alarms");
    }
}

#[test]
fn edge_cases_match_the_reference() {
    let cells = small_inventory();
    let s = settings(RULES);
    let lines: Vec<String> = std::fs::read_to_string(crate::golden::dir().join("edge_cases.jsonl"))
        .expect("edge cases")
        .lines()
        .map(String::from)
        .collect();
    let engine = replay_lines(&s, &cells, &lines);
    let reference = oracle::run(&s, &cells, &lines);
    assert_same_kpis(&engine.kpis, &reference.kpis);
    assert_same_breaches(&engine.breaches, &reference.breaches);
    assert_eq!(dead_by_reason(&engine.dead), reference.dead);
}
