//! Configuration validation tests: every problem named by its key.

use super::*;
use std::path::Path;

fn problems(toml: &str) -> Vec<String> {
    match from_toml_str(toml, Path::new("/etc/netkpi")) {
        Ok(_) => vec![],
        Err(p) => p.iter().map(|p| p.to_string()).collect(),
    }
}

fn has(problems: &[String], needle: &str) -> bool {
    problems.iter().any(|p| p.contains(needle))
}

#[test]
fn defaults_apply() {
    let s = from_toml_str(
        "[inventory]\npath = \"cells.csv\"\n",
        Path::new("/etc/netkpi"),
    )
    .unwrap();
    assert_eq!(s.inventory_path, Path::new("/etc/netkpi/cells.csv"));
    assert_eq!(s.window_sizes_ms, vec![300_000]);
    assert_eq!(s.allowed_delay_ms, 30_000);
    assert_eq!(s.idle_timeout_ms, 60_000);
    assert_eq!(
        s.levels.iter().map(|l| l.name()).collect::<Vec<_>>(),
        ["cell", "region,technology", "region", "network"]
    );
    assert_eq!(s.agg.min_active_ms, 1000);
    assert_eq!(
        s.agg.coverage[crate::model::Technology::Gsm.index()].signal_dbm,
        -94.0
    );
}

#[test]
fn the_shipped_config_is_valid() {
    let text = include_str!("../../config/netkpi.toml");
    let s = from_toml_str(text, Path::new("config")).unwrap();
    assert!(s.rules.len() >= 6);
    assert_eq!(s.agg.plans.get("5G-PREMIUM"), Some(&100_000_000.0));
}

#[test]
fn unknown_keys_are_named() {
    let p = problems(
        "[inventory]\npath = \"c.csv\"\nextra = 1\n[windows]\nsizez = [\"5m\"]\n[[rules]]\nname=\"r\"\nkpi=\"call_attempts\"\nlevel=\"network\"\nop=\">\"\nraise=1\nseverity=\"minor\"\nbogus=2\n",
    );
    assert!(has(&p, "inventory.extra: unknown key"), "{p:?}");
    assert!(has(&p, "windows.sizez: unknown key"), "{p:?}");
    assert!(has(&p, "rules[0].bogus"), "{p:?}");
}

#[test]
fn every_value_is_validated_at_once() {
    let toml = r#"
[windows]
sizes = ["5m", "fortnight", "0s", "5m"]
allowed_delay = "soon"
[kpi]
levels = ["cell", "regoin", "network", "network"]
min_active_ms = -1
[kpi.coverage.LTE]
signal_dbm = -110
[kpi.coverage.WIFI]
signal_dbm = -70
[plans.GOLD]
[[rules]]
name = "A"
kpi = "drop_rate"
level = "site"
op = "<="
raise = 0.5
severity = "fatal"
window = "1h"
[[rules]]
name = "B"
kpi = "dropped_call_ratio"
level = "technology,region"
match = { area = "URBAN" }
op = ">"
raise = 0.02
clear = 0.03
for_windows = 0
[[rules]]
name = "C"
kpi = "dropped_call_ratio"
level = "network"
op = "<"
raise = 0.5
clear = 0.4
severity = "minor"
"#;
    let p = problems(toml);
    for needle in [
        "inventory.path: required",
        "windows.sizes[1]: `fortnight` is not a duration",
        "windows.sizes[2]: `0s` is shorter than one second",
        "windows.sizes[3]: `5m` is configured twice",
        "windows.allowed_delay",
        "kpi.levels[1]: `regoin`",
        "kpi.levels[3]: level `network` is configured twice",
        "kpi.min_active_ms",
        "kpi.coverage.WIFI: unknown technology",
        "plans.\"GOLD\".min_dl_bps: required",
        "rules[0].kpi: unknown KPI `drop_rate`",
        "rules[1].level: `region,technology` is not a configured level",
        "rules[0].op: `<=` is not \"<\" or \">\"",
        "rules[0].severity: `fatal` is not critical, major, minor or warning",
        "rules[0].window: `1h` is not one of windows.sizes",
        "rules[1].match.area: level `region,technology` has no dimension `area`",
        "rules[1].clear: for op \">\" clear (0.03) must be ≤ raise (0.02)",
        "rules[1].for_windows",
        "rules[1].severity: required: critical, major, minor or warning",
        "rules[2].clear: for op \"<\" clear (0.4) must be ≥ raise (0.5)",
    ] {
        assert!(has(&p, needle), "missing `{needle}` in {p:#?}");
    }
}

#[test]
fn type_errors_name_the_key() {
    let p = problems("[inventory]\npath = \"c.csv\"\n[kpi]\nmin_active_ms = \"long\"\n");
    assert!(has(&p, "kpi.min_active_ms"), "{p:?}");
}

#[test]
fn levels_match_in_any_order_and_rules_resolve() {
    let toml = r#"
[inventory]
path = "c.csv"
[windows]
sizes = ["5m", "1h"]
[[rules]]
name = "A"
kpi = "coverage_ratio"
level = "technology,region"
match = { technology = "NR" }
op = "<"
raise = 0.9
severity = "warning"
window = "60m"
"#;
    let s = from_toml_str(toml, Path::new(".")).unwrap();
    let r = &s.rules[0];
    assert_eq!(r.level_index, 1);
    assert_eq!(r.window_index, 1);
    assert_eq!(r.clear, 0.9);
    assert_eq!((r.for_windows, r.clear_windows, r.min_samples), (1, 1, 0));
}

#[test]
fn environment_overrides_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("netkpi.toml");
    std::fs::write(&path, "[inventory]\npath = \"c.csv\"\n").unwrap();
    // Set and read in one test only: the variable is unique to it.
    // SAFETY: tests in this binary do not read this variable concurrently.
    unsafe { std::env::set_var("NETKPI__WINDOWS__ALLOWED_DELAY", "45s") };
    let s = load(&path);
    unsafe { std::env::remove_var("NETKPI__WINDOWS__ALLOWED_DELAY") };
    assert_eq!(s.unwrap().allowed_delay_ms, 45_000);
}

#[test]
fn sleeping_cell_and_baseline_keys_are_checked() {
    let toml = r#"
[inventory]
path = "c.csv"
[baseline]
days = 0
min_days = 9
[sleeping]
max_share = 1.5
min_baseline = 0
peer_share = -1
[[rules]]
name = "Sleepy"
kind = "sleeping_cell"
kpi = "call_attempts"
raise = 0.5
level = "region"
severity = "major"
[[rules]]
name = "Odd"
kind = "dozing"
kpi = "call_attempts"
level = "cell"
op = "<"
raise = 0.5
severity = "minor"
during_outage = "ignore"
"#;
    let p = problems(toml);
    for needle in [
        "baseline.days: 0 is out of range",
        "baseline.min_days: 9 is out of range",
        "sleeping.max_share: 1.5 is out of range",
        "sleeping.min_baseline: 0 is out of range",
        "sleeping.peer_share: -1 is out of range",
        "rules[0].kpi: a sleeping_cell rule has no such key",
        "rules[0].raise: a sleeping_cell rule has no such key",
        "rules[1].kind: `dozing` is not \"threshold\" or \"sleeping_cell\"",
        "rules[1].during_outage: `ignore` is not \"annotate\" or \"suppress\"",
    ] {
        assert!(has(&p, needle), "missing `{needle}` in {p:#?}");
    }
    // Level: a sleeping-cell rule watches cells.
    let p = problems(
        "[inventory]\npath = \"c.csv\"\n[[rules]]\nname = \"S\"\nkind = \"sleeping_cell\"\nlevel = \"region\"\nseverity = \"major\"\n",
    );
    assert!(
        has(&p, "rules[0].level: a sleeping_cell rule watches cells"),
        "{p:#?}"
    );
    // A valid pair: the default level, a match on an inventory attribute, a baseline rule.
    let ok = r#"
[inventory]
path = "c.csv"
[[rules]]
name = "S"
kind = "sleeping_cell"
match = { technology = "NR" }
severity = "major"
[[rules]]
name = "TrafficLow"
kpi = "traffic_records"
level = "region"
baseline = true
op = "<"
raise = 0.5
severity = "minor"
during_outage = "suppress"
"#;
    assert!(problems(ok).is_empty(), "{:#?}", problems(ok));
}

#[test]
fn kafka_properties_are_given_by_client_role() {
    let s = from_toml_str(
        r#"
[inventory]
path = "cells.csv"
[kafka.properties]
"security.protocol" = "SASL_PLAINTEXT"
"sasl.password" = "s3cret-role"
[kafka.properties.consumer]
"fetch.max.bytes" = "1048576"
[kafka.properties.producer]
"linger.ms" = "10"
[kafka.properties.admin]
"request.timeout.ms" = "5000"
"#,
        Path::new("/etc/netkpi"),
    )
    .unwrap();
    let keys = |role| -> Vec<String> {
        s.kafka
            .properties_of(role)
            .map(|(k, _)| k.clone())
            .collect()
    };
    use crate::config::ClientRole::{Admin, Consumer, Producer};
    assert_eq!(
        keys(Consumer),
        ["sasl.password", "security.protocol", "fetch.max.bytes"]
    );
    assert_eq!(
        keys(Producer),
        ["sasl.password", "security.protocol", "linger.ms"]
    );
    assert_eq!(
        keys(Admin),
        ["sasl.password", "security.protocol", "request.timeout.ms"]
    );
    let shown = s.kafka.redacted_properties();
    assert!(shown.contains(&("consumer.fetch.max.bytes".into(), "1048576".into())));
    assert!(shown.contains(&("sasl.password".into(), "<redacted>".into())));
    // librdkafka checks each role's properties too, and the problem names its table.
    let bad = from_toml_str(
        "[inventory]\npath = \"c.csv\"\n[kafka.properties.consumer]\n\"fetch.max.bites\" = \"1\"\n",
        Path::new("/etc/netkpi"),
    )
    .unwrap();
    let problems = crate::kafka::client::check_properties(&bad.kafka);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(
        problems[0].path(),
        "kafka.properties.consumer.\"fetch.max.bites\""
    );
}

#[test]
fn the_confluent_output_framing_needs_a_registry() {
    let p = problems("[inventory]\npath = \"c.csv\"\n[kafka.framing]\noutputs = \"confluent\"\n");
    assert!(has(&p, "kafka.schema_registry_url"), "{p:?}");
    let p = problems("[inventory]\npath = \"c.csv\"\n[kafka.framing]\noutputs = \"avro\"\n");
    assert!(has(&p, "kafka.framing.outputs"), "{p:?}");
    let s = from_toml_str(
        "[inventory]\npath = \"c.csv\"\n[kafka]\nschema_registry_url = \"http://r:8081\"\n[kafka.framing]\noutputs = \"confluent\"\n",
        Path::new("/etc/netkpi"),
    )
    .unwrap();
    assert_eq!(s.kafka.output_framing, crate::config::Framing::Confluent);
}
