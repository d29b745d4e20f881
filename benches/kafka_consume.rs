//! The baseline for `scripts/bench-kafka`: a bare rdkafka consumer that reads the three input
//! topics from the beginning to their end and does nothing else (no decoding, no aggregation).
//! netkpi's consume-decode-aggregate rate is compared with this one's.
//!
//! Needs `NETKPI_BENCH_BROKERS` and `NETKPI_BENCH_RECORDS` (the script sets them); without them,
//! prints how to run it.

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};
use std::time::{Duration, Instant};

fn main() {
    let Ok(brokers) = std::env::var("NETKPI_BENCH_BROKERS") else {
        println!("kafka_consume: run through scripts/bench-kafka (needs NETKPI_BENCH_BROKERS)");
        return;
    };
    let consumer: BaseConsumer = match ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", "bare-consumer-bench")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("fetch.wait.max.ms", "50")
        .create()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot create consumer: {e}");
            std::process::exit(1);
        }
    };
    let mut tpl = TopicPartitionList::new();
    for topic in ["calls", "data-sessions", "outages"] {
        let md = match consumer.fetch_metadata(Some(topic), Duration::from_secs(10)) {
            Ok(md) => md,
            Err(e) => {
                eprintln!("metadata: {e}");
                std::process::exit(1);
            }
        };
        for t in md.topics() {
            for p in t.partitions() {
                let _ = tpl.add_partition_offset(topic, p.id(), Offset::Beginning);
            }
        }
    }
    if let Err(e) = consumer.assign(&tpl) {
        eprintln!("assign: {e}");
        std::process::exit(1);
    }
    // The script says how many records it produced: stop there (end-of-partition events name no
    // topic, and some brokers answer ListOffsets wrongly).
    let expected: u64 = std::env::var("NETKPI_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX);
    let started = Instant::now();
    let (mut n, mut bytes) = (0u64, 0u64);
    let mut last = Instant::now();
    while n < expected && last.elapsed() < Duration::from_secs(10) {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                n += 1;
                bytes += m.payload_len() as u64;
                last = Instant::now();
            }
            Some(Err(KafkaError::PartitionEOF(_))) | None => {}
            Some(Err(e)) => eprintln!("consumer error: {e}"),
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "bare consumer: {n} records ({:.1} MiB) in {secs:.2} s: {:.0} records/s",
        bytes as f64 / (1 << 20) as f64,
        n as f64 / secs
    );
}
