//! Reading a single-partition topic from its end backwards, in windows that double in size,
//! until a wanted record turns up: how a restart finds its checkpoint without reading the
//! history of the deployment (docs/operating-limits.md; the checkpoints topic is compacted on a full Kafka, but
//! a broker without compaction, or a compaction that lags, keeps every checkpoint ever written).
//! The cost is the distance from the end to the record sought, not the topic's length.
//!
//! The end is the high watermark of a fetch response (not ListOffsets, which some
//! Kafka-protocol brokers answer wrongly).

use super::client::{KafkaCause, KafkaOpError, QuietConsumer, TopicRecord, ctx, topic_reader};
use super::high_watermark::cached_high;
use crate::config::KafkaSettings;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::time::{Duration, Instant};

/// Records in the first window read back from the end.
const FIRST_WINDOW: i64 = 256;
/// Longest a read of one window may take.
const WINDOW_DEADLINE: Duration = Duration::from_secs(60);

/// Reads partition 0 of `topic` backwards from its end and returns what `pick` chooses from
/// the newest window in which it chooses anything (`pick` sees a window's records in offset
/// order). `None` when the whole topic was read and nothing was chosen.
pub fn find_from_end<T>(
    k: &KafkaSettings,
    topic: &str,
    mut pick: impl FnMut(&[TopicRecord]) -> Option<T>,
) -> Result<Option<T>, KafkaOpError> {
    let consumer = topic_reader(k)?;
    let end = high_watermark(&consumer, topic)?;
    let mut window = FIRST_WINDOW;
    let mut upto = end;
    while upto > 0 {
        let from = (upto - window).max(0);
        let records = read_range(&consumer, topic, from, upto)?;
        if let Some(found) = pick(&records) {
            tracing::debug!(topic, from, upto, end, "found from the end");
            return Ok(Some(found));
        }
        upto = from;
        window = window.saturating_mul(2);
    }
    Ok(None)
}

fn assign(consumer: &QuietConsumer, topic: &str, offset: Offset) -> Result<(), KafkaOpError> {
    let mut tpl = TopicPartitionList::new();
    ctx(tpl.add_partition_offset(topic, 0, offset), || {
        "building an assignment".into()
    })?;
    ctx(consumer.assign(&tpl), || format!("assigning {topic}"))
}

fn timed_out(topic: &str, what: &str) -> KafkaOpError {
    KafkaOpError {
        doing: format!("{what} of {topic}"),
        cause: KafkaCause::TimedOut(WINDOW_DEADLINE),
    }
}

/// The end of partition 0, from the first fetch response.
fn high_watermark(consumer: &QuietConsumer, topic: &str) -> Result<i64, KafkaOpError> {
    assign(consumer, topic, Offset::Beginning)?;
    let deadline = Instant::now() + WINDOW_DEADLINE;
    loop {
        if Instant::now() > deadline {
            return Err(timed_out(topic, "reading the end"));
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(_)) | Some(Err(KafkaError::PartitionEOF(_))) => {
                if let Some(high) = cached_high(consumer, topic, 0) {
                    return Ok(high);
                }
            }
            Some(Err(e)) => {
                return Err(KafkaOpError {
                    doing: format!("reading the end of {topic}"),
                    cause: e.into(),
                });
            }
            None => {}
        }
    }
}

/// The records of partition 0 with offsets in `[from, upto)`.
fn read_range(
    consumer: &QuietConsumer,
    topic: &str,
    from: i64,
    upto: i64,
) -> Result<Vec<TopicRecord>, KafkaOpError> {
    assign(consumer, topic, Offset::Offset(from))?;
    let mut out = Vec::new();
    let deadline = Instant::now() + WINDOW_DEADLINE;
    loop {
        if Instant::now() > deadline {
            return Err(timed_out(topic, "reading a window"));
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                if m.offset() >= upto {
                    return Ok(out);
                }
                out.push(TopicRecord {
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m.key().unwrap_or_default().to_vec(),
                    value: m.payload().unwrap_or_default().to_vec(),
                    headers: Vec::new(),
                });
                if m.offset() + 1 >= upto {
                    return Ok(out);
                }
            }
            Some(Err(KafkaError::PartitionEOF(_))) => return Ok(out),
            Some(Err(e)) => {
                return Err(KafkaOpError {
                    doing: format!("reading {topic}"),
                    cause: e.into(),
                });
            }
            None => {}
        }
    }
}
