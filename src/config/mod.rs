//! Configuration (spec section 7): one TOML file plus `NETKPI__SECTION__KEY` environment
//! overrides, read through the `config` crate into [`raw::RawConfig`] and validated into
//! [`Settings`]. Unknown keys are errors that name the key; validation collects every problem
//! (with its key path) instead of stopping at the first, which is what `netkpi check-config`
//! prints.

pub mod raw;
mod validate;

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
}

/// Validated `[kafka]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct KafkaSettings {
    pub brokers: String,
    pub group_id: String,
    pub transactional_id: String,
    pub output_partitions: i32,
    pub commit_interval_ms: i64,
    pub session_timeout_ms: i64,
    /// Input topics in stream order: calls, data sessions, outages.
    pub input_topics: [String; 3],
    pub kpis_topic: String,
    pub breaches_topic: String,
    pub dead_letters_topic: String,
    pub checkpoints_topic: String,
    pub partials_topic: String,
    /// Extra librdkafka properties.
    pub properties: Vec<(String, String)>,
    /// Framing of each input topic, in stream order.
    pub framing: [Framing; 3],
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

impl KafkaSettings {
    /// Whether a property's value must never be shown.
    pub fn is_secret(key: &str) -> bool {
        let k = key.to_ascii_lowercase();
        ["password", "secret", "key", "token", "credential"]
            .iter()
            .any(|w| k.contains(w))
            && !k.ends_with(".location")
            && !k.contains("algorithm")
    }

    /// The properties with secret values replaced, for logs and `check-config`.
    pub fn redacted_properties(&self) -> Vec<(String, String)> {
        self.properties
            .iter()
            .map(|(k, v)| {
                let shown = if Self::is_secret(k) {
                    "<redacted>".to_string()
                } else {
                    v.clone()
                };
                (k.clone(), shown)
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

/// Loads, overrides from the environment, and validates a configuration file.
pub fn load(path: &Path) -> Result<Settings, ConfigError> {
    let env = config::Environment::with_prefix("NETKPI")
        .prefix_separator("__")
        .separator("__")
        .try_parsing(true)
        .list_separator(";")
        .with_list_parse_key("windows.sizes")
        .with_list_parse_key("kpi.levels")
        .with_list_parse_key("prometheus.levels");
    let built = config::Config::builder()
        .add_source(config::File::from(path).format(config::FileFormat::Toml))
        .add_source(env)
        .build()
        .map_err(|e| ConfigError::Read {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    let base = path.parent().unwrap_or(Path::new("."));
    validate::from_config(built, base).map_err(|problems| ConfigError::Invalid {
        path: path.to_path_buf(),
        problems,
    })
}

/// Validates configuration text (TOML) as if it were a file in `base`; for tests and tools.
pub fn from_toml_str(text: &str, base: &Path) -> Result<Settings, Vec<Problem>> {
    let built = config::Config::builder()
        .add_source(config::File::from_str(text, config::FileFormat::Toml))
        .build()
        .map_err(|e| {
            vec![Problem {
                key: "(file)".to_string(),
                message: e.to_string(),
            }]
        })?;
    validate::from_config(built, base)
}

#[cfg(test)]
mod tests;
