//! What shards tell the merger through the partials topic: closed windows' partial
//! accumulators and progress (watermark, idleness, end), and how the merger reads the shards'
//! progress: the pipeline's watermark, and whether a late partial is only a copy.

use crate::engine::partial::Partial;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where a shard stands, sent after the partials it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardProgress {
    pub shard: i32,
    /// The shard engine's watermark (`None` before its first record).
    pub watermark: Option<i64>,
    /// Every partition of the shard is idle: it does not hold the pipeline's watermark back.
    pub idle: bool,
    /// `--exit-at-end`: the shard reached the end of its partitions and closed its windows.
    pub at_end: bool,
    /// Wall-clock ms when the watermark last moved (for the breach-latency figure only).
    pub advanced_at_ms: i64,
}

/// A record of the partials topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ShardMessage {
    /// A closed window of shard `.0`.
    Partial(i32, Partial),
    Progress(ShardProgress),
    /// The shard's outages of windows it has not closed (sent when they change, before the
    /// progress they go with). Last, so that older records keep their encoding.
    Outages(crate::engine::shard_outages::ShardOutages),
}

impl ShardMessage {
    /// The shard that sent it.
    pub fn shard(&self) -> i32 {
        match self {
            ShardMessage::Partial(s, _) => *s,
            ShardMessage::Progress(p) => p.shard,
            ShardMessage::Outages(o) => o.shard,
        }
    }

    /// Binary encoding (postcard).
    pub fn encode(&self) -> Vec<u8> {
        // Serialising plain data into a Vec cannot fail.
        postcard::to_stdvec(self).unwrap_or_default()
    }

    /// Decodes a record of the partials topic.
    pub fn decode(bytes: &[u8]) -> Result<Self, postcard::Error> {
        postcard::from_bytes(bytes)
    }
}

/// The pipeline's watermark from the shards' progress (see the module doc).
pub fn merged_watermark(shards: i32, progress: &BTreeMap<i32, ShardProgress>) -> Option<i64> {
    let mut wm: Option<i64> = None;
    let mut any_active = false;
    for p in 0..shards {
        let s = progress.get(&p)?;
        if s.idle || s.at_end {
            continue;
        }
        any_active = true;
        let w = s.watermark?;
        wm = Some(wm.map_or(w, |m| m.min(w)));
    }
    if any_active {
        wm
    } else {
        progress.values().filter_map(|s| s.watermark).max()
    }
}

/// Whether a partial of an emitted window is a copy of one merged before: its shard had already
/// reported a watermark past the window's end, so it had sent that window then. (Otherwise the
/// shard was idle and fell behind: the partial is late.)
pub fn duplicate(progress: &BTreeMap<i32, ShardProgress>, shard: i32, p: &Partial) -> bool {
    progress
        .get(&shard)
        .and_then(|s| s.watermark)
        .is_some_and(|wm| wm >= p.start + p.size_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(shard: i32, watermark: Option<i64>, idle: bool) -> ShardProgress {
        ShardProgress {
            shard,
            watermark,
            idle,
            at_end: false,
            advanced_at_ms: 0,
        }
    }

    #[test]
    fn merged_watermark_is_the_minimum_over_active_shards() {
        let mut m = BTreeMap::new();
        m.insert(0, p(0, Some(100), false));
        assert_eq!(merged_watermark(2, &m), None, "shard 1 never reported");
        m.insert(1, p(1, Some(50), false));
        assert_eq!(merged_watermark(2, &m), Some(50));
        m.insert(1, p(1, Some(50), true));
        assert_eq!(
            merged_watermark(2, &m),
            Some(100),
            "idle shards do not hold it"
        );
        m.insert(0, p(0, Some(100), true));
        assert_eq!(merged_watermark(2, &m), Some(100), "all idle: the largest");
        m.insert(1, p(1, None, false));
        assert_eq!(
            merged_watermark(2, &m),
            None,
            "an active shard without records holds it"
        );
    }

    #[test]
    fn shard_messages_round_trip() {
        let msg = ShardMessage::Progress(p(3, Some(-5), true));
        assert_eq!(ShardMessage::decode(&msg.encode()).unwrap(), msg);
        assert!(ShardMessage::decode(b"\xff\xff\xff").is_err());
    }
}
