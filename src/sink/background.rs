//! Encoding and writing on a thread of their own: a [`BackgroundLines`] collects the values it
//! is given into batches of [`BATCH_VALUES`] and hands them, in order, to a scoped thread that
//! encodes each one (with the function it was started with) and writes the bytes to the file in
//! chunks of about [`CHUNK_BYTES`]. The file gets exactly the bytes the values encode to, in
//! order. The producer never waits on the encoding or the disk unless [`BATCHES_IN_FLIGHT`]
//! batches are already waiting, so at most `BATCHES_IN_FLIGHT + 2` batches and one chunk are
//! held whatever the output's size. A write error on the thread comes back from the next
//! [`BackgroundLines::push`] or from [`BackgroundLines::finish`].

use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::{Scope, ScopedJoinHandle};

/// Values collected before a batch is handed over.
pub const BATCH_VALUES: usize = 256;
/// Batches between the producer and the encoding thread at most.
pub const BATCHES_IN_FLIGHT: usize = 8;
/// Encoded bytes the thread collects before it writes them (one value's more at most).
pub const CHUNK_BYTES: usize = 1 << 20;

/// Values of `T` whose encodings a second thread writes to a file.
pub struct BackgroundLines<'scope, T> {
    batch: Vec<T>,
    to_thread: Option<SyncSender<Vec<T>>>,
    /// Batches the thread has encoded, for reuse.
    spare: Receiver<Vec<T>>,
    thread: Option<ScopedJoinHandle<'scope, io::Result<()>>>,
}

impl<'scope, T: Send + 'scope> BackgroundLines<'scope, T> {
    /// Starts the thread, named `name`, in `scope`: it appends `encode`'s bytes for each value
    /// to `inner`.
    pub fn start<W: Write + Send + 'scope>(
        scope: &'scope Scope<'scope, '_>,
        name: &str,
        mut inner: W,
        encode: fn(&T, &mut Vec<u8>),
    ) -> io::Result<Self> {
        let (to_thread, from_producer) = sync_channel::<Vec<T>>(BATCHES_IN_FLIGHT);
        let (give_back, spare) = sync_channel::<Vec<T>>(BATCHES_IN_FLIGHT);
        let thread = std::thread::Builder::new()
            .name(name.to_string())
            .spawn_scoped(scope, move || {
                let mut bytes = Vec::with_capacity(CHUNK_BYTES);
                for mut batch in from_producer {
                    for value in &batch {
                        encode(value, &mut bytes);
                        if bytes.len() >= CHUNK_BYTES {
                            inner.write_all(&bytes)?;
                            bytes.clear();
                        }
                    }
                    batch.clear();
                    // The producer may have enough spares already: then this one goes.
                    let _ = give_back.try_send(batch);
                }
                inner.write_all(&bytes)?;
                inner.flush()
            })?;
        Ok(BackgroundLines {
            batch: Vec::with_capacity(BATCH_VALUES),
            to_thread: Some(to_thread),
            spare,
            thread: Some(thread),
        })
    }
}

impl<T> BackgroundLines<'_, T> {
    /// Adds a value; hands the batch over once it is full.
    pub fn push(&mut self, value: T) -> io::Result<()> {
        self.batch.push(value);
        if self.batch.len() >= BATCH_VALUES {
            self.hand_over()?;
        }
        Ok(())
    }

    /// Hands the collected values over and starts a new batch.
    fn hand_over(&mut self) -> io::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let next = self
            .spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BATCH_VALUES));
        let full = std::mem::replace(&mut self.batch, next);
        let sent = self
            .to_thread
            .as_ref()
            .is_some_and(|t| t.send(full).is_ok());
        if sent { Ok(()) } else { Err(self.join()) }
    }

    /// Stops the thread (once what it was given is written) and returns how it ended.
    fn stop(&mut self) -> io::Result<()> {
        self.to_thread = None;
        match self.thread.take().map(ScopedJoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the output thread panicked")),
            None => Err(io::Error::other("the output thread has stopped")),
        }
    }

    /// The thread stopped early: why.
    fn join(&mut self) -> io::Error {
        match self.stop() {
            Err(e) => e,
            Ok(()) => io::Error::other("the output thread has stopped"),
        }
    }

    /// Writes what is left, stops the thread and returns its result (the file flushed).
    pub fn finish(mut self) -> io::Result<()> {
        self.hand_over()?;
        self.stop()
    }
}

impl<T> Drop for BackgroundLines<'_, T> {
    fn drop(&mut self) {
        // Without `finish` (the producer stopped on an error): what was pushed is still written.
        let _ = self.hand_over();
        self.to_thread = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A file that keeps what it was given, failing once it holds `fail_after` bytes.
    #[derive(Clone)]
    struct Kept {
        bytes: Arc<Mutex<Vec<u8>>>,
        fail_after: usize,
    }

    impl Write for Kept {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut bytes = self
                .bytes
                .lock()
                .map_err(|_| io::Error::other("poisoned"))?;
            if bytes.len() >= self.fail_after {
                return Err(io::Error::other("disk full"));
            }
            bytes.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn kept(fail_after: usize) -> Kept {
        Kept {
            bytes: Arc::new(Mutex::new(Vec::new())),
            fail_after,
        }
    }

    fn line(v: &String, out: &mut Vec<u8>) {
        out.extend_from_slice(v.as_bytes());
        out.push(b'\n');
    }

    #[test]
    fn the_file_gets_exactly_the_encoded_values_in_order() {
        let file = kept(usize::MAX);
        let mut expected = Vec::new();
        std::thread::scope(|scope| {
            let mut w =
                BackgroundLines::start(scope, "test-out", file.clone(), line).expect("start");
            // Lines of many sizes, past several chunks.
            for i in 0..200_000u32 {
                let v = format!(
                    "{{\"n\":{i},\"pad\":\"{}\"}}",
                    "x".repeat((i % 97) as usize)
                );
                line(&v, &mut expected);
                w.push(v).expect("push");
            }
            w.finish().expect("finish");
        });
        assert!(expected.len() > 5 * CHUNK_BYTES);
        assert_eq!(*file.bytes.lock().expect("lock"), expected);
    }

    #[test]
    fn a_write_error_on_the_thread_comes_back_to_the_producer() {
        std::thread::scope(|scope| {
            let mut w =
                BackgroundLines::start(scope, "test-out", kept(CHUNK_BYTES), line).expect("start");
            let big = "a".repeat(CHUNK_BYTES / BATCH_VALUES);
            let mut failed = None;
            for _ in 0..(BATCHES_IN_FLIGHT + 8) * BATCH_VALUES {
                if let Err(e) = w.push(big.clone()) {
                    failed = Some(e);
                    break;
                }
            }
            let e = match failed {
                Some(e) => e,
                None => w.finish().expect_err("the error comes back"),
            };
            assert_eq!(e.to_string(), "disk full");
        });
    }
}
