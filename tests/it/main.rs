//! Integration tests: one binary with shared helpers. The replay path is checked against a
//! brute-force reference implementation of docs/semantics.md (`oracle`), against golden files, and
//! through the `netkpi` binary itself.

mod avro;
mod bad_input;
mod cli;
mod deploy;
mod docs;
mod faults;
mod golden;
mod kafka;
mod limits;
mod oracle;
mod prometheus;
mod props;
mod registry;
mod report;
mod sleeping;
mod versus_oracle;

use netkpi::config::{Settings, from_toml_str};
use netkpi::engine::Engine;
use netkpi::inventory::Cell;
use netkpi::telemetry::Counters;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Settings from TOML text (the inventory path is not read).
pub fn settings(toml: &str) -> Settings {
    let text = format!("[inventory]\npath = \"cells.csv\"\n{toml}");
    from_toml_str(&text, Path::new(".")).expect("valid test config")
}

/// Output of one replay, parsed.
pub struct Replayed {
    pub kpis: Vec<Value>,
    pub breaches: Vec<Value>,
    pub dead: Vec<Value>,
    pub raw: (Vec<u8>, Vec<u8>, Vec<u8>),
    pub counters: Counters,
}

fn parse(bytes: &[u8]) -> Vec<Value> {
    bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("output lines are JSON"))
        .collect()
}

/// Replays files through the library.
pub fn replay_files(settings: &Settings, cells: &[Cell], inputs: &[PathBuf]) -> Replayed {
    let mut engine = Engine::new(&settings.engine(), cells);
    let (mut k, mut b, mut d) = (Vec::new(), Vec::new(), Vec::new());
    let counters = netkpi::replay::replay(
        &mut engine,
        inputs,
        &netkpi::replay::ReplayOptions::of(settings),
        &mut k,
        &mut b,
        &mut d,
        Default::default(),
    )
    .expect("replay runs");
    Replayed {
        kpis: parse(&k),
        breaches: parse(&b),
        dead: parse(&d),
        raw: (k, b, d),
        counters,
    }
}

/// Replays JSON lines (written to a temporary file).
pub fn replay_lines(settings: &Settings, cells: &[Cell], lines: &[String]) -> Replayed {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("input.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").expect("write input");
    replay_files(settings, cells, &[path])
}

/// A small inventory as CSV: two regions, four technologies.
pub const SMALL_INVENTORY_CSV: &str = "cell_id,site_id,region,area,technology\n\
     N1-L1,N1,North,URBAN,LTE\nN1-N1,N1,North,URBAN,NR\nN2-L1,N2,North,RURAL,LTE\n\
     S1-L1,S1,South,SUBURBAN,LTE\nS1-U1,S1,South,SUBURBAN,UMTS\nS2-G1,S2,South,RURAL,GSM\n";

/// The small inventory, parsed.
pub fn small_inventory() -> Vec<Cell> {
    netkpi::inventory::parse(SMALL_INVENTORY_CSV.as_bytes(), "test").expect("inventory")
}

fn is_percentile(name: &str) -> bool {
    name.contains("_p0") || name.contains("_p5") || name.contains("_p9")
}

/// Asserts two KPI values agree: counts exactly, percentiles within 1 %, other reals within
/// floating-point rounding.
pub fn assert_close(name: &str, got: &Value, want: &Value, ctx: &str) {
    match (got, want) {
        (Value::Null, Value::Null) => {}
        (Value::Number(g), Value::Number(w)) if w.is_u64() || w.is_i64() => {
            assert_eq!(g.as_f64(), w.as_f64(), "{name} at {ctx}");
        }
        (Value::Number(g), Value::Number(w)) => {
            let (g, w) = (
                g.as_f64().unwrap_or(f64::NAN),
                w.as_f64().unwrap_or(f64::NAN),
            );
            let tol = if is_percentile(name) {
                0.01 * w.abs()
            } else {
                1e-9 * w.abs().max(1e-3)
            };
            assert!(
                (g - w).abs() <= tol,
                "{name} at {ctx}: engine {g}, reference {w}"
            );
        }
        _ => panic!("{name} at {ctx}: engine {got}, reference {want}"),
    }
}

/// Asserts the engine's KPI records equal the reference's, in the same order.
pub fn assert_same_kpis(engine: &[Value], reference: &[Value]) {
    let key = |v: &Value| {
        format!(
            "{} {} {} {}",
            v["window_start"], v["window_end"], v["level"], v["group"]
        )
    };
    let ek: Vec<String> = engine.iter().map(key).collect();
    let rk: Vec<String> = reference.iter().map(key).collect();
    if ek != rk {
        let first = ek.iter().zip(&rk).position(|(a, b)| a != b);
        panic!(
            "record keys differ: engine {} records, reference {}; first difference at {:?}: engine {:?} reference {:?}",
            ek.len(),
            rk.len(),
            first,
            first.map(|i| &ek[i]),
            first.map(|i| &rk[i])
        );
    }
    for (e, r) in engine.iter().zip(reference) {
        let ctx = key(e);
        let (ek, rk) = (
            e["kpis"].as_object().expect("kpis"),
            r["kpis"].as_object().expect("kpis"),
        );
        assert_eq!(ek.len(), rk.len(), "number of KPIs at {ctx}");
        for (name, want) in rk {
            assert_close(name, &ek[name], want, &ctx);
        }
    }
}

/// Asserts breach events agree (values within rounding).
pub fn assert_same_breaches(engine: &[Value], reference: &[Value]) {
    let strip = |v: &Value| {
        let mut v = v.clone();
        v["value"] = Value::Null;
        v
    };
    assert_eq!(
        engine.len(),
        reference.len(),
        "number of breach events: engine {engine:#?} reference {reference:#?}"
    );
    for (e, r) in engine.iter().zip(reference) {
        assert_eq!(strip(e), strip(r));
        assert_close(
            "value",
            &e["value"],
            &r["value"],
            &e["breach_id"].to_string(),
        );
    }
}

/// Dead letters counted by reason.
pub fn dead_by_reason(dead: &[Value]) -> std::collections::BTreeMap<String, u64> {
    let mut m = std::collections::BTreeMap::new();
    for d in dead {
        *m.entry(d["reason"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
    }
    m
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// GET on the loopback endpoint: (status, body).
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    Some((status, body))
}
