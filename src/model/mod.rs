//! Domain types of the KPI contract (docs/inputs.md): the three input records, the cell
//! inventory's enums, and the validated [`Event`] the core aggregates.
//!
//! Everything here is plain data. A value of these types has passed validation (see
//! [`validate`]): non-negative times, counts and bytes, `packets_lost ≤ packets_sent`, `mos` in
//! [1, 5], a `RESTORED` with a `started_at` not after its `event_time`. The core relies on that
//! and never re-checks.

pub mod level;
pub mod raw;
pub mod validate;

use std::fmt;

/// Radio access technology of a cell (`UNKNOWN` for a cell outside the inventory).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Technology {
    Gsm,
    Umts,
    Lte,
    Nr,
    Unknown,
}

impl Technology {
    /// Every technology, in the order used for per-technology tables.
    pub const ALL: [Technology; 5] = [
        Technology::Gsm,
        Technology::Umts,
        Technology::Lte,
        Technology::Nr,
        Technology::Unknown,
    ];

    /// The public symbol (`GSM`, `UMTS`, `LTE`, `NR`, `UNKNOWN`).
    pub fn as_str(self) -> &'static str {
        match self {
            Technology::Gsm => "GSM",
            Technology::Umts => "UMTS",
            Technology::Lte => "LTE",
            Technology::Nr => "NR",
            Technology::Unknown => "UNKNOWN",
        }
    }

    /// Parses a symbol; `UNKNOWN` is accepted only where `allow_unknown` says so.
    pub fn parse(s: &str, allow_unknown: bool) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s && (allow_unknown || *t != Technology::Unknown))
    }

    /// Index into per-technology arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Technology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Area class of a cell's site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Area {
    Urban,
    Suburban,
    Rural,
}

impl Area {
    /// The public symbol.
    pub fn as_str(self) -> &'static str {
        match self {
            Area::Urban => "URBAN",
            Area::Suburban => "SUBURBAN",
            Area::Rural => "RURAL",
        }
    }

    /// Parses a symbol.
    pub fn parse(s: &str) -> Option<Self> {
        [Area::Urban, Area::Suburban, Area::Rural]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
}

/// How a call attempt ended; only `NetworkFailure` is the network's fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    Answered,
    Busy,
    NoAnswer,
    Unreachable,
    Rejected,
    NetworkFailure,
}

impl CallOutcome {
    /// Every symbol, in the schema's order.
    pub const ALL: [CallOutcome; 6] = [
        CallOutcome::Answered,
        CallOutcome::Busy,
        CallOutcome::NoAnswer,
        CallOutcome::Unreachable,
        CallOutcome::Rejected,
        CallOutcome::NetworkFailure,
    ];

    /// The public symbol.
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Answered => "ANSWERED",
            CallOutcome::Busy => "BUSY",
            CallOutcome::NoAnswer => "NO_ANSWER",
            CallOutcome::Unreachable => "UNREACHABLE",
            CallOutcome::Rejected => "REJECTED",
            CallOutcome::NetworkFailure => "NETWORK_FAILURE",
        }
    }

    /// Parses a symbol.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// State change reported by an outage record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutageState {
    Down,
    Restored,
}

impl OutageState {
    /// The public symbol.
    pub fn as_str(self) -> &'static str {
        match self {
            OutageState::Down => "DOWN",
            OutageState::Restored => "RESTORED",
        }
    }

    /// Parses a symbol.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "DOWN" => Some(OutageState::Down),
            "RESTORED" => Some(OutageState::Restored),
            _ => None,
        }
    }
}

/// An identifier or short text of a record (ids, plan, cause): up to 24 bytes held inline, with
/// no heap allocation to decode it or to free it (records are decoded on one thread and dropped
/// on another).
pub type Id = compact_str::CompactString;

/// A validated call record (topic `calls`).
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    pub call_id: Id,
    pub event_time: i64,
    pub cell_id: Id,
    pub outcome: CallOutcome,
    pub setup_ms: Option<i32>,
    pub duration_ms: Option<i64>,
    pub dropped: bool,
    pub mos: Option<f64>,
    pub signal_dbm: Option<i32>,
    pub sinr_db: Option<f64>,
}

/// A validated data-session report (topic `data-sessions`).
#[derive(Debug, Clone, PartialEq)]
pub struct DataSession {
    pub session_id: Id,
    pub event_time: i64,
    pub cell_id: Id,
    pub plan: Option<Id>,
    pub active_ms: i64,
    pub dl_bytes: i64,
    pub ul_bytes: i64,
    pub rtt_ms: Option<f64>,
    pub packets_sent: i64,
    pub packets_lost: i64,
    pub signal_dbm: Option<i32>,
    pub sinr_db: Option<f64>,
}

/// A validated outage state change (topic `outages`).
#[derive(Debug, Clone, PartialEq)]
pub struct Outage {
    pub outage_id: Id,
    pub event_time: i64,
    pub cell_id: Id,
    pub state: OutageState,
    /// Set on every `RESTORED` (validation guarantees it); ignored on `DOWN`.
    pub started_at: Option<i64>,
    pub cause: Id,
    pub planned: bool,
}

/// One validated input record of any of the three streams.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Call(CallRecord),
    Session(DataSession),
    Outage(Outage),
}

/// Which of the three input streams a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stream {
    Call,
    Session,
    Outage,
}

impl Stream {
    /// The three streams, in the order of `kafka.input_topics` and of per-stream arrays.
    pub const ALL: [Stream; 3] = [Stream::Call, Stream::Session, Stream::Outage];

    /// Position in [`Stream::ALL`] (and in `kafka.input_topics`).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The `"type"` value of the JSON Lines form.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Call => "call",
            Stream::Session => "data_session",
            Stream::Outage => "outage",
        }
    }
}

impl Event {
    /// Event time in epoch milliseconds.
    pub fn event_time(&self) -> i64 {
        match self {
            Event::Call(c) => c.event_time,
            Event::Session(s) => s.event_time,
            Event::Outage(o) => o.event_time,
        }
    }

    /// Serving or affected cell.
    pub fn cell_id(&self) -> &str {
        match self {
            Event::Call(c) => &c.cell_id,
            Event::Session(s) => &s.cell_id,
            Event::Outage(o) => &o.cell_id,
        }
    }

    /// The stream the record came from.
    pub fn stream(&self) -> Stream {
        match self {
            Event::Call(_) => Stream::Call,
            Event::Session(_) => Stream::Session,
            Event::Outage(_) => Stream::Outage,
        }
    }
}
