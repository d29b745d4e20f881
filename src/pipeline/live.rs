//! The running state of an input shard: what happens to one input record (re-read, aggregated
//! or dead-lettered). Which windows it fed is the engine's to keep.

use super::partitions::Partitions;
use super::unit::UnitOutput;
use super::{PipelineError, RunSummary};
use crate::engine::sources::{Origin, Source};
use crate::engine::{Disposition, Engine};
use crate::model::Stream;
use crate::model::validate::Reason;
use std::time::Instant;

/// One input record as consumed.
#[derive(Clone, Copy)]
pub(super) struct Record<'a> {
    pub(super) stream: Stream,
    pub(super) topic: &'a str,
    pub(super) partition: i32,
    pub(super) offset: i64,
    pub(super) key: Option<&'a [u8]>,
    pub(super) payload: &'a [u8],
}

/// A new record held back while other partitions re-read.
pub(super) struct Pending {
    stream: Stream,
    topic: String,
    partition: i32,
    offset: i64,
    key: Option<Vec<u8>>,
    payload: Vec<u8>,
}

impl Pending {
    pub(super) fn of(r: &Record<'_>) -> Self {
        Pending {
            stream: r.stream,
            topic: r.topic.to_string(),
            partition: r.partition,
            offset: r.offset,
            key: r.key.map(<[u8]>::to_vec),
            payload: r.payload.to_vec(),
        }
    }

    pub(super) fn record(&self) -> Record<'_> {
        Record {
            stream: self.stream,
            topic: &self.topic,
            partition: self.partition,
            offset: self.offset,
            key: self.key.as_deref(),
            payload: &self.payload,
        }
    }
}

/// The running state: engine, partition progress and counters.
pub(super) struct Live {
    pub(super) engine: Engine,
    pub(super) parts: Partitions,
    pub(super) summary: RunSummary,
    pub(super) decoders: crate::kafka::registry::InputDecoders,
    /// `netkpi_records_consumed_total` of each input stream, looked up once (not per record).
    pub(super) records_counters: Vec<prometheus::IntCounter>,
    /// Records were read since the last commit.
    pub(super) dirty: bool,
}

impl Live {
    /// Handles one input record: re-read (rebuilds open windows, writes nothing) or new
    /// (aggregated, or a dead letter).
    pub(super) fn process(
        &mut self,
        r: &Record<'_>,
        out: &mut UnitOutput<'_>,
        now: Instant,
    ) -> Result<(), PipelineError> {
        let Record {
            stream,
            topic,
            partition,
            offset,
            key,
            payload,
        } = *r;
        let id = (stream, partition);
        let from = Origin {
            source: Source::Input(stream, partition),
            offset,
        };
        let decoded = self.decoders.decode(stream, payload)?;
        self.parts.read(id, offset, now);
        if self.parts.is_reread(id, offset) {
            // The checkpointed front already covers it: a re-read rebuilds windows only.
            if let Ok(ev) = &decoded {
                self.engine.reingest(ev, from);
            }
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
                self.count_dead(reject.reason, out);
                out.dead_letter(&reject, source(), payload)?;
                return Ok(());
            }
            Ok(ev) => ev,
        };
        match self.engine.ingest(&ev, from).disposition(&ev) {
            Disposition::Kept => {}
            Disposition::LateOutage => {
                self.summary.counters.late_outage_records += 1;
                crate::telemetry::events::late_outage_record(out.metrics());
            }
            Disposition::DeadLetter(reject) => {
                self.count_dead(reject.reason, out);
                out.dead_letter(&reject, source(), payload)?;
            }
        }
        Ok(())
    }

    fn count_dead(&mut self, reason: Reason, out: &UnitOutput<'_>) {
        self.summary.counters.dead_letter(reason);
        crate::telemetry::events::dead_letter(reason, out.metrics());
    }
}
