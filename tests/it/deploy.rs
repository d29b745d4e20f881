//! The shipped Prometheus material passes Prometheus' own checks: `promtool check config`,
//! `promtool check rules` and the rule unit tests (`promtool test rules`). promtool comes with
//! Debian's prometheus package, which `scripts/test` installs.

use std::process::Command;

fn promtool(args: &[&str]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/prometheus"))
        .output()
        .expect("promtool is installed (scripts/test installs Debian's prometheus package)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

#[test]
fn prometheus_config_rules_and_rule_tests_pass_promtool() {
    assert!(promtool(&["check", "config", "prometheus.yml"]).contains("SUCCESS"));
    let rules = promtool(&["check", "rules", "rules/recording.yml", "rules/alerts.yml"]);
    assert!(
        rules.contains("16 rules found") && rules.contains("7 rules found"),
        "{rules}"
    );
    assert!(promtool(&["test", "rules", "tests/rules_test.yml"]).contains("SUCCESS"));
}

#[test]
fn grafana_dashboards_type_check_against_grafana_schema() {
    // deploy/grafana/check/check.sh installs @grafana/schema and typescript (pinned) with npm when
    // missing, turns each dashboard into a typed `Dashboard` literal and runs tsc --noEmit --strict.
    let out = Command::new("bash")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/deploy/grafana/check/check.sh"
        ))
        .output()
        .expect("bash");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("OK (5 dashboards)"),
        "{text}"
    );
}
