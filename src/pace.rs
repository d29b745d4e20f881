//! Wall-clock pacing of generated traffic (the shell around the generator, which itself never
//! reads a clock): either a fixed number of records per second, or event time running a fixed
//! factor faster than the clock. A shared stop flag ends the stream early.

use crate::traffic::GenItem;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How fast to release records.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// As fast as the consumer of the iterator takes them.
    Unpaced,
    /// This many records per wall-clock second.
    RecordsPerSecond(f64),
    /// Event time advances this many times faster than the clock, from `start_event_ms`.
    Speedup { factor: f64, start_event_ms: i64 },
}

/// An iterator releasing items of `inner` at a pace.
pub struct Paced<I> {
    inner: I,
    pace: Pace,
    started: Instant,
    released: u64,
    stop: Arc<AtomicBool>,
}

impl<I: Iterator<Item = GenItem>> Paced<I> {
    /// Paces `inner`; setting `stop` ends the iteration.
    pub fn new(inner: I, pace: Pace, stop: Arc<AtomicBool>) -> Self {
        Paced {
            inner,
            pace,
            started: Instant::now(),
            released: 0,
            stop,
        }
    }

    /// Sleeps (in short slices, watching `stop`) until `due` after the start.
    fn wait_until(&self, due: Duration) -> bool {
        while let Some(left) = due.checked_sub(self.started.elapsed()) {
            if self.stop.load(Ordering::SeqCst) {
                return false;
            }
            std::thread::sleep(left.min(Duration::from_millis(100)));
        }
        !self.stop.load(Ordering::SeqCst)
    }
}

impl<I: Iterator<Item = GenItem>> Iterator for Paced<I> {
    type Item = GenItem;

    fn next(&mut self) -> Option<GenItem> {
        if self.stop.load(Ordering::SeqCst) {
            return None;
        }
        let item = self.inner.next()?;
        let due = match (self.pace, &item) {
            (Pace::RecordsPerSecond(r), _) if r > 0.0 => {
                Some(Duration::from_secs_f64(self.released as f64 / r))
            }
            (
                Pace::Speedup {
                    factor,
                    start_event_ms,
                },
                GenItem::Event(ev),
            ) if factor > 0.0 => Some(Duration::from_secs_f64(
                (ev.event_time() - start_event_ms).max(0) as f64 / 1000.0 / factor,
            )),
            _ => None,
        };
        self.released += 1;
        if let Some(due) = due
            && !self.wait_until(due)
        {
            return None;
        }
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::{GenOptions, Generator, synthetic_inventory};

    #[test]
    fn a_fixed_rate_takes_its_time_and_stop_ends_it() {
        let stop = Arc::new(AtomicBool::new(false));
        let traffic = Generator::new(
            synthetic_inventory(10, 1),
            GenOptions {
                max_records: 21,
                ..GenOptions::default()
            },
        );
        let t = Instant::now();
        let n = Paced::new(traffic, Pace::RecordsPerSecond(100.0), stop.clone()).count();
        assert_eq!(n, 21);
        assert!(t.elapsed() >= Duration::from_millis(190));
        stop.store(true, Ordering::SeqCst);
        let traffic = Generator::new(synthetic_inventory(10, 1), GenOptions::default());
        assert_eq!(
            Paced::new(traffic, Pace::RecordsPerSecond(1.0), stop).count(),
            0
        );
    }
}
