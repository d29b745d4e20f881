//! `netkpi run`: Kafka in, the pure engine in the middle, Kafka out, exactly once, on one
//! instance or many.
//!
//! # Work split (scale-out)
//! The work is cut into *units* that instances of one deployment share through a consumer group
//! (`<group_id>.owners`, see [`owners`]): input **shard** *p*
//! is partition *p* of every input topic (calls, data sessions and outages keyed by cell, so a
//! cell's records of all three streams meet in one shard), and the **merger** is the single
//! partition of the internal partials topic. Whoever owns a unit runs it on a thread of its
//! own ([`shard`], [`merge`]); one instance owns them all when it is alone.
//!
//! A shard runs an engine in shard mode: its watermark is the minimum over its own active
//! partitions, and when it passes a window's end the shard sends that window's per-cell
//! accumulators (a *partial*) and then its progress (watermark, idle, at end) to the partials
//! topic. The merger stores partials, takes the pipeline's watermark as the minimum over the
//! shards' reported watermarks (idle shards excluded, as idle partitions are in one instance,
//! and a shard that never reported holds it back), and closes a window only when every shard
//! has passed its end — so every partial of that window is already in. It then rolls up, writes
//! KPI records and evaluates thresholds. Accumulators merge exactly, so any number of instances
//! gives one instance's records. (Lateness is judged by each shard against its own partitions:
//! a record behind its own partitions' watermark is late even if another shard lags; traffic
//! within the allowed delay is unaffected.)
//!
//! # Delivery guarantee (enforced here and in the unit modules)
//! Each unit has its own transactional producer, `<transactional_id>.shard-<p>` or
//! `<transactional_id>.merger`, whichever instance runs it: a new owner's `init_transactions`
//! fences the previous owner and aborts what it left open. Every transaction of a unit holds
//! its outputs since the previous one (shard: dead letters, partials, progress; merger: KPI
//! records, breach events), one checkpoint record (the engine's non-window state — watermark,
//! next windows to emit, outage state, open windows' outage counts, threshold machines — plus,
//! per input partition, the next offset to read, the lowest offset still feeding an open window
//! and the largest event time; the merger also saves every shard's progress), and the unit's
//! consumer offsets (group `<group_id>` for shards, `<group_id>.merger` for the merger). So
//! outputs, checkpoint and offsets commit or abort together.
//!
//! On start, after a crash or when a unit changes hands, the committed offsets identify the
//! checkpoint committed with them (the one whose next offsets equal them; a copy left by an
//! aborted transaction cannot match, because consumption only moves forward). The engine
//! restores it, each partition is read again from its low-water offset, and records below the
//! checkpointed next offset rebuild the open windows and emit nothing. From then on the unit
//! continues as if it had never stopped. Outputs are deterministic and keyed (KPI records by
//! level, group and window; breach events by rule and group; partials by shard), so a copy left
//! behind by an aborted or repeated transaction is byte-identical to the committed one: on a
//! full Kafka `read_committed` readers see each record once; a broker that shows aborted
//! records (Tansu, librdkafka's mock cluster) shows duplicates that compaction or a keyed reader
//! drops, and the merger ignores a partial it already holds.

mod baselines;
mod checkpoint;
mod instance;
mod live;
pub mod merge;
mod merger;
mod output;
pub mod owners;
pub mod partitions;
pub mod progress;
mod reread;
mod shard;
mod unit;
pub mod watermark;

pub use instance::run;

pub use checkpoint::{Checkpoint, PartitionCheckpoint};

use crate::kafka::client::KafkaOpError;
use crate::telemetry::Counters;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(30);

/// Why `netkpi run` stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Kafka(#[from] KafkaOpError),
    #[error(
        "input topic `{0}` does not exist: create it (netkpi gen --kafka creates the input topics)"
    )]
    MissingTopic(String),
    #[error(
        "the committed offsets of group `{0}` match no checkpoint in `{1}`: the checkpoints topic was deleted or belongs to another deployment"
    )]
    NoCheckpoint(String, String),
    #[error("checkpoint is unusable: {0}")]
    BadCheckpoint(String),
    #[error("cannot encode a checkpoint: {0}")]
    CheckpointEncode(serde_json::Error),
    #[error(
        "the {0} consumer has no group metadata: it cannot commit its offsets in a transaction"
    )]
    NoGroupMetadata(String),
    #[error("cannot encode a message to the merger: {0}")]
    MergerMessage(#[from] postcard::Error),
    #[error("cannot encode output: {0}")]
    Encode(#[from] crate::kafka::codec::EncodeError),
    #[error(transparent)]
    Registry(#[from] crate::kafka::registry::RegistryUnavailable),
    #[error(transparent)]
    SchemaRefused(#[from] crate::kafka::registry::RegistrationRefused),

    #[error("cannot build Avro codecs: {0}")]
    Avro(#[from] apache_avro::Error),
    #[error("a worker thread panicked: {0}")]
    Panicked(String),
    #[error(
        "{unit}: re-reading after a restore made no progress for {seconds} s ({waiting_for}); the unit restarts with fresh clients"
    )]
    RereadStalled {
        unit: String,
        waiting_for: String,
        seconds: u64,
    },
}

impl From<crate::kafka::registry::RegisterError> for PipelineError {
    fn from(e: crate::kafka::registry::RegisterError) -> Self {
        match e {
            crate::kafka::registry::RegisterError::Unavailable(e) => PipelineError::Registry(e),
            crate::kafka::registry::RegisterError::Refused(e) => PipelineError::SchemaRefused(e),
        }
    }
}

impl PipelineError {
    /// Whether the unit that failed with this should be restarted from its checkpoint (after a
    /// backoff) rather than stop the process: the broker or the schema registry was unreachable
    /// or refused a transaction. Restarting is the crash-recovery path, so outputs stay exact.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            PipelineError::Kafka(_)
                | PipelineError::Registry(_)
                | PipelineError::RereadStalled { .. }
        ) && !self.is_fenced()
    }

    /// Whether another owner of the same unit fenced this one's producer (the unit moved to
    /// another instance): not a failure of the process.
    pub fn is_fenced(&self) -> bool {
        let PipelineError::Kafka(e) = self else {
            return false;
        };
        let Some(client) = e.cause.client() else {
            return false;
        };
        let code = match client {
            KafkaError::Transaction(t) => t.code(),
            other => match other.rdkafka_error_code() {
                Some(c) => c,
                None => return false,
            },
        };
        matches!(
            code,
            RDKafkaErrorCode::Fenced
                | RDKafkaErrorCode::InvalidProducerEpoch
                | RDKafkaErrorCode::ProducerFenced
        )
    }
}

/// How `run` behaves.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Stop when every partition has reached its end, closing all windows (backfill).
    pub exit_at_end: bool,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub counters: Counters,
    pub transactions: u64,
    pub restored: bool,
    /// Microseconds from the watermark passing a window's end to the commit of the transaction
    /// holding that window's breach events.
    /// (One value per transaction that carried breach events.)
    pub breach_latency_us: Vec<u64>,
    /// Seconds spent consuming (after assignment and restore).
    pub seconds: f64,
    /// Bytes of the last checkpoint each unit wrote, summed over the units.
    pub checkpoint_bytes: usize,
}

impl RunSummary {
    fn add(&mut self, o: RunSummary) {
        self.counters.add(&o.counters);
        self.transactions += o.transactions;
        self.restored |= o.restored;
        self.breach_latency_us.extend(o.breach_latency_us);
        self.seconds = self.seconds.max(o.seconds);
        self.checkpoint_bytes += o.checkpoint_bytes;
    }
}

impl Default for RunSummary {
    fn default() -> Self {
        RunSummary {
            counters: Counters::default(),
            transactions: 0,
            restored: false,
            breach_latency_us: Vec::new(),
            seconds: 0.0,
            checkpoint_bytes: 0,
        }
    }
}

/// Flags shared with the signal handlers and the HTTP endpoint, and the metrics.
#[derive(Clone, Default)]
pub struct Control {
    /// Where the pipeline reports (None: nowhere).
    pub metrics: Option<Arc<crate::telemetry::metrics::Metrics>>,
    /// Remote write of closed windows, beside the metrics (None: off).
    pub remote_write: Option<Arc<crate::telemetry::remote_write::RemoteWriter>>,
    /// Set to stop gracefully.
    pub shutdown: Arc<AtomicBool>,
    /// Readiness and waits, for `/readyz`.
    pub health: crate::telemetry::health::Health,
    /// The writer schemas fetched from the registry, shared by the instance's shards.
    pub schemas: crate::kafka::registry::SchemaCache,
    /// The registered output schema ids (set by the instance for the `confluent` output
    /// framing).
    pub output_schema_ids: Option<crate::kafka::registry::OutputSchemaIds>,
}
