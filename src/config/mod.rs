//! Configuration (docs/configuration.md): one TOML file plus `NETKPI__SECTION__KEY` environment
//! overrides, read through the `config` crate into [`raw::RawConfig`] and validated into
//! [`Settings`]. Unknown keys are errors that name the key; validation collects every problem
//! (with its key path) instead of stopping at the first, which is what `netkpi check-config`
//! prints.

mod baseline;
mod export;
mod kafka;
pub mod raw;
mod read;
mod report;
mod rules;
pub mod secrets;
mod validate;
mod values;

pub use values::{parse_bytes, parse_duration_ms, parse_time_ms};

use crate::kpi::AggParams;
use crate::model::level::Level;
use crate::threshold::rule::Rule;
use std::fmt;
use std::path::{Path, PathBuf};

/// The validated configuration the engine runs on.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The cell inventory CSV (resolved against the config file's folder).
    pub inventory_path: PathBuf,
    /// Window sizes in milliseconds, in configured order.
    pub window_sizes_ms: Vec<i64>,
    /// Allowed delay `D` in milliseconds.
    pub allowed_delay_ms: i64,
    /// Idle timeout of a silent partition, milliseconds (streaming).
    pub idle_timeout_ms: i64,
    /// Event times before this (epoch ms) are bad input.
    pub not_before_ms: i64,
    /// Event times further than this ahead of the wall clock are bad input (ms).
    pub max_future_ms: i64,
    /// Longest run of record-less windows emitted in a gap (ms); the rest is skipped.
    pub max_gap_ms: i64,
    /// Unknown cells silent this long are forgotten (ms).
    pub unknown_cell_ttl_ms: i64,
    /// Restored outage ids are remembered this long after their `RESTORED` (ms).
    pub restored_outage_retention_ms: i64,
    /// Longest JSON line, bytes.
    pub max_record_bytes: usize,
    /// Largest decompressed Avro block, bytes.
    pub max_block_bytes: usize,
    /// Aggregation levels, in configured order.
    pub levels: Vec<Level>,
    /// Aggregation parameters (min active time, coverage thresholds, plans).
    pub agg: AggParams,
    /// Threshold rules, in configured order.
    pub rules: Vec<Rule>,
    /// Kafka settings.
    pub kafka: KafkaSettings,
    /// Address of the HTTP endpoint (`None`: disabled).
    pub http_address: Option<String>,
    /// Canonical names of the levels exported to Prometheus.
    pub exported_levels: Vec<String>,
    /// Remote-write endpoint and queue size (records).
    pub remote_write: Option<(String, usize)>,
    /// The compliance report (`None`: no `[report]` and no `[[targets]]`).
    pub report: Option<crate::report::targets::ReportSettings>,
    /// How baselines are learned (`[baseline]`).
    pub baseline: crate::engine::baseline::BaselineSettings,
    /// When a cell sleeps (`[sleeping]`).
    pub sleeping: crate::engine::sleeping::SleepingSettings,
}

/// Validated `[kafka]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct KafkaSettings {
    pub brokers: String,
    pub group_id: String,
    pub transactional_id: String,
    pub output_partitions: i32,
    /// Replication factor of created topics (`None`: the broker's default).
    pub replication_factor: Option<i32>,
    /// `min.insync.replicas` of created topics (`None`: the broker's default).
    pub min_insync_replicas: Option<i32>,
    /// `retention.ms` of created output topics (`None`: the broker's default).
    pub output_retention_ms: Option<i64>,
    pub commit_interval_ms: i64,
    pub session_timeout_ms: i64,
    /// Input topics in stream order: calls, data sessions, outages.
    pub input_topics: [String; 3],
    pub kpis_topic: String,
    pub breaches_topic: String,
    pub dead_letters_topic: String,
    pub checkpoints_topic: String,
    pub partials_topic: String,
    /// Extra librdkafka properties of every client.
    pub properties: Vec<(String, String)>,
    /// Extra librdkafka properties of each [`ClientRole`], in its order.
    pub role_properties: [Vec<(String, String)>; 3],
    /// Framing of each input topic, in stream order.
    pub framing: [Framing; 3],
    /// Framing of the `kpis` and breach records.
    pub output_framing: Framing,
    /// Schema registry base URL (set when a topic uses the Confluent framing).
    pub schema_registry_url: Option<String>,
}

/// How an input topic frames its Avro records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// A bare binary datum written with our schema.
    Raw,
    /// Confluent wire format: magic byte 0, big-endian schema id, datum of that schema.
    Confluent,
}

/// What a Kafka client is for, which decides the `[kafka.properties.<role>]` it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientRole {
    Consumer,
    Producer,
    Admin,
}

impl ClientRole {
    pub const ALL: [ClientRole; 3] = [
        ClientRole::Consumer,
        ClientRole::Producer,
        ClientRole::Admin,
    ];

    /// The key of its table under `[kafka.properties]`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientRole::Consumer => "consumer",
            ClientRole::Producer => "producer",
            ClientRole::Admin => "admin",
        }
    }
}

impl Settings {
    /// The engine's part of the settings.
    pub fn engine(&self) -> crate::engine::EngineSettings {
        crate::engine::EngineSettings {
            window_sizes_ms: self.window_sizes_ms.clone(),
            allowed_delay_ms: self.allowed_delay_ms,
            not_before_ms: self.not_before_ms,
            max_future_ms: self.max_future_ms,
            max_gap_ms: self.max_gap_ms,
            unknown_cell_ttl_ms: self.unknown_cell_ttl_ms,
            restored_outage_retention_ms: self.restored_outage_retention_ms,
            levels: self.levels.clone(),
            agg: self.agg.clone(),
            rules: self.rules.clone(),
            baseline: self.baseline,
            sleeping: self.sleeping,
            timezone: self
                .report
                .as_ref()
                .map_or_else(|| "UTC".to_string(), |r| r.timezone.clone()),
        }
    }
}

impl KafkaSettings {
    /// The properties a client of `role` gets: the common ones, then its role's own (which win).
    pub fn properties_of(&self, role: ClientRole) -> impl Iterator<Item = &(String, String)> {
        self.properties
            .iter()
            .chain(self.role_properties[role as usize].iter())
    }

    /// Every configured property with its place (`None`: common; else the role).
    pub fn all_properties(&self) -> impl Iterator<Item = (Option<ClientRole>, &(String, String))> {
        let common = self.properties.iter().map(|p| (None, p));
        let roles = ClientRole::ALL.into_iter().flat_map(move |r| {
            self.role_properties[r as usize]
                .iter()
                .map(move |p| (Some(r), p))
        });
        common.chain(roles)
    }

    /// Whether a property's value must never be shown.
    pub fn is_secret(key: &str) -> bool {
        secrets::is_secret_key(key)
    }

    /// The properties with secret values replaced, for logs and `check-config` (a role's keys
    /// prefixed with the role: `consumer.fetch.max.bytes`).
    pub fn redacted_properties(&self) -> Vec<(String, String)> {
        self.all_properties()
            .map(|(role, (k, v))| {
                let shown = if Self::is_secret(k) {
                    "<redacted>".to_string()
                } else {
                    v.clone()
                };
                let key = role.map_or_else(|| k.clone(), |r| format!("{}.{k}", r.as_str()));
                (key, shown)
            })
            .collect()
    }
}

/// One problem in a configuration, with the key it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key path, e.g. `rules[2].clear`.
    pub key: String,
    /// What is wrong and what is expected.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or parsed as TOML.
    #[error("cannot read configuration {path}: {message}")]
    Read { path: PathBuf, message: String },
    /// The file parsed but has problems.
    #[error("{} problem(s) in {}:\n{}", problems.len(), path.display(), problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

/// Loads, overrides from the environment, and validates a configuration file. Secret values of
/// the file and the environment are registered with [`secrets`] first, so that no error built
/// from them can show them.
pub fn load(path: &Path) -> Result<Settings, ConfigError> {
    load_with_targets(path, None)
}

/// [`load`], with the `[[targets]]` (and any `[report]` keys) of a target set file such as
/// `config/targets/trai.toml` in place of the configuration's own.
pub fn load_with_targets(path: &Path, targets: Option<&Path>) -> Result<Settings, ConfigError> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    };
    let text = read(path)?;
    secrets::register_from_text_and_env(&text);
    let targets_text = targets.map(read).transpose()?.unwrap_or_default();
    warn_about_near_overrides(std::env::vars_os().map(|(k, _)| k.to_string_lossy().into_owned()));
    let env = config::Environment::with_prefix("NETKPI")
        .prefix_separator("__")
        .separator("__")
        .try_parsing(true)
        .list_separator(";")
        .with_list_parse_key("windows.sizes")
        .with_list_parse_key("kpi.levels")
        .with_list_parse_key("prometheus.levels");
    let built = config::Config::builder()
        .add_source(config::File::from_str(&text, config::FileFormat::Toml))
        .add_source(config::File::from_str(
            &targets_text,
            config::FileFormat::Toml,
        ))
        .add_source(env)
        .build()
        .map_err(|e| ConfigError::Read {
            path: path.to_path_buf(),
            message: secrets::without_quoted_source(&e.to_string()),
        })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let settings = read::from_config(built, base).map_err(|problems| ConfigError::Invalid {
        path: path.to_path_buf(),
        problems: redacted(problems),
    })?;
    secrets::register(
        settings
            .kafka
            .all_properties()
            .filter(|(_, (k, _))| secrets::is_secret_key(k))
            .map(|(_, (_, v))| v.clone()),
    );
    Ok(settings)
}

/// Problems with secret values taken out of their messages.
fn redacted(mut problems: Vec<Problem>) -> Vec<Problem> {
    for p in &mut problems {
        if secrets::is_secret_key(&p.key) {
            // A type error on a secret key may quote the value: say only what kind it is.
            p.message = secrets::without_quoted_source(&p.message);
            if let Some(cut) = p.message.find(['"', '`']) {
                p.message.truncate(cut);
                p.message
                    .push_str("(value not shown: the key names a secret)");
            }
        } else {
            p.message = secrets::redact(&p.message).into_owned();
        }
    }
    problems
}

/// Environment variables that look like netkpi overrides but will not be read as one (one
/// underscore after the prefix, `NETKPI_WINDOWS__SIZES`, or a lower-case prefix): a warning each,
/// naming the variable (never its value).
pub fn near_overrides(names: impl Iterator<Item = String>) -> Vec<String> {
    names
        .filter(|name| {
            let upper = name.to_ascii_uppercase();
            let shaped = upper.starts_with("NETKPI") && upper.contains("__");
            let proper = name
                .strip_prefix("NETKPI__")
                .is_some_and(|rest| rest.contains("__"));
            shaped && !proper
        })
        .collect()
}

fn warn_about_near_overrides(names: impl Iterator<Item = String>) {
    for name in near_overrides(names) {
        tracing::warn!(
            variable = %name,
            "looks like a netkpi configuration override but is not one: overrides are NETKPI__SECTION__KEY (two underscores after NETKPI, between section and key)"
        );
    }
}

/// Validates configuration text (TOML) as if it were a file in `base`; for tests and tools.
pub fn from_toml_str(text: &str, base: &Path) -> Result<Settings, Vec<Problem>> {
    let built = config::Config::builder()
        .add_source(config::File::from_str(text, config::FileFormat::Toml))
        .build()
        .map_err(|e| {
            vec![Problem {
                key: "(file)".to_string(),
                message: secrets::without_quoted_source(&e.to_string()),
            }]
        })?;
    read::from_config(built, base).map_err(redacted)
}

#[cfg(test)]
mod tests;
