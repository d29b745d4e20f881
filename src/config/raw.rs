//! The configuration file as written (docs/configuration.md): serde structs whose doc comments are the
//! user documentation of every key. Values stay loosely typed here (durations as text, enums as
//! text) so that validation can report every problem at once, each with its key path.

use serde::Deserialize;
use std::collections::BTreeMap;

/// An integer as written: a float (`1.5`, also `1.0`) is refused instead of rounded, so that
/// a typo never silently changes a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Integer(pub i64);

impl<'de> Deserialize<'de> for Integer {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Integer;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an integer")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Integer, E> {
                Ok(Integer(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Integer, E> {
                i64::try_from(v)
                    .map(Integer)
                    .map_err(|_| E::custom(format!("{v} is too large for an integer")))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Integer, E> {
                Err(E::custom(format!(
                    "expected an integer, found the number {v} (not rounded: write a whole number)"
                )))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Integer, E> {
                v.trim()
                    .parse::<i64>()
                    .map(Integer)
                    .map_err(|_| E::custom(format!("expected an integer, found the text `{v}`")))
            }
        }
        d.deserialize_any(V)
    }
}

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawConfig {
    /// Where the cell inventory is.
    pub inventory: RawInventory,
    /// Window sizes and lateness.
    pub windows: RawWindows,
    /// Aggregation levels and KPI parameters.
    pub kpi: RawKpi,
    /// Plan catalog: plan id → its promised speed.
    pub plans: BTreeMap<String, RawPlan>,
    /// Threshold rules.
    pub rules: Vec<RawRule>,
    /// Kafka connection, topics and delivery (`netkpi run`, `netkpi gen --kafka`).
    pub kafka: RawKafka,
    /// The HTTP endpoint of `run` and `demo`.
    pub http: RawHttp,
    /// What is exported to Prometheus.
    pub prometheus: RawPrometheus,
    /// Limits on what one input record or block may cost.
    pub input: RawInput,
    /// The compliance report (`netkpi report`).
    pub report: Option<super::report::RawReport>,
    /// Regulatory targets of the compliance report.
    pub targets: Vec<super::report::RawTarget>,
    /// Baselines (docs/sleeping-cells.md).
    pub baseline: RawBaseline,
    /// Sleeping cells (docs/sleeping-cells.md).
    pub sleeping: RawSleeping,
}

/// `[input]`: limits of the readers (docs/operating-limits.md).
#[derive(Debug, Deserialize)]
#[serde(default)]
pub struct RawInput {
    /// Longest JSON line read (`"1MiB"`; units B, KiB, MiB, GiB). A longer line is a dead letter
    /// (`record_too_large`) and reading goes on at the next line.
    pub max_record_bytes: String,
    /// Largest decompressed Avro block (`"64MiB"`). A block that inflates beyond it is a damaged
    /// block: one dead letter, and reading goes on at the next block.
    pub max_block_bytes: String,
}

impl Default for RawInput {
    fn default() -> Self {
        RawInput {
            max_record_bytes: "1MiB".into(),
            max_block_bytes: "64MiB".into(),
        }
    }
}

/// `[http]`
#[derive(Debug, Deserialize)]
#[serde(default)]
pub struct RawHttp {
    /// Address of `/metrics`, `/healthz`, `/readyz`; empty disables the endpoint.
    pub address: String,
}

impl Default for RawHttp {
    fn default() -> Self {
        RawHttp {
            address: "127.0.0.1:9898".into(),
        }
    }
}

/// `[prometheus]`
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawPrometheus {
    /// Levels whose KPI series are exported (default: every configured level). Per-cell series
    /// of a large network can be millions: leave `cell` out to turn them off.
    pub levels: Option<Vec<String>>,
    /// Prometheus remote-write endpoint (e.g. `http://127.0.0.1:9090/api/v1/write`): each closed
    /// window's KPI samples are sent stamped with the window end. Unset: no remote write.
    pub remote_write_url: Option<String>,
    /// KPI records the remote-write queue holds before it drops (default 100000).
    pub remote_write_queue: Option<Integer>,
}

/// `[kafka]`
#[derive(Debug, Deserialize)]
#[serde(default)]
pub struct RawKafka {
    /// Bootstrap servers, `host:port[,host:port…]`.
    pub brokers: String,
    /// Consumer group of the processor.
    pub group_id: String,
    /// Prefix of the output producers' transactional ids (default: the group id). Every
    /// instance of a deployment uses the same: the producer of input shard N is
    /// `<prefix>.shard-N` and the merger's is `<prefix>.merger`, whichever instance runs them,
    /// so a new owner fences the previous one.
    pub transactional_id: Option<String>,
    /// Partitions of the output topics netkpi creates when they are missing.
    pub output_partitions: Integer,
    /// Replication factor of the topics netkpi creates (default: the broker's default).
    pub replication_factor: Option<Integer>,
    /// `min.insync.replicas` of the topics netkpi creates (default: the broker's default).
    pub min_insync_replicas: Option<Integer>,
    /// `retention.ms` of the output topics netkpi creates (`kpis`, breaches, dead letters), e.g.
    /// `"30d"` (default: the broker's default). The checkpoints topic is compacted, never
    /// deleted by time; the partials topic keeps the broker's default.
    pub output_retention: Option<String>,
    /// Longest wall-clock time between two transactions (dead letters and offsets).
    pub commit_interval: String,
    /// Session timeout of the group that shares shards and the merger between instances: an
    /// instance that stops heartbeating for this long loses its work to the others.
    pub session_timeout: String,
    /// Topic names.
    pub topics: RawTopics,
    /// How each input topic frames its Avro records: `raw` (a bare datum of our schema) or
    /// `confluent` (magic byte 0, 4-byte schema id, datum; the writer's schema is fetched from
    /// `schema_registry_url` and resolved against ours).
    pub framing: RawFraming,
    /// Confluent schema registry, e.g. `http://registry:8081` (required with `confluent` framing).
    pub schema_registry_url: Option<String>,
    /// Extra librdkafka properties: for every client (security.protocol, sasl.*, ssl.*, …),
    /// and per client role in `[kafka.properties.consumer]`, `.producer`, `.admin` (so that a
    /// consumer setting is not given to producers, which would warn about it). Values of keys
    /// naming a password, secret or key are never logged or printed.
    pub properties: RawProperties,
}

/// `[kafka.properties]`: common properties, and the three client roles' own.
#[derive(Debug, Default, Deserialize)]
pub struct RawProperties {
    #[serde(default)]
    pub consumer: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub producer: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub admin: std::collections::BTreeMap<String, String>,
    #[serde(flatten)]
    pub common: std::collections::BTreeMap<String, String>,
}

impl Default for RawKafka {
    fn default() -> Self {
        RawKafka {
            brokers: "127.0.0.1:9092".to_string(),
            group_id: "netkpi".to_string(),
            transactional_id: None,
            output_partitions: Integer(3),
            replication_factor: None,
            min_insync_replicas: None,
            output_retention: None,
            commit_interval: "1s".to_string(),
            session_timeout: "10s".to_string(),
            topics: RawTopics::default(),
            framing: RawFraming::default(),
            schema_registry_url: None,
            properties: RawProperties::default(),
        }
    }
}

/// `[kafka.framing]`
#[derive(Debug, Deserialize)]
#[serde(default)]
pub struct RawFraming {
    /// Framing of the calls topic.
    pub calls: String,
    /// Framing of the data-sessions topic.
    pub data_sessions: String,
    /// Framing of the outages topic.
    pub outages: String,
    /// Framing of the `kpis` and `kpi-breaches` records: `raw` (bare datums) or `confluent`
    /// (the output schemas registered with `schema_registry_url` under `<topic>-value`, each
    /// record framed with its schema id, readable by Confluent's deserializers).
    pub outputs: String,
}

impl Default for RawFraming {
    fn default() -> Self {
        RawFraming {
            calls: "raw".into(),
            data_sessions: "raw".into(),
            outages: "raw".into(),
            outputs: "raw".into(),
        }
    }
}

/// `[kafka.topics]`
#[derive(Debug, Deserialize)]
#[serde(default)]
pub struct RawTopics {
    /// Call records in.
    pub calls: String,
    /// Data-session records in.
    pub data_sessions: String,
    /// Outage records in.
    pub outages: String,
    /// KPI records out.
    pub kpis: String,
    /// Breach events out.
    pub breaches: String,
    /// Dead letters out (original bytes; source topic, partition, offset and reason in headers).
    pub dead_letters: String,
    /// The processor's checkpoints (written in the same transaction as the outputs).
    pub checkpoints: String,
    /// Internal: partial accumulators and watermarks from the shards to the merger (one
    /// partition; created when missing).
    pub partials: String,
}

impl Default for RawTopics {
    fn default() -> Self {
        RawTopics {
            calls: "calls".into(),
            data_sessions: "data-sessions".into(),
            outages: "outages".into(),
            kpis: "kpis".into(),
            breaches: "kpi-breaches".into(),
            dead_letters: "dead-letters".into(),
            checkpoints: "netkpi-checkpoints".into(),
            partials: "netkpi-partials".into(),
        }
    }
}

/// `[inventory]`
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawInventory {
    /// Path of the cell inventory CSV (`cell_id,site_id,region,area,technology`), relative to the
    /// configuration file's folder. Required.
    pub path: Option<String>,
}

/// `[windows]`
#[derive(Debug, Deserialize)]
#[serde(default)]
pub struct RawWindows {
    /// Tumbling window sizes, epoch-aligned, e.g. `["5m", "1h"]`. Each is computed independently;
    /// the first is the default window of rules.
    pub sizes: Vec<String>,
    /// Allowed delay `D`: the watermark is the largest event time seen minus this.
    pub allowed_delay: String,
    /// Streaming only: a partition silent for this long stops holding the watermark back.
    pub idle_timeout: String,
    /// Event times before this instant (RFC 3339) are bad input (`event_time_out_of_range`).
    pub not_before: String,
    /// Event times further than this ahead of the wall clock are bad input
    /// (`event_time_out_of_range`): no measurement comes from the future.
    pub max_future: String,
    /// When event time jumps over more than this with no record, the windows of the first
    /// `max_gap` are emitted and the rest of the gap is skipped (logged and counted).
    pub max_gap: String,
}

impl Default for RawWindows {
    fn default() -> Self {
        RawWindows {
            sizes: vec!["5m".to_string()],
            allowed_delay: "30s".to_string(),
            idle_timeout: "60s".to_string(),
            not_before: "2000-01-01T00:00:00Z".to_string(),
            max_future: "10m".to_string(),
            max_gap: "1d".to_string(),
        }
    }
}

/// `[kpi]`
#[derive(Debug, Deserialize)]
#[serde(default)]
pub struct RawKpi {
    /// Aggregation levels: each a comma-separated set of dimensions from cell, site, region,
    /// area, technology, or `network`.
    pub levels: Vec<String>,
    /// Sessions with less active time (ms) are left out of per-session throughput KPIs.
    pub min_active_ms: Integer,
    /// Coverage thresholds per technology (`GSM`, `UMTS`, `LTE`, `NR`, `UNKNOWN`).
    pub coverage: BTreeMap<String, RawCoverage>,
    /// A cell outside the inventory that sent nothing for this long is forgotten (a cell that
    /// sends again is seen anew), so that a stream of made-up cell ids cannot grow the state.
    pub unknown_cell_ttl: String,
    /// How long after its `RESTORED` an outage id is remembered (event time): a `DOWN` of it
    /// within this time opens nothing (docs/semantics.md); after it the id is forgotten, so that the
    /// state does not grow with the outages of the past.
    pub restored_outage_retention: String,
}

impl Default for RawKpi {
    fn default() -> Self {
        RawKpi {
            levels: ["cell", "region,technology", "region", "network"]
                .map(String::from)
                .to_vec(),
            min_active_ms: Integer(1000),
            coverage: BTreeMap::new(),
            unknown_cell_ttl: "1h".to_string(),
            restored_outage_retention: "1d".to_string(),
        }
    }
}

/// `[kpi.coverage.TECH]`: an omitted key keeps the technology's default.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawCoverage {
    /// A sample is covered when its `signal_dbm` is at least this (dBm).
    pub signal_dbm: Option<f64>,
    /// … and its `sinr_db`, when present, is at least this (dB).
    pub sinr_db: Option<f64>,
}

/// `[plans."ID"]`
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawPlan {
    /// The plan's promised minimum downlink throughput, bit/s. Required.
    pub min_dl_bps: Option<f64>,
}

/// `[[rules]]`: one threshold rule (docs/thresholds.md).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawRule {
    /// Unique rule name; names the alarm. Required.
    pub name: Option<String>,
    /// The KPI watched, by its public name. Required.
    pub kpi: Option<String>,
    /// The configured level whose groups are watched (dimensions in any order). Required.
    pub level: Option<String>,
    /// Only groups whose dimensions have these values, e.g. `{ technology = "NR" }`.
    #[serde(rename = "match")]
    pub match_: BTreeMap<String, String>,
    /// `<` (alarm when the KPI falls below) or `>` (alarm when it rises above). Required.
    pub op: Option<String>,
    /// The raise threshold. Required.
    pub raise: Option<f64>,
    /// The clear threshold (default: `raise`); for `<` at least `raise`, for `>` at most.
    pub clear: Option<f64>,
    /// Consecutive breaching windows before `RAISED` (default 1).
    pub for_windows: Option<Integer>,
    /// Consecutive clearing windows before `CLEARED` (default 1).
    pub clear_windows: Option<Integer>,
    /// A window whose KPI has fewer samples is no data (default 0).
    pub min_samples: Option<Integer>,
    /// `critical`, `major`, `minor` or `warning`. Required.
    pub severity: Option<String>,
    /// Which configured window size the rule watches (default: the first).
    pub window: Option<String>,
    /// `threshold` (default) or `sleeping_cell` (docs/sleeping-cells.md: no `kpi`, `op`, `raise`, `clear`).
    pub kind: Option<String>,
    /// `raise` and `clear` are factors of the KPI's baseline for the hour (docs/sleeping-cells.md).
    pub baseline: Option<bool>,
    /// `annotate` (default) or `suppress` while a cell of the group is in outage (docs/sleeping-cells.md).
    pub during_outage: Option<String>,
}

/// `[baseline]`: how per-hour-of-day baselines are learned (docs/sleeping-cells.md).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawBaseline {
    /// Days of closed windows a baseline is learned from (default 7).
    pub days: Option<Integer>,
    /// Days of history before a baseline exists (default 2).
    pub min_days: Option<Integer>,
}

/// `[sleeping]`: when a cell sleeps (docs/sleeping-cells.md).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawSleeping {
    /// Traffic at most this share of the baseline (default 0.1).
    pub max_share: Option<f64>,
    /// Baseline at least this many records per window (default 30).
    pub min_baseline: Option<f64>,
    /// The site's (region's) other cells carry at least this share of their baselines (0.5).
    pub peer_share: Option<f64>,
}
