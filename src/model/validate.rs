//! Validation of decoded records (docs/inputs.md and docs/semantics.md): a [`RawEvent`] becomes an
//! [`Event`] or a [`Reject`] naming the field and the reason. This is the only place that decides
//! what is bad input, for every decoder.
//!
//! Every reject reason is one of [`Reason`]: a bounded, snake_case set, so it can label a metric.

use super::raw::RawEvent;
use super::{CallOutcome, CallRecord, DataSession, Event, Outage, OutageState};
use std::borrow::Cow;
use std::fmt;

/// Why a record was not aggregated. The `as_str` words are the dead-letter `reason`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// Not parseable at all: broken JSON, invalid UTF-8, a corrupt Avro datum or block.
    Malformed,
    /// A field has the wrong type (a string for a number, `1500.0` for an integer, out of range).
    InvalidType,
    /// The JSON `"type"` is not `call`, `data_session` or `outage` (or the Avro record is none of ours).
    UnknownRecordType,
    /// A required field is absent or null.
    MissingField,
    /// An enum field holds a symbol the schema does not have.
    UnknownEnumSymbol,
    /// A time, duration, count, byte value or latency is negative.
    NegativeValue,
    /// A number is NaN or infinite.
    NotFinite,
    /// `packets_lost > packets_sent`.
    PacketsLostExceedSent,
    /// `mos` outside [1.0, 5.0].
    MosOutOfRange,
    /// A `RESTORED` without `started_at`.
    RestoredWithoutStart,
    /// A `RESTORED` whose `started_at` is after its `event_time`.
    StartedAfterEventTime,
    /// An outage on a cell outside the inventory.
    UnknownCell,
    /// The record's window had already closed when it arrived.
    Late,
    /// Confluent framing: the schema registry does not know the record's schema id.
    UnknownSchema,
    /// Confluent framing: the writer's schema cannot be resolved against ours.
    IncompatibleSchema,
    /// `event_time` (or `started_at`) before `windows.not_before`, or further ahead of the wall
    /// clock than `windows.max_future` (docs/operating-limits.md).
    EventTimeOutOfRange,
    /// A record longer than `input.max_record_bytes` (docs/operating-limits.md), or larger than the broker
    /// accepts as a dead letter.
    RecordTooLarge,
}

impl Reason {
    /// Every reason, for metric pre-registration and reports.
    pub const ALL: [Reason; 17] = [
        Reason::Malformed,
        Reason::InvalidType,
        Reason::UnknownRecordType,
        Reason::MissingField,
        Reason::UnknownEnumSymbol,
        Reason::NegativeValue,
        Reason::NotFinite,
        Reason::PacketsLostExceedSent,
        Reason::MosOutOfRange,
        Reason::RestoredWithoutStart,
        Reason::StartedAfterEventTime,
        Reason::UnknownCell,
        Reason::Late,
        Reason::UnknownSchema,
        Reason::IncompatibleSchema,
        Reason::EventTimeOutOfRange,
        Reason::RecordTooLarge,
    ];

    /// The snake_case word written as a dead letter's `reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Malformed => "malformed",
            Reason::InvalidType => "invalid_type",
            Reason::UnknownRecordType => "unknown_record_type",
            Reason::MissingField => "missing_field",
            Reason::UnknownEnumSymbol => "unknown_enum_symbol",
            Reason::NegativeValue => "negative_value",
            Reason::NotFinite => "not_finite",
            Reason::PacketsLostExceedSent => "packets_lost_exceed_sent",
            Reason::MosOutOfRange => "mos_out_of_range",
            Reason::RestoredWithoutStart => "restored_without_started_at",
            Reason::StartedAfterEventTime => "started_after_event_time",
            Reason::UnknownCell => "unknown_cell",
            Reason::Late => "late",
            Reason::UnknownSchema => "unknown_schema",
            Reason::IncompatibleSchema => "incompatible_schema",
            Reason::EventTimeOutOfRange => "event_time_out_of_range",
            Reason::RecordTooLarge => "record_too_large",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rejected record: the reason and a human-readable detail naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {detail}")]
pub struct Reject {
    pub reason: Reason,
    pub detail: String,
}

impl Reject {
    /// Builds a reject.
    pub fn new(reason: Reason, detail: impl Into<String>) -> Self {
        Reject {
            reason,
            detail: detail.into(),
        }
    }
}

fn required<T>(v: Option<T>, field: &str) -> Result<T, Reject> {
    v.ok_or_else(|| Reject::new(Reason::MissingField, format!("missing field `{field}`")))
}

fn text(v: &Option<Cow<'_, str>>, field: &str) -> Result<super::Id, Reject> {
    required(v.as_deref(), field).map(super::Id::from)
}

fn non_negative(v: i64, field: &str) -> Result<i64, Reject> {
    if v < 0 {
        Err(Reject::new(
            Reason::NegativeValue,
            format!("`{field}` is negative ({v})"),
        ))
    } else {
        Ok(v)
    }
}

fn finite(v: Option<f64>, field: &str) -> Result<Option<f64>, Reject> {
    match v {
        Some(x) if !x.is_finite() => Err(Reject::new(
            Reason::NotFinite,
            format!("`{field}` is not a finite number"),
        )),
        other => Ok(other),
    }
}

/// Turns a decoded record into a valid [`Event`], or says why it is bad input.
pub fn validate(raw: &RawEvent<'_>) -> Result<Event, Reject> {
    let kind = required(raw.kind.as_deref(), "type")?;
    match kind {
        "call" => validate_call(raw).map(Event::Call),
        "data_session" => validate_session(raw).map(Event::Session),
        "outage" => validate_outage(raw).map(Event::Outage),
        other => Err(Reject::new(
            Reason::UnknownRecordType,
            format!("`type` is `{other}`; expected call, data_session or outage"),
        )),
    }
}

fn validate_call(raw: &RawEvent<'_>) -> Result<CallRecord, Reject> {
    let outcome = required(raw.outcome.as_deref(), "outcome")?;
    let outcome = CallOutcome::parse(outcome).ok_or_else(|| {
        Reject::new(
            Reason::UnknownEnumSymbol,
            format!("`outcome` has unknown symbol `{outcome}`"),
        )
    })?;
    let event_time = non_negative(required(raw.event_time, "event_time")?, "event_time")?;
    let dropped = required(raw.dropped, "dropped")?;
    if let Some(setup) = raw.setup_ms {
        non_negative(i64::from(setup), "setup_ms")?;
    }
    if let Some(duration) = raw.duration_ms {
        non_negative(duration, "duration_ms")?;
    }
    let mos = finite(raw.mos, "mos")?;
    if let Some(m) = mos
        && !(1.0..=5.0).contains(&m)
    {
        return Err(Reject::new(
            Reason::MosOutOfRange,
            format!("`mos` {m} is outside [1, 5]"),
        ));
    }
    Ok(CallRecord {
        call_id: text(&raw.call_id, "call_id")?,
        cell_id: text(&raw.cell_id, "cell_id")?,
        event_time,
        outcome,
        setup_ms: raw.setup_ms,
        duration_ms: raw.duration_ms,
        dropped,
        mos,
        signal_dbm: raw.signal_dbm,
        sinr_db: raw.sinr_db,
    })
}

fn validate_session(raw: &RawEvent<'_>) -> Result<DataSession, Reject> {
    let event_time = non_negative(required(raw.event_time, "event_time")?, "event_time")?;
    let active_ms = non_negative(required(raw.active_ms, "active_ms")?, "active_ms")?;
    let dl_bytes = non_negative(required(raw.dl_bytes, "dl_bytes")?, "dl_bytes")?;
    let ul_bytes = non_negative(required(raw.ul_bytes, "ul_bytes")?, "ul_bytes")?;
    let packets_sent = non_negative(required(raw.packets_sent, "packets_sent")?, "packets_sent")?;
    let packets_lost = non_negative(required(raw.packets_lost, "packets_lost")?, "packets_lost")?;
    if packets_lost > packets_sent {
        return Err(Reject::new(
            Reason::PacketsLostExceedSent,
            format!("`packets_lost` ({packets_lost}) exceeds `packets_sent` ({packets_sent})"),
        ));
    }
    let rtt_ms = finite(raw.rtt_ms, "rtt_ms")?;
    if let Some(r) = rtt_ms
        && r < 0.0
    {
        return Err(Reject::new(
            Reason::NegativeValue,
            format!("`rtt_ms` is negative ({r})"),
        ));
    }
    Ok(DataSession {
        session_id: text(&raw.session_id, "session_id")?,
        cell_id: text(&raw.cell_id, "cell_id")?,
        plan: raw.plan.as_deref().map(super::Id::from),
        event_time,
        active_ms,
        dl_bytes,
        ul_bytes,
        rtt_ms,
        packets_sent,
        packets_lost,
        signal_dbm: raw.signal_dbm,
        sinr_db: raw.sinr_db,
    })
}

fn validate_outage(raw: &RawEvent<'_>) -> Result<Outage, Reject> {
    let state = required(raw.state.as_deref(), "state")?;
    let state = OutageState::parse(state).ok_or_else(|| {
        Reject::new(
            Reason::UnknownEnumSymbol,
            format!("`state` has unknown symbol `{state}`"),
        )
    })?;
    let event_time = non_negative(required(raw.event_time, "event_time")?, "event_time")?;
    let started_at = match raw.started_at {
        Some(s) => Some(non_negative(s, "started_at")?),
        None => None,
    };
    let planned = required(raw.planned, "planned")?;
    let outage = Outage {
        outage_id: text(&raw.outage_id, "outage_id")?,
        cell_id: text(&raw.cell_id, "cell_id")?,
        cause: text(&raw.cause, "cause")?,
        event_time,
        state,
        started_at,
        planned,
    };
    if state == OutageState::Restored {
        match started_at {
            None => {
                return Err(Reject::new(
                    Reason::RestoredWithoutStart,
                    "a `RESTORED` record needs `started_at`",
                ));
            }
            Some(s) if s > event_time => {
                return Err(Reject::new(
                    Reason::StartedAfterEventTime,
                    format!("`started_at` ({s}) is after `event_time` ({event_time})"),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(outage)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> RawEvent<'static> {
        RawEvent {
            kind: Some("call".into()),
            call_id: Some("c1".into()),
            event_time: Some(1000),
            cell_id: Some("A".into()),
            outcome: Some("ANSWERED".into()),
            dropped: Some(false),
            ..RawEvent::default()
        }
    }

    fn session() -> RawEvent<'static> {
        RawEvent {
            kind: Some("data_session".into()),
            session_id: Some("s1".into()),
            event_time: Some(1000),
            cell_id: Some("A".into()),
            active_ms: Some(10),
            dl_bytes: Some(1),
            ul_bytes: Some(1),
            packets_sent: Some(10),
            packets_lost: Some(1),
            ..RawEvent::default()
        }
    }

    fn outage(state: &'static str, started_at: Option<i64>) -> RawEvent<'static> {
        RawEvent {
            kind: Some("outage".into()),
            outage_id: Some("o1".into()),
            event_time: Some(1000),
            cell_id: Some("A".into()),
            state: Some(state.into()),
            started_at,
            cause: Some("POWER".into()),
            planned: Some(false),
            ..RawEvent::default()
        }
    }

    fn reason(r: RawEvent<'_>) -> Reason {
        validate(&r).expect_err("must be rejected").reason
    }

    #[test]
    fn valid_records_pass() {
        assert!(matches!(validate(&call()), Ok(Event::Call(_))));
        assert!(matches!(validate(&session()), Ok(Event::Session(_))));
        assert!(matches!(
            validate(&outage("DOWN", None)),
            Ok(Event::Outage(_))
        ));
        assert!(matches!(
            validate(&outage("RESTORED", Some(1000))),
            Ok(Event::Outage(_))
        ));
    }

    #[test]
    fn each_fault_has_its_reason() {
        assert_eq!(reason(RawEvent::default()), Reason::MissingField);
        let mut r = call();
        r.kind = Some("sms".into());
        assert_eq!(reason(r), Reason::UnknownRecordType);
        let mut r = call();
        r.cell_id = None;
        assert_eq!(reason(r), Reason::MissingField);
        let mut r = call();
        r.outcome = Some("HUNG_UP".into());
        assert_eq!(reason(r), Reason::UnknownEnumSymbol);
        let mut r = call();
        r.mos = Some(5.5);
        assert_eq!(reason(r), Reason::MosOutOfRange);
        let mut r = call();
        r.mos = Some(0.99);
        assert_eq!(reason(r), Reason::MosOutOfRange);
        let mut r = call();
        r.duration_ms = Some(-1);
        assert_eq!(reason(r), Reason::NegativeValue);
        let mut r = call();
        r.setup_ms = Some(-1);
        assert_eq!(reason(r), Reason::NegativeValue);
        let mut r = call();
        r.event_time = Some(-5);
        assert_eq!(reason(r), Reason::NegativeValue);
        let mut r = session();
        r.packets_lost = Some(11);
        assert_eq!(reason(r), Reason::PacketsLostExceedSent);
        let mut r = session();
        r.dl_bytes = Some(-1);
        assert_eq!(reason(r), Reason::NegativeValue);
        let mut r = session();
        r.rtt_ms = Some(-0.5);
        assert_eq!(reason(r), Reason::NegativeValue);
        let mut r = session();
        r.rtt_ms = Some(f64::NAN);
        assert_eq!(reason(r), Reason::NotFinite);
        assert_eq!(
            reason(outage("RESTORED", None)),
            Reason::RestoredWithoutStart
        );
        assert_eq!(
            reason(outage("RESTORED", Some(1001))),
            Reason::StartedAfterEventTime
        );
        assert_eq!(reason(outage("UP", None)), Reason::UnknownEnumSymbol);
        assert_eq!(reason(outage("DOWN", Some(-1))), Reason::NegativeValue);
    }

    #[test]
    fn accepted_oddities() {
        // docs/semantics.md: setup_ms on any outcome, duration_ms on unanswered calls, started_at on DOWN.
        let mut r = call();
        r.outcome = Some("BUSY".into());
        r.setup_ms = Some(100);
        r.duration_ms = Some(5);
        assert!(validate(&r).is_ok());
        assert!(validate(&outage("DOWN", Some(5000))).is_ok());
    }
}
