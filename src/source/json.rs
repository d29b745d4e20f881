//! JSON Lines input (spec sections 6 and 9.8): one record a line, the Avro fields by name plus
//! `"type"`. Integers are accepted for floats, a fractional number for an integer is bad input,
//! `null` in a required field is a missing field, unknown keys are ignored, blank lines skipped.

use super::{Item, Location, RawPayload, SourceError};
use crate::model::Event;
use crate::model::raw::RawEvent;
use crate::model::validate::{Reason, Reject, validate};
use std::io::BufRead;
use std::path::Path;

/// Decodes and validates one JSON line.
pub fn decode_line(line: &[u8]) -> Result<Event, Reject> {
    let text = std::str::from_utf8(line)
        .map_err(|e| Reject::new(Reason::Malformed, format!("invalid UTF-8: {e}")))?;
    match serde_json::from_str::<RawEvent<'_>>(text) {
        Ok(raw) => validate(raw),
        Err(e) if e.is_data() => {
            // Re-parse on this rare path to name the offending field.
            let mut de = serde_json::Deserializer::from_str(text);
            let path = match serde_path_to_error::deserialize::<_, RawEvent<'_>>(&mut de) {
                Err(pe) => pe.path().to_string(),
                Ok(_) => String::from("?"),
            };
            Err(Reject::new(Reason::InvalidType, format!("`{path}`: {e}")))
        }
        Err(e) => Err(Reject::new(
            Reason::Malformed,
            format!("not valid JSON: {e}"),
        )),
    }
}

/// Encodes a valid event as one JSON line (without the newline): the inverse of [`decode_line`].
pub fn encode_event(ev: &Event) -> String {
    use serde_json::{Map, Value, json};
    let mut m = Map::new();
    m.insert("type".into(), json!(ev.stream().as_str()));
    let opt_f = |v: Option<f64>| v.map_or(Value::Null, |x| json!(x));
    match ev {
        Event::Call(c) => {
            m.insert("call_id".into(), json!(c.call_id));
            m.insert("event_time".into(), json!(c.event_time));
            m.insert("cell_id".into(), json!(c.cell_id));
            m.insert("outcome".into(), json!(c.outcome.as_str()));
            m.insert("setup_ms".into(), json!(c.setup_ms));
            m.insert("duration_ms".into(), json!(c.duration_ms));
            m.insert("dropped".into(), json!(c.dropped));
            m.insert("mos".into(), opt_f(c.mos));
            m.insert("signal_dbm".into(), json!(c.signal_dbm));
            m.insert("sinr_db".into(), opt_f(c.sinr_db));
        }
        Event::Session(x) => {
            m.insert("session_id".into(), json!(x.session_id));
            m.insert("event_time".into(), json!(x.event_time));
            m.insert("cell_id".into(), json!(x.cell_id));
            m.insert("plan".into(), json!(x.plan));
            m.insert("active_ms".into(), json!(x.active_ms));
            m.insert("dl_bytes".into(), json!(x.dl_bytes));
            m.insert("ul_bytes".into(), json!(x.ul_bytes));
            m.insert("rtt_ms".into(), opt_f(x.rtt_ms));
            m.insert("packets_sent".into(), json!(x.packets_sent));
            m.insert("packets_lost".into(), json!(x.packets_lost));
            m.insert("signal_dbm".into(), json!(x.signal_dbm));
            m.insert("sinr_db".into(), opt_f(x.sinr_db));
        }
        Event::Outage(o) => {
            m.insert("outage_id".into(), json!(o.outage_id));
            m.insert("event_time".into(), json!(o.event_time));
            m.insert("cell_id".into(), json!(o.cell_id));
            m.insert("state".into(), json!(o.state.as_str()));
            m.insert("started_at".into(), json!(o.started_at));
            m.insert("cause".into(), json!(o.cause));
            m.insert("planned".into(), json!(o.planned));
        }
    }
    Value::Object(m).to_string()
}

/// Reads a JSON Lines file, calling `f` for each non-blank line.
pub fn read_lines<E: From<SourceError>>(
    path: &Path,
    name: &str,
    f: &mut dyn FnMut(Item<'_>) -> Result<(), E>,
) -> Result<(), E> {
    let io = |source| SourceError::Io {
        path: name.to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut buf = Vec::with_capacity(1024);
    let mut line_no = 0u64;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).map_err(io)? == 0 {
            return Ok(());
        }
        line_no += 1;
        let mut line = buf.as_slice();
        while let [rest @ .., b'\n' | b'\r'] = line {
            line = rest;
        }
        // Blank means JSON whitespace only; any other byte makes a record (maybe a bad one).
        if line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
            continue;
        }
        f(Item {
            event: decode_line(line),
            source: Location {
                file: name,
                index: line_no,
            },
            payload: RawPayload::Text(line),
        })?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(line: &str) -> Reason {
        decode_line(line.as_bytes())
            .expect_err("must be rejected")
            .reason
    }

    const CALL: &str = r#"{"type":"call","call_id":"c1","event_time":1000,"cell_id":"A","outcome":"ANSWERED","dropped":false"#;

    #[test]
    fn integer_for_float_is_accepted() {
        let line = format!(r#"{CALL},"mos":4,"extra":{{"x":1}}}}"#);
        match decode_line(line.as_bytes()) {
            Ok(Event::Call(c)) => assert_eq!(c.mos, Some(4.0)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_lines_have_reasons() {
        assert_eq!(
            reason(&format!(r#"{CALL},"setup_ms":1500.0}}"#)),
            Reason::InvalidType
        );
        assert_eq!(
            reason(&format!(r#"{CALL},"setup_ms":"fast"}}"#)),
            Reason::InvalidType
        );
        assert_eq!(
            reason(&format!(r#"{CALL},"setup_ms":99999999999}}"#)),
            Reason::InvalidType
        );
        assert_eq!(
            reason(
                r#"{"type":"call","call_id":"c","event_time":1,"cell_id":null,"outcome":"BUSY","dropped":false,"mos":null}"#
            ),
            Reason::MissingField
        );
        assert_eq!(reason(CALL), Reason::Malformed);
        assert_eq!(reason("{\"type\":\"call\"\u{0}"), Reason::Malformed);
        assert_eq!(reason("[1,2]"), Reason::InvalidType);
        let err = decode_line(format!(r#"{CALL},"duration_ms":1.5}}"#).as_bytes()).unwrap_err();
        assert!(err.detail.contains("duration_ms"), "{}", err.detail);
        assert_eq!(
            decode_line(&[b'{', 0xff, b'}']).unwrap_err().reason,
            Reason::Malformed
        );
    }
}
