//! The engine's [`Output`] on Kafka: KPI records, breach events, dead letters and checkpoints
//! sent through the transactional producer (waiting when its queue is full).

use crate::config::KafkaSettings;
use crate::engine::{KpiRecord, Output};
use crate::kafka::client::KafkaOpError;
use crate::kafka::codec::{OutputEncoder, breach_key, kpi_key};
use crate::model::validate::Reject;
use crate::threshold::BreachEvent;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord};
use rdkafka::types::RDKafkaErrorCode;
use std::time::Duration;

use super::PipelineError;
use super::progress::{PART_BYTES, ShardMessage, ShardProgress, part_bounds, part_of};
use crate::engine::partial::Partial;

/// Sends outputs within the current transaction.
pub struct KafkaOutput<'a> {
    producer: &'a BaseProducer,
    encoder: &'a OutputEncoder,
    kafka: &'a KafkaSettings,
    /// Set for a shard's output: closed windows go to the partials topic.
    shard: Option<i32>,
}

impl<'a> KafkaOutput<'a> {
    /// Output through `producer`.
    pub fn new(
        producer: &'a BaseProducer,
        encoder: &'a OutputEncoder,
        kafka: &'a KafkaSettings,
    ) -> Self {
        KafkaOutput {
            producer,
            encoder,
            kafka,
            shard: None,
        }
    }

    /// The output of input shard `shard`.
    pub fn for_shard(self, shard: i32) -> Self {
        KafkaOutput {
            shard: Some(shard),
            ..self
        }
    }

    fn to_merger(&self, message: &ShardMessage) -> Result<(), PipelineError> {
        let bytes = message.encode()?;
        let key = format!("shard-{}", message.shard());
        Ok(self.send(
            BaseRecord::to(&self.kafka.partials_topic)
                .payload(bytes.as_slice())
                .key(key.as_bytes()),
        )?)
    }

    /// A shard's outages of the windows it has not closed.
    pub fn shard_outages(
        &self,
        outages: &crate::engine::shard_outages::ShardOutages,
    ) -> Result<(), PipelineError> {
        self.to_merger(&ShardMessage::Outages(outages.clone()))
    }

    /// A shard's progress, sent after the partials it covers.
    pub fn progress(&self, progress: &ShardProgress) -> Result<(), PipelineError> {
        self.to_merger(&ShardMessage::Progress(progress.clone()))
    }

    fn send(&self, mut record: BaseRecord<'_, [u8], [u8]>) -> Result<(), KafkaOpError> {
        loop {
            match self.producer.send(record) {
                Ok(()) => {
                    self.producer.poll(Duration::ZERO);
                    return Ok(());
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    self.producer.poll(Duration::from_millis(50));
                    record = r;
                }
                Err((e, r)) => {
                    return Err(KafkaOpError {
                        doing: format!("producing to {}", r.topic),
                        cause: e.into(),
                    });
                }
            }
        }
    }

    /// A dead letter: the original bytes and key, with the source and reason in headers.
    pub fn dead_letter(
        &self,
        reject: &Reject,
        source: (String, i32, i64, Option<Vec<u8>>),
        payload: &[u8],
    ) -> Result<(), PipelineError> {
        let (topic, partition, offset, key) = source;
        let (partition, offset) = (partition.to_string(), offset.to_string());
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "netkpi.source.topic",
                value: Some(topic.as_str()),
            })
            .insert(Header {
                key: "netkpi.source.partition",
                value: Some(partition.as_str()),
            })
            .insert(Header {
                key: "netkpi.source.offset",
                value: Some(offset.as_str()),
            })
            .insert(Header {
                key: "netkpi.reason",
                value: Some(reject.reason.as_str()),
            })
            .insert(Header {
                key: "netkpi.detail",
                value: Some(reject.detail.as_str()),
            });
        // A record without a key keeps having none (not an empty one).
        let topic = self.kafka.dead_letters_topic.as_str();
        let key = key.as_deref();
        fn record<'r>(
            topic: &'r str,
            key: Option<&'r [u8]>,
            payload: &'r [u8],
            headers: OwnedHeaders,
        ) -> BaseRecord<'r, [u8], [u8]> {
            let r = BaseRecord::to(topic).payload(payload).headers(headers);
            match key {
                Some(k) => r.key(k),
                None => r,
            }
        }
        match self.send(record(topic, key, payload, headers.clone())) {
            Err(e)
                if e.cause.client().is_some_and(is_too_large)
                    && payload.len() > DEAD_LETTER_KEPT =>
            {
                // The broker would refuse the whole record: keep its first bytes and say so.
                let size = payload.len().to_string();
                let headers = headers.insert(Header {
                    key: "netkpi.truncated_from",
                    value: Some(size.as_str()),
                });
                Ok(self.send(record(topic, key, &payload[..DEAD_LETTER_KEPT], headers))?)
            }
            other => Ok(other?),
        }
    }

    /// The checkpoint record of this transaction.
    pub fn checkpoint(&self, key: &str, bytes: &[u8]) -> Result<(), PipelineError> {
        Ok(self.send(
            BaseRecord::to(&self.kafka.checkpoints_topic)
                .payload(bytes)
                .key(key.as_bytes()),
        )?)
    }
}

/// Bytes of a dead letter's payload kept when the whole record is too large for the broker.
const DEAD_LETTER_KEPT: usize = 64 << 10;

/// Whether the client or the broker refused a record as too large.
fn is_too_large(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(RDKafkaErrorCode::MessageSizeTooLarge | RDKafkaErrorCode::InvalidMessageSize)
    )
}

impl Output for KafkaOutput<'_> {
    type Error = PipelineError;

    fn kpi(&mut self, record: &KpiRecord<'_>) -> Result<(), Self::Error> {
        let value = self.encoder.kpi(record)?;
        let key = kpi_key(record);
        Ok(self.send(
            BaseRecord::to(&self.kafka.kpis_topic)
                .payload(value.as_slice())
                .key(key.as_bytes()),
        )?)
    }

    fn breach(&mut self, event: &BreachEvent) -> Result<(), Self::Error> {
        let value = self.encoder.breach(event)?;
        let key = breach_key(event);
        Ok(self.send(
            BaseRecord::to(&self.kafka.breaches_topic)
                .payload(value.as_slice())
                .key(key.as_bytes()),
        )?)
    }

    fn partial(&mut self, partial: &Partial) -> Result<(), Self::Error> {
        let shard = self.shard.unwrap_or_default();
        let bounds = part_bounds(partial, PART_BYTES);
        if bounds.len() == 1 {
            return self.to_merger(&ShardMessage::Partial(shard, partial.clone()));
        }
        for (part, range) in bounds.into_iter().enumerate() {
            self.to_merger(&ShardMessage::PartialPart {
                shard,
                part: u32::try_from(part).unwrap_or(u32::MAX),
                partial: part_of(partial, range),
            })?;
        }
        Ok(())
    }
}
