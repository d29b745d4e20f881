//! `[report]` and `[[targets]]`: what `netkpi report` computes, validated against the configured
//! levels and window sizes (a configuration without them is valid for every other command).

use super::raw::Integer;
use super::read::Problems;
use super::values::{in_range, parse_duration_ms};
use crate::kpi::Kpi;
use crate::model::level::{Dim, Level};
use crate::report::targets::{At, ReportSettings, Shares, Target, TargetOp};
use serde::Deserialize;

/// `[report]`: the compliance report (`netkpi report`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawReport {
    /// The window size whose KPI records are read; one of windows.sizes (default "1h").
    pub window: Option<String>,
    /// IANA time zone of the calendar: days, weeks, months, quarters (default "UTC").
    pub timezone: Option<String>,
    /// Worst cells listed per group and target (default 20).
    pub worst_cells: Option<Integer>,
}

/// `[[targets]]`: one regulatory target.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawTarget {
    /// Unique name, shown in the report. Required.
    pub name: Option<String>,
    /// The KPI, by its public name; not a percentile. Required.
    pub kpi: Option<String>,
    /// A configured level. Required.
    pub level: Option<String>,
    /// Cell-share targets: the level whose groups the shares are taken in.
    pub within: Option<String>,
    /// `busy_hour` (default) or `day`.
    pub at: Option<String>,
    /// `>=` or `<=`. Required.
    pub op: Option<String>,
    /// The target figure. Required.
    pub value: Option<f64>,
    /// Cell-share targets: share of cells that must comply on a day.
    pub cells_share: Option<f64>,
    /// Cell-share targets: share of days that must comply in the period.
    pub days_share: Option<f64>,
    /// A cell-day (or, for worst cells, a cell-period) with fewer samples is left out.
    pub min_samples: Option<Integer>,
}

/// Validates the report section; `None` when the file has neither `[report]` nor `[[targets]]`.
pub(super) fn validate_report(
    raw: Option<RawReport>,
    targets: Vec<RawTarget>,
    levels: &[Level],
    sizes: &[i64],
    p: &mut Problems,
) -> Option<ReportSettings> {
    if raw.is_none() && targets.is_empty() {
        return None;
    }
    let raw = raw.unwrap_or_default();
    let window_text = raw.window.as_deref().unwrap_or("1h");
    let window_ms = match parse_duration_ms(window_text) {
        Err(e) => {
            p.add("report.window", e);
            0
        }
        Ok(ms) if !sizes.contains(&ms) => {
            p.add(
                "report.window",
                format!("`{window_text}` is not one of windows.sizes: add it there so that `replay` and `run` compute its windows"),
            );
            ms
        }
        Ok(ms) => ms,
    };
    let timezone = raw.timezone.unwrap_or_else(|| "UTC".to_string());
    if jiff::tz::db().get(&timezone).is_err() {
        p.add(
            "report.timezone",
            format!(
                "`{timezone}` is not an IANA time zone name (e.g. UTC, Asia/Shanghai, Asia/Kolkata)"
            ),
        );
    }
    let worst_cells = raw.worst_cells.map_or(20, |n| {
        in_range(n.0, 0..=10_000, "report.worst_cells", "cells", p).unwrap_or(20)
    });
    let mut valid: Vec<Target> = Vec::new();
    for (i, t) in targets.into_iter().enumerate() {
        if let Some(target) = validate_target(i, t, levels, p) {
            if valid.iter().any(|v| v.name == target.name) {
                p.add(
                    format!("targets[{i}].name"),
                    format!("target name `{}` is used twice", target.name),
                );
            }
            valid.push(target);
        }
    }
    Some(ReportSettings {
        window_ms,
        timezone,
        worst_cells: usize::try_from(worst_cells).unwrap_or(20),
        targets: valid,
    })
}

fn share(v: Option<f64>, key: String, p: &mut Problems) -> Option<f64> {
    match v {
        Some(x) if (0.0..=1.0).contains(&x) => Some(x),
        Some(x) => {
            p.add(key, format!("{x} is not a share from 0 to 1"));
            None
        }
        None => {
            p.add(
                key,
                "required for a cell-share target (a share from 0 to 1)",
            );
            None
        }
    }
}

fn validate_target(i: usize, t: RawTarget, levels: &[Level], p: &mut Problems) -> Option<Target> {
    let key = |field: &str| format!("targets[{i}].{field}");
    let before = p.0.len();
    let name = t.name.clone().filter(|n| !n.trim().is_empty());
    if name.is_none() {
        p.add(key("name"), "required: a unique target name");
    }
    let kpi = match t.kpi.as_deref() {
        None => {
            p.add(key("kpi"), "required: a KPI name");
            None
        }
        Some(k) => match Kpi::from_name(k) {
            None => {
                p.add(
                    key("kpi"),
                    format!("unknown KPI `{k}` (see the KPI list in docs/kpis.md)"),
                );
                None
            }
            Some(kpi) if kpi.is_percentile() => {
                p.add(
                    key("kpi"),
                    format!("`{k}` is a percentile: percentiles of windows cannot be pooled over a day or a period"),
                );
                None
            }
            Some(kpi) => Some(kpi),
        },
    };
    let level = match t.level.as_deref().map(|text| (text, Level::parse(text))) {
        None => {
            p.add(key("level"), "required: one of the configured levels");
            None
        }
        Some((text, Err(e))) => {
            p.add(key("level"), format!("`{text}`: {e}"));
            None
        }
        Some((_, Ok(l))) if !levels.contains(&l) => {
            p.add(
                key("level"),
                format!("`{}` is not a configured level (kpi.levels)", l.name()),
            );
            None
        }
        Some((_, Ok(l))) => Some(l),
    };
    let at = match t.at.as_deref() {
        None | Some("busy_hour") => Some(At::BusyHour),
        Some("day") => Some(At::Day),
        Some(other) => {
            p.add(key("at"), format!("`{other}` is not busy_hour or day"));
            None
        }
    };
    let op = match t.op.as_deref() {
        Some(">=") => Some(TargetOp::AtLeast),
        Some("<=") => Some(TargetOp::AtMost),
        Some(other) => {
            p.add(key("op"), format!("`{other}` is not \">=\" or \"<=\""));
            None
        }
        None => {
            p.add(key("op"), "required: \">=\" or \"<=\"");
            None
        }
    };
    let value = match t.value {
        Some(v) if v.is_finite() => Some(v),
        Some(_) => {
            p.add(key("value"), "must be a finite number");
            None
        }
        None => {
            p.add(key("value"), "required: the target figure");
            None
        }
    };
    let shares = validate_shares(&t, level, &key, p);
    let min_samples = t.min_samples.map_or(0, |n| {
        in_range(n.0, 0..=i64::MAX, &key("min_samples"), "samples", p).unwrap_or(0)
    });
    if p.0.len() != before {
        return None;
    }
    Some(Target {
        name: name?,
        kpi: kpi?,
        level: level?,
        at: at?,
        op: op?,
        value: value?,
        shares: shares?,
        min_samples: u64::try_from(min_samples).ok()?,
    })
}

/// `Some(None)` for a group target, `Some(Some(_))` for a valid cell-share target, `None` when
/// the share keys are wrong.
fn validate_shares(
    t: &RawTarget,
    level: Option<Level>,
    key: &dyn Fn(&str) -> String,
    p: &mut Problems,
) -> Option<Option<Shares>> {
    let cell_level = Level::of(&[Dim::Cell]);
    let Some(text) = t.within.as_deref() else {
        for (field, v) in [("cells_share", t.cells_share), ("days_share", t.days_share)] {
            if v.is_some() {
                p.add(key(field), "only for a cell-share target: set `within` too");
            }
        }
        return Some(None);
    };
    if level.is_some_and(|l| l != cell_level) {
        p.add(key("within"), "a cell-share target has level = \"cell\"");
    }
    let within = match Level::parse(text) {
        Err(e) => {
            p.add(key("within"), format!("`{text}`: {e}"));
            None
        }
        Ok(w) if w.has(Dim::Cell) => {
            p.add(
                key("within"),
                format!(
                    "`{}` is not coarser than the cell level (it must not contain `cell`)",
                    w.name()
                ),
            );
            None
        }
        Ok(w) => Some(w),
    };
    let cells_share = share(t.cells_share, key("cells_share"), p);
    let days_share = share(t.days_share, key("days_share"), p);
    Some(Some(Shares {
        within: within?,
        cells_share: cells_share?,
        days_share: days_share?,
    }))
}
