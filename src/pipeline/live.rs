//! The running state of `netkpi run`: what happens to one input record (re-read, aggregated or
//! dead-lettered), which windows it feeds, and a commit of the current transaction.

use super::checkpoint::commit;
use super::output::KafkaOutput;
use super::partitions::{PartitionId, Partitions};
use super::{PipelineError, RunSummary};
use crate::engine::{Disposition, Engine, Ingested};
use crate::model::Stream;
use crate::model::validate::Reason;
use rdkafka::producer::BaseProducer;
use std::time::Instant;

/// A new record held back while other partitions re-read.
pub(super) struct Pending {
    pub(super) stream: Stream,
    pub(super) topic: String,
    pub(super) partition: i32,
    pub(super) offset: i64,
    pub(super) key: Option<Vec<u8>>,
    pub(super) payload: Vec<u8>,
}

/// The running state: engine, partition progress, output and counters.
pub(super) struct Live<'a> {
    pub(super) engine: Engine,
    pub(super) parts: Partitions,
    pub(super) out: KafkaOutput<'a>,
    pub(super) summary: RunSummary,
    pub(super) decoders: crate::kafka::registry::InputDecoders,
    /// `netkpi_records_consumed_total` of each input stream, looked up once (not per record).
    pub(super) records_counters: Vec<prometheus::IntCounter>,
    /// Records were read since the last commit.
    pub(super) dirty: bool,
    /// Key of this shard's checkpoints.
    pub(super) checkpoint_key: String,
}

impl Live<'_> {
    /// Handles one input record: re-read (rebuilds open windows, writes nothing) or new
    /// (aggregated, or a dead letter).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn process(
        &mut self,
        stream: Stream,
        topic: &str,
        partition: i32,
        offset: i64,
        key: Option<&[u8]>,
        payload: &[u8],
        now: Instant,
    ) -> Result<(), PipelineError> {
        let id = (stream, partition);
        let decoded = self.decoders.decode(stream, payload)?;
        if self.parts.is_reread(id, offset) {
            if let Ok(ev) = &decoded {
                self.engine.reingest(ev);
                track_feeds(&mut self.parts, &self.engine, ev, id, offset);
            }
            self.parts.read(
                id,
                offset,
                decoded.as_ref().ok().map(|e| e.event_time()),
                now,
            );
            return Ok(());
        }
        self.summary.counters.records_read += 1;
        self.dirty = true;
        if let Some(c) = self.records_counters.get(stream.index()) {
            c.inc();
        }
        let source = || {
            (
                topic.to_string(),
                partition,
                offset,
                key.map(<[u8]>::to_vec),
            )
        };
        let ev = match decoded {
            Err(reject) => {
                self.count_dead(reject.reason);
                self.out.dead_letter(&reject, source(), payload)?;
                self.parts.read(id, offset, None, now);
                return Ok(());
            }
            Ok(ev) => ev,
        };
        let ingested = self.engine.ingest(&ev);
        // A record the engine refused moved nothing: it feeds no window.
        let refused = matches!(ingested, Ingested::Rejected(_));
        match ingested.disposition(&ev) {
            Disposition::Kept => {}
            Disposition::LateOutage => {
                self.summary.counters.late_outage_records += 1;
                if let Some(m) = self.out.metrics() {
                    m.late_outage_records.inc();
                }
            }
            Disposition::DeadLetter(reject) => {
                self.count_dead(reject.reason);
                self.out.dead_letter(&reject, source(), payload)?;
            }
        }
        if refused {
            self.parts.read(id, offset, None, now);
            return Ok(());
        }
        track_feeds(&mut self.parts, &self.engine, &ev, id, offset);
        self.parts.read(id, offset, Some(ev.event_time()), now);
        Ok(())
    }

    fn count_dead(&mut self, reason: Reason) {
        self.summary.counters.dead_letter(reason);
        if let Some(m) = self.out.metrics() {
            m.dead_letters.with_label_values(&[reason.as_str()]).inc();
        }
    }

    pub(super) fn commit(
        &mut self,
        producer: &BaseProducer,
        group: &rdkafka::consumer::ConsumerGroupMetadata,
        ids: &[(PartitionId, String)],
    ) -> Result<(), PipelineError> {
        self.parts.forget_emitted(&self.engine.fronts());
        let committed = commit(
            producer,
            group,
            &mut self.out,
            &self.engine,
            &self.parts,
            ids,
            &self.checkpoint_key,
        );
        if let (Err(_), Some(m)) = (&committed, self.out.metrics()) {
            // The run stops; librdkafka's next init_transactions aborts what was left open.
            m.transactions.with_label_values(&["failed"]).inc();
        }
        self.summary.checkpoint_bytes = committed?;
        self.summary.transactions += 1;
        self.dirty = false;
        Ok(())
    }
}

/// Notes the windows a call or session record feeds (outage counts are in the checkpoint).
fn track_feeds(
    parts: &mut Partitions,
    engine: &Engine,
    ev: &crate::model::Event,
    id: PartitionId,
    offset: i64,
) {
    if matches!(ev, crate::model::Event::Outage(_)) {
        return;
    }
    for (size, start) in engine.open_windows_of(ev.event_time()) {
        parts.feeds(size, start, id, offset);
    }
}
