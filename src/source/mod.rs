//! Sources of input records and the dead-letter record for whatever cannot be aggregated.
//!
//! File sources (replay and backfill) read JSON Lines or Avro object container files, detected by
//! their first bytes, and hand every record to a callback as an [`Item`]: the validated event or
//! the reason it was rejected, with its location and original bytes so that a dead letter can
//! carry them.

pub mod avro_codec;
pub mod avro_file;
pub mod avro_value;
pub mod background;
pub mod json;
mod json_flat;
pub mod read_ahead;
pub mod writer_schema;

use crate::model::Event;
use crate::model::validate::{Reason, Reject};
use std::io::Read;
use std::path::Path;

/// The original bytes of a record, as a dead letter carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// A JSON line (lossy UTF-8 if it was not valid UTF-8).
    Text(String),
    /// Binary data (Avro), written base64-encoded.
    Binary(Vec<u8>),
}

/// A record that was not aggregated, with why and where from (docs/inputs.md and docs/semantics.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub reason: Reason,
    /// Human-readable detail naming the field.
    pub detail: String,
    /// `FILE:LINE` (or `FILE:INDEX` for Avro), or `topic/partition/offset`.
    pub source: String,
    pub payload: Payload,
}

/// One record read from a file.
#[derive(Debug)]
pub struct Item<'a> {
    /// The decoded and validated record, or why it is bad.
    pub event: Result<Event, Reject>,
    /// Where it came from; formatted only when a dead letter needs it.
    pub source: Location<'a>,
    /// The original bytes.
    pub payload: RawPayload<'a>,
}

/// Where an [`Item`] came from: file name and 1-based line number (or record index for Avro).
#[derive(Debug, Clone, Copy)]
pub struct Location<'a> {
    pub file: &'a str,
    pub index: u64,
}

impl std::fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.index)
    }
}

/// Borrowed original bytes of an [`Item`].
#[derive(Debug, Clone, Copy)]
pub enum RawPayload<'a> {
    Text(&'a [u8]),
    Binary(&'a [u8]),
}

impl RawPayload<'_> {
    /// An owned copy for a dead letter.
    pub fn to_payload(self) -> Payload {
        match self {
            RawPayload::Text(b) => Payload::Text(String::from_utf8_lossy(b).into_owned()),
            RawPayload::Binary(b) => Payload::Binary(b.to_vec()),
        }
    }
}

impl Item<'_> {
    /// A dead letter for this item.
    pub fn dead_letter(&self, reject: &Reject) -> DeadLetter {
        DeadLetter {
            reason: reject.reason,
            detail: reject.detail.clone(),
            source: self.source.to_string(),
            payload: self.payload.to_payload(),
        }
    }
}

/// Why an input file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read input {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// What one input record or block may cost (docs/operating-limits.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Longest JSON line.
    pub max_record_bytes: usize,
    /// Largest Avro block, compressed or decompressed.
    pub max_block_bytes: usize,
}

impl ReadLimits {
    /// The limits of a configuration.
    pub fn of(settings: &crate::config::Settings) -> Self {
        ReadLimits {
            max_record_bytes: settings.max_record_bytes,
            max_block_bytes: settings.max_block_bytes,
        }
    }
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_record_bytes: 1 << 20,
            max_block_bytes: 64 << 20,
        }
    }
}

/// The path that names standard input.
pub const STDIN: &str = "-";

/// Reads one input (a file, or standard input for `-`; JSON Lines or an Avro object container,
/// told apart by the first bytes, which are read once and then handed on with the rest, so a
/// pipe loses nothing) and hands each record to `f`. An error of `f` stops the reading and is
/// returned.
pub fn read_file<E: From<SourceError>>(
    path: &Path,
    limits: &ReadLimits,
    f: &mut dyn FnMut(Item<'_>) -> Result<(), E>,
) -> Result<(), E> {
    read_file_counted(path, limits, &std::cell::Cell::new(0), f)
}

/// [`read_file`], adding to `read` every byte taken from the file as it goes (for a progress
/// display: an Avro container is read whole first, a JSON Lines file as its records go by).
pub fn read_file_counted<E: From<SourceError>>(
    path: &Path,
    limits: &ReadLimits,
    read: &std::cell::Cell<u64>,
    f: &mut dyn FnMut(Item<'_>) -> Result<(), E>,
) -> Result<(), E> {
    let name = path.display().to_string();
    let io = |source| SourceError::Io {
        path: name.clone(),
        source,
    };
    let inner: Box<dyn Read> = if path.as_os_str() == STDIN {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(path).map_err(io)?)
    };
    let mut input = Counted { inner, read };
    let mut head = Vec::with_capacity(4);
    (&mut input).take(4).read_to_end(&mut head).map_err(io)?;
    let whole = std::io::Cursor::new(head.clone()).chain(input);
    if head == avro_file::MAGIC {
        avro_file::read(whole, &name, limits, f)
    } else {
        let mut reader = std::io::BufReader::with_capacity(1 << 20, whole);
        json::read_lines(&mut reader, &name, limits.max_record_bytes, f)
    }
}

/// A reader that adds the bytes it reads to a counter.
struct Counted<'a, R> {
    inner: R,
    read: &'a std::cell::Cell<u64>,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}
