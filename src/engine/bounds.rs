//! Plausible event times (docs/operating-limits.md): a record whose `event_time` (or `started_at`) is before
//! `windows.not_before`, or after the latest plausible time, is bad input
//! (`event_time_out_of_range`) and moves nothing. The core reads no clock: the edge passes the
//! wall clock in ([`Engine::set_clock`]) or a fixed bound ([`Engine::set_not_after`]).

use super::Engine;
use crate::model::Event;
use crate::model::validate::{Reason, Reject};

impl Engine {
    /// Sets the latest plausible event time (the edge's wall clock plus `windows.max_future`,
    /// or a fixed bound): a later record is bad input. `None`: no upper bound.
    pub fn set_not_after(&mut self, not_after: Option<i64>) {
        self.not_after = not_after;
    }

    /// Sets the wall clock read at the edge (epoch ms): records more than `windows.max_future`
    /// ahead of it are bad input.
    pub fn set_clock(&mut self, now_ms: i64) {
        self.not_after = Some(now_ms.saturating_add(self.max_future_ms));
    }

    /// Why a record's times are implausible (docs/operating-limits.md), if they are.
    pub(super) fn out_of_range(&self, ev: &Event) -> Option<Reject> {
        let t = ev.event_time();
        let started = match ev {
            Event::Outage(o) => o.started_at,
            _ => None,
        };
        if t < self.not_before || started.is_some_and(|s| s < self.not_before) {
            let field = if t < self.not_before {
                "event_time"
            } else {
                "started_at"
            };
            return Some(Reject::new(
                Reason::EventTimeOutOfRange,
                format!(
                    "`{field}` is before windows.not_before ({} ms)",
                    self.not_before
                ),
            ));
        }
        match self.not_after {
            Some(limit) if t > limit => Some(Reject::new(
                Reason::EventTimeOutOfRange,
                format!(
                    "`event_time` {t} is after {limit}, the latest plausible time (the clock plus windows.max_future)"
                ),
            )),
            _ => None,
        }
    }
}
