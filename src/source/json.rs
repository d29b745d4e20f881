//! JSON Lines input (docs/outputs.md and docs/semantics.md): one record a line, the Avro fields by name plus
//! `"type"`. Integers are accepted for floats, a fractional number for an integer is bad input,
//! `null` in a required field is a missing field, unknown keys are ignored, blank lines skipped.
//! A flat line takes a fast path (`json_flat`) that decodes exactly as serde_json does;
//! serde_json decodes every other line and names every error.

use super::json_flat::decode_flat;
use super::{Item, Location, RawPayload, SourceError};
use crate::model::Event;
use crate::model::raw::RawEvent;
use crate::model::validate::{Reason, Reject, validate};
use std::io::BufRead;

/// Decodes and validates one JSON line.
pub fn decode_line(line: &[u8]) -> Result<Event, Reject> {
    let text = std::str::from_utf8(line)
        .map_err(|e| Reject::new(Reason::Malformed, format!("invalid UTF-8: {e}")))?;
    let mut raw = RawEvent::default();
    if decode_flat(text, &mut raw) {
        return validate(&raw);
    }
    match serde_json::from_str::<RawEvent<'_>>(text) {
        Ok(raw) => validate(&raw),
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

/// How much of an over-long line a dead letter keeps.
const TOO_LARGE_PAYLOAD: usize = 4096;

/// Reads one line (ending at LF, CR or CRLF, or at the end of input) into `buf`, keeping at
/// most `max + 1` bytes of it; returns the line's full length, or `None` at the end of input.
pub fn read_line(
    reader: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Option<usize>> {
    let mut len = 0usize;
    let mut any = false;
    loop {
        let chunk = match reader.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(any.then_some(len));
        }
        any = true;
        match memchr::memchr2(b'\n', b'\r', chunk) {
            Some(end) => {
                let cr = chunk[end] == b'\r';
                let room = (max + 1).saturating_sub(buf.len()).min(end);
                buf.extend_from_slice(&chunk[..room]);
                len += end;
                reader.consume(end + 1);
                if cr {
                    // CRLF is one line end; a lone CR (old Mac files) is one too.
                    let next = reader.fill_buf()?;
                    if next.first() == Some(&b'\n') {
                        reader.consume(1);
                    }
                }
                return Ok(Some(len));
            }
            None => {
                let n = chunk.len();
                let room = (max + 1).saturating_sub(buf.len()).min(n);
                buf.extend_from_slice(&chunk[..room]);
                len += n;
                reader.consume(n);
            }
        }
    }
}

/// A whole line at the start of `chunk` (what a reader holds buffered) that needs no more
/// bytes to be told apart: its length and the bytes it takes with its line end. `None` when the
/// line runs past the chunk, ends in a CR that is the chunk's last byte (an LF may follow), or
/// is longer than `max` ([`read_line`] then takes it).
fn buffered_line(chunk: &[u8], max: usize) -> Option<(usize, usize)> {
    let end = memchr::memchr2(b'\n', b'\r', chunk)?;
    if end > max {
        return None;
    }
    match (chunk.get(end)?, chunk.get(end + 1)) {
        (b'\n', _) => Some((end, end + 1)),
        (_, Some(b'\n')) => Some((end, end + 2)),
        (_, Some(_)) => Some((end, end + 1)),
        (_, None) => None,
    }
}

/// Reads JSON Lines from `reader`, calling `f` for each non-blank line. A UTF-8 byte-order mark
/// at the start is skipped; LF, CRLF and CR all end a line; a line longer than
/// `max_record_bytes` is a `record_too_large` dead letter (its first bytes kept) and reading
/// goes on at the next line, holding at most `max_record_bytes` + 1 bytes at any time. A line
/// the reader holds whole is decoded where it lies; only one that runs past its buffer is
/// copied.
pub fn read_lines<E: From<SourceError>>(
    reader: &mut dyn BufRead,
    name: &str,
    max_record_bytes: usize,
    f: &mut dyn FnMut(Item<'_>) -> Result<(), E>,
) -> Result<(), E> {
    let io = |source| SourceError::Io {
        path: name.to_string(),
        source,
    };
    let mut buf = Vec::with_capacity(1024);
    let mut line_no = 0u64;
    loop {
        let chunk = match reader.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e).into()),
        };
        if let Some((len, taken)) = buffered_line(chunk, max_record_bytes) {
            line_no += 1;
            let line = chunk.get(..len).unwrap_or_default();
            emit_line(line, len, line_no, name, max_record_bytes, f)?;
            reader.consume(taken);
            continue;
        }
        buf.clear();
        let Some(len) = read_line(reader, &mut buf, max_record_bytes).map_err(io)? else {
            return Ok(());
        };
        line_no += 1;
        emit_line(&buf, len, line_no, name, max_record_bytes, f)?;
    }
}

/// Hands line `line_no` (`len` bytes long, of which `line` holds at most `max_record_bytes` + 1)
/// to `f`, unless it is blank.
fn emit_line<E>(
    mut line: &[u8],
    len: usize,
    line_no: u64,
    name: &str,
    max_record_bytes: usize,
    f: &mut dyn FnMut(Item<'_>) -> Result<(), E>,
) -> Result<(), E> {
    if line_no == 1
        && let Some(rest) = line.strip_prefix(b"\xEF\xBB\xBF")
    {
        line = rest;
    }
    let source = Location {
        file: name,
        index: line_no,
    };
    if len > max_record_bytes {
        let kept = &line[..line.len().min(TOO_LARGE_PAYLOAD).min(max_record_bytes)];
        return f(Item {
            event: Err(Reject::new(
                Reason::RecordTooLarge,
                format!(
                    "line of {len} bytes is longer than input.max_record_bytes ({max_record_bytes}); the payload holds its first {} bytes",
                    kept.len()
                ),
            )),
            source,
            payload: RawPayload::Text(kept),
        });
    }
    // Blank means JSON whitespace only; any other byte makes a record (maybe a bad one).
    if line.iter().all(|b| matches!(b, b' ' | b'\t')) {
        return Ok(());
    }
    f(Item {
        event: decode_line(line),
        source,
        payload: RawPayload::Text(line),
    })
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

#[cfg(test)]
mod reading {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<(u64, Result<Event, Reason>)> {
        let mut out = Vec::new();
        let mut reader = std::io::BufReader::with_capacity(7, input);
        read_lines::<SourceError>(&mut reader, "t", max, &mut |item| {
            out.push((item.source.index, item.event.map_err(|r| r.reason)));
            Ok(())
        })
        .expect("reads");
        out
    }

    const REC: &str = r#"{"type":"call","call_id":"c1","event_time":1767225600000,"cell_id":"A","outcome":"BUSY","dropped":false}"#;

    #[test]
    fn line_ends_bom_and_the_length_cap() {
        let crlf = format!("\u{feff}{REC}\r\n{REC}\r\n\r\n{REC}");
        let got = lines(crlf.as_bytes(), 1 << 20);
        assert_eq!(got.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [1, 2, 4]);
        assert!(got.iter().all(|(_, e)| e.is_ok()), "{got:?}");
        assert!(
            lines("\u{feff}\n".as_bytes(), 1 << 20).is_empty(),
            "a lone BOM is blank"
        );
        let cr = format!("{REC}\r{REC}\r");
        assert_eq!(lines(cr.as_bytes(), 1 << 20).len(), 2);
        let long = format!("{REC}\n{}\n{REC}\n", "x".repeat(5000));
        let got = lines(long.as_bytes(), 200);
        assert_eq!(got.len(), 3);
        assert_eq!(got[1], (2, Err(Reason::RecordTooLarge)));
        assert!(got[0].1.is_ok() && got[2].1.is_ok());
    }

    /// Whatever the reader's buffer size, so whether a line is decoded where it lies or copied
    /// first, every line comes out the same: number, payload, record.
    #[test]
    fn lines_are_the_same_whatever_the_buffer() {
        let input = format!(
            "\u{feff}{REC}\r\n{REC}\r\r\n \t\n{}\n{REC}\rnot json\n\n{REC}",
            "y".repeat(300)
        );
        let read = |capacity: usize| {
            let mut out = Vec::new();
            let mut reader = std::io::BufReader::with_capacity(capacity, input.as_bytes());
            read_lines::<SourceError>(&mut reader, "t", 200, &mut |item| {
                let RawPayload::Text(p) = item.payload else {
                    unreachable!()
                };
                out.push((
                    item.source.index,
                    p.to_vec(),
                    item.event.map_err(|r| r.reason),
                ));
                Ok(())
            })
            .expect("reads");
            out
        };
        let whole = read(1 << 16);
        let numbers: Vec<u64> = whole.iter().map(|(n, _, _)| *n).collect();
        assert_eq!(numbers, [1, 2, 5, 6, 7, 9]);
        for capacity in 1..=input.len() + 1 {
            assert_eq!(read(capacity), whole, "buffer of {capacity}");
        }
    }

    #[test]
    fn a_newline_free_stream_costs_only_the_cap() {
        // 64 MiB of zeros without a newline: one dead letter, memory bounded by the cap.
        let mut zeros = std::io::Read::take(std::io::repeat(0), 64 << 20);
        let mut reader = std::io::BufReader::new(&mut zeros);
        let mut seen = Vec::new();
        read_lines::<SourceError>(&mut reader, "zero", 1024, &mut |item| {
            let RawPayload::Text(p) = item.payload else {
                unreachable!()
            };
            seen.push((item.event.map_err(|r| r.reason), p.len()));
            Ok(())
        })
        .expect("reads");
        assert_eq!(seen, vec![(Err(Reason::RecordTooLarge), 1024)]);
    }
}
