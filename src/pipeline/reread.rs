//! Watching the re-read after a restore: a unit rebuilding its open windows reads its inputs up
//! to the position its checkpoint was taken at. A broker can fail to deliver that far (Tansu's
//! `read_committed` readers have been seen to stop short of offsets served before). The unit
//! never waits silently: after [`WARN_AFTER`] without progress it logs what it waits for and
//! since when and `/readyz` says so; after [`GIVE_UP_AFTER`] it fails with
//! [`PipelineError::RereadStalled`], a transient error: the unit is restarted from its
//! checkpoint with fresh clients, which is how such a stall has been seen to end.

use super::PipelineError;
use crate::telemetry::health::Health;
use std::time::{Duration, Instant};

/// Silence before the wait is logged and reported.
pub const WARN_AFTER: Duration = Duration::from_secs(10);
/// Silence before the unit gives up and is restarted.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(120);

/// The progress of one unit's re-read.
pub(super) struct RereadWatch {
    who: String,
    position: i64,
    moved_at: Instant,
    warned_at: Option<Instant>,
    /// When the unit started (before its checkpoint was looked up), until it is ready.
    started: Option<Instant>,
}

impl RereadWatch {
    pub(super) fn new(who: &str) -> Self {
        RereadWatch {
            who: who.to_string(),
            position: i64::MIN,
            moved_at: Instant::now(),
            warned_at: None,
            started: Some(Instant::now()),
        }
    }

    /// Called while re-reading: `position` grows as records arrive; `waiting_for` says what
    /// is still to come.
    pub(super) fn check(
        &mut self,
        position: i64,
        waiting_for: impl FnOnce() -> String,
        now: Instant,
        health: &Health,
    ) -> Result<(), PipelineError> {
        if position != self.position {
            self.position = position;
            self.moved_at = now;
            return Ok(());
        }
        let silent = now.duration_since(self.moved_at);
        if silent < WARN_AFTER {
            return Ok(());
        }
        let what = waiting_for();
        if self
            .warned_at
            .is_none_or(|at| now.duration_since(at) >= WARN_AFTER)
        {
            self.warned_at = Some(now);
            tracing::warn!(
                unit = %self.who,
                waiting_for = %what,
                silent_s = silent.as_secs(),
                give_up_after_s = GIVE_UP_AFTER.as_secs(),
                "re-reading after a restore makes no progress"
            );
            health.waiting(&self.who, format!("re-reading after a restore: {what}"));
        }
        if silent >= GIVE_UP_AFTER {
            return Err(PipelineError::RereadStalled {
                unit: self.who.clone(),
                waiting_for: what,
                seconds: silent.as_secs(),
            });
        }
        Ok(())
    }

    /// The re-read is over (called on every pass after it; logs once how long the unit took
    /// from its start — checkpoint lookup, restore, re-read — to being ready).
    pub(super) fn finished(&mut self, health: &Health) {
        if let Some(started) = self.started.take() {
            tracing::info!(
                unit = %self.who,
                ready_after_s = format!("{:.3}", started.elapsed().as_secs_f64()),
                "unit ready: checkpoint looked up, state restored, open windows re-read"
            );
            if self.warned_at.is_some() {
                health.done(&self.who);
            }
        }
    }
}
