//! Golden files: `tests/golden/*.jsonl` in, expected KPI records, breach events and dead letters
//! out, byte for byte. The expected files were produced by the engine and checked against the
//! reference implementation (see `versus_oracle`); regenerate with `UPDATE_GOLDEN=1 cargo test`
//! after a deliberate change, and review the diff.

use crate::*;
use std::path::PathBuf;

pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// The edge-case input by its path relative to the package (cargo runs tests from there), so
/// that dead letters name it the same on every machine.
fn input() -> PathBuf {
    PathBuf::from("tests/golden/edge_cases.jsonl")
}

const CONFIG: &str = r#"
[windows]
sizes = ["5m", "15m"]
[plans."5G-PREMIUM"]
min_dl_bps = 100000000
[plans."4G-STANDARD"]
min_dl_bps = 20000000
[[rules]]
name = "CellDown"
kpi = "availability_ratio"
level = "cell"
op = "<"
raise = 0.99
clear = 0.999
severity = "critical"
[[rules]]
name = "NetworkSetupSlow"
kpi = "call_setup_ms_p95"
level = "network"
op = ">"
raise = 1000
severity = "minor"
"#;

fn check(name: &str, got: &[u8]) {
    let path = dir().join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, got).expect("write golden");
        return;
    }
    let want = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if want != got {
        let (w, g) = (String::from_utf8_lossy(&want), String::from_utf8_lossy(got));
        let line = w.lines().zip(g.lines()).position(|(a, b)| a != b);
        panic!(
            "{name} differs from the golden file at line {line:?}:\nwant {:?}\ngot  {:?}",
            line.and_then(|l| w.lines().nth(l)),
            line.and_then(|l| g.lines().nth(l))
        );
    }
}

#[test]
fn edge_cases_give_the_golden_output() {
    let r = replay_files(&settings(CONFIG), &small_inventory(), &[input()]);
    check("edge_cases.kpis.jsonl", &r.raw.0);
    check("edge_cases.breaches.jsonl", &r.raw.1);
    check("edge_cases.dead_letters.jsonl", &r.raw.2);
}

#[test]
fn replay_is_deterministic() {
    let s = settings(CONFIG);
    let a = replay_files(&s, &small_inventory(), &[input()]);
    let b = replay_files(&s, &small_inventory(), &[input()]);
    assert_eq!(a.raw, b.raw);
}

#[test]
fn edge_cases_spot_checks() {
    let r = replay_files(&settings(CONFIG), &small_inventory(), &[input()]);
    let find = |start_off: i64, size: i64, level: &str, cell: &str| {
        let t0 = 1_767_225_600_000i64;
        r.kpis
            .iter()
            .find(|k| {
                k["window_start"] == t0 + start_off
                    && k["window_end"] == t0 + start_off + size
                    && k["level"] == level
                    && (cell.is_empty()
                        || k["group"]["cell"] == cell
                        || k["group"]["region"] == cell)
            })
            .unwrap_or_else(|| panic!("no record {start_off} {level} {cell}"))
            .clone()
    };
    let five = 300_000;
    // o2 [30 s, 90 s) and o1 open from 60 s to the window end: 270 s.
    let w0 = find(0, five, "cell", "S1-U1");
    assert_eq!(w0["kpis"]["outage_seconds"], 270.0);
    assert_eq!(w0["kpis"]["outages_started"], 1);
    assert_eq!(w0["kpis"]["outages_restored"], 1);
    // The late RESTORED of o1 closes it for the open windows: nothing in the next 5-minute window.
    assert_eq!(
        find(five, five, "cell", "S1-U1")["kpis"]["outage_seconds"],
        0.0
    );
    // …and in the open 15-minute window it contributes its own interval [60 s, 280 s).
    let q = find(0, 3 * five, "cell", "S1-U1");
    assert_eq!(q["kpis"]["outage_seconds"], 250.0);
    assert_eq!(q["kpis"]["outages_restored"], 2);
    // Unknown cell X9 is its own group, with UNKNOWN region; its outage was dead-lettered.
    let x9 = find(0, five, "cell", "X9");
    assert_eq!(x9["kpis"]["availability_ratio"], serde_json::Value::Null);
    assert_eq!(find(0, five, "region", "UNKNOWN")["kpis"]["sessions"], 1);
    // Gap windows exist: 5-minute windows 0..=5.
    let windows: std::collections::BTreeSet<i64> = r
        .kpis
        .iter()
        .filter(|k| {
            k["level"] == "network"
                && k["window_end"].as_i64().unwrap_or(0) - k["window_start"].as_i64().unwrap_or(0)
                    == five
        })
        .map(|k| k["window_start"].as_i64().unwrap_or(0))
        .collect();
    assert_eq!(windows.len(), 6);
    let reasons = dead_by_reason(&r.dead);
    for reason in [
        "late",
        "unknown_cell",
        "restored_without_started_at",
        "started_after_event_time",
        "negative_value",
        "invalid_type",
        "unknown_enum_symbol",
        "malformed",
        "unknown_record_type",
        "packets_lost_exceed_sent",
        "mos_out_of_range",
        "missing_field",
    ] {
        assert!(
            reasons.contains_key(reason),
            "no dead letter with reason {reason}: {reasons:?}"
        );
    }
    assert_eq!(reasons["late"], 2);
    let late = r.dead.iter().find(|d| d["reason"] == "late").unwrap();
    assert_eq!(late["source"], "tests/golden/edge_cases.jsonl:13", "{late}");
    assert!(
        late["payload"]
            .as_str()
            .unwrap()
            .contains("\"call_id\": \"c12\""),
        "{late}"
    );
}
