//! The one loop every unit of `netkpi run` goes through. A unit (an input shard, the merger)
//! says what a message does, what a tick after a poll does, and what its checkpoint and offsets
//! are; [`drive`] owns the rest: polling, the commit clock, begin / commit of transactions (the
//! checkpoint flushed before the offsets), the final commit, the abort of a failing unit's open
//! transaction, shutdown, and the telemetry of it all (transactions committed and failed, commit
//! latency, health).

use super::checkpoint::commit_with;
use super::output::KafkaOutput;
use super::{Control, PipelineError, RunSummary};
use crate::config::KafkaSettings;
use crate::engine::Engine;
use crate::kafka::client::{QuietConsumer, ctx, input_consumer, transactional_producer};
use crate::kafka::codec::OutputEncoder;
use crate::telemetry::health::Health;
use crate::telemetry::{Observed, Reporters, events};
use rdkafka::TopicPartitionList;
use rdkafka::consumer::{Consumer, ConsumerGroupMetadata};
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::producer::{BaseProducer, Producer};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The Kafka clients of one unit: its transactional producer (which fences the unit's previous
/// owner), its `read_committed` consumer, and the output encoder.
pub(super) struct Clients {
    pub producer: BaseProducer,
    pub consumer: QuietConsumer,
    pub encoder: OutputEncoder,
}

impl Clients {
    /// Clients with transactional id `transactional_id` and consumer group `group`, encoding
    /// outputs framed as `control` says.
    pub fn new(
        k: &KafkaSettings,
        transactional_id: &str,
        group: &str,
        control: &Control,
    ) -> Result<Self, PipelineError> {
        Ok(Clients {
            producer: transactional_producer(k, transactional_id)?,
            consumer: input_consumer(k, group)?,
            encoder: OutputEncoder::framed(control.output_schema_ids),
        })
    }
}

/// What a tick found.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Step {
    /// Still re-reading after a restore (or holding new records back until then): no commit.
    pub rereading: bool,
    /// Windows were emitted since the last commit.
    pub emitted: bool,
    /// Anything else waits to be committed.
    pub dirty: bool,
    /// The unit's input is done (`--exit-at-end`): commit and stop.
    pub at_end: bool,
}

impl Step {
    pub const REREADING: Step = Step {
        rereading: true,
        emitted: false,
        dirty: false,
        at_end: false,
    };
}

/// What a unit writes to: its Kafka output inside the metrics layer every output has.
pub(super) type UnitOutput<'a> = Observed<'a, KafkaOutput<'a>>;

/// A unit's part of a transaction: its checkpoint record and the consumer offsets that go with
/// it.
pub(super) struct Commit {
    pub key: String,
    pub checkpoint: Vec<u8>,
    pub offsets: TopicPartitionList,
}

/// A unit of work of `netkpi run`, restored from its checkpoint when it was built.
pub(super) trait UnitWork {
    /// `shard-<p>` or `merger`: its health entry and log name.
    fn name(&self) -> &str;
    /// Before each poll (a shard hands over the records it held back during a re-read).
    fn before_poll(
        &mut self,
        _clients: &Clients,
        _out: &mut UnitOutput<'_>,
    ) -> Result<(), PipelineError> {
        Ok(())
    }
    /// One consumed message.
    fn take(
        &mut self,
        message: &BorrowedMessage<'_>,
        clients: &Clients,
        out: &mut UnitOutput<'_>,
        now: Instant,
    ) -> Result<(), PipelineError>;
    /// After each poll (`polled_nothing`: the poll found no message): re-read progress,
    /// watermark, closing windows.
    fn tick(
        &mut self,
        polled_nothing: bool,
        clients: &Clients,
        out: &mut UnitOutput<'_>,
        health: &Health,
        now: Instant,
    ) -> Result<Step, PipelineError>;
    /// The unit's last messages of the transaction, then its checkpoint and offsets (`last`:
    /// the final commit of a unit that stops before the end of its input).
    fn checkpoint(&mut self, out: &mut UnitOutput<'_>, last: bool)
    -> Result<Commit, PipelineError>;
    /// A transaction holding the unit's checkpoint committed.
    fn committed(&mut self);
    /// What the unit did so far.
    fn summary(&mut self) -> &mut RunSummary;
    /// The unit's engine (for the closing summary).
    fn engine(&self) -> &Engine;
    /// Sets up the unit's output (a shard's partials name it).
    fn output<'a>(&self, out: KafkaOutput<'a>) -> KafkaOutput<'a> {
        out
    }
}

/// Runs `unit` until the end of its input (`Step::at_end`) or a stop request, then logs and
/// returns its summary.
pub(super) fn drive(
    mut unit: impl UnitWork,
    clients: &Clients,
    k: &KafkaSettings,
    window_sizes_ms: &[i64],
    control: &Control,
) -> Result<RunSummary, PipelineError> {
    let group = clients
        .consumer
        .group_metadata()
        .ok_or_else(|| PipelineError::NoGroupMetadata(unit.name().to_string()))?;
    let reporters = Reporters {
        metrics: control.metrics.as_deref(),
        remote_write: control.remote_write.as_deref(),
    };
    let kafka = unit.output(KafkaOutput::new(&clients.producer, &clients.encoder, k));
    let mut out = Observed::new(kafka, reporters);
    let started = Instant::now();
    let mut clock = CommitClock::new(k);
    if let Err(e) = transactions(&mut unit, clients, &group, &mut out, &mut clock, control) {
        // A transaction left open would hold back `read_committed` readers of its topics until
        // the broker aborts it (Tansu has been seen never to): abort it now, unless another
        // owner fenced this producer (then it already was).
        if !e.is_fenced()
            && let Err(abort) = clients.producer.abort_transaction(ABORT_TIMEOUT)
        {
            tracing::debug!(unit = unit.name(), error = %abort, "no open transaction to abort");
        }
        return Err(e);
    }
    let seconds = started.elapsed().as_secs_f64();
    unit.summary().seconds = seconds;
    let summary = std::mem::take(unit.summary());
    crate::telemetry::log_summary(
        unit.name(),
        &summary.counters,
        unit.engine().stats(),
        window_sizes_ms,
        seconds,
    );
    Ok(summary)
}

/// How long a failing unit waits for the broker to abort its open transaction.
const ABORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The transactions of a unit: begin, poll and tick, commit when due, until the end of its
/// input or a stop request, then the final commit.
fn transactions<U: UnitWork>(
    unit: &mut U,
    clients: &Clients,
    group: &ConsumerGroupMetadata,
    out: &mut UnitOutput<'_>,
    clock: &mut CommitClock,
    control: &Control,
) -> Result<(), PipelineError> {
    let mut caught_up = false;
    begin(&clients.producer)?;
    let ended = loop {
        if control.shutdown.load(Ordering::SeqCst) {
            tracing::info!(
                unit = unit.name(),
                "shutdown requested: committing and leaving"
            );
            break false;
        }
        unit.before_poll(clients, out)?;
        let polled = clients.consumer.poll(Duration::from_millis(100));
        let now = Instant::now();
        let nothing = match polled {
            Some(Ok(m)) => {
                caught_up = false;
                unit.take(&m, clients, out, now)?;
                false
            }
            Some(Err(KafkaError::PartitionEOF(_))) | None => {
                caught_up = true;
                true
            }
            Some(Err(e)) => {
                tracing::warn!(error = %e, "consumer error (librdkafka retries)");
                false
            }
        };
        let step = unit.tick(nothing, clients, out, &control.health, now)?;
        if step.rereading {
            continue;
        }
        if clock.due(step.emitted, caught_up, step.dirty, now) || step.at_end {
            commit(unit, clients, group, out, clock, control, false)?;
            if step.at_end {
                break true;
            }
            begin(&clients.producer)?;
        }
    };
    if !ended {
        commit(unit, clients, group, out, clock, control, true)?;
    }
    Ok(())
}

fn begin(producer: &BaseProducer) -> Result<(), PipelineError> {
    ctx(producer.begin_transaction(), || {
        "beginning a transaction".into()
    })?;
    Ok(())
}

/// Commits the current transaction with the unit's checkpoint and offsets, and counts it.
fn commit(
    unit: &mut impl UnitWork,
    clients: &Clients,
    group: &ConsumerGroupMetadata,
    out: &mut UnitOutput<'_>,
    clock: &mut CommitClock,
    control: &Control,
    last: bool,
) -> Result<(), PipelineError> {
    let c = unit.checkpoint(out, last)?;
    let committed = commit_with(
        &clients.producer,
        group,
        out,
        &c.key,
        &c.checkpoint,
        &c.offsets,
    );
    let metrics = control.metrics.as_deref();
    if committed.is_err() {
        events::transaction_failed(unit.name(), metrics);
    }
    let bytes = committed?;
    events::transaction_committed(unit.name(), clock.committed(), metrics);
    control.health.done(unit.name());
    let summary = unit.summary();
    summary.transactions += 1;
    summary.checkpoint_bytes = bytes;
    unit.committed();
    Ok(())
}

/// When a unit commits its transaction.
pub(super) struct CommitClock {
    every: Duration,
    last: Instant,
    /// When the first window not yet committed was emitted.
    emitted_since: Option<Instant>,
}

/// Longest a closed window waits for more windows to share its transaction while input is
/// still flowing (a backlog batches its windows; live traffic commits them at once).
const BATCH_WINDOWS: Duration = Duration::from_millis(50);

impl CommitClock {
    fn new(k: &KafkaSettings) -> Self {
        CommitClock {
            every: Duration::from_millis(u64::try_from(k.commit_interval_ms).unwrap_or(1000)),
            last: Instant::now(),
            emitted_since: None,
        }
    }

    /// Whether to commit now: closed windows are waiting and the input is caught up (the last
    /// poll found nothing) or they waited [`BATCH_WINDOWS`]; or anything else is waiting and
    /// the commit interval passed.
    fn due(&mut self, emitted: bool, caught_up: bool, pending: bool, now: Instant) -> bool {
        if emitted {
            self.emitted_since.get_or_insert(now);
        }
        match self.emitted_since {
            Some(since) => caught_up || now.duration_since(since) >= BATCH_WINDOWS,
            None => pending && now.duration_since(self.last) >= self.every,
        }
    }

    /// A transaction committed; returns how long its first closed window waited.
    fn committed(&mut self) -> Option<Duration> {
        self.last = Instant::now();
        self.emitted_since
            .take()
            .map(|since| self.last.duration_since(since))
    }
}
