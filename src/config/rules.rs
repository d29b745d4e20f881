//! `[[rules]]`: one threshold rule, validated against the configured levels and window sizes.

use super::raw::RawRule;
use super::read::Problems;
use super::values::{count, in_range, parse_duration_ms};
use crate::kpi::Kpi;
use crate::model::level::{Dim, Level};
use crate::threshold::rule::{
    DuringOutage, Op, Rule, RuleKind, Severity, TRAFFIC_RECORDS, Watched,
};

/// One `[[rules]]` entry (`i`th); `None` when any of its keys has a problem (each reported).
pub(super) fn validate_rule(
    i: usize,
    mut r: RawRule,
    levels: &[Level],
    sizes: &[i64],
    p: &mut Problems,
) -> Option<Rule> {
    let key = |field: &str| format!("rules[{i}].{field}");
    let before = p.0.len();
    let name = r.name.take().filter(|n| !n.trim().is_empty());
    if name.is_none() {
        p.add(key("name"), "required: a unique rule name");
    }
    let sleeping = is_sleeping_cell(r.kind.as_deref(), &key, p);
    if sleeping {
        refuse_thresholds(&r, &key, p);
        r.level.get_or_insert_with(|| "cell".into());
        r.op = Some("<".into());
        r.raise = Some(0.0);
        r.clear = None;
    }
    let watched = match r.kpi.as_deref() {
        _ if sleeping => Some(Watched::Traffic),
        kpi => watched(kpi, &key, p),
    };
    let kind = match (sleeping, r.baseline.unwrap_or(false)) {
        (true, _) => RuleKind::SleepingCell,
        (false, true) => RuleKind::Baseline,
        (false, false) => RuleKind::Fixed,
    };
    let during_outage = during_outage(r.during_outage.as_deref(), &key, p);
    let (parsed_level, level) = level(r.level.as_deref(), levels, &key, p);
    // A sleeping-cell rule matches the cell's inventory attributes, not the level's.
    let matches = matches(&r, parsed_level.filter(|_| !sleeping), &key, p);
    let (op, raise, clear) = thresholds(&r, &key, p);
    let for_windows = count(r.for_windows, 1, 1, key("for_windows"), p);
    let clear_windows = count(r.clear_windows, 1, 1, key("clear_windows"), p);
    let min_samples = match r.min_samples.map(|n| n.0) {
        None => 0,
        Some(n) => in_range(n, 0..=i64::MAX, &key("min_samples"), "samples", p).unwrap_or(0),
    };
    let severity = severity(r.severity.as_deref(), &key, p);
    let window_index = window_index(r.window.as_deref(), sizes, &key, p);
    if p.0.len() != before {
        return None;
    }
    let ((level, level_index), window_index) = (level?, window_index?);
    if sleeping && level != Level::parse("cell").ok()? {
        p.add(
            key("level"),
            "a sleeping_cell rule watches cells: `cell` (the default) or nothing",
        );
        return None;
    }
    Some(Rule {
        name: name?,
        watched: watched?,
        kind,
        during_outage: during_outage?,
        level,
        level_index,
        matches,
        op: op?,
        raise: raise?,
        clear: clear?,
        for_windows: u32::try_from(for_windows).ok()?,
        clear_windows: u32::try_from(clear_windows).ok()?,
        min_samples: u64::try_from(min_samples).ok()?,
        severity: severity?,
        window_index,
    })
}

/// `kind`: `threshold` (the default) or `sleeping_cell`.
fn is_sleeping_cell(kind: Option<&str>, key: &impl Fn(&str) -> String, p: &mut Problems) -> bool {
    let parse = |k: &str| match k {
        "threshold" => Some(false),
        "sleeping_cell" => Some(true),
        _ => None,
    };
    kind.map_or(Some(false), |k| {
        one_of(
            Some(k),
            "kind",
            "\"threshold\" or \"sleeping_cell\"",
            parse,
            key,
            p,
        )
    })
    .unwrap_or(false)
}

/// A key whose value is one of a few words (`choices`, as the messages name them): a problem
/// when it is missing or another word.
fn one_of<T>(
    text: Option<&str>,
    field: &str,
    choices: &str,
    parse: impl FnOnce(&str) -> Option<T>,
    key: &impl Fn(&str) -> String,
    p: &mut Problems,
) -> Option<T> {
    let Some(text) = text else {
        p.add(key(field), format!("required: {choices}"));
        return None;
    };
    parse(text).or_else(|| {
        p.add(key(field), format!("`{text}` is not {choices}"));
        None
    })
}

/// `kpi`: a KPI name, or the traffic count.
fn watched(kpi: Option<&str>, key: &impl Fn(&str) -> String, p: &mut Problems) -> Option<Watched> {
    match kpi {
        None => {
            p.add(key("kpi"), "required: a KPI name");
            None
        }
        Some(TRAFFIC_RECORDS) => Some(Watched::Traffic),
        Some(k) => Kpi::from_name(k).map(Watched::Kpi).or_else(|| {
            p.add(
                key("kpi"),
                format!("unknown KPI `{k}` (see the KPI list in docs/kpis.md)"),
            );
            None
        }),
    }
}

/// `during_outage`: `annotate` (the default) or `suppress`.
fn during_outage(
    text: Option<&str>,
    key: &impl Fn(&str) -> String,
    p: &mut Problems,
) -> Option<DuringOutage> {
    let choices = "\"annotate\" or \"suppress\"";
    text.map_or(Some(DuringOutage::Annotate), |t| {
        one_of(
            Some(t),
            "during_outage",
            choices,
            DuringOutage::parse,
            key,
            p,
        )
    })
}

/// `severity`: critical, major, minor or warning.
fn severity(
    text: Option<&str>,
    key: &impl Fn(&str) -> String,
    p: &mut Problems,
) -> Option<Severity> {
    let choices = "critical, major, minor or warning";
    one_of(text, "severity", choices, Severity::parse, key, p)
}

/// `level`: the level as written, and it with its index when it is a configured one.
fn level(
    text: Option<&str>,
    levels: &[Level],
    key: &impl Fn(&str) -> String,
    p: &mut Problems,
) -> (Option<Level>, Option<(Level, usize)>) {
    let parsed = match text {
        None => {
            p.add(key("level"), "required: one of the configured levels");
            None
        }
        Some(text) => Level::parse(text)
            .map_err(|e| p.add(key("level"), format!("`{text}`: {e}")))
            .ok(),
    };
    let configured = parsed.and_then(|level| match levels.iter().position(|l| *l == level) {
        Some(idx) => Some((level, idx)),
        None => {
            p.add(
                key("level"),
                format!("`{}` is not a configured level (kpi.levels)", level.name()),
            );
            None
        }
    });
    (parsed, configured)
}

/// `match`: known dimensions, each one of `level`'s when given, sorted.
fn matches(
    r: &RawRule,
    level: Option<Level>,
    key: &impl Fn(&str) -> String,
    p: &mut Problems,
) -> Vec<(Dim, String)> {
    let mut matches = Vec::new();
    for (dim_name, value) in &r.match_ {
        let field = key(&format!("match.{dim_name}"));
        match Dim::parse(dim_name) {
            None => p.add(field, "unknown dimension"),
            Some(dim) => {
                if let Some(level) = level
                    && !level.has(dim)
                {
                    p.add(
                        field,
                        format!("level `{}` has no dimension `{dim_name}`", level.name()),
                    );
                }
                matches.push((dim, value.clone()));
            }
        }
    }
    matches.sort();
    matches
}

/// `op`, `raise` and `clear` (the raise threshold when absent, never on the raising side of it).
fn thresholds(
    r: &RawRule,
    key: &impl Fn(&str) -> String,
    p: &mut Problems,
) -> (Option<Op>, Option<f64>, Option<f64>) {
    let op = one_of(r.op.as_deref(), "op", "\"<\" or \">\"", Op::parse, key, p);
    let raise = match r.raise {
        Some(v) if v.is_finite() => Some(v),
        Some(_) => {
            p.add(key("raise"), "must be a finite number");
            None
        }
        None => {
            p.add(key("raise"), "required: the raise threshold");
            None
        }
    };
    let clear = r.clear.or(raise);
    if let (Some(op), Some(raise), Some(clear)) = (op, raise, clear) {
        if !clear.is_finite() {
            p.add(key("clear"), "must be a finite number");
        } else if op == Op::Below && clear < raise {
            p.add(
                key("clear"),
                format!("for op \"<\" clear ({clear}) must be ≥ raise ({raise})"),
            );
        } else if op == Op::Above && clear > raise {
            p.add(
                key("clear"),
                format!("for op \">\" clear ({clear}) must be ≤ raise ({raise})"),
            );
        }
    }
    (op, raise, clear)
}

/// `window`: one of `windows.sizes` (the first when absent), as its index.
fn window_index(
    text: Option<&str>,
    sizes: &[i64],
    key: &impl Fn(&str) -> String,
    p: &mut Problems,
) -> Option<usize> {
    let Some(text) = text else {
        return Some(0);
    };
    match parse_duration_ms(text) {
        Err(e) => {
            p.add(key("window"), e);
            None
        }
        Ok(ms) => sizes.iter().position(|s| *s == ms).or_else(|| {
            p.add(
                key("window"),
                format!("`{text}` is not one of windows.sizes"),
            );
            None
        }),
    }
}

/// A sleeping-cell rule has its own condition (docs/sleeping-cells.md): no KPI, direction or thresholds.
fn refuse_thresholds(r: &RawRule, key: &impl Fn(&str) -> String, p: &mut Problems) {
    let set = [
        ("kpi", r.kpi.is_some()),
        ("op", r.op.is_some()),
        ("raise", r.raise.is_some()),
        ("clear", r.clear.is_some()),
        ("min_samples", r.min_samples.is_some()),
        ("baseline", r.baseline.is_some()),
    ];
    for (field, present) in set {
        if present {
            p.add(
                key(field),
                "a sleeping_cell rule has no such key: it raises when the cell's traffic falls \
                 to sleeping.max_share of its baseline",
            );
        }
    }
}
