//! What shards tell the merger through the partials topic: closed windows' partial
//! accumulators and progress (watermark, idleness, end), and how the merger reads the shards'
//! progress: the pipeline's watermark, and whether a late partial is only a copy.

use super::watermark::{SourceState, Watermark};
use crate::engine::partial::Partial;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where a shard stands, sent after the partials it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "ProgressEncoding", into = "ProgressEncoding")]
pub struct ShardProgress {
    pub shard: i32,
    /// The shard engine's watermark (`at` is `None` before its first record), and whether it
    /// holds the pipeline's back: every partition idle, or (`--exit-at-end`) every partition
    /// read to its end and its windows closed.
    pub watermark: Watermark,
    /// Wall-clock ms when the watermark last moved (for the breach-latency figure only).
    pub advanced_at_ms: i64,
}

/// How [`ShardProgress`] is encoded on the partials topic and in the merger's checkpoint: as
/// it always was, so that records and checkpoints of earlier versions still read.
#[derive(Clone, Serialize, Deserialize)]
struct ProgressEncoding {
    shard: i32,
    watermark: Option<i64>,
    idle: bool,
    at_end: bool,
    advanced_at_ms: i64,
}

impl From<ProgressEncoding> for ShardProgress {
    fn from(e: ProgressEncoding) -> Self {
        let state = match (e.at_end, e.idle) {
            (true, _) => SourceState::AtEnd,
            (false, true) => SourceState::Idle,
            (false, false) => SourceState::Active,
        };
        ShardProgress {
            shard: e.shard,
            watermark: Watermark {
                at: e.watermark,
                state,
            },
            advanced_at_ms: e.advanced_at_ms,
        }
    }
}

impl From<ShardProgress> for ProgressEncoding {
    fn from(p: ShardProgress) -> Self {
        let state = p.watermark.state;
        ProgressEncoding {
            shard: p.shard,
            watermark: p.watermark.at,
            // At its end a shard is idle too, as earlier versions said.
            idle: state != SourceState::Active,
            at_end: state == SourceState::AtEnd,
            advanced_at_ms: p.advanced_at_ms,
        }
    }
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
    /// Part `part` of a closed window of shard `shard` too large for one record (see
    /// [`part_bounds`]); each cell is in exactly one part.
    PartialPart {
        shard: i32,
        part: u32,
        partial: Partial,
    },
}

/// Estimated encoded bytes of one part of a partial: well under the brokers' default record
/// limit (1 MB), whatever the number of cells of a shard.
pub const PART_BYTES: usize = 256 << 10;

/// Where a closed window's partial is cut so that each part holds about `budget` bytes at most
/// (by the cells' in-memory size, an upper bound of their encoding): ranges of its cells, one
/// range when it fits.
pub fn part_bounds(p: &Partial, budget: usize) -> Vec<std::ops::Range<usize>> {
    let mut bounds = Vec::new();
    let (mut from, mut bytes) = (0usize, 0usize);
    for (i, (id, acc)) in p.cells.iter().enumerate() {
        let b = id.len() + acc.footprint();
        if i > from && bytes + b > budget {
            bounds.push(from..i);
            (from, bytes) = (i, 0);
        }
        bytes += b;
    }
    bounds.push(from..p.cells.len());
    bounds
}

/// The part of `p` holding the cells in `range`.
pub fn part_of(p: &Partial, range: std::ops::Range<usize>) -> Partial {
    Partial {
        size_ms: p.size_ms,
        start: p.start,
        outage_ids: if range.start == 0 {
            p.outage_ids.clone()
        } else {
            Vec::new()
        },
        cells: p.cells.get(range).map(<[_]>::to_vec).unwrap_or_default(),
    }
}

impl ShardMessage {
    /// The shard that sent it.
    pub fn shard(&self) -> i32 {
        match self {
            ShardMessage::Partial(s, _) => *s,
            ShardMessage::Progress(p) => p.shard,
            ShardMessage::Outages(o) => o.shard,
            ShardMessage::PartialPart { shard, .. } => *shard,
        }
    }

    /// Binary encoding (postcard).
    pub fn encode(&self) -> Result<Vec<u8>, postcard::Error> {
        postcard::to_stdvec(self)
    }

    /// Decodes a record of the partials topic.
    pub fn decode(bytes: &[u8]) -> Result<Self, postcard::Error> {
        postcard::from_bytes(bytes)
    }
}

/// The pipeline's watermark from the shards' progress (see the module doc).
pub fn merged_watermark(shards: i32, progress: &BTreeMap<i32, ShardProgress>) -> Option<i64> {
    super::watermark::combined((0..shards).map(|p| progress.get(&p).map(|s| s.watermark)))
}

/// Whether a partial of an emitted window is a copy of one merged before: its shard had already
/// reported a watermark past the window's end, so it had sent that window then. (Otherwise the
/// shard was idle and fell behind: the partial is late.)
pub fn duplicate(progress: &BTreeMap<i32, ShardProgress>, shard: i32, p: &Partial) -> bool {
    progress
        .get(&shard)
        .and_then(|s| s.watermark.at)
        .is_some_and(|wm| wm >= p.start + p.size_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_partial_is_cut_into_parts_that_hold_every_cell_once() {
        let acc = crate::kpi::Acc::default();
        let cells: Vec<(String, crate::kpi::Acc)> = (0..10_000)
            .map(|i| (format!("cell-{i}"), acc.clone()))
            .collect();
        let p = Partial {
            size_ms: 300_000,
            start: 0,
            cells,
            outage_ids: Vec::new(),
        };
        let parts: Vec<Partial> = part_bounds(&p, 64 << 10)
            .into_iter()
            .map(|r| part_of(&p, r))
            .collect();
        assert!(parts.len() > 1);
        for part in &parts {
            assert!(
                ShardMessage::PartialPart {
                    shard: 0,
                    part: 0,
                    partial: part.clone()
                }
                .encode()
                .unwrap()
                .len()
                    < 64 << 10
            );
        }
        let back: Vec<String> = parts
            .iter()
            .flat_map(|q| q.cells.iter().map(|(id, _)| id.clone()))
            .collect();
        assert_eq!(
            back,
            p.cells.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>()
        );
        assert_eq!(part_bounds(&p, usize::MAX), vec![0..p.cells.len()]);
    }

    fn p(shard: i32, watermark: Option<i64>, idle: bool) -> ShardProgress {
        let state = if idle {
            SourceState::Idle
        } else {
            SourceState::Active
        };
        ShardProgress {
            shard,
            watermark: Watermark {
                at: watermark,
                state,
            },
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
        assert_eq!(ShardMessage::decode(&msg.encode().unwrap()).unwrap(), msg);
        assert!(ShardMessage::decode(b"\xff\xff\xff").is_err());
    }

    /// Progress records and merger checkpoints of earlier versions read the same: the encoding
    /// keeps its `idle` and `at_end` flags (a shard at its end was idle too).
    #[test]
    fn progress_keeps_its_encoding() {
        for (idle, at_end, state) in [
            (false, false, SourceState::Active),
            (true, false, SourceState::Idle),
            (true, true, SourceState::AtEnd),
        ] {
            let old = ProgressEncoding {
                shard: 2,
                watermark: Some(1_000),
                idle,
                at_end,
                advanced_at_ms: 7,
            };
            let bytes = postcard::to_stdvec(&old).expect("encode");
            let json = serde_json::to_string(&old).expect("encode");
            let read: ShardProgress = postcard::from_bytes(&bytes).expect("decode");
            assert_eq!(read.watermark.state, state);
            assert_eq!(read.watermark.at, Some(1_000));
            assert_eq!(postcard::to_stdvec(&read).expect("encode"), bytes);
            assert_eq!(serde_json::to_string(&read).expect("encode"), json);
        }
    }
}
