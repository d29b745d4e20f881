//! Reading on a core of its own: a thread reads the inputs one after the other (as
//! [`read_file_counted`]: JSON Lines or Avro, decoded and validated) and hands their records
//! over in order, in batches of at most [`BATCH_RECORDS`] records or [`BATCH_BYTES`] bytes (one
//! record more), through a channel that holds at most [`BATCHES_IN_FLIGHT`] batches. Decoding
//! runs beside whatever consumes the records, and what is in flight is bounded whatever the
//! input's size. Each record keeps its location and
//! its original bytes, so that a dead letter can still be written for it downstream. Batches
//! the consumer is done with go back to the reading thread ([`BackgroundReader::recycle`], at
//! most [`SPARE_BATCHES`] held), so that their buffers are filled again instead of allocated
//! (and their pages zeroed by the kernel) anew.

use super::{Item, Location, RawPayload, ReadLimits, SourceError, read_file_counted};
use crate::model::Event;
use crate::model::validate::Reject;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Records per batch: large enough that the channel costs nothing per record.
pub const BATCH_RECORDS: usize = 1024;
/// Original bytes per batch: a batch closes once it holds this many (a batch of typical
/// records closes at [`BATCH_RECORDS`] well before).
pub const BATCH_BYTES: usize = 512 << 10;
/// Batches between the reading thread and the consumer at most: ~64 k records, so that the
/// reader goes on decoding while the consumer closes a window (tens of milliseconds for 10 000
/// cells) instead of stopping after four batches and then leaving the consumer waiting.
/// Replay of 2 M records: 1.42-1.45 s with 64 against 1.78-1.88 s with 4 (JSON Lines), 1.77-1.89 s
/// against 2.15-2.20 s (Avro); ~25 MiB more RSS. What is in flight stays at most
/// 64 × (`BATCH_BYTES` + one record) of original bytes and their decoded records.
pub const BATCHES_IN_FLIGHT: usize = 64;
/// Emptied batches waiting to be filled again at most (with their buffers: in all, at most
/// `BATCHES_IN_FLIGHT + SPARE_BATCHES + 2` batches exist; the spares are few in practice, as
/// the reader takes one for each batch it starts).
pub const SPARE_BATCHES: usize = BATCHES_IN_FLIGHT + 2;

/// Consecutive records of one input, with their original bytes side by side.
#[derive(Debug)]
pub struct Batch {
    file: String,
    records: Vec<BatchRecord>,
    bytes: Vec<u8>,
    /// Bytes taken from all inputs when the batch was handed over (for a progress display).
    pub bytes_read: u64,
}

#[derive(Debug)]
struct BatchRecord {
    event: Result<Event, Reject>,
    index: u64,
    /// End of its bytes in [`Batch::bytes`] (they start where the previous record's end).
    end: usize,
    binary: bool,
}

impl Batch {
    fn new(file: &str) -> Self {
        Batch {
            file: file.to_string(),
            records: Vec::with_capacity(BATCH_RECORDS),
            bytes: Vec::new(),
            bytes_read: 0,
        }
    }

    /// An emptied batch of `spare` (its buffers kept), else a new one.
    fn reuse(spare: &Receiver<Batch>, file: &str) -> Self {
        match spare.try_recv() {
            Ok(mut b) => {
                b.file.clear();
                b.file.push_str(file);
                b.records.clear();
                b.bytes.clear();
                b.bytes_read = 0;
                b
            }
            Err(_) => Batch::new(file),
        }
    }

    fn push(&mut self, item: Item<'_>) {
        let (raw, binary) = match item.payload {
            RawPayload::Text(b) => (b, false),
            RawPayload::Binary(b) => (b, true),
        };
        self.bytes.extend_from_slice(raw);
        self.records.push(BatchRecord {
            event: item.event,
            index: item.source.index,
            end: self.bytes.len(),
            binary,
        });
    }

    /// Records held.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether it holds no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Hands each record to `f` as the reader read it, in order, and empties the batch; an
    /// error of `f` stops (the records after it are dropped).
    pub fn for_each<E>(&mut self, f: &mut dyn FnMut(Item<'_>) -> Result<(), E>) -> Result<(), E> {
        let Batch {
            file,
            records,
            bytes,
            ..
        } = self;
        let mut start = 0;
        for r in records.drain(..) {
            let raw = bytes.get(start..r.end).unwrap_or_default();
            start = r.end;
            f(Item {
                event: r.event,
                source: Location {
                    file: file.as_str(),
                    index: r.index,
                },
                payload: if r.binary {
                    RawPayload::Binary(raw)
                } else {
                    RawPayload::Text(raw)
                },
            })?;
        }
        Ok(())
    }
}

/// What the reading thread hands over.
#[derive(Debug)]
pub enum Reading {
    Batch(Batch),
    /// An input could not be read: nothing follows.
    Failed(SourceError),
    /// Every input was read to its end.
    End,
}

/// Why the background reading could not start or went away.
#[derive(Debug, thiserror::Error)]
pub enum BackgroundError {
    #[error("cannot start the reading thread: {0}")]
    Spawn(std::io::Error),
    #[error("the reading thread stopped before the end of the input")]
    Vanished,
}

/// The records of `inputs`, read in order on a thread of their own.
pub struct BackgroundReader {
    from: Receiver<Reading>,
    spare: SyncSender<Batch>,
}

impl BackgroundReader {
    /// Starts reading `inputs` (files, or `-` for standard input) in order.
    pub fn start(inputs: Vec<PathBuf>, limits: ReadLimits) -> Result<Self, BackgroundError> {
        let (to, from) = sync_channel(BATCHES_IN_FLIGHT);
        let (spare, spares) = sync_channel(SPARE_BATCHES);
        std::thread::Builder::new()
            .name("netkpi-read".into())
            .spawn(move || read_all(&inputs, &limits, &to, &spares))
            .map_err(BackgroundError::Spawn)?;
        Ok(BackgroundReader { from, spare })
    }

    /// Gives a batch that [`Batch::for_each`] emptied back to the reading thread (dropped when
    /// [`SPARE_BATCHES`] are already waiting or the thread is done).
    pub fn recycle(&self, batch: Batch) {
        let _ = self.spare.try_send(batch);
    }

    /// The next batch (`Ok(None)` at the end of the inputs).
    pub fn next(&self) -> Result<Result<Option<Batch>, SourceError>, BackgroundError> {
        match self.from.recv() {
            Ok(Reading::Batch(b)) => Ok(Ok(Some(b))),
            Ok(Reading::Failed(e)) => Ok(Err(e)),
            Ok(Reading::End) => Ok(Ok(None)),
            Err(_) => Err(BackgroundError::Vanished),
        }
    }
}

/// Why the reading thread stops early.
enum Stop {
    Source(SourceError),
    /// The consumer went away (it stopped on an error of its own).
    Gone,
}

impl From<SourceError> for Stop {
    fn from(e: SourceError) -> Self {
        Stop::Source(e)
    }
}

fn read_all(
    inputs: &[PathBuf],
    limits: &ReadLimits,
    to: &SyncSender<Reading>,
    spares: &Receiver<Batch>,
) {
    let mut before = 0u64;
    for path in inputs {
        let name = path.display().to_string();
        let read = std::cell::Cell::new(0u64);
        let mut batch = Batch::reuse(spares, &name);
        let result = read_file_counted::<Stop>(path, limits, &read, &mut |item| {
            batch.push(item);
            if batch.len() < BATCH_RECORDS && batch.bytes.len() < BATCH_BYTES {
                return Ok(());
            }
            let mut full = std::mem::replace(&mut batch, Batch::reuse(spares, &name));
            full.bytes_read = before + read.get();
            to.send(Reading::Batch(full)).map_err(|_| Stop::Gone)
        });
        match result {
            Ok(()) => {}
            Err(Stop::Source(e)) => {
                let _ = to.send(Reading::Failed(e));
                return;
            }
            Err(Stop::Gone) => return,
        }
        before += read.get();
        batch.bytes_read = before;
        if !batch.is_empty() && to.send(Reading::Batch(batch)).is_err() {
            return;
        }
    }
    let _ = to.send(Reading::End);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Batches hand over every record of every input once, in order, with its location and
    /// bytes, and stop at the first input that cannot be read.
    #[test]
    fn every_record_comes_over_in_order() {
        let dir = std::env::temp_dir().join(format!("netkpi-background-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let good = dir.join("a.jsonl");
        let lines: Vec<String> = (0..2500).map(|i| format!("not json {i}")).collect();
        std::fs::write(&good, lines.join("\n") + "\n").expect("write");
        let missing = dir.join("missing.jsonl");
        let reader = BackgroundReader::start(
            vec![good.clone(), good.clone(), missing],
            ReadLimits::default(),
        )
        .expect("start");
        let mut seen = Vec::new();
        let mut last_bytes = 0;
        let failed = loop {
            match reader.next().expect("thread") {
                Ok(Some(mut batch)) => {
                    assert!(batch.len() <= BATCH_RECORDS && batch.bytes_read >= last_bytes);
                    last_bytes = batch.bytes_read;
                    batch
                        .for_each::<()>(&mut |item| {
                            let RawPayload::Text(raw) = item.payload else {
                                panic!("text expected");
                            };
                            seen.push(format!("{} {}", item.source, String::from_utf8_lossy(raw)));
                            assert!(item.event.is_err());
                            Ok(())
                        })
                        .expect("no error");
                    assert!(batch.is_empty());
                    reader.recycle(batch);
                }
                Ok(None) => panic!("the missing input must fail"),
                Err(e) => break e,
            }
        };
        assert!(matches!(failed, SourceError::Io { .. }));
        let name = good.display().to_string();
        let expected: Vec<String> = (0..2)
            .flat_map(|_| (0..2500).map(|i| format!("{name}:{} not json {i}", i + 1)))
            .collect();
        assert_eq!(seen, expected);
        assert_eq!(
            last_bytes,
            2 * std::fs::metadata(&good).expect("size").len()
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    /// A batch of long lines closes once its original bytes reach `BATCH_BYTES` (one record
    /// more), long before `BATCH_RECORDS`: what waits in the channel stays bounded in bytes.
    #[test]
    fn a_batch_of_long_lines_closes_at_its_byte_bound() {
        let dir =
            std::env::temp_dir().join(format!("netkpi-background-big-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("long.jsonl");
        let line = "x".repeat(100 << 10);
        let lines: Vec<&str> = (0..40).map(|_| line.as_str()).collect();
        std::fs::write(&path, lines.join("\n") + "\n").expect("write");
        let reader = BackgroundReader::start(vec![path], ReadLimits::default()).expect("start");
        let (mut records, mut batches) = (0, 0);
        while let Ok(Some(batch)) = reader.next().expect("thread") {
            assert!(
                batch.bytes.len() <= BATCH_BYTES + line.len() + 1,
                "{}",
                batch.bytes.len()
            );
            assert!(
                batch.len() <= BATCH_BYTES / line.len() + 1,
                "{} records",
                batch.len()
            );
            records += batch.len();
            batches += 1;
            reader.recycle(batch);
        }
        assert_eq!(records, 40);
        assert!(
            batches >= 40 / (BATCH_BYTES / line.len() + 1),
            "{batches} batches"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
