//! `netkpi report` at scale (run: `cargo bench --bench report`; NETKPI_BENCH_CELLS, default
//! 10 000, and NETKPI_BENCH_DAYS, default 30): writes a month of 1-hour KPI records for that many
//! cells (cell, region and network levels, as `replay` writes them), then reports it against the
//! TRAI target set and prints records/s, seconds and peak RSS. Baseline in the same run: reading
//! the same file and parsing each line into a `serde_json::Value`. Asserts nothing about time.

mod common;

use netkpi::config::from_toml_str;
use netkpi::kpi::{Kpi, KpiValue};
use netkpi::model::level::Dim;
use netkpi::report::row::KpiRow;
use netkpi::report::{self, Request, calendar};
use netkpi::traffic::{Rng, synthetic_inventory};
use std::io::{BufRead, Write};
use std::time::Instant;

fn row(start: i64, level: &str, group: Vec<(Dim, String)>, rng: &mut Rng, scale: u64) -> KpiRow {
    let attempts = scale * (20 + rng.below(40));
    let failures = rng.below(attempts / 20 + 1);
    let answered = attempts - failures - attempts / 10;
    let mut values = Kpi::ALL.map(|_| KpiValue::Real(None));
    let mut set = |k: Kpi, v: KpiValue| values[k as usize] = v;
    set(Kpi::CallAttempts, KpiValue::Count(attempts));
    set(Kpi::CallNetworkFailures, KpiValue::Count(failures));
    set(Kpi::CallAnswered, KpiValue::Count(answered));
    set(
        Kpi::CallDrops,
        KpiValue::Count(rng.below(answered / 40 + 1)),
    );
    set(
        Kpi::NetworkConnectionRatio,
        KpiValue::Real(Some((attempts - failures) as f64 / attempts as f64)),
    );
    set(
        Kpi::TrafficErlangs,
        KpiValue::Real(Some(rng.f64() * scale as f64 * 8.0)),
    );
    set(
        Kpi::AvailabilityRatio,
        KpiValue::Real(Some(1.0 - rng.f64() * 0.01)),
    );
    set(Kpi::OutageSeconds, KpiValue::Real(Some(rng.f64() * 30.0)));
    KpiRow {
        window_start: start,
        window_end: start + 3_600_000,
        level: level.into(),
        group,
        values,
        pooling_samples: [attempts / 2, 0, 0, 0],
    }
}

fn main() {
    let cells = synthetic_inventory(common::env_or("NETKPI_BENCH_CELLS", 10_000), 1);
    let days = common::env_or("NETKPI_BENCH_DAYS", 30) as i64;
    let dir = tempfile::tempdir().expect("tempdir");
    // NETKPI_BENCH_KEEP=DIR keeps the input (kpis.jsonl, cells.csv, netkpi.toml) there.
    let keep = std::env::var_os("NETKPI_BENCH_KEEP").map(std::path::PathBuf::from);
    let dir_path = keep.clone().unwrap_or_else(|| dir.path().to_path_buf());
    let path = dir_path.join("kpis.jsonl");
    let start = 1_793_491_200_000; // 2026-11-01T00:00:00Z
    let mut rng = Rng::new(7);
    let t = Instant::now();
    let mut records = 0u64;
    {
        let mut w =
            std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path).expect("file"));
        let mut line = Vec::with_capacity(2048);
        let regions: std::collections::BTreeSet<&str> =
            cells.iter().map(|c| c.region.as_str()).collect();
        for h in 0..days * 24 {
            let ws = start + h * 3_600_000;
            let mut put = |r: KpiRow| {
                line.clear();
                r.with_record(|rec| netkpi::sink::jsonl::kpi_line(&mut line, rec));
                w.write_all(&line).expect("write");
                records += 1;
            };
            for c in &cells {
                put(row(
                    ws,
                    "cell",
                    vec![(Dim::Cell, c.cell_id.clone())],
                    &mut rng,
                    1,
                ));
            }
            for r in &regions {
                put(row(
                    ws,
                    "region",
                    vec![(Dim::Region, r.to_string())],
                    &mut rng,
                    1000,
                ));
            }
            put(row(ws, "network", vec![], &mut rng, 6000));
        }
        w.flush().expect("flush");
    }
    let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
    println!(
        "input: {records} KPI records of 1h for {} cells over {days} days, {:.2} GiB, written in {:.1} s",
        cells.len(),
        bytes as f64 / (1u64 << 30) as f64,
        t.elapsed().as_secs_f64()
    );
    std::fs::write(dir_path.join("cells.csv"), {
        let mut v = Vec::new();
        netkpi::inventory::write(&mut v, &cells).expect("inventory");
        v
    })
    .expect("cells");
    let targets = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/targets/trai.toml"
    ))
    .expect("trai");
    let toml = format!(
        "[inventory]\npath = \"cells.csv\"\n[windows]\nsizes = [\"1h\"]\n[kpi]\nlevels = [\"cell\", \"region\", \"network\"]\n{targets}"
    );
    std::fs::write(dir_path.join("netkpi.toml"), &toml).expect("config file");
    let settings = from_toml_str(&toml, &dir_path).expect("config");
    let request = Request {
        from: calendar::parse_date("2026-11-01").expect("date"),
        to: calendar::parse_date("2026-12-01").expect("date"),
        period: calendar::PeriodKind::Month,
    };

    let t = Instant::now();
    let f = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&path).expect("open"));
    let mut parsed = 0u64;
    for line in f.split(b'\n') {
        let line = line.expect("line");
        if serde_json::from_slice::<serde_json::Value>(&line).is_ok() {
            parsed += 1;
        }
    }
    let baseline = t.elapsed().as_secs_f64();
    println!(
        "baseline: read + serde_json::Value per line: {:.1} s, {:.0} records/s",
        baseline,
        parsed as f64 / baseline
    );

    let t = Instant::now();
    let files = [path.clone()];
    let built = report::run(
        &settings,
        &request,
        report::Records::Files(&files),
        &dir_path.join("out"),
    )
    .expect("report");
    let secs = t.elapsed().as_secs_f64();
    println!(
        "netkpi report: {:.1} s, {:.0} records/s ({:.2}× the baseline), {} records used, peak RSS {:.0} MiB",
        secs,
        records as f64 / secs,
        baseline / secs,
        built.input.read.used,
        common::peak_rss_mib()
    );
}
