//! The high watermark librdkafka learnt from its last fetch response for a partition (no broker
//! round trip). We read end-of-partition from it rather than from ListOffsets, which some
//! Kafka-protocol brokers answer wrongly, and rather than from `PartitionEOF` events, which
//! name the partition but not its topic.

use super::client::QuietConsumer;
use rdkafka::consumer::Consumer;
use std::ffi::CString;

/// The cached high watermark of `topic`/`partition`, or `None` before the first fetch.
pub fn cached_high(consumer: &QuietConsumer, topic: &str, partition: i32) -> Option<i64> {
    let topic = CString::new(topic).ok()?;
    let (mut low, mut high) = (-1i64, -1i64);
    // SAFETY: the client pointer is valid while `consumer` lives; the topic string outlives the
    // call; librdkafka only writes the two out-parameters, which point to live locals.
    let err = unsafe {
        rdkafka_sys::rd_kafka_get_watermark_offsets(
            consumer.client().native_ptr(),
            topic.as_ptr(),
            partition,
            &mut low,
            &mut high,
        )
    };
    (err == rdkafka_sys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0)
        .then_some(high)
}
