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

/// Deserializes (reporting unknown keys and type errors by path) and validates. A value of the
/// wrong type is reported and then taken out of the tree, and deserialization tried again, so
/// that every type error of a file is reported in one go, not only the first.
pub(super) fn from_config(built: config::Config, base: &Path) -> Result<Settings, Vec<Problem>> {
    let mut problems = Problems(Vec::new());
    let mut tree: serde_json::Value = match built.try_deserialize() {
        Ok(tree) => tree,
        Err(e) => {
            problems.add("(file)", e.to_string());
            return Err(problems.0);
        }
    };
    let mut type_errors: Vec<String> = Vec::new();
    let raw = loop {
        let mut unknown = Vec::new();
        let attempt: Result<RawConfig, _> = serde_path_to_error::deserialize(
            serde_ignored::Deserializer::new(&tree, &mut |path: serde_ignored::Path<'_>| {
                unknown.push(key_path(&path.to_string()))
            }),
        );
        match attempt {
            Ok(raw) => {
                for key in unknown {
                    problems.add(key, "unknown key");
                }
                break raw;
            }
            Err(e) => {
                let key = key_path(&e.path().to_string());
                let removed = remove_at(&mut tree, e.path());
                problems.add(key.clone(), e.into_inner().to_string());
                let repeated = type_errors.contains(&key);
                type_errors.push(key);
                if !removed || repeated || type_errors.len() > 1000 {
                    return Err(problems.0);
                }
            }
        }
    };
    let settings = validate(raw, base, &mut problems);
    // A value already reported as of the wrong type is not reported again as missing.
    let mut seen = std::collections::BTreeSet::new();
    problems.0.retain(|p| {
        let retyped = type_errors.contains(&p.key) && p.message.starts_with("required");
        !retyped && seen.insert((p.key.clone(), p.message.clone()))
    });
    if problems.0.is_empty() {
        Ok(settings)
    } else {
        Err(problems.0)
    }
}

/// Removes the value at `path` from `tree`; false when there is nothing there to remove.
fn remove_at(tree: &mut serde_json::Value, path: &serde_path_to_error::Path) -> bool {
    use serde_path_to_error::Segment;
    let segments: Vec<&Segment> = path.iter().collect();
    let Some((last, parents)) = segments.split_last() else {
        return false;
    };
    let mut node = tree;
    for seg in parents {
        node = match (seg, node) {
            (Segment::Map { key }, serde_json::Value::Object(m)) => match m.get_mut(key) {
                Some(n) => n,
                None => return false,
            },
            (Segment::Seq { index }, serde_json::Value::Array(a)) => match a.get_mut(*index) {
                Some(n) => n,
                None => return false,
            },
            _ => return false,
        };
    }
    match (last, node) {
        (Segment::Map { key }, serde_json::Value::Object(m)) => m.remove(key).is_some(),
        (Segment::Seq { index }, serde_json::Value::Array(a)) if *index < a.len() => {
            a.remove(*index);
            true
        }
        _ => false,
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
    let not_before_ms = match humantime::parse_rfc3339_weak(raw.windows.not_before.trim()) {
        Ok(t) => t
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .and_then(|d| i64::try_from(d.as_millis()).ok())
            .unwrap_or(0),
        Err(e) => {
            p.add(
                "windows.not_before",
                format!(
                    "`{}` is not an RFC 3339 time ({e}); expected e.g. \"2000-01-01T00:00:00Z\"",
                    raw.windows.not_before
                ),
            );
            0
        }
    };
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

    let mut agg = AggParams {
        min_active_ms: in_range(
            raw.kpi.min_active_ms.0,
            0..=MAX_DURATION_MS,
            "kpi.min_active_ms",
            "milliseconds",
            p,
        )
        .unwrap_or(1000),
        ..AggParams::default()
    };
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
        .map(|u| {
            let queue = raw
                .prometheus
                .remote_write_queue
                .map_or(Some(100_000), |q| {
                    in_range(
                        q.0,
                        1..=10_000_000,
                        "prometheus.remote_write_queue",
                        "records",
                        p,
                    )
                });
            (u, queue.and_then(|q| usize::try_from(q).ok()).unwrap_or(1))
        });
    if let Some((u, _)) = &remote_write
        && !(u.starts_with("http://") || u.starts_with("https://"))
    {
        p.add(
            "prometheus.remote_write_url",
            format!("`{u}` is not an http:// or https:// URL"),
        );
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
    }
}

fn validate_kafka(k: super::raw::RawKafka, p: &mut Problems) -> super::KafkaSettings {
    if k.brokers.trim().is_empty() {
        p.add("kafka.brokers", "must name at least one host:port");
    }
    if k.group_id.trim().is_empty() {
        p.add("kafka.group_id", "must not be empty");
    }
    let output_partitions = in_range(
        k.output_partitions.0,
        1..=10_000,
        "kafka.output_partitions",
        "partitions",
        p,
    )
    .unwrap_or(3);
    let small = |v: Option<super::raw::Integer>, key: &str, p: &mut Problems| {
        v.and_then(|v| in_range(v.0, 1..=100, key, "replicas", p))
            .and_then(|v| i32::try_from(v).ok())
    };
    let replication_factor = small(k.replication_factor, "kafka.replication_factor", p);
    let min_insync_replicas = small(k.min_insync_replicas, "kafka.min_insync_replicas", p);
    let output_retention_ms = k.output_retention.as_deref().map(|text| {
        duration_in(
            text,
            60_000..=MAX_DURATION_MS,
            "kafka.output_retention",
            604_800_000,
            p,
        )
    });
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
        output_partitions: i32::try_from(output_partitions).unwrap_or(3),
        replication_factor,
        min_insync_replicas,
        output_retention_ms,
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

/// Longest duration any key accepts: 100 years, far beyond any use and far from overflow.
const MAX_DURATION_MS: i64 = 100 * 365 * 86_400_000;

/// `v` when it lies in `range`, else a problem naming the key and the range.
fn in_range(
    v: i64,
    range: std::ops::RangeInclusive<i64>,
    key: &str,
    unit: &str,
    p: &mut Problems,
) -> Option<i64> {
    if range.contains(&v) {
        Some(v)
    } else {
        p.add(
            key,
            format!(
                "{v} is out of range; expected {} to {} {unit}",
                range.start(),
                range.end()
            ),
        );
        None
    }
}

/// A duration key within `range` (ms), or `default` after reporting the problem.
fn duration_in(
    text: &str,
    range: std::ops::RangeInclusive<i64>,
    key: &str,
    default: i64,
    p: &mut Problems,
) -> i64 {
    match parse_duration_ms(text) {
        Ok(ms) if range.contains(&ms) => ms,
        Ok(_) => {
            p.add(
                key,
                format!(
                    "`{text}` is out of range; expected {} to {}",
                    humantime::format_duration(std::time::Duration::from_millis(
                        range.start().unsigned_abs()
                    )),
                    humantime::format_duration(std::time::Duration::from_millis(
                        range.end().unsigned_abs()
                    ))
                ),
            );
            default
        }
        Err(e) => {
            p.add(key, e);
            default
        }
    }
}

/// Parses a byte size such as `1MiB`, `64 MiB`, `512KiB`, `4096` (bytes).
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a size; expected e.g. \"1MiB\", \"64KiB\""))?;
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "KB" | "K" => 1 << 10,
        "MiB" | "MB" | "M" => 1 << 20,
        "GiB" | "GB" | "G" => 1 << 30,
        other => return Err(format!("`{other}` is not a size unit (B, KiB, MiB, GiB)")),
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("`{text}` is too large"))
}

fn bytes_in(
    text: &str,
    range: std::ops::RangeInclusive<u64>,
    key: &str,
    default: usize,
    p: &mut Problems,
) -> usize {
    match parse_bytes(text) {
        Ok(n) if range.contains(&n) => usize::try_from(n).unwrap_or(default),
        Ok(n) => {
            p.add(
                key,
                format!(
                    "{n} bytes is out of range; expected {} to {} bytes",
                    range.start(),
                    range.end()
                ),
            );
            default
        }
        Err(e) => {
            p.add(key, e);
            default
        }
    }
}

fn count(
    v: Option<super::raw::Integer>,
    default: i64,
    min: i64,
    key: String,
    p: &mut Problems,
) -> i64 {
    match v.map(|v| v.0) {
        None => default,
        Some(n) if n >= min && n <= i64::from(u32::MAX) => n,
        Some(n) => {
            p.add(
                key,
                format!(
                    "{n} is out of range; expected an integer from {min} to {}",
                    u32::MAX
                ),
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
    let min_samples = match r.min_samples.map(|n| n.0) {
        None => 0,
        Some(n) => in_range(n, 0..=i64::MAX, &key("min_samples"), "samples", p).unwrap_or(0),
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
