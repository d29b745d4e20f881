//! The merger's baselines (docs/sleeping-cells.md) beside its checkpoint records, not inside them: a
//! checkpoint is written in every transaction, baselines change only when a window closes and
//! weigh ~0.4 KiB per cell. So the merger writes them, binary (postcard), in parts of at most
//! [`PART_BYTES`] under keys `<merger key>/baselines/<part>`, in the transaction of the first
//! commit after they changed, and its checkpoint names their version
//! ([`crate::engine::Engine::baselines_version`]). A restart reads the parts of that version
//! back from the end of the checkpoints topic. Each part key is compacted to its latest value,
//! which is the version the latest checkpoint names.

use super::PipelineError;
use super::output::KafkaOutput;
use crate::config::Settings;
use crate::engine::checkpoint::BaselinesCheckpoint;
use crate::kafka::tail::find_from_end;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Largest part of the baselines in one record (well under a broker's 1 MB default).
pub const PART_BYTES: usize = 512 << 10;

/// One part of the encoded baselines of one version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct BaselinePart {
    version: i64,
    part: u32,
    parts: u32,
    bytes: Vec<u8>,
}

fn part_key(key: &str, part: usize) -> String {
    format!("{key}/baselines/{part}")
}

/// Writes `baselines` of `version` into the current transaction; returns the bytes written.
pub(super) fn write(
    out: &mut KafkaOutput<'_>,
    key: &str,
    version: i64,
    baselines: &BaselinesCheckpoint,
) -> Result<usize, PipelineError> {
    let encoded = postcard::to_stdvec(baselines)?;
    let chunks: Vec<&[u8]> = if encoded.is_empty() {
        vec![&[][..]]
    } else {
        encoded.chunks(PART_BYTES).collect()
    };
    let parts = u32::try_from(chunks.len()).unwrap_or(u32::MAX);
    for (i, chunk) in chunks.into_iter().enumerate() {
        let record = BaselinePart {
            version,
            part: u32::try_from(i).unwrap_or(u32::MAX),
            parts,
            bytes: chunk.to_vec(),
        };
        out.checkpoint(&part_key(key, i), &postcard::to_stdvec(&record)?)?;
    }
    Ok(encoded.len())
}

/// Reads the baselines of `version` back from the checkpoints topic (`None`: not found).
pub(super) fn find(
    settings: &Settings,
    key: &str,
    version: i64,
) -> Result<Option<BaselinesCheckpoint>, PipelineError> {
    let prefix = format!("{key}/baselines/");
    let mut parts: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
    let mut wanted: Option<u32> = None;
    let k = &settings.kafka;
    let found = find_from_end(k, &k.checkpoints_topic, |records| {
        for r in records.iter().rev() {
            if !r.key.starts_with(prefix.as_bytes()) {
                continue;
            }
            let Ok(p) = postcard::from_bytes::<BaselinePart>(&r.value) else {
                continue;
            };
            if p.version == version {
                wanted = Some(p.parts);
                parts.entry(p.part).or_insert(p.bytes);
            }
        }
        let n = wanted?;
        (parts.len() >= n as usize).then(|| {
            parts
                .values()
                .take(n as usize)
                .flatten()
                .copied()
                .collect::<Vec<u8>>()
        })
    })?;
    match found {
        None => Ok(None),
        Some(bytes) => Ok(Some(postcard::from_bytes(&bytes).map_err(|e| {
            PipelineError::BadCheckpoint(format!("baselines of version {version}: {e}"))
        })?)),
    }
}
