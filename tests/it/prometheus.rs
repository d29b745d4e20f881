//! A real Prometheus (Debian's package, its own config, a loopback port) scrapes `netkpi run`,
//! and its HTTP API must answer the values of the KPI records written to the `kpis` topic.

use crate::kafka::{Broker, decode_all, distinct};
use crate::*;
use netkpi::kafka::client::read_all;
use netkpi::schemas::kpi_schema;
use netkpi::traffic::{GenOptions, Generator};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `data.result` array of a Prometheus instant query (at `time`, in seconds, when given).
fn prom_result(port: u16, promql: &str, time: Option<f64>) -> Vec<serde_json::Value> {
    let encoded: String = promql
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"_-.".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let at = time.map_or(String::new(), |t| format!("&time={t}"));
    let body = http_get(port, &format!("/api/v1/query?query={encoded}{at}"))
        .filter(|(s, _)| *s == 200)
        .map(|(_, b)| b)
        .unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

/// The value of the first series of an instant query.
fn query(port: u16, promql: &str) -> Option<f64> {
    prom_result(port, promql, None).first()?["value"][1]
        .as_str()?
        .parse()
        .ok()
}

#[test]
fn prometheus_scrapes_the_kpis_of_the_latest_closed_window() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (http_port, prom_port) = (free_port(), free_port());
    let toml = format!(
        "[inventory]\npath = \"cells.csv\"\n[windows]\nidle_timeout = \"1s\"\n[[rules]]\nname = \"AlwaysShaky\"\nkpi = \"network_connection_ratio\"\nlevel = \"network\"\nop = \"<\"\nraise = 1.01\nseverity = \"warning\"\n[plans.\"5G-PREMIUM\"]\nmin_dl_bps = 100000000\n[plans.\"4G-STANDARD\"]\nmin_dl_bps = 20000000\n[plans.BASIC]\nmin_dl_bps = 5000000\n[prometheus]\nremote_write_url = \"http://127.0.0.1:{prom_port}/api/v1/write\"\n[kafka]\nbrokers = \"{}\"\ngroup_id = \"scraped\"\ncommit_interval = \"200ms\"\nsession_timeout = \"2s\"\n[http]\naddress = \"127.0.0.1:{http_port}\"\n",
        broker.addr
    );
    std::fs::write(dir.path().join("cells.csv"), SMALL_INVENTORY_CSV).expect("cells");
    std::fs::write(dir.path().join("netkpi.toml"), &toml).expect("config");
    let s = settings(&toml.replace("[inventory]\npath = \"cells.csv\"\n", ""));
    let opts = GenOptions {
        duration_ms: 40 * 60_000,
        peak_rate: 5.0,
        seed: 31,
        ..GenOptions::default()
    };
    netkpi::kafka::produce::produce_traffic(&s.kafka, Generator::new(small_inventory(), opts), 2)
        .expect("produce");

    let _run = Killed(
        Command::new(env!("CARGO_BIN_EXE_netkpi"))
            .args([
                "run",
                "--config",
                dir.path().join("netkpi.toml").to_str().unwrap_or_default(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start netkpi run"),
    );
    // The shipped recording rules (the dashboards read some), evaluated every second here.
    let rules = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/prometheus/rules/recording.yml"
    ))
    .expect("recording rules")
    .replace("interval: 5m", "interval: 1s")
    .replace("interval: 1m", "interval: 1s");
    std::fs::write(dir.path().join("recording.yml"), rules).expect("rules");
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - recording.yml\nscrape_configs:\n  - job_name: netkpi\n    static_configs:\n      - targets: [\"127.0.0.1:{http_port}\"]\n"),
    )
    .expect("prometheus config");
    let _prometheus = Killed(
        Command::new("prometheus")
            .args([
                &format!(
                    "--config.file={}",
                    dir.path().join("prometheus.yml").display()
                ),
                &format!("--storage.tsdb.path={}", dir.path().join("data").display()),
                &format!("--web.listen-address=127.0.0.1:{prom_port}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus (scripts/test installs Debian's package)"),
    );

    // Streaming: the last partial window stays open; every window before it closes once the
    // partitions fall idle. Wait until Prometheus shows the latest closed network window.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let kpis = decode_all(
            &distinct(read_all(&s.kafka, "kpis").expect("kpis")),
            kpi_schema(),
        );
        let latest = kpis
            .iter()
            .filter(|k| k["level"] == "network")
            .max_by_key(|k| k["window_start"].as_i64().unwrap_or(0))
            .cloned();
        if let Some(latest) = latest {
            let attempts = latest["kpis"]["call_attempts"].as_f64();
            let ratio = latest["kpis"]["network_connection_ratio"].as_f64();
            let got = query(
                prom_port,
                r#"netkpi_call_attempts{level="network",window="5m"}"#,
            );
            let got_ratio = query(
                prom_port,
                r#"netkpi_network_connection_ratio{level="network"}"#,
            );
            let north = query(
                prom_port,
                r#"netkpi_call_attempts{level="region",region="North"}"#,
            );
            if got.is_some()
                && got == attempts
                && ratio
                    .zip(got_ratio)
                    .is_some_and(|(a, b)| (a - b).abs() < 1e-12)
            {
                let north_ref = kpis
                    .iter()
                    .filter(|k| {
                        k["level"] == "region"
                            && k["group"]["region"] == "North"
                            && k["window_start"] == latest["window_start"]
                    })
                    .map(|k| k["kpis"]["call_attempts"].as_f64())
                    .next()
                    .flatten();
                assert_eq!(north, north_ref, "region series match their KPI record");
                assert_eq!(query(prom_port, r#"up{job="netkpi"}"#), Some(1.0));
                every_dashboard_query_returns_data(prom_port);
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never showed the latest closed window's KPIs"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Runs the queries of every panel of every dashboard (variables set to a window, region and cell
/// of the run) and asserts each panel shows data.
fn every_dashboard_query_returns_data(port: u16) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/grafana/dashboards");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).expect("dashboards") {
        let path = entry.expect("entry").path();
        let d: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        for panel in d["panels"].as_array().into_iter().flatten() {
            // A panel shows data when one of its queries answers (a cell's MTTR, say, is null in
            // a window without a restore, and Prometheus then has no series for it).
            let exprs: Vec<String> = panel["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| {
                    t["expr"]
                        .as_str()
                        .unwrap_or_default()
                        .replace("$window", "5m")
                        .replace("$region", "North")
                        .replace("$cell", "N1-L1")
                })
                .collect();
            // Rates need a few scrapes: give each panel up to 15 s.
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                let answered = exprs
                    .iter()
                    .any(|expr| !prom_result(port, expr, None).is_empty());
                if answered {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{}: panel `{}` ({exprs:?}) returned no data",
                    path.display(),
                    panel["title"]
                );
                std::thread::sleep(Duration::from_millis(500));
            }
            checked += 1;
        }
    }
    assert!(checked >= 39, "{checked} panels checked");
}

fn start_prometheus(dir: &std::path::Path, port: u16, config: &str) -> Killed {
    std::fs::write(dir.join("prometheus.yml"), config).expect("prometheus config");
    let child = Command::new("prometheus")
        .args([
            &format!("--config.file={}", dir.join("prometheus.yml").display()),
            &format!("--storage.tsdb.path={}", dir.join("data").display()),
            &format!("--web.listen-address=127.0.0.1:{port}"),
            "--web.enable-remote-write-receiver",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus (scripts/test installs Debian's package)");
    let deadline = Instant::now() + Duration::from_secs(20);
    while http_get(port, "/-/ready").map(|r| r.0) != Some(200) {
        assert!(Instant::now() < deadline, "prometheus did not become ready");
        std::thread::sleep(Duration::from_millis(200));
    }
    Killed(child)
}

#[test]
fn replays_backfill_prometheus_by_remote_write_even_out_of_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let prom_port = free_port();
    let _prometheus = start_prometheus(
        dir.path(),
        prom_port,
        "global:\n  scrape_interval: 1m\nstorage:\n  tsdb:\n    out_of_order_time_window: 2h\n",
    );
    std::fs::write(dir.path().join("cells.csv"), SMALL_INVENTORY_CSV).expect("cells");
    std::fs::write(
        dir.path().join("netkpi.toml"),
        format!("[inventory]\npath = \"cells.csv\"\n[http]\naddress = \"\"\n[prometheus]\nremote_write_url = \"http://127.0.0.1:{prom_port}/api/v1/write\"\n"),
    )
    .expect("config");
    // Event time in the last two hours (Prometheus keeps recent samples); the later hour is
    // replayed first, so the earlier one arrives out of order.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let t0 = now - now.rem_euclid(300_000) - 100 * 60_000;
    let mut expected = Vec::new();
    for (part, start) in [("later", t0 + 50 * 60_000), ("earlier", t0)] {
        let opts = GenOptions {
            start_ms: start,
            duration_ms: 40 * 60_000,
            peak_rate: 4.0,
            seed: 41,
            jitter_ms: 0,
            ..GenOptions::default()
        };
        let lines: Vec<String> = Generator::new(small_inventory(), opts)
            .filter_map(|i| match i {
                netkpi::traffic::GenItem::Event(e) => Some(netkpi::source::json::encode_event(&e)),
                netkpi::traffic::GenItem::Bad(_) => None,
            })
            .collect();
        let input = dir.path().join(format!("{part}.jsonl"));
        std::fs::write(&input, lines.join("\n")).expect("input");
        let out = |n: &str| {
            dir.path()
                .join(format!("{part}.{n}"))
                .to_string_lossy()
                .into_owned()
        };
        let o = Command::new(env!("CARGO_BIN_EXE_netkpi"))
            .args([
                "replay",
                "--config",
                dir.path().join("netkpi.toml").to_str().unwrap_or_default(),
                "--input",
                input.to_str().unwrap_or_default(),
                "--kpis-out",
                &out("kpis"),
                "--breaches-out",
                &out("breaches"),
                "--dead-letters-out",
                &out("dead"),
            ])
            .output()
            .expect("replay");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let kpis = std::fs::read_to_string(out("kpis")).expect("kpis");
        for line in kpis.lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("json");
            if v["level"] == "network" {
                expected.push((
                    v["window_end"].as_i64().unwrap_or(0),
                    v["kpis"]["call_attempts"].as_f64(),
                    v["kpis"]["dropped_call_ratio"].as_f64(),
                ));
            }
        }
    }
    assert!(expected.len() >= 14);
    for (end, attempts, dropped) in expected {
        // A 1 ms range at the window end selects exactly the sample stamped with it.
        let at = |q: &str| -> Option<f64> {
            let series = prom_result(prom_port, &format!("{q}[1ms]"), Some(end as f64 / 1000.0));
            series.first()?["values"][0][1].as_str()?.parse().ok()
        };
        assert_eq!(
            at(r#"netkpi_call_attempts{level="network"}"#),
            attempts,
            "window ending {end}"
        );
        let got = at(r#"netkpi_dropped_call_ratio{level="network"}"#);
        assert!(
            got.zip(dropped).is_some_and(|(a, b)| (a - b).abs() < 1e-12)
                || (got.is_none() && dropped.is_none()),
            "window ending {end}: {got:?} vs {dropped:?}"
        );
    }
}
