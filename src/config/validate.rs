//! Raw configuration → [`Settings`], collecting every problem with its key path.

use super::raw::{RawConfig, RawRule};
use super::{Problem, Settings};
use crate::kpi::{AggParams, CoverageThreshold, Kpi};
use crate::model::Technology;
use crate::model::level::{Dim, Level};
use crate::threshold::rule::{Op, Rule, Severity};
use std::path::Path;

struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            key: key.into(),
            message: message.into(),
        });
    }
}

/// Deserializes (reporting unknown keys and type errors by path) and validates.
pub(super) fn from_config(built: config::Config, base: &Path) -> Result<Settings, Vec<Problem>> {
    let mut problems = Problems(Vec::new());
    let mut unknown = Vec::new();
    let raw: Result<RawConfig, _> = serde_path_to_error::deserialize(
        serde_ignored::Deserializer::new(built, &mut |path: serde_ignored::Path<'_>| {
            unknown.push(key_path(&path.to_string()))
        }),
    );
    for key in unknown {
        problems.add(key, "unknown key");
    }
    let raw = match raw {
        Ok(raw) => raw,
        Err(e) => {
            let key = e.path().to_string();
            problems.add(key, e.into_inner().to_string());
            return Err(problems.0);
        }
    };
    let settings = validate(raw, base, &mut problems);
    if problems.0.is_empty() {
        Ok(settings)
    } else {
        Err(problems.0)
    }
}

/// `rules.0.bogus` → `rules[0].bogus`, the form every other message uses.
fn key_path(dotted: &str) -> String {
    let mut out = String::new();
    for part in dotted.split('.') {
        if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(part);
        }
    }
    out
}

/// Parses a duration such as `5m`, `30s`, `1h30m`, `250ms` into whole milliseconds.
pub fn parse_duration_ms(text: &str) -> Result<i64, String> {
    let d = humantime::parse_duration(text.trim())
        .map_err(|e| format!("`{text}` is not a duration ({e}); expected e.g. \"5m\", \"30s\""))?;
    if d.subsec_nanos() % 1_000_000 != 0 {
        return Err(format!("`{text}` is not a whole number of milliseconds"));
    }
    i64::try_from(d.as_millis()).map_err(|_| format!("`{text}` is too long"))
}

fn validate(raw: RawConfig, base: &Path, p: &mut Problems) -> Settings {
    let inventory_path = match raw.inventory.path {
        Some(path) if !path.trim().is_empty() => base.join(path),
        _ => {
            p.add("inventory.path", "required: path of the cell inventory CSV");
            base.join("cells.csv")
        }
    };

    let mut window_sizes_ms = Vec::new();
    if raw.windows.sizes.is_empty() {
        p.add("windows.sizes", "at least one window size is required");
    }
    for (i, text) in raw.windows.sizes.iter().enumerate() {
        let key = format!("windows.sizes[{i}]");
        match parse_duration_ms(text) {
            Ok(0) => p.add(key, "a window size must be longer than 0"),
            Ok(ms) if window_sizes_ms.contains(&ms) => {
                p.add(key, format!("`{text}` is configured twice"))
            }
            Ok(ms) => window_sizes_ms.push(ms),
            Err(e) => p.add(key, e),
        }
    }
    let allowed_delay_ms = parse_duration_ms(&raw.windows.allowed_delay).unwrap_or_else(|e| {
        p.add("windows.allowed_delay", e);
        0
    });
    let idle_timeout_ms = parse_duration_ms(&raw.windows.idle_timeout).unwrap_or_else(|e| {
        p.add("windows.idle_timeout", e);
        0
    });

    let mut levels: Vec<Level> = Vec::new();
    if raw.kpi.levels.is_empty() {
        p.add("kpi.levels", "at least one level is required");
    }
    for (i, text) in raw.kpi.levels.iter().enumerate() {
        let key = format!("kpi.levels[{i}]");
        match Level::parse(text) {
            Ok(level) if levels.contains(&level) => {
                p.add(key, format!("level `{}` is configured twice", level.name()))
            }
            Ok(level) => levels.push(level),
            Err(e) => p.add(key, format!("`{text}`: {e}")),
        }
    }

    let mut agg = AggParams::default();
    if raw.kpi.min_active_ms < 0 {
        p.add("kpi.min_active_ms", "must be 0 or more (milliseconds)");
    }
    agg.min_active_ms = raw.kpi.min_active_ms;
    for (tech_name, cov) in &raw.kpi.coverage {
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
    for (plan, raw_plan) in &raw.plans {
        let key = format!("plans.\"{plan}\".min_dl_bps");
        match raw_plan.min_dl_bps {
            Some(bps) if bps.is_finite() && bps >= 0.0 => {
                agg.plans.insert(plan.clone(), bps);
            }
            Some(_) => p.add(key, "must be a non-negative number of bit/s"),
            None => p.add(key, "required: the plan's minimum downlink speed in bit/s"),
        }
    }

    let mut rules: Vec<Rule> = Vec::new();
    for (i, raw_rule) in raw.rules.into_iter().enumerate() {
        if let Some(rule) = validate_rule(i, raw_rule, &levels, &window_sizes_ms, p) {
            if rules.iter().any(|r| r.name == rule.name) {
                p.add(
                    format!("rules[{i}].name"),
                    format!("rule name `{}` is used twice", rule.name),
                );
            }
            rules.push(rule);
        }
    }

    let kafka = validate_kafka(raw.kafka, p);
    let http_address = Some(raw.http.address.trim().to_string()).filter(|a| !a.is_empty());
    if let Some(a) = &http_address
        && a.parse::<std::net::SocketAddr>().is_err()
    {
        p.add(
            "http.address",
            format!("`{a}` is not host:port (e.g. 127.0.0.1:9898), or empty to disable"),
        );
    }
    let exported_levels = match raw.prometheus.levels {
        None => levels.iter().map(|l| l.name()).collect(),
        Some(list) => list
            .iter()
            .enumerate()
            .filter_map(|(i, text)| match Level::parse(text) {
                Ok(l) if levels.contains(&l) => Some(l.name()),
                Ok(l) => {
                    p.add(
                        format!("prometheus.levels[{i}]"),
                        format!("`{}` is not a configured level (kpi.levels)", l.name()),
                    );
                    None
                }
                Err(e) => {
                    p.add(format!("prometheus.levels[{i}]"), format!("`{text}`: {e}"));
                    None
                }
            })
            .collect(),
    };
    let remote_write = raw
        .prometheus
        .remote_write_url
        .filter(|u| !u.trim().is_empty())
        .map(|u| (u, raw.prometheus.remote_write_queue.unwrap_or(100_000)));
    if let Some((u, q)) = &remote_write {
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            p.add(
                "prometheus.remote_write_url",
                format!("`{u}` is not an http:// or https:// URL"),
            );
        }
        if *q == 0 {
            p.add("prometheus.remote_write_queue", "must be at least 1");
        }
    }
    Settings {
        kafka,
        remote_write,
        http_address,
        exported_levels,
        inventory_path,
        window_sizes_ms,
        allowed_delay_ms,
        idle_timeout_ms,
        levels,
        agg,
        rules,
    }
}

fn validate_kafka(k: super::raw::RawKafka, p: &mut Problems) -> super::KafkaSettings {
    if k.brokers.trim().is_empty() {
        p.add("kafka.brokers", "must name at least one host:port");
    }
    if k.group_id.trim().is_empty() {
        p.add("kafka.group_id", "must not be empty");
    }
    if !(1..=10_000).contains(&k.output_partitions) {
        p.add("kafka.output_partitions", "must be between 1 and 10000");
    }
    let commit_interval_ms = match parse_duration_ms(&k.commit_interval) {
        Ok(ms) if ms > 0 => ms,
        Ok(_) => {
            p.add("kafka.commit_interval", "must be longer than 0");
            1000
        }
        Err(e) => {
            p.add("kafka.commit_interval", e);
            1000
        }
    };
    let session_timeout_ms = match parse_duration_ms(&k.session_timeout) {
        Ok(ms) if (1000..=3_600_000).contains(&ms) => ms,
        Ok(_) => {
            p.add("kafka.session_timeout", "must be between 1s and 1h");
            10_000
        }
        Err(e) => {
            p.add("kafka.session_timeout", e);
            10_000
        }
    };
    let t = k.topics;
    let names = [
        ("calls", &t.calls),
        ("data_sessions", &t.data_sessions),
        ("outages", &t.outages),
        ("kpis", &t.kpis),
        ("breaches", &t.breaches),
        ("dead_letters", &t.dead_letters),
        ("checkpoints", &t.checkpoints),
        ("partials", &t.partials),
    ];
    for (i, (key, name)) in names.iter().enumerate() {
        let valid = !name.is_empty()
            && name.len() <= 249
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !valid {
            p.add(
                format!("kafka.topics.{key}"),
                format!("`{name}` is not a valid topic name"),
            );
        }
        if names[..i].iter().any(|(_, other)| other == name) {
            p.add(
                format!("kafka.topics.{key}"),
                format!("`{name}` is used for two purposes"),
            );
        }
    }
    let f = k.framing;
    let framing = [
        ("calls", f.calls),
        ("data_sessions", f.data_sessions),
        ("outages", f.outages),
    ]
    .map(|(key, v)| match v.as_str() {
        "raw" => super::Framing::Raw,
        "confluent" => super::Framing::Confluent,
        other => {
            p.add(
                format!("kafka.framing.{key}"),
                format!("`{other}` is not `raw` or `confluent`"),
            );
            super::Framing::Raw
        }
    });
    let registry = k.schema_registry_url.filter(|u| !u.trim().is_empty());
    if framing.contains(&super::Framing::Confluent) && registry.is_none() {
        p.add(
            "kafka.schema_registry_url",
            "required when an input topic uses the `confluent` framing",
        );
    }
    if let Some(url) = &registry
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        p.add(
            "kafka.schema_registry_url",
            format!("`{url}` is not an http:// or https:// URL"),
        );
    }
    super::KafkaSettings {
        framing,
        schema_registry_url: registry,
        transactional_id: k.transactional_id.unwrap_or_else(|| k.group_id.clone()),
        brokers: k.brokers,
        group_id: k.group_id,
        output_partitions: k.output_partitions,
        commit_interval_ms,
        session_timeout_ms,
        input_topics: [t.calls, t.data_sessions, t.outages],
        kpis_topic: t.kpis,
        breaches_topic: t.breaches,
        dead_letters_topic: t.dead_letters,
        checkpoints_topic: t.checkpoints,
        partials_topic: t.partials,
        properties: k.properties.into_iter().collect(),
    }
}

fn count(v: Option<i64>, default: i64, min: i64, key: String, p: &mut Problems) -> i64 {
    match v {
        None => default,
        Some(n) if n >= min && n <= i64::from(u32::MAX) => n,
        Some(n) => {
            p.add(
                key,
                format!("{n} is out of range; expected an integer ≥ {min}"),
            );
            default
        }
    }
}

fn validate_rule(
    i: usize,
    r: RawRule,
    levels: &[Level],
    sizes: &[i64],
    p: &mut Problems,
) -> Option<Rule> {
    let key = |field: &str| format!("rules[{i}].{field}");
    let before = p.0.len();
    let name = r.name.filter(|n| !n.trim().is_empty());
    if name.is_none() {
        p.add(key("name"), "required: a unique rule name");
    }
    let kpi = match r.kpi.as_deref() {
        None => {
            p.add(key("kpi"), "required: a KPI name");
            None
        }
        Some(k) => Kpi::from_name(k).or_else(|| {
            p.add(
                key("kpi"),
                format!("unknown KPI `{k}` (see the KPI list in the README)"),
            );
            None
        }),
    };
    let parsed_level = match r.level.as_deref() {
        None => {
            p.add(key("level"), "required: one of the configured levels");
            None
        }
        Some(text) => Level::parse(text)
            .map_err(|e| p.add(key("level"), format!("`{text}`: {e}")))
            .ok(),
    };
    let level = parsed_level.and_then(|level| match levels.iter().position(|l| *l == level) {
        Some(idx) => Some((level, idx)),
        None => {
            p.add(
                key("level"),
                format!("`{}` is not a configured level (kpi.levels)", level.name()),
            );
            None
        }
    });
    let mut matches = Vec::new();
    for (dim_name, value) in &r.match_ {
        match Dim::parse(dim_name) {
            None => p.add(key(&format!("match.{dim_name}")), "unknown dimension"),
            Some(dim) => {
                if let Some(level) = parsed_level
                    && !level.has(dim)
                {
                    p.add(
                        key(&format!("match.{dim_name}")),
                        format!("level `{}` has no dimension `{dim_name}`", level.name()),
                    );
                }
                matches.push((dim, value.clone()));
            }
        }
    }
    matches.sort();
    let op = match r.op.as_deref() {
        None => {
            p.add(key("op"), "required: \"<\" or \">\"");
            None
        }
        Some(o) => Op::parse(o).or_else(|| {
            p.add(key("op"), format!("`{o}` is not \"<\" or \">\""));
            None
        }),
    };
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
    let for_windows = count(r.for_windows, 1, 1, key("for_windows"), p);
    let clear_windows = count(r.clear_windows, 1, 1, key("clear_windows"), p);
    let min_samples = match r.min_samples {
        None => 0,
        Some(n) if n >= 0 => n,
        Some(n) => {
            p.add(key("min_samples"), format!("{n} is negative"));
            0
        }
    };
    let severity = match r.severity.as_deref() {
        None => {
            p.add(
                key("severity"),
                "required: critical, major, minor or warning",
            );
            None
        }
        Some(s) => Severity::parse(s).or_else(|| {
            p.add(
                key("severity"),
                format!("`{s}` is not critical, major, minor or warning"),
            );
            None
        }),
    };
    let window_index = match r.window.as_deref() {
        None => Some(0),
        Some(text) => match parse_duration_ms(text) {
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
        },
    };
    if p.0.len() != before {
        return None;
    }
    let ((level, level_index), window_index) = (level?, window_index?);
    Some(Rule {
        name: name?,
        kpi: kpi?,
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
