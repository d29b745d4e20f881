//! `netkpi report` against a brute-force reading of docs/reports.md: hand-made KPI records of four
//! days in India (UTC+05:30, so UTC-aligned hours straddle local days) for two regions, one of
//! which misses every target and has a day without data; every verdict, share, pooled value and
//! worst-cell list is recomputed here from the records and compared with `report.json`.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const HOUR: i64 = 3_600_000;
/// 2026-11-01T00:00:00+05:30.
const START: i64 = 1_793_471_400_000;
const IST: i64 = 19_800_000;

/// One cell-hour: attempts, network failures, answered, drops, erlangs.
#[derive(Clone, Copy)]
struct Hour {
    attempts: u64,
    failures: u64,
    answered: u64,
    drops: u64,
    erlangs: f64,
    outage_s: f64,
}

const CELLS: [(&str, &str); 6] = [
    ("N1", "North"),
    ("N2", "North"),
    ("N3", "North"),
    ("S1", "South"),
    ("S2", "South"),
    ("S3", "South"),
];

/// Diurnal traffic with the peak at local 20:00; North is degraded, N3 drops 10 % of its calls,
/// S2 drops 5 % on day 1 only; South sends nothing on day 2; N1 is down 3 h on day 0.
fn hour_of(cell: &str, region: &str, day: i64, local_hour: i64) -> Option<Hour> {
    if region == "South" && day == 2 {
        return None;
    }
    let load = 1.0 + 9.0 * (-(((local_hour - 20) as f64).powi(2)) / 18.0).exp();
    let attempts = (20.0 * load) as u64 + (cell.as_bytes()[1] as u64 % 3);
    let failures = if region == "North" {
        attempts / 12
    } else {
        attempts / 50
    };
    let answered = attempts - failures - attempts / 10;
    let drops = match (cell, day) {
        ("N3", _) => answered / 10,
        ("S2", 1) => answered / 20,
        _ => answered / 200,
    };
    let outage_s = if cell == "N1" && day == 0 && (2..5).contains(&local_hour) {
        3600.0
    } else {
        0.0
    };
    Some(Hour {
        attempts,
        failures,
        answered,
        drops,
        erlangs: load * (1.0 + cell.as_bytes()[1] as f64 / 100.0),
        outage_s,
    })
}

fn record(start: i64, level: &str, group: Value, h: &Hour, cells: f64) -> Value {
    let ratio = |n: u64, d: u64| {
        if d == 0 {
            Value::Null
        } else {
            json!(n as f64 / d as f64)
        }
    };
    json!({
        "window_start": start, "window_end": start + HOUR, "level": level, "group": group,
        "kpis": {
            "call_attempts": h.attempts, "call_network_failures": h.failures,
            "call_answered": h.answered, "call_drops": h.drops,
            "network_connection_ratio": ratio(h.attempts - h.failures, h.attempts),
            "call_answer_ratio": ratio(h.answered, h.attempts),
            "dropped_call_ratio": ratio(h.drops, h.answered),
            "traffic_erlangs": h.erlangs, "outage_seconds": h.outage_s,
            "availability_ratio": 1.0 - h.outage_s / (cells * 3600.0),
            "outages_started": 0, "outages_restored": 0, "mttr_seconds": null,
            "mos_samples": 0, "throughput_samples": 0, "speed_samples": 0, "packets_sent": 0
        }
    })
}

/// Every record: cell and region level, in a scrambled order.
fn records() -> Vec<(i64, String, String, Hour)> {
    let mut out = Vec::new();
    for day in 0..4 {
        for lh in 0..24 {
            let start = START + (day * 24 + lh) * HOUR;
            let mut per_region: BTreeMap<&str, Hour> = BTreeMap::new();
            for (cell, region) in CELLS {
                let Some(h) = hour_of(cell, region, day, lh) else {
                    continue;
                };
                out.push((start, "cell".to_string(), cell.to_string(), h));
                let r = per_region.entry(region).or_insert(Hour {
                    attempts: 0,
                    failures: 0,
                    answered: 0,
                    drops: 0,
                    erlangs: 0.0,
                    outage_s: 0.0,
                });
                r.attempts += h.attempts;
                r.failures += h.failures;
                r.answered += h.answered;
                r.drops += h.drops;
                r.erlangs += h.erlangs;
                r.outage_s += h.outage_s;
            }
            for (region, h) in per_region {
                out.push((start, "region".to_string(), region.to_string(), h));
            }
        }
    }
    // A deterministic shuffle: reports must not depend on record order.
    let n = out.len();
    for i in 0..n {
        out.swap(i, (i * 7919 + 13) % n);
    }
    out
}

fn local_day(ms: i64) -> i64 {
    (ms + IST).div_euclid(86_400_000)
}

/// Busy hour of each (group, local day): the most erlangs, earliest on a tie.
fn busy_hours<'a>(
    rows: &'a [(i64, String, String, Hour)],
    level: &str,
) -> BTreeMap<(String, i64), &'a (i64, String, String, Hour)> {
    let mut best: BTreeMap<(String, i64), &(i64, String, String, Hour)> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.1 == level) {
        let key = (r.2.clone(), local_day(r.0));
        let better = best
            .get(&key)
            .is_none_or(|b| r.3.erlangs > b.3.erlangs || (r.3.erlangs == b.3.erlangs && r.0 < b.0));
        if better && r.3.erlangs > 0.0 {
            best.insert(key, r);
        }
    }
    best
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(1.0)
}

fn write_inputs(dir: &Path) {
    let rows = records();
    // Split over two files.
    let mut files = [String::new(), String::new()];
    for (i, (start, level, g, h)) in rows.iter().enumerate() {
        let (group, cells) = if level == "cell" {
            (json!({ "cell": g }), 1.0)
        } else {
            (json!({ "region": g }), 3.0)
        };
        files[i % 2].push_str(&record(*start, level, group, h, cells).to_string());
        files[i % 2].push('\n');
    }
    // A record of another window size and a broken line are counted, not fatal.
    files[0].push_str(&json!({"window_start": START, "window_end": START + 300_000, "level": "region", "group": {"region": "North"}, "kpis": {}}).to_string());
    files[0].push_str("\n{not json\n");
    std::fs::write(dir.join("a.jsonl"), &files[0]).unwrap();
    std::fs::write(dir.join("b.jsonl"), &files[1]).unwrap();
    let mut inv = String::from("cell_id,site_id,region,area,technology\n");
    for (cell, region) in CELLS {
        inv.push_str(&format!("{cell},{region}-site,{region},URBAN,LTE\n"));
    }
    std::fs::write(dir.join("cells.csv"), inv).unwrap();
    std::fs::write(
        dir.join("netkpi.toml"),
        r#"[inventory]
path = "cells.csv"
[windows]
sizes = ["5m", "1h"]
[kpi]
levels = ["cell", "region"]
[report]
window = "1h"
timezone = "Asia/Kolkata"
worst_cells = 2
[[targets]]
name = "connection"
kpi = "network_connection_ratio"
level = "region"
op = ">="
value = 0.95
[[targets]]
name = "drops, day"
kpi = "dropped_call_ratio"
level = "region"
at = "day"
op = "<="
value = 0.02
[[targets]]
name = "drop spatial"
kpi = "dropped_call_ratio"
level = "cell"
within = "region"
op = "<="
value = 0.02
cells_share = 0.6
days_share = 0.9
min_samples = 30
[[targets]]
name = "availability"
kpi = "availability_ratio"
level = "region"
at = "day"
op = ">="
value = 0.99
"#,
    )
    .unwrap();
}

fn run_report(dir: &Path, inputs: &[&str], out: &str) -> Value {
    let mut args = vec![
        "report",
        "--config",
        "netkpi.toml",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-05",
        "--out",
        out,
    ];
    for i in inputs {
        args.extend(["--kpis", i]);
    }
    let o = Command::new(env!("CARGO_BIN_EXE_netkpi"))
        .current_dir(dir)
        .args(&args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "report failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&std::fs::read(dir.join(out).join("report.json")).unwrap()).unwrap()
}

fn target<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap()
}

fn period<'a>(t: &'a Value, region: &str) -> &'a Value {
    let g = t["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"]["region"] == region)
        .unwrap();
    &g["periods"][0]
}

#[test]
fn report_json_holds_what_the_definitions_give() {
    let dir = tempfile::tempdir().unwrap();
    write_inputs(dir.path());
    let report = run_report(dir.path(), &["a.jsonl", "b.jsonl"], "out");
    let rows = records();
    assert_eq!(report["input"]["other_window_size"], 1);
    assert_eq!(report["input"]["unreadable"], 1);
    assert_eq!(report["period"]["days"], 4);
    assert_eq!(report["period"]["days_with_data"], 4);

    // Group target at the busy hour: pooled counts of each day's busiest region hour.
    let busy = busy_hours(&rows, "region");
    let conn = target(&report, "connection");
    for region in ["North", "South"] {
        let hours: Vec<_> = busy
            .iter()
            .filter(|((g, _), _)| g == region)
            .map(|(_, r)| r.3)
            .collect();
        let att: u64 = hours.iter().map(|h| h.attempts).sum();
        let ok: u64 = hours.iter().map(|h| h.attempts - h.failures).sum();
        let p = period(conn, region);
        let value = ok as f64 / att as f64;
        assert!(close(p["value"].as_f64().unwrap(), value), "{region}: {p}");
        assert_eq!(p["samples"], att);
        assert_eq!(p["days_with_data"], hours.len() as u64);
        assert_eq!(p["complies"], value >= 0.95);
        // The busy hour is local 20:00 each day.
        for ((_, day), r) in busy.iter().filter(|((g, _), _)| g == region) {
            assert_eq!(
                (r.0 + IST - day * 86_400_000).rem_euclid(86_400_000) / HOUR,
                20
            );
        }
    }
    assert_eq!(period(conn, "North")["complies"], false);
    assert_eq!(period(conn, "South")["complies"], true);
    assert_eq!(period(conn, "South")["days_with_data"], 3);

    // Group target over the whole day: every window of the period pooled.
    let drops = target(&report, "drops, day");
    for region in ["North", "South"] {
        let hs: Vec<&Hour> = rows
            .iter()
            .filter(|r| r.1 == "region" && r.2 == region)
            .map(|r| &r.3)
            .collect();
        let value = hs.iter().map(|h| h.drops).sum::<u64>() as f64
            / hs.iter().map(|h| h.answered).sum::<u64>() as f64;
        let p = period(drops, region);
        assert!(close(p["value"].as_f64().unwrap(), value));
        assert_eq!(p["complies"], value <= 0.02);
        assert_eq!(
            p["value_by_day"].as_object().unwrap().len(),
            if region == "South" { 3 } else { 4 }
        );
    }

    // Cell-share target: each cell at its own busy hour, min 30 answered calls.
    let cell_busy = busy_hours(&rows, "cell");
    let spatial = target(&report, "drop spatial");
    for region in ["North", "South"] {
        let p = period(spatial, region);
        let mut complying_days = 0;
        let mut days = 0;
        for day in 0..4 {
            let d = local_day(START) + day;
            let cells: Vec<&Hour> = CELLS
                .iter()
                .filter(|(_, r)| *r == region)
                .filter_map(|(c, _)| cell_busy.get(&(c.to_string(), d)).map(|r| &r.3))
                .filter(|h| h.answered >= 30)
                .collect();
            let date = format!("2026-11-0{}", day + 1);
            if cells.is_empty() {
                assert!(p["cells_share_by_day"].get(&date).is_none());
                continue;
            }
            days += 1;
            let ok = cells
                .iter()
                .filter(|h| h.drops as f64 / h.answered as f64 <= 0.02)
                .count();
            let share = ok as f64 / cells.len() as f64;
            assert!(
                close(p["cells_share_by_day"][&date].as_f64().unwrap(), share),
                "{region} {date}: {p}"
            );
            complying_days += u64::from(share >= 0.6);
        }
        assert_eq!(p["days_with_data"], days);
        let days_share = complying_days as f64 / days as f64;
        assert!(close(p["days_share"].as_f64().unwrap(), days_share));
        assert_eq!(p["complies"], days_share >= 0.9);
    }
    // South: S2's bad day 1 leaves 2 of 3 cells compliant (≥ 0.6): every day complies.
    assert_eq!(period(spatial, "South")["complies"], true);
    assert_eq!(period(spatial, "North")["complies"], true);
    // The chronic drop cell leads North's worst cells, with every day failed.
    let north = spatial["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"]["region"] == "North")
        .unwrap();
    let worst = north["worst_cells"].as_array().unwrap();
    assert_eq!(worst.len(), 2);
    assert_eq!(worst[0]["cell"], "N3");
    assert_eq!(worst[0]["days_failed"], 4);
    let n3: Vec<&Hour> = cell_busy
        .iter()
        .filter(|((c, _), _)| c == "N3")
        .map(|(_, r)| &r.3)
        .collect();
    assert_eq!(
        worst[0]["failures"].as_f64().unwrap(),
        n3.iter().map(|h| h.drops).sum::<u64>() as f64
    );

    // Availability is the mean of the windows; N1's 3 h outage on day 0 costs North 1/72 of it.
    let avail = target(&report, "availability");
    let north_avail: Vec<f64> = rows
        .iter()
        .filter(|r| r.1 == "region" && r.2 == "North")
        .map(|r| 1.0 - r.3.outage_s / (3.0 * 3600.0))
        .collect();
    let mean = north_avail.iter().sum::<f64>() / north_avail.len() as f64;
    assert!(close(
        period(avail, "North")["value"].as_f64().unwrap(),
        mean
    ));
    let north_avail_group = avail["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"]["region"] == "North")
        .unwrap();
    assert_eq!(north_avail_group["worst_cells"][0]["cell"], "N1");
    assert_eq!(
        north_avail_group["worst_cells"][0]["failures"],
        3.0 * 3600.0
    );

    // The same records in one file, in another order, give the same bytes.
    let all = format!(
        "{}{}",
        std::fs::read_to_string(dir.path().join("b.jsonl")).unwrap(),
        std::fs::read_to_string(dir.path().join("a.jsonl")).unwrap()
    );
    std::fs::write(dir.path().join("all.jsonl"), all).unwrap();
    run_report(dir.path(), &["all.jsonl"], "again");
    for name in ["report.json", "report.csv", "report.html"] {
        assert_eq!(
            std::fs::read(dir.path().join("out").join(name)).unwrap(),
            std::fs::read(dir.path().join("again").join(name)).unwrap(),
            "{name} differs"
        );
    }
    let csv = std::fs::read_to_string(dir.path().join("out/report.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 4 * 2);
    assert!(csv.contains(
        "connection,network_connection_ratio,region,region=North,2026-11-01,2026-11-05,4,4,"
    ));
}

#[test]
fn report_configuration_errors_name_their_key() {
    let dir = tempfile::tempdir().unwrap();
    write_inputs(dir.path());
    let bad = r#"[inventory]
path = "cells.csv"
[windows]
sizes = ["5m"]
[kpi]
levels = ["cell", "region"]
[report]
window = "1h"
timezone = "Europe/Atlantis"
[[targets]]
name = "p95"
kpi = "call_setup_ms_p95"
level = "region"
op = "<="
value = 3000
[[targets]]
name = "share"
kpi = "dropped_call_ratio"
level = "cell"
within = "cell,region"
op = "<="
value = 0.02
cells_share = 0.9
days_share = 1.5
[[targets]]
name = "area"
kpi = "dropped_call_ratio"
level = "area"
op = "<"
value = 0.02
"#;
    std::fs::write(dir.path().join("bad.toml"), bad).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_netkpi"))
        .current_dir(dir.path())
        .args(["check-config", "bad.toml"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(2), "{text}");
    for key in [
        "report.window",
        "report.timezone",
        "targets[0].kpi",
        "targets[1].within",
        "targets[1].days_share",
        "targets[2].level",
        "targets[2].op",
    ] {
        assert!(text.contains(key), "{key} missing from:\n{text}");
    }
    // Without targets, `report` says what is missing.
    let none = "[inventory]\npath = \"cells.csv\"\n";
    std::fs::write(dir.path().join("none.toml"), none).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_netkpi"))
        .current_dir(dir.path())
        .args([
            "report",
            "--config",
            "none.toml",
            "--kpis",
            "a.jsonl",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-02",
            "--out",
            "x",
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("[[targets]]"));
    // The shipped target sets validate against the shipped configuration.
    let root = env!("CARGO_MANIFEST_DIR");
    for set in ["trai", "miit-3g"] {
        let o = Command::new(env!("CARGO_BIN_EXE_netkpi"))
            .args([
                "check-config",
                &format!("{root}/config/netkpi.toml"),
                "--targets",
                &format!("{root}/config/targets/{set}.toml"),
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{set}: {text}");
        assert!(
            text.contains("target(s)") && !text.contains(" 0 target(s)"),
            "{text}"
        );
    }
}

/// Hosts Chromium itself talks to (updates, time, accounts, dictionaries) whatever the page:
/// not requests of the page.
const BROWSER_HOSTS: [&str; 4] = [
    "google.com/",
    "googleapis.com/",
    "gvt1.com/",
    "gstatic.com/",
];

/// Opens `page` in headless Chromium: its rendered DOM, its console lines, and the URLs the
/// page requested (beyond the page itself and Chromium's own service hosts).
fn open_in_chromium(page: &Path, shot: Option<&Path>) -> (String, Vec<String>, Vec<String>) {
    let chromium = std::env::var("NETKPI_CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let dir = tempfile::tempdir().unwrap();
    let net = dir.path().join("net.json");
    let mut args: Vec<String> = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--enable-logging=stderr",
        "--v=0",
    ]
    .map(String::from)
    .to_vec();
    args.push(format!(
        "--user-data-dir={}",
        dir.path().join("profile").display()
    ));
    args.push(format!("--log-net-log={}", net.display()));
    match shot {
        Some(png) => {
            args.push(format!("--screenshot={}", png.display()));
            args.push("--window-size=1100,3000".into());
        }
        None => args.push("--dump-dom".into()),
    }
    args.push(format!("file://{}", page.display()));
    let o = Command::new(&chromium)
        .args(&args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {chromium} ({e}): scripts/test installs Debian's chromium package")
        });
    assert!(
        o.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let console = String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(String::from)
        .collect();
    let log = std::fs::read_to_string(&net).unwrap_or_default();
    let mut urls: Vec<String> = log
        .split("\"url\":\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|u| !u.starts_with("file://") && !u.starts_with("data:"))
        .filter(|u| !BROWSER_HOSTS.iter().any(|h| u.contains(h)))
        .map(String::from)
        .collect();
    urls.sort();
    urls.dedup();
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        console,
        urls,
    )
}

#[test]
fn report_html_renders_offline_without_errors_and_shows_the_json_numbers() {
    let dir = tempfile::tempdir().unwrap();
    write_inputs(dir.path());
    let report = run_report(dir.path(), &["a.jsonl", "b.jsonl"], "out");
    let page = dir.path().join("out/report.html");
    // The checks can fail: a page with a remote image and a script error is caught.
    let bad = dir.path().join("bad.html");
    std::fs::write(&bad, "<html><body><img src=\"http://192.0.2.1/x.png\"><script>console.error('boom')</script></body></html>").unwrap();
    let (_, console, urls) = open_in_chromium(&bad, None);
    assert_eq!(console.len(), 1, "{console:?}");
    assert_eq!(urls, vec!["http://192.0.2.1/x.png".to_string()]);

    let (dom, console, urls) = open_in_chromium(&page, None);
    assert!(console.is_empty(), "console: {console:?}");
    assert!(urls.is_empty(), "the report requested {urls:?}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("<script") && !html.contains("src=") && !html.contains("url("));
    // The matrix, a chart per target, the worst-cell tables.
    assert!(dom.contains("Compliance matrix"));
    assert_eq!(
        dom.matches("<svg").count(),
        report["targets"].as_array().unwrap().len()
    );
    assert!(dom.contains("Worst cells, North"));
    // Every pooled value and share of report.json, exactly, and each verdict.
    for t in report["targets"].as_array().unwrap() {
        for g in t["groups"].as_array().unwrap() {
            for p in g["periods"].as_array().unwrap() {
                let figure = p.get("value").or_else(|| p.get("days_share")).unwrap();
                assert!(
                    dom.contains(&format!(">{figure}<")),
                    "{figure} of {} not in the page",
                    t["name"]
                );
                let word = match p["complies"].as_bool() {
                    Some(true) => "met",
                    Some(false) => "missed",
                    None => "no data",
                };
                assert!(dom.contains(word));
            }
            for c in g["worst_cells"].as_array().unwrap() {
                assert!(dom.contains(&format!(">{}<", c["cell"].as_str().unwrap())));
            }
        }
    }
    let conn = period(target(&report, "connection"), "North")["value"]
        .as_f64()
        .unwrap();
    assert!(
        dom.contains(&format!("{:.2} %", conn * 100.0)),
        "the matrix shows the value as a percentage"
    );
    // A screenshot renders (kept as docs/report-example.png for the shipped example).
    let png = dir.path().join("shot.png");
    open_in_chromium(&page, Some(&png));
    assert!(std::fs::metadata(&png).unwrap().len() > 50_000);
}

#[test]
fn the_kpis_topic_of_a_run_gives_the_report_of_a_replay() {
    use crate::kafka::{Broker, start_run, traffic, wait_until};
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("cells.csv"), crate::SMALL_INVENTORY_CSV).unwrap();
    let config = format!(
        r#"[inventory]
path = "cells.csv"
[windows]
sizes = ["5m", "1h"]
[kpi]
levels = ["cell", "region"]
[report]
timezone = "Asia/Kolkata"
worst_cells = 3
[[targets]]
name = "connection"
kpi = "network_connection_ratio"
level = "region"
op = ">="
value = 0.95
[[targets]]
name = "drop spatial"
kpi = "dropped_call_ratio"
level = "cell"
within = "region"
op = "<="
value = 0.02
cells_share = 0.9
days_share = 0.9
[kafka]
brokers = "{}"
group_id = "report"
commit_interval = "100ms"
session_timeout = "2s"
output_partitions = 2
[http]
address = ""
"#,
        broker.addr
    );
    std::fs::write(d.join("netkpi.toml"), config).unwrap();
    let settings = netkpi::config::load(&d.join("netkpi.toml")).unwrap();
    // 30 hours from 2026-01-01T00:00Z: two local days in India.
    let (items, lines) = traffic(&crate::small_inventory(), 5, 30 * 60, 1.0);
    std::fs::write(d.join("in.jsonl"), lines.join("\n") + "\n").unwrap();
    netkpi::kafka::produce::produce_traffic(&settings.kafka, items, 3).expect("produce");
    let out = wait_until(
        start_run(&d.join("netkpi.toml")),
        std::time::Instant::now() + std::time::Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let netkpi = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_netkpi"))
            .current_dir(d)
            .args(args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    netkpi(&[
        "replay",
        "--config",
        "netkpi.toml",
        "--input",
        "in.jsonl",
        "--kpis-out",
        "kpis.jsonl",
        "--breaches-out",
        "b.jsonl",
        "--dead-letters-out",
        "dl.jsonl",
    ]);
    let report = |input: &[&str], out: &str| {
        let mut args = vec![
            "report",
            "--config",
            "netkpi.toml",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-03",
            "--period",
            "day",
            "--out",
            out,
        ];
        args.extend_from_slice(input);
        netkpi(&args);
        let json: Value =
            serde_json::from_slice(&std::fs::read(d.join(out).join("report.json")).unwrap())
                .unwrap();
        json
    };
    let from_files = report(&["--kpis", "kpis.jsonl"], "files");
    // A fresh read_committed reader of Tansu can stop short of the last transaction: read again.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let from_topic = loop {
        let r = report(&["--from-kafka"], "topic");
        if r["input"]["used"] == from_files["input"]["used"] || std::time::Instant::now() > deadline
        {
            break r;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    assert!(from_files["input"]["used"].as_u64().unwrap() > 100);
    assert_eq!(from_topic["input"]["used"], from_files["input"]["used"]);
    assert_eq!(from_topic["targets"], from_files["targets"]);
    assert_eq!(from_topic["period"], from_files["period"]);
    assert_eq!(
        from_files["targets"][0]["groups"][0]["periods"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    for name in ["report.csv", "report.html"] {
        assert_eq!(
            std::fs::read(d.join("files").join(name)).unwrap(),
            std::fs::read(d.join("topic").join(name)).unwrap(),
            "{name}"
        );
    }
}
