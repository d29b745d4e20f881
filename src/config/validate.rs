//! Raw configuration → [`Settings`], collecting every problem with its key path.

use super::Settings;
use super::export::{validate_exported_levels, validate_http_address, validate_remote_write};
use super::kafka::validate_kafka;
use super::raw::{RawConfig, RawKpi, RawPlan, RawRule};
use super::read::Problems;
use super::rules::validate_rule;
use super::values::{
    MAX_DURATION_MS, bytes_in, duration_in, in_range, parse_duration_ms, parse_time_ms,
};
use crate::kpi::{AggParams, CoverageThreshold};
use crate::model::Technology;
use crate::model::level::Level;
use crate::threshold::rule::Rule;
use std::collections::BTreeMap;
use std::path::Path;

pub(super) fn validate(raw: RawConfig, base: &Path, p: &mut Problems) -> Settings {
    let inventory_path = match raw.inventory.path {
        Some(path) if !path.trim().is_empty() => base.join(path),
        _ => {
            p.add("inventory.path", "required: path of the cell inventory CSV");
            base.join("cells.csv")
        }
    };
    let window_sizes_ms = window_sizes(&raw.windows.sizes, p);
    let allowed_delay_ms = duration_in(
        &raw.windows.allowed_delay,
        0..=MAX_DURATION_MS,
        "windows.allowed_delay",
        30_000,
        p,
    );
    let idle_timeout_ms = duration_in(
        &raw.windows.idle_timeout,
        0..=MAX_DURATION_MS,
        "windows.idle_timeout",
        60_000,
        p,
    );
    let not_before_ms = parse_time_ms(&raw.windows.not_before).unwrap_or_else(|e| {
        p.add("windows.not_before", e);
        0
    });
    let max_future_ms = duration_in(
        &raw.windows.max_future,
        0..=MAX_DURATION_MS,
        "windows.max_future",
        600_000,
        p,
    );
    let max_gap_ms = duration_in(
        &raw.windows.max_gap,
        1_000..=MAX_DURATION_MS,
        "windows.max_gap",
        86_400_000,
        p,
    );
    let max_record_bytes = bytes_in(
        &raw.input.max_record_bytes,
        64..=(1 << 30),
        "input.max_record_bytes",
        1 << 20,
        p,
    );
    let max_block_bytes = bytes_in(
        &raw.input.max_block_bytes,
        1024..=(4 << 30),
        "input.max_block_bytes",
        64 << 20,
        p,
    );

    let levels = levels(&raw.kpi.levels, p);
    let restored_outage_retention_ms = duration_in(
        &raw.kpi.restored_outage_retention,
        0..=MAX_DURATION_MS,
        "kpi.restored_outage_retention",
        86_400_000,
        p,
    );
    let unknown_cell_ttl_ms = duration_in(
        &raw.kpi.unknown_cell_ttl,
        1_000..=MAX_DURATION_MS,
        "kpi.unknown_cell_ttl",
        3_600_000,
        p,
    );
    let agg = agg_params(&raw.kpi, &raw.plans, p);
    let rules = rules(raw.rules, &levels, &window_sizes_ms, p);
    let baseline = super::baseline::validate_baseline(raw.baseline, p);
    let sleeping = super::baseline::validate_sleeping(raw.sleeping, p);
    let report =
        super::report::validate_report(raw.report, raw.targets, &levels, &window_sizes_ms, p);
    let kafka = validate_kafka(raw.kafka, p);
    let http_address = validate_http_address(&raw.http.address, p);
    let exported_levels = validate_exported_levels(raw.prometheus.levels.as_deref(), &levels, p);
    let remote_write = validate_remote_write(&raw.prometheus, p);
    Settings {
        kafka,
        remote_write,
        http_address,
        exported_levels,
        inventory_path,
        window_sizes_ms,
        allowed_delay_ms,
        idle_timeout_ms,
        not_before_ms,
        max_future_ms,
        max_gap_ms,
        unknown_cell_ttl_ms,
        restored_outage_retention_ms,
        max_record_bytes,
        max_block_bytes,
        levels,
        agg,
        rules,
        report,
        baseline,
        sleeping,
    }
}

/// `windows.sizes`: at least one, each from one second to 366 days, none twice.
fn window_sizes(sizes: &[String], p: &mut Problems) -> Vec<i64> {
    let mut window_sizes_ms = Vec::new();
    if sizes.is_empty() {
        p.add("windows.sizes", "at least one window size is required");
    }
    for (i, text) in sizes.iter().enumerate() {
        let key = format!("windows.sizes[{i}]");
        match parse_duration_ms(text) {
            Ok(ms) if ms < 1000 => p.add(
                key,
                format!("`{text}` is shorter than one second, the smallest window size"),
            ),
            Ok(ms) if ms > 366 * 86_400_000 => p.add(
                key,
                format!("`{text}` is longer than 366 days, the largest window size"),
            ),
            Ok(ms) if window_sizes_ms.contains(&ms) => {
                p.add(key, format!("`{text}` is configured twice"))
            }
            Ok(ms) => window_sizes_ms.push(ms),
            Err(e) => p.add(key, e),
        }
    }
    window_sizes_ms
}

/// `kpi.levels`: at least one, none twice.
fn levels(texts: &[String], p: &mut Problems) -> Vec<Level> {
    let mut levels: Vec<Level> = Vec::new();
    if texts.is_empty() {
        p.add("kpi.levels", "at least one level is required");
    }
    for (i, text) in texts.iter().enumerate() {
        let key = format!("kpi.levels[{i}]");
        match Level::parse(text) {
            Ok(level) if levels.contains(&level) => {
                p.add(key, format!("level `{}` is configured twice", level.name()))
            }
            Ok(level) => levels.push(level),
            Err(e) => p.add(key, format!("`{text}`: {e}")),
        }
    }

    levels
}

/// What the accumulators need: `kpi.min_active_ms`, `kpi.coverage` and the `plans`.
fn agg_params(kpi: &RawKpi, plans: &BTreeMap<String, RawPlan>, p: &mut Problems) -> AggParams {
    let mut agg = AggParams {
        min_active_ms: in_range(
            kpi.min_active_ms.0,
            0..=MAX_DURATION_MS,
            "kpi.min_active_ms",
            "milliseconds",
            p,
        )
        .unwrap_or(1000),
        ..AggParams::default()
    };
    for (tech_name, cov) in &kpi.coverage {
        let key = format!("kpi.coverage.{tech_name}");
        let Some(tech) = Technology::parse(tech_name, true) else {
            p.add(
                key,
                "unknown technology; expected GSM, UMTS, LTE, NR or UNKNOWN",
            );
            continue;
        };
        let slot: &mut CoverageThreshold = &mut agg.coverage[tech.index()];
        if let Some(signal) = cov.signal_dbm {
            if signal.is_finite() {
                slot.signal_dbm = signal;
            } else {
                p.add(
                    format!("{key}.signal_dbm"),
                    "must be a finite number of dBm",
                );
            }
        }
        if let Some(sinr) = cov.sinr_db {
            if sinr.is_finite() {
                slot.sinr_db = Some(sinr);
            } else {
                p.add(format!("{key}.sinr_db"), "must be a finite number of dB");
            }
        }
    }
    for (plan, raw_plan) in plans {
        let key = format!("plans.\"{plan}\".min_dl_bps");
        match raw_plan.min_dl_bps {
            Some(bps) if bps.is_finite() && bps >= 0.0 => {
                agg.plans.insert(plan.as_str().into(), bps);
            }
            Some(_) => p.add(key, "must be a non-negative number of bit/s"),
            None => p.add(key, "required: the plan's minimum downlink speed in bit/s"),
        }
    }

    agg
}

/// `rules`: each valid, no name twice.
fn rules(raw: Vec<RawRule>, levels: &[Level], sizes: &[i64], p: &mut Problems) -> Vec<Rule> {
    let mut rules: Vec<Rule> = Vec::new();
    for (i, raw_rule) in raw.into_iter().enumerate() {
        if let Some(rule) = validate_rule(i, raw_rule, levels, sizes, p) {
            if rules.iter().any(|r| r.name == rule.name) {
                p.add(
                    format!("rules[{i}].name"),
                    format!("rule name `{}` is used twice", rule.name),
                );
            }
            rules.push(rule);
        }
    }

    rules
}
