//! Writing on a thread of its own: a [`BackgroundWriter`] collects what it is given into chunks
//! of [`CHUNK_BYTES`] and hands them, in order, to a thread that writes them to the file, through
//! a channel that holds at most [`CHUNKS_IN_FLIGHT`] chunks. The bytes that reach the file are
//! exactly those written, in the same order; the producer never waits on the disk unless the
//! channel is full, so at most `CHUNKS_IN_FLIGHT + 2` chunks are held whatever the output's size.
//! A write error on the thread comes back from the next `write` or `flush`.

use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Bytes collected before a chunk is handed over.
pub const CHUNK_BYTES: usize = 1 << 20;
/// Chunks between the producer and the writing thread at most.
pub const CHUNKS_IN_FLIGHT: usize = 4;

enum Message {
    Bytes(Vec<u8>),
    /// Flush the file and answer with the result.
    Flush(SyncSender<io::Result<()>>),
}

/// A [`Write`] whose bytes a second thread writes to `W`.
pub struct BackgroundWriter {
    chunk: Vec<u8>,
    to_thread: Option<SyncSender<Message>>,
    /// Chunks the thread has written, for reuse.
    spare: Receiver<Vec<u8>>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl BackgroundWriter {
    /// Starts the writing thread, named `name`.
    pub fn start<W: Write + Send + 'static>(name: &str, mut inner: W) -> io::Result<Self> {
        let (to_thread, from_producer) = sync_channel::<Message>(CHUNKS_IN_FLIGHT);
        let (give_back, spare) = sync_channel::<Vec<u8>>(CHUNKS_IN_FLIGHT);
        let thread = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                for message in from_producer {
                    match message {
                        Message::Bytes(mut bytes) => {
                            inner.write_all(&bytes)?;
                            bytes.clear();
                            // The producer may have enough spares already: then this one goes.
                            let _ = give_back.try_send(bytes);
                        }
                        Message::Flush(answer) => {
                            let _ = answer.send(inner.flush());
                        }
                    }
                }
                inner.flush()
            })?;
        Ok(BackgroundWriter {
            chunk: Vec::with_capacity(CHUNK_BYTES),
            to_thread: Some(to_thread),
            spare,
            thread: Some(thread),
        })
    }

    /// Hands `message` to the thread; when it has stopped, the error it stopped with.
    fn send(&mut self, message: Message) -> io::Result<()> {
        let sent = self
            .to_thread
            .as_ref()
            .is_some_and(|t| t.send(message).is_ok());
        if sent { Ok(()) } else { Err(self.stopped()) }
    }

    /// The thread stopped: why.
    fn stopped(&mut self) -> io::Error {
        self.to_thread = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(Err(e))) => e,
            Some(Err(_)) => io::Error::other("the output thread panicked"),
            _ => io::Error::other("the output thread has stopped"),
        }
    }

    /// Hands the collected bytes over and starts a new chunk.
    fn hand_over(&mut self) -> io::Result<()> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let next = self
            .spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK_BYTES));
        let full = std::mem::replace(&mut self.chunk, next);
        self.send(Message::Bytes(full))
    }

    /// Writes what is left, stops the thread and returns its result.
    pub fn finish(mut self) -> io::Result<()> {
        self.hand_over()?;
        self.to_thread = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the output thread panicked")),
            None => Err(io::Error::other("the output thread has stopped")),
        }
    }
}

impl Write for BackgroundWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.chunk.extend_from_slice(buf);
        if self.chunk.len() >= CHUNK_BYTES {
            self.hand_over()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.hand_over()?;
        let (answer, result) = sync_channel(1);
        self.send(Message::Flush(answer))?;
        result
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other("the output thread has stopped")))
    }
}

impl Drop for BackgroundWriter {
    fn drop(&mut self) {
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

    #[test]
    fn the_file_gets_exactly_the_bytes_written_in_order() {
        let file = kept(usize::MAX);
        let mut w = BackgroundWriter::start("test-out", file.clone()).expect("start");
        let mut expected = Vec::new();
        // Lines of many sizes, past several chunks, with flushes between.
        for i in 0..200_000u32 {
            let line = format!(
                "{{\"n\":{i},\"pad\":\"{}\"}}\n",
                "x".repeat((i % 97) as usize)
            );
            w.write_all(line.as_bytes()).expect("write");
            expected.extend_from_slice(line.as_bytes());
            if i % 50_000 == 0 {
                w.flush().expect("flush");
                assert_eq!(*file.bytes.lock().expect("lock"), expected);
            }
        }
        assert!(expected.len() > 5 * CHUNK_BYTES);
        w.finish().expect("finish");
        assert_eq!(*file.bytes.lock().expect("lock"), expected);
    }

    #[test]
    fn a_write_error_on_the_thread_comes_back_to_the_producer() {
        let mut w = BackgroundWriter::start("test-out", kept(CHUNK_BYTES)).expect("start");
        let chunk = vec![b'a'; CHUNK_BYTES];
        let mut failed = None;
        for _ in 0..(CHUNKS_IN_FLIGHT + 4) {
            if let Err(e) = w.write_all(&chunk) {
                failed = Some(e);
                break;
            }
        }
        let e = failed
            .or_else(|| w.flush().err())
            .expect("the error comes back");
        assert_eq!(e.to_string(), "disk full");
    }
}
