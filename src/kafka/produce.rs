//! Writing generated traffic to the Kafka input topics: Avro datums of the input schemas, keyed by
//! cell id (so a cell's records stay in order in one partition of each topic, and the three topics
//! are co-partitioned); bad records go to the calls topic as they are.

use super::client::{KafkaCause, KafkaOpError, TopicRole, base_config, ctx, ensure_topics};
use crate::config::KafkaSettings;
use crate::model::Stream;
use crate::schemas::{event_value, input_schema};
use crate::traffic::GenItem;
use apache_avro::writer::datum::GenericDatumWriter;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use std::time::Duration;

/// Produces every item; returns how many.
pub fn produce_traffic(
    k: &KafkaSettings,
    generator: impl IntoIterator<Item = GenItem>,
    partitions: i32,
) -> Result<u64, KafkaOpError> {
    let topics: Vec<&str> = k.input_topics.iter().map(String::as_str).collect();
    ensure_topics(k, &topics, partitions, TopicRole::Input)?;
    let producer: BaseProducer = ctx(
        base_config(k, crate::config::ClientRole::Producer)
            .set("enable.idempotence", "true")
            .set("linger.ms", "20")
            .set("compression.type", "lz4")
            .create(),
        || "creating the traffic producer".into(),
    )?;
    let writers: Vec<GenericDatumWriter<'static>> = Stream::ALL
        .into_iter()
        .map(|s| GenericDatumWriter::builder(input_schema(s)).build())
        .collect::<Result<_, _>>()
        .map_err(|e| KafkaOpError {
            doing: "building Avro writers".into(),
            cause: KafkaCause::Local(e.to_string()),
        })?;
    let mut n = 0u64;
    for item in generator {
        let (topic, key, value) = match &item {
            GenItem::Event(ev) => {
                let stream = ev.stream().index();
                let bytes = writers[stream]
                    .write_value_to_vec(event_value(ev))
                    .map_err(|e| KafkaOpError {
                        doing: "encoding a record".into(),
                        cause: KafkaCause::Local(e.to_string()),
                    })?;
                (&k.input_topics[stream], ev.cell_id().to_string(), bytes)
            }
            GenItem::Bad(line) => (
                &k.input_topics[0],
                String::from("bad"),
                line.as_bytes().to_vec(),
            ),
        };
        let mut record = BaseRecord::to(topic)
            .key(key.as_bytes())
            .payload(value.as_slice());
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    producer.poll(Duration::from_millis(20));
                    record = r;
                }
                Err((e, _)) => {
                    return Err(KafkaOpError {
                        doing: format!("producing to {topic}"),
                        cause: e.into(),
                    });
                }
            }
        }
        producer.poll(Duration::ZERO);
        n += 1;
    }
    ctx(producer.flush(Duration::from_secs(60)), || {
        "flushing the traffic producer".into()
    })?;
    Ok(n)
}
