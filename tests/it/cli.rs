//! The `netkpi` binary as a user runs it: help, check-config, replay, gen; exit codes and error
//! messages that say what to do.

use crate::{free_port, http_get};
use std::path::Path;
use std::process::{Command, Output};

fn netkpi(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netkpi"))
        .args(args)
        .output()
        .expect("run netkpi")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn shipped_config() -> String {
    format!("{}/config/netkpi.toml", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn help_names_every_command() {
    let o = netkpi(&["--help"]);
    assert!(o.status.success());
    let t = text(&o);
    for cmd in ["replay", "check-config", "gen", "demo"] {
        assert!(t.contains(cmd), "{t}");
    }
    let o = netkpi(&["replay", "--help"]);
    assert!(text(&o).contains("--dead-letters-out"));
}

#[test]
fn check_config_summarises_a_good_file() {
    let o = netkpi(&["check-config", &shipped_config()]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    for needle in [
        "OK",
        "285 cells",
        "5m",
        "cell | region,technology | region | network",
        "RegionNrConnectionRateLow",
    ] {
        assert!(t.contains(needle), "missing {needle} in {t}");
    }
}

#[test]
fn check_config_lists_every_problem_and_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[inventory]\npath = \"cells.csv\"\ncolour = 1\n[windows]\nsizes = [\"5 parsecs\"]\n[[rules]]\nname = \"x\"\nkpi = \"nope\"\n").expect("write");
    let o = netkpi(&["check-config", path.to_str().unwrap_or_default()]);
    assert_eq!(o.status.code(), Some(2));
    let t = text(&o);
    for needle in [
        "inventory.colour: unknown key",
        "windows.sizes[0]",
        "rules[0].kpi: unknown KPI `nope`",
        "rules[0].op: required",
    ] {
        assert!(t.contains(needle), "missing {needle} in {t}");
    }
    // A good config whose inventory is missing is a problem too.
    std::fs::write(&path, "[inventory]\npath = \"missing.csv\"\n").expect("write");
    let o = netkpi(&["check-config", path.to_str().unwrap_or_default()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("missing.csv"));
    // And a file that is not TOML.
    std::fs::write(&path, "[inventory\n").expect("write");
    let o = netkpi(&["check-config", path.to_str().unwrap_or_default()]);
    assert_eq!(o.status.code(), Some(2));
}

fn write_config(dir: &Path, inventory: &str) -> String {
    std::fs::write(dir.join("cells.csv"), inventory).expect("write inventory");
    let path = dir.join("netkpi.toml");
    std::fs::write(&path, "[inventory]\npath = \"cells.csv\"\n").expect("write config");
    path.to_string_lossy().into_owned()
}

#[test]
fn replay_refuses_a_malformed_inventory_with_the_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        "cell_id,site_id,region,area,technology\nA,S,N,DOWNTOWN,LTE\n",
    );
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, "").expect("write");
    let out = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    let o = netkpi(&[
        "replay",
        "--config",
        &config,
        "--input",
        input.to_str().unwrap_or_default(),
        "--kpis-out",
        &out("k"),
        "--breaches-out",
        &out("b"),
        "--dead-letters-out",
        &out("d"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(t.contains("line 2") && t.contains("DOWNTOWN"), "{t}");
    assert!(!t.contains("panicked"), "{t}");
}

/// Runs `netkpi replay` in `dir` with its `netkpi.toml`, writing outputs under `tag`.
fn replay_in(dir: &Path, input: &str, tag: &str, extra: &[&str]) -> Output {
    let p = |n: &str| dir.join(n).to_string_lossy().into_owned();
    let mut args: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
    args.extend(["replay", "--config"].map(String::from));
    args.push(p("netkpi.toml"));
    for (flag, name) in [
        ("--input", input.to_string()),
        ("--kpis-out", format!("{tag}/kpis")),
        ("--breaches-out", format!("{tag}/breaches")),
        ("--dead-letters-out", format!("{tag}/dead")),
    ] {
        args.push(flag.to_string());
        args.push(p(&name));
    }
    netkpi(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// Generates traffic for a synthetic inventory into `dir` and writes a config next to it.
fn gen_in(dir: &Path, out: &str, args: &[&str], config: &str) {
    let p = |n: &str| dir.join(n).to_string_lossy().into_owned();
    let mut all = vec![
        "gen".to_string(),
        "--write-inventory".into(),
        p("cells.csv"),
        "--out".into(),
        p(out),
    ];
    all.extend(args.iter().map(|a| a.to_string()));
    let o = netkpi(&all.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", text(&o));
    std::fs::write(
        p("netkpi.toml"),
        format!("[inventory]\npath = \"cells.csv\"\n{config}"),
    )
    .expect("config");
}

#[test]
fn gen_then_replay_end_to_end_is_deterministic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let args = [
        "--cells",
        "60",
        "--duration",
        "40m",
        "--rate",
        "30",
        "--seed",
        "9",
        "--late-share",
        "0.01",
        "--bad-share",
        "0.01",
    ];
    gen_in(
        d,
        "traffic.jsonl",
        &args,
        "[windows]\nsizes = [\"5m\", \"15m\"]\n",
    );
    let run = |tag: &str| {
        let o = replay_in(d, "traffic.jsonl", tag, &["--log-format", "json"]);
        assert!(o.status.success(), "{}", text(&o));
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with('{') && l.contains("replay finished")),
            "{stderr}"
        );
        let read = |f: &str| std::fs::read(d.join(tag).join(f)).expect("output");
        (read("kpis"), read("dead"))
    };
    let (k1, d1) = run("one");
    let (k2, d2) = run("two");
    assert!(k1.len() > 10_000);
    assert!(!d1.is_empty());
    assert_eq!((k1, d1), (k2, d2));
    // An input that does not exist is an error naming it.
    let o = replay_in(d, "nope.jsonl", "three", &[]);
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("nope.jsonl"), "{stderr}");
    // The error is printed once, and log lines to a pipe carry no terminal colour codes.
    assert_eq!(stderr.matches("nope.jsonl").count(), 1, "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
}

#[test]
fn a_bad_http_address_on_the_command_line_is_refused_by_name() {
    let o = Command::new(env!("CARGO_BIN_EXE_netkpi"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "run",
            "--config",
            "config/netkpi.toml",
            "--http-address",
            "port9",
        ])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(t.contains("--http-address `port9` is not host:port"), "{t}");
}

#[test]
fn gen_writes_avro_that_replays() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    gen_in(
        d,
        "t.avro",
        &[
            "--cells",
            "20",
            "--format",
            "avro",
            "--duration",
            "20m",
            "--rate",
            "10",
        ],
        "",
    );
    let o = replay_in(d, "t.avro", "out", &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        std::fs::read_to_string(d.join("out/kpis"))
            .expect("kpis")
            .lines()
            .count()
            > 20
    );
}

#[test]
fn the_backfill_script_moves_complete_outputs_into_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = format!("{}/deploy/replay-backfill.sh", env!("CARGO_MANIFEST_DIR"));
    let input = format!(
        "{}/tests/golden/edge_cases.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    let o = Command::new("bash")
        .args([
            script.as_str(),
            &shipped_config(),
            dir.path().to_str().unwrap_or_default(),
            &input,
        ])
        .env("NETKPI", env!("CARGO_BIN_EXE_netkpi"))
        .output()
        .expect("run script");
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).trim().to_string();
    for f in [
        "kpis.jsonl",
        "breaches.jsonl",
        "dead-letters.jsonl",
        "replay.log",
    ] {
        assert!(Path::new(&out).join(f).exists(), "{out}/{f}");
    }
    // A failing replay leaves nothing behind.
    let o = Command::new("bash")
        .args([
            script.as_str(),
            &shipped_config(),
            dir.path().to_str().unwrap_or_default(),
            "/nonexistent.jsonl",
        ])
        .env("NETKPI", env!("CARGO_BIN_EXE_netkpi"))
        .output()
        .expect("run script");
    assert!(!o.status.success());
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1);
}

#[test]
fn check_config_never_prints_secrets() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("cells.csv"),
        "cell_id,site_id,region,area,technology\nA,S,N,URBAN,LTE\n",
    )
    .expect("cells");
    let path = dir.path().join("netkpi.toml");
    std::fs::write(
        &path,
        "[inventory]\npath = \"cells.csv\"\n[kafka.properties]\n\"security.protocol\" = \"SASL_SSL\"\n\"sasl.username\" = \"noc\"\n\"sasl.password\" = \"hunter2\"\n\"ssl.key.password\" = \"s3cret\"\n\"ssl.ca.location\" = \"/etc/ca.pem\"\n",
    )
    .expect("config");
    let o = netkpi(&["check-config", path.to_str().unwrap_or_default()]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("security.protocol = SASL_SSL")
            && t.contains("sasl.username = noc")
            && t.contains("/etc/ca.pem"),
        "{t}"
    );
    assert!(!t.contains("hunter2") && !t.contains("s3cret"), "{t}");
    assert!(t.contains("sasl.password = <redacted>"), "{t}");
}

#[test]
fn demo_runs_the_whole_pipeline_in_process_and_stops_cleanly() {
    let o = Command::new(env!("CARGO_BIN_EXE_netkpi"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["demo", "--for", "20s", "--speedup", "120", "--rate", "60"])
        .output()
        .expect("run demo");
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("── window") && t.contains("NETWORK"),
        "a window was shown: {t}"
    );
    assert!(t.contains("stopped:") && t.contains("transactions"), "{t}");
}

#[test]
fn the_endpoint_serves_kpi_and_health_metrics_that_promtool_accepts() {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_netkpi"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NETKPI__PROMETHEUS__LEVELS", "region;network")
        .args(["demo", "--for", "30s", "--speedup", "120", "--rate", "60"])
        // The port on the command line: several instances on one host each take their own.
        .args(["--http-address", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start demo");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(25);
    let mut metrics = String::new();
    while std::time::Instant::now() < deadline {
        if let Some((200, body)) = http_get(port, "/metrics")
            && body.contains("netkpi_call_attempts{")
            && body.contains("level=\"network\"")
        {
            metrics = body;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    assert_eq!(http_get(port, "/healthz").map(|r| r.0), Some(200));
    assert_eq!(http_get(port, "/readyz").map(|r| r.0), Some(200));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().expect("wait").success());
    assert!(!metrics.is_empty(), "KPI series appeared on /metrics");
    for needle in [
        "netkpi_network_connection_ratio{",
        "netkpi_call_setup_seconds{",
        "percentile=\"95\"",
        "netkpi_records_consumed_total{topic=\"calls\"}",
        "netkpi_dead_letters_total{reason=\"late\"}",
        "netkpi_transactions_total{outcome=\"committed\"}",
        "netkpi_window_commit_seconds_bucket",
        "netkpi_call_network_successes{",
        "netkpi_cell_seconds{",
        "netkpi_windows_emitted_total{window=\"5m\"}",
    ] {
        assert!(metrics.contains(needle), "missing {needle}");
    }
    // Firing alarms of cell-level rules are still shown (`netkpi_alarm`, bounded by the
    // alarms firing): the NOC must see which cells are in alarm.
    assert!(
        !metrics
            .lines()
            .filter(|l| !l.starts_with("netkpi_alarm"))
            .any(|l| l.contains("level=\"cell\"")),
        "cell KPI series are not exported when the levels leave them out"
    );
    // promtool lints a real scrape (Debian's prometheus package; scripts/test installs it).
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("scrape.txt");
    std::fs::write(&path, &metrics).expect("write");
    let lint = Command::new("sh")
        .arg("-c")
        .arg(format!("promtool check metrics < {}", path.display()))
        .output()
        .expect("run promtool (installed by scripts/test)");
    assert!(
        lint.status.success(),
        "promtool check metrics: {}",
        text(&lint)
    );
}

/// Runs `netkpi args` on a pseudo-terminal (util-linux `script`), returning what the terminal
/// received.
fn on_a_terminal(dir: &Path, args: &str) -> String {
    let command = format!("{} {args}", env!("CARGO_BIN_EXE_netkpi"));
    let o = Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("script (util-linux) runs a command on a pseudo-terminal");
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    t
}

#[test]
fn long_work_shows_its_progress_on_a_terminal_and_plain_lines_elsewhere() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let gen_args =
        "gen --cells 40 --write-inventory cells.csv --out t.jsonl --duration 48h --rate 20";
    let shown = on_a_terminal(d, gen_args);
    // Redrawn in place: carriage return and erase-line, then records, rate, event time, share
    // done and time left.
    let line = shown
        .split('\r')
        .find(|l| l.contains("gen: ") && l.contains("ETA"))
        .unwrap_or_else(|| panic!("no progress line on the terminal: {shown:?}"));
    assert!(line.starts_with("\u{1b}[2Kgen: "), "{line:?}");
    for part in [" records, ", "/s, event time 2026-01-01T", " %, ETA "] {
        assert!(line.contains(part), "{part} in {line:?}");
    }
    std::fs::write(d.join("netkpi.toml"), "[inventory]\npath = \"cells.csv\"\n").expect("config");
    let replay = "replay --config netkpi.toml --input t.jsonl --kpis-out k --breaches-out b --dead-letters-out x";
    let shown = on_a_terminal(d, replay);
    assert!(
        shown
            .split('\r')
            .any(|l| l.starts_with("\u{1b}[2Kreplay: ") && l.contains(" %, ETA ")),
        "no replay progress on the terminal: {shown:?}"
    );
    // Not a terminal: no progress line, no control characters, the summary as usual.
    let o = Command::new(env!("CARGO_BIN_EXE_netkpi"))
        .current_dir(d)
        .args(replay.split(' '))
        .output()
        .expect("replay");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        !stderr.contains('\r') && !stderr.contains('\u{1b}'),
        "{stderr:?}"
    );
    assert!(stderr.contains("replay finished"), "{stderr}");
}
