//! The baseline for `scripts/bench-kafka`: bare rdkafka consumers that read the three input
//! topics from the beginning to their end and do nothing else (no decoding, no aggregation).
//! With `NETKPI_BENCH_CONSUMERS=N` (default 1) there are N consumers on threads of their own,
//! consumer `i` reading partition `p` of every topic where `p % N == i` — how netkpi's N shards
//! read — and the rate is every record over the time until the last one arrived. They read
//! `read_committed`, as netkpi's shards do (`NETKPI_BENCH_ISOLATION=read_uncommitted` for the
//! broker's cheaper read). netkpi's consume-decode-aggregate rate is compared with these.
//!
//! Needs `NETKPI_BENCH_BROKERS` and `NETKPI_BENCH_RECORDS` (the script sets them); without them,
//! prints how to run it.

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("{what}: {e}");
    std::process::exit(1);
}

fn consumer(brokers: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "bare-consumer-bench")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("fetch.wait.max.ms", "50")
        .set(
            "isolation.level",
            std::env::var("NETKPI_BENCH_ISOLATION").unwrap_or_else(|_| "read_committed".into()),
        )
        .create()
        .unwrap_or_else(|e| fail("cannot create consumer", e))
}

/// Partitions of the input topics: (topic, partition).
fn partitions(brokers: &str) -> Vec<(&'static str, i32)> {
    let c = consumer(brokers);
    let mut all = Vec::new();
    for topic in ["calls", "data-sessions", "outages"] {
        let md = c
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .unwrap_or_else(|e| fail("metadata", e));
        for t in md.topics() {
            all.extend(t.partitions().iter().map(|p| (topic, p.id())));
        }
    }
    all
}

/// Reads `parts` until every consumer together has read `expected` records (or 10 s of
/// silence); adds what it read to `total`. Returns its bytes.
fn consume(brokers: &str, parts: &[(&str, i32)], expected: u64, total: &AtomicU64) -> u64 {
    let c = consumer(brokers);
    let mut tpl = TopicPartitionList::new();
    for (topic, p) in parts {
        let _ = tpl.add_partition_offset(topic, *p, Offset::Beginning);
    }
    c.assign(&tpl).unwrap_or_else(|e| fail("assign", e));
    let mut bytes = 0u64;
    let mut last = Instant::now();
    while total.load(Ordering::Relaxed) < expected && last.elapsed() < Duration::from_secs(10) {
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                total.fetch_add(1, Ordering::Relaxed);
                bytes += m.payload_len() as u64;
                last = Instant::now();
            }
            Some(Err(KafkaError::PartitionEOF(_))) | None => {}
            Some(Err(e)) => eprintln!("consumer error: {e}"),
        }
    }
    bytes
}

fn main() {
    let Ok(brokers) = std::env::var("NETKPI_BENCH_BROKERS") else {
        println!("kafka_consume: run through scripts/bench-kafka (needs NETKPI_BENCH_BROKERS)");
        return;
    };
    // The script says how many records it produced: stop there (end-of-partition events name no
    // topic, and some brokers answer ListOffsets wrongly).
    let expected: u64 = std::env::var("NETKPI_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX);
    let n: usize = std::env::var("NETKPI_BENCH_CONSUMERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(1);
    let all = partitions(&brokers);
    let total = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let mine: Vec<(&'static str, i32)> = all
                .iter()
                .copied()
                .filter(|(_, p)| usize::try_from(*p).unwrap_or(0) % n == i)
                .collect();
            let (brokers, total) = (brokers.clone(), Arc::clone(&total));
            std::thread::spawn(move || consume(&brokers, &mine, expected, &total))
        })
        .collect();
    let bytes: u64 = threads.into_iter().filter_map(|t| t.join().ok()).sum();
    let secs = started.elapsed().as_secs_f64();
    let records = total.load(Ordering::Relaxed);
    println!(
        "bare consumers ({n} in parallel): {records} records ({:.1} MiB) in {secs:.2} s: {:.0} records/s",
        bytes as f64 / f64::from(1 << 20),
        records as f64 / secs
    );
}
