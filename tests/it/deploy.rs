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

/// A validator from `scripts/install-validators` (the folder `scripts/test` exports).
fn validator(name: &str) -> std::path::PathBuf {
    let dir = std::env::var("NETKPI_VALIDATORS")
        .expect("NETKPI_VALIDATORS is set by scripts/test (scripts/install-validators)");
    std::path::Path::new(&dir).join(name)
}

/// Runs `program args` and returns (success, stdout + stderr).
fn run_tool(program: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(program)
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy"))
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn kubernetes_manifests_validate_against_the_kubernetes_schemas() {
    let manifests = [
        "kubernetes/configmap.yaml",
        "kubernetes/deployment.yaml",
        "kubernetes/service.yaml",
        "kubernetes/podmonitor.yaml",
    ];
    let lint = "{extends: default, rules: {line-length: {max: 110}, document-start: disable}}";
    let mut args = vec!["--strict", "-d", lint];
    args.extend(manifests);
    let (ok, text) = run_tool(&validator("yamllint"), &args);
    assert!(ok, "yamllint:\n{text}");
    // Strict: an unknown field is an error, not ignored. The PodMonitor is a CRD of the
    // Prometheus operator, whose schema the validator does not carry (YAML-linted only).
    let (ok, text) = run_tool(
        &validator("kubernetes-validate"),
        &["--strict"]
            .iter()
            .copied()
            .chain(manifests)
            .collect::<Vec<_>>(),
    );
    assert!(ok, "kubernetes-validate:\n{text}");
    for kind in [
        "configmap/netkpi-config",
        "deployment/netkpi",
        "service/netkpi",
    ] {
        assert!(
            text.contains(&format!("passed for resource {kind}")),
            "{text}"
        );
    }
    // The validator does refuse a wrong manifest (so the pass above means something).
    let dir = tempfile::tempdir().expect("tempdir");
    let deployment = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes/deployment.yaml"),
    )
    .expect("read deployment");
    let broken = dir.path().join("broken.yaml");
    std::fs::write(
        &broken,
        deployment.replace("readinessProbe:", "readynessProbe:"),
    )
    .expect("write");
    let (ok, text) = run_tool(
        &validator("kubernetes-validate"),
        &["--strict", broken.to_str().expect("path")],
    );
    assert!(!ok, "a misspelt field must fail strict validation:\n{text}");
}

#[test]
fn the_configmap_holds_a_configuration_netkpi_accepts() {
    // The ConfigMap's two files, written out as a pod would see them, pass check-config.
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/kubernetes/configmap.yaml"
    ))
    .expect("read configmap");
    let file = |name: &str| -> String {
        let start = text.find(&format!("  {name}: |\n")).expect("key") + name.len() + 6;
        text[start..]
            .lines()
            .take_while(|l| l.starts_with("    ") || l.is_empty())
            .map(|l| l.strip_prefix("    ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("netkpi.toml"), file("netkpi.toml")).expect("write");
    std::fs::write(dir.path().join("cells.csv"), file("cells.csv") + "\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_netkpi"))
        .args(["check-config"])
        .arg(dir.path().join("netkpi.toml"))
        .output()
        .expect("check-config");
    let t = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("(3 cells)") && t.contains("rules:     2"), "{t}");
}

#[test]
fn the_container_file_and_the_systemd_unit_pass_their_linters() {
    let (ok, text) = run_tool(&validator("hadolint"), &["Containerfile"]);
    assert!(ok && text.trim().is_empty(), "hadolint:\n{text}");
    // systemd-analyze verify needs an instance of the template and an executable that exists:
    // this build's binary stands in for /usr/local/bin/netkpi. It exits 0 on warnings, so its
    // output must be empty.
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/systemd/netkpi@.service"
    ))
    .expect("read unit");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("netkpi@9898.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/netkpi", env!("CARGO_BIN_EXE_netkpi")),
    )
    .expect("write unit");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze (scripts/install-validators installs systemd)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.trim().is_empty(),
        "systemd-analyze verify:\n{text}"
    );
    // A wrong directive is reported (the empty output above means something).
    std::fs::write(
        &path,
        unit.replace("Restart=on-failure", "Restart=sometimes")
            .replace("/usr/local/bin/netkpi", env!("CARGO_BIN_EXE_netkpi")),
    )
    .expect("write unit");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("verify");
    assert!(
        !String::from_utf8_lossy(&out.stderr).trim().is_empty(),
        "a bad directive is reported"
    );
}
