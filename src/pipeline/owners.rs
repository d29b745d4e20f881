//! Who runs which unit: a consumer group (`<group_id>.owners`) subscribed to the input topic
//! with the most partitions (partition *p* ↦ input shard *p*) and to the single-partition
//! partials topic (↦ the merger). Kafka's group protocol gives every unit to exactly one live
//! member and moves it when members come and go (eager protocol: a rebalance stops every unit,
//! each committing what it did, and the new assignment restarts them from their checkpoints). The group only decides ownership: its partitions are paused as soon as they
//! are assigned and nothing is read or committed through it; each unit reads and commits with
//! its own consumer and transactional producer.

use crate::config::KafkaSettings;
use crate::kafka::client::{KafkaOpError, base_config, ctx};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A unit of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Unit {
    /// Partition `p` of every input topic.
    Shard(i32),
    /// The merger (partials → KPI records and breach events).
    Merger,
}

impl std::fmt::Display for Unit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unit::Shard(p) => write!(f, "shard-{p}"),
            Unit::Merger => f.write_str("merger"),
        }
    }
}

/// Pauses what the group assigns and notes that an assignment arrived.
#[derive(Default)]
pub struct OwnersContext {
    /// An assignment arrived at least once.
    assigned: AtomicBool,
    /// The latest rebalance finished with an assignment (false from a revocation until then).
    settled: AtomicBool,
}

impl rdkafka::ClientContext for OwnersContext {
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        tracing::warn!(%error, reason, "librdkafka (owners group)");
    }
}

impl ConsumerContext for OwnersContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(_) = rebalance {
            self.settled.store(false, Ordering::SeqCst);
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            if let Err(e) = consumer.pause(tpl) {
                tracing::warn!(error = %e, "cannot pause the owners group's partitions");
            }
            self.assigned.store(true, Ordering::SeqCst);
            self.settled.store(true, Ordering::SeqCst);
        }
    }
}

/// This instance's membership of the owners group.
pub struct Owners {
    consumer: BaseConsumer<OwnersContext>,
    shard_topic: String,
    partials_topic: String,
}

impl Owners {
    /// Joins the group (the first assignment arrives through [`Owners::poll`]).
    pub fn join(
        k: &KafkaSettings,
        shard_topic: &str,
        partials_topic: &str,
    ) -> Result<Self, KafkaOpError> {
        let group = format!("{}.owners", k.group_id);
        let consumer: BaseConsumer<OwnersContext> = ctx(
            base_config(k, crate::config::ClientRole::Consumer)
                .set("group.id", &group)
                .set("partition.assignment.strategy", "range")
                .set("session.timeout.ms", k.session_timeout_ms.to_string())
                .set(
                    "heartbeat.interval.ms",
                    (k.session_timeout_ms / 4).max(100).to_string(),
                )
                // Also the rebalance timeout: how long a rebalance waits for members to rejoin
                // (Tansu waits that long for one that has gone).
                .set(
                    "max.poll.interval.ms",
                    (k.session_timeout_ms * 3).max(10_000).to_string(),
                )
                .set("enable.auto.commit", "false")
                .set("auto.offset.reset", "latest")
                .create_with_context(OwnersContext::default()),
            || "creating the owners-group consumer".into(),
        )?;
        ctx(consumer.subscribe(&[shard_topic, partials_topic]), || {
            format!("joining group `{group}`")
        })?;
        Ok(Owners {
            consumer,
            shard_topic: shard_topic.to_string(),
            partials_topic: partials_topic.to_string(),
        })
    }

    /// Serves the group protocol (heartbeats, rebalances) for up to `timeout`.
    pub fn poll(&self, timeout: Duration) {
        // Partitions are paused: a message only slips through right after an assignment.
        if let Some(Err(e)) = self.consumer.poll(timeout) {
            tracing::debug!(error = %e, "owners group");
        }
    }

    /// Whether the latest rebalance has finished: units may start, and "all my units are done"
    /// means something.
    pub fn settled(&self) -> bool {
        self.consumer.context().settled.load(Ordering::SeqCst)
    }

    /// The units this instance owns, once the group has assigned anything (`None` before);
    /// empty while a rebalance is under way.
    pub fn owned(&self) -> Option<BTreeSet<Unit>> {
        if !self.consumer.context().assigned.load(Ordering::SeqCst) {
            return None;
        }
        let tpl = self.consumer.assignment().ok()?;
        Some(
            tpl.elements()
                .iter()
                .filter_map(|e| {
                    if e.topic() == self.shard_topic {
                        Some(Unit::Shard(e.partition()))
                    } else if e.topic() == self.partials_topic {
                        Some(Unit::Merger)
                    } else {
                        None
                    }
                })
                .collect(),
        )
    }
}
