//! `netkpi replay` (docs/semantics.md): input files, in the order given, as one ordered stream
//! (read and decoded on a second core, [`crate::source::background`]) through the engine with
//! the single-partition watermark; KPI records, breach events and dead
//! letters as JSON Lines. Nothing here reads the clock, so the same input and configuration
//! always give the same bytes.

use crate::engine::sources::Origin;
use crate::engine::{Disposition, Engine};
use crate::sink::jsonl::{BackgroundJsonlOutput, dead_letter_line};
use crate::source::background::{BackgroundError, BackgroundReader};
use crate::source::{ReadLimits, SourceError};
use crate::telemetry::progress_display::{Position, ProgressDisplay};
use crate::telemetry::{Counters, Observed, Reporters};
use std::io::Write;
use std::path::PathBuf;

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Reading(#[from] BackgroundError),
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

/// Where a replay's latest plausible event time comes from (docs/operating-limits.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The wall clock (plus `windows.max_future`), read every [`CLOCK_EVERY`] records.
    Wall,
    /// A fixed bound (`--not-after`): byte-reproducible replays of future-dated data.
    NotAfter(i64),
}

/// Records between two reads of the wall clock.
pub const CLOCK_EVERY: u64 = 4096;

/// How a replay reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayOptions {
    pub limits: ReadLimits,
    pub clock: Clock,
}

impl ReplayOptions {
    /// The configuration's read limits and the wall clock.
    pub fn of(settings: &crate::config::Settings) -> Self {
        ReplayOptions {
            limits: ReadLimits::of(settings),
            clock: Clock::Wall,
        }
    }
}

/// Replays `inputs` through `engine`, writing to the three writers (and reporting to `metrics`,
/// which remote-writes when configured); returns the run's counters. KPI records are encoded
/// and written on a thread of their own (`netkpi-write`), so `kpis` needs no buffer of its own.
pub fn replay<K: Write + Send, B: Write, D: Write>(
    engine: &mut Engine,
    inputs: &[PathBuf],
    opts: &ReplayOptions,
    kpis: K,
    breaches: B,
    dead: D,
    reporters: Reporters<'_>,
) -> Result<Counters, ReplayError> {
    std::thread::scope(|scope| {
        let out = BackgroundJsonlOutput::start(scope, "netkpi-write", kpis, breaches)?;
        replay_into(engine, inputs, opts, Observed::new(out, reporters), dead)
    })
}

fn replay_into<B: Write, D: Write>(
    engine: &mut Engine,
    inputs: &[PathBuf],
    opts: &ReplayOptions,
    mut out: Observed<'_, BackgroundJsonlOutput<'_, B>>,
    mut dead: D,
) -> Result<Counters, ReplayError> {
    let mut counters = Counters::default();
    let mut buf = Vec::with_capacity(1024);
    let tick = |engine: &mut Engine| match opts.clock {
        Clock::Wall => engine.set_clock(crate::clock::wall_ms()),
        Clock::NotAfter(t) => engine.set_not_after(Some(t)),
    };
    tick(engine);
    // Progress: share done by bytes when every input is a file of known size.
    let total_bytes: Option<u64> = inputs
        .iter()
        .map(|p| {
            std::fs::metadata(p)
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len())
        })
        .sum();
    let mut progress = ProgressDisplay::new("replay");
    let reader = BackgroundReader::start(inputs.to_vec(), opts.limits)?;
    while let Some(mut batch) = reader.next()?? {
        let bytes_read = batch.bytes_read;
        batch.for_each::<ReplayError>(&mut |item| {
            counters.records_read += 1;
            if counters.records_read % CLOCK_EVERY == 0 {
                tick(engine);
                let done = total_bytes
                    .filter(|t| *t > 0)
                    .map(|t| bytes_read as f64 / t as f64);
                let at = Position {
                    records: counters.records_read,
                    event_time: engine.max_event_time(),
                    done,
                };
                progress.update(std::time::Instant::now(), &at);
            }
            let letter = match &item.event {
                Err(reject) => Some(item.dead_letter(reject)),
                Ok(ev) => match engine
                    .ingest_and_advance(ev, Origin::file(counters.records_read), &mut out)?
                    .disposition(ev)
                {
                    Disposition::Kept => None,
                    Disposition::LateOutage => {
                        counters.late_outage_records += 1;
                        None
                    }
                    Disposition::DeadLetter(reject) => Some(item.dead_letter(&reject)),
                },
            };
            if let Some(letter) = letter {
                counters.dead_letter(letter.reason);
                buf.clear();
                dead_letter_line(&mut buf, &letter);
                dead.write_all(&buf)?;
            }
            Ok(())
        })?;
        reader.recycle(batch);
    }
    progress.finish();
    engine.finish(&mut out)?;
    out.inner.finish()?;
    dead.flush()?;
    Ok(counters)
}
