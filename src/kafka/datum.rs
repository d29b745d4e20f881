//! A hand-written decoder for raw binary datums written with *our* input schemas (the `raw`
//! framing): it reads the fields in schema order straight into a [`RawEvent`] that borrows its
//! strings from the message, with no intermediate `apache_avro::Value` and no allocation but the
//! validated event's own strings. It is exact for our schemas only; a producer on another schema
//! must use a framing that names its schema (and the resolving decoder).
//!
//! Any structural fault (truncation, a bad varint or union index, an enum index out of range,
//! trailing bytes) is `malformed`; value faults are left to validation, as for every decoder.

use super::super::model::raw::RawEvent;
use crate::model::validate::{Reason, Reject, validate};
use crate::model::{CallOutcome, Event, Stream};
use crate::source::avro_file::read_long;
use std::borrow::Cow;

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

fn bad(what: &str) -> Reject {
    Reject::new(Reason::Malformed, format!("not a valid Avro datum: {what}"))
}

impl<'a> Cursor<'a> {
    fn long(&mut self, field: &str) -> Result<i64, Reject> {
        read_long(self.buf, &mut self.pos).ok_or_else(|| bad(&format!("`{field}` is truncated")))
    }
    fn int(&mut self, field: &str) -> Result<i32, Reject> {
        i32::try_from(self.long(field)?).map_err(|_| bad(&format!("`{field}` does not fit an int")))
    }
    fn string(&mut self, field: &str) -> Result<&'a str, Reject> {
        let len = usize::try_from(self.long(field)?)
            .map_err(|_| bad(&format!("`{field}` has a negative length")))?;
        let end = self.pos.checked_add(len).ok_or_else(|| bad(field))?;
        let bytes = self
            .buf
            .get(self.pos..end)
            .ok_or_else(|| bad(&format!("`{field}` is truncated")))?;
        self.pos = end;
        std::str::from_utf8(bytes).map_err(|_| bad(&format!("`{field}` is not UTF-8")))
    }
    fn boolean(&mut self, field: &str) -> Result<bool, Reject> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| bad(&format!("`{field}` is truncated")))?;
        self.pos += 1;
        match b {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(bad(&format!("`{field}` is not a boolean"))),
        }
    }
    fn float(&mut self, field: &str) -> Result<f64, Reject> {
        let bytes: [u8; 4] = self
            .buf
            .get(self.pos..self.pos + 4)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad(&format!("`{field}` is truncated")))?;
        self.pos += 4;
        Ok(f64::from(f32::from_le_bytes(bytes)))
    }
    /// A `["null", T]` union: `None` for null, else reads T.
    fn opt<T>(
        &mut self,
        field: &str,
        read: impl FnOnce(&mut Self, &str) -> Result<T, Reject>,
    ) -> Result<Option<T>, Reject> {
        match self.long(field)? {
            0 => Ok(None),
            1 => read(self, field).map(Some),
            _ => Err(bad(&format!("`{field}` has a bad union index"))),
        }
    }
    fn symbol(&mut self, field: &str, symbols: &[&'static str]) -> Result<&'static str, Reject> {
        let i = self.long(field)?;
        usize::try_from(i)
            .ok()
            .and_then(|i| symbols.get(i).copied())
            .ok_or_else(|| {
                Reject::new(
                    Reason::UnknownEnumSymbol,
                    format!("`{field}` has enum index {i}, which the schema does not have"),
                )
            })
    }
}

fn s(v: &str) -> Option<Cow<'_, str>> {
    Some(Cow::Borrowed(v))
}

/// Decodes and validates one raw datum of `stream` written with our schema.
pub fn decode(stream: Stream, buf: &[u8]) -> Result<Event, Reject> {
    let mut c = Cursor { buf, pos: 0 };
    let raw = match stream {
        Stream::Call => {
            let outcomes = CallOutcome::ALL.map(CallOutcome::as_str);
            RawEvent {
                kind: s("call"),
                call_id: s(c.string("call_id")?),
                event_time: Some(c.long("event_time")?),
                cell_id: s(c.string("cell_id")?),
                outcome: s(c.symbol("outcome", &outcomes)?),
                setup_ms: c.opt("setup_ms", Cursor::int)?,
                duration_ms: c.opt("duration_ms", Cursor::long)?,
                dropped: Some(c.boolean("dropped")?),
                mos: c.opt("mos", Cursor::float)?,
                signal_dbm: c.opt("signal_dbm", Cursor::int)?,
                sinr_db: c.opt("sinr_db", Cursor::float)?,
                ..RawEvent::default()
            }
        }
        Stream::Session => RawEvent {
            kind: s("data_session"),
            session_id: s(c.string("session_id")?),
            event_time: Some(c.long("event_time")?),
            cell_id: s(c.string("cell_id")?),
            plan: c.opt("plan", Cursor::string)?.map(Cow::Borrowed),
            active_ms: Some(c.long("active_ms")?),
            dl_bytes: Some(c.long("dl_bytes")?),
            ul_bytes: Some(c.long("ul_bytes")?),
            rtt_ms: c.opt("rtt_ms", Cursor::float)?,
            packets_sent: Some(c.long("packets_sent")?),
            packets_lost: Some(c.long("packets_lost")?),
            signal_dbm: c.opt("signal_dbm", Cursor::int)?,
            sinr_db: c.opt("sinr_db", Cursor::float)?,
            ..RawEvent::default()
        },
        Stream::Outage => RawEvent {
            kind: s("outage"),
            outage_id: s(c.string("outage_id")?),
            event_time: Some(c.long("event_time")?),
            cell_id: s(c.string("cell_id")?),
            state: s(c.symbol("state", &["DOWN", "RESTORED"])?),
            started_at: c.opt("started_at", Cursor::long)?,
            cause: s(c.string("cause")?),
            planned: Some(c.boolean("planned")?),
            ..RawEvent::default()
        },
    };
    if c.pos != buf.len() {
        return Err(bad(&format!("{} trailing bytes", buf.len() - c.pos)));
    }
    validate(&raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::codec::InputDecoder;
    use crate::schemas::{event_value, input_schema};
    use crate::traffic::{GenItem, GenOptions, Generator, synthetic_inventory};
    use apache_avro::writer::datum::GenericDatumWriter;

    #[test]
    fn agrees_with_apache_avro_on_every_generated_record() {
        let slow = InputDecoder::new().unwrap();
        let opts = GenOptions {
            max_records: 3000,
            outages_per_cell_day: 50.0,
            ..GenOptions::default()
        };
        for item in Generator::new(synthetic_inventory(50, 2), opts) {
            let GenItem::Event(ev) = item else { continue };
            let w = GenericDatumWriter::builder(input_schema(ev.stream()))
                .build()
                .unwrap();
            let bytes = w.write_value_to_vec(event_value(&ev)).unwrap();
            assert_eq!(
                decode(ev.stream(), &bytes),
                slow.decode(ev.stream(), &bytes)
            );
            for cut in [0, 1, bytes.len() / 2, bytes.len() - 1] {
                assert!(decode(ev.stream(), &bytes[..cut]).is_err());
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            for s in [Stream::Call, Stream::Session, Stream::Outage] {
                let _ = decode(s, &bytes);
            }
        }
    }
}
