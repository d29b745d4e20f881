//! Avro on Kafka: input records as raw binary datums of our schemas, KPI records and breach
//! events as datums of `schemas/kpi_record.avsc` and `schemas/breach_event.avsc`, and the record
//! keys that keep one group's (or one alarm's) records in order in one partition.

use crate::engine::KpiRecord;
use crate::kpi::{Kpi, KpiValue};
use crate::model::Event;
use crate::model::Stream;
use crate::model::level::Dim;
use crate::model::validate::{Reason, Reject, validate};
use crate::schemas::input_schema;
use crate::source::avro_value::to_raw;
use crate::threshold::BreachEvent;
use apache_avro::reader::datum::GenericDatumReader;
#[cfg(test)]
use apache_avro::writer::datum::GenericDatumWriter;

/// Why an output could not be encoded (a defect: our records always fit our schemas).
#[derive(Debug, thiserror::Error)]
#[error("cannot encode {what} as Avro: {message}")]
pub struct EncodeError {
    pub what: &'static str,
    pub message: String,
}

/// Decodes raw Avro datums of the three input schemas.
pub struct InputDecoder {
    readers: [GenericDatumReader<'static>; 3],
}

impl InputDecoder {
    /// Readers for the bundled input schemas.
    pub fn new() -> Result<Self, apache_avro::Error> {
        let reader = |s| GenericDatumReader::builder(input_schema(s)).build();
        Ok(InputDecoder {
            readers: [
                reader(Stream::Call)?,
                reader(Stream::Session)?,
                reader(Stream::Outage)?,
            ],
        })
    }

    /// Decodes and validates one datum of `stream` through `apache_avro` (the reference the fast
    /// decoder of [`super::datum`] is tested against). The whole payload must be one datum.
    pub fn decode(&self, stream: Stream, mut bytes: &[u8]) -> Result<Event, Reject> {
        let (idx, kind) = match stream {
            Stream::Call => (0, "call"),
            Stream::Session => (1, "data_session"),
            Stream::Outage => (2, "outage"),
        };
        let value = self.readers[idx]
            .read_value(&mut bytes)
            .map_err(|e| Reject::new(Reason::Malformed, format!("not a {kind} Avro datum: {e}")))?;
        if !bytes.is_empty() {
            return Err(Reject::new(
                Reason::Malformed,
                format!("{} trailing bytes after the {kind} datum", bytes.len()),
            ));
        }
        validate(&to_raw(kind, value)?)
    }
}

/// Avro binary encoding, by hand for the two output records: field order is fixed and the
/// `group` map is written in canonical dimension order, so the same record always gives the same
/// bytes (`apache_avro`'s `Value::Map` is a `HashMap` and iterates in random order).
struct AvroOut(Vec<u8>);

impl AvroOut {
    fn long(&mut self, v: i64) {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        while z >= 0x80 {
            self.0.push((z as u8 & 0x7f) | 0x80);
            z >>= 7;
        }
        self.0.push(z as u8);
    }
    fn string(&mut self, s: &str) {
        self.long(s.len() as i64);
        self.0.extend_from_slice(s.as_bytes());
    }
    fn double(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn group<'a>(&mut self, group: impl ExactSizeIterator<Item = (Dim, &'a str)>) {
        if group.len() > 0 {
            self.long(group.len() as i64);
            for (d, v) in group {
                self.string(d.as_str());
                self.string(v);
            }
        }
        self.long(0);
    }
}

/// Encodes KPI records and breach events (datums of `kpi_record.avsc`, `breach_event.avsc`).
#[derive(Debug, Default, Clone, Copy)]
pub struct OutputEncoder {
    /// Set for the `confluent` output framing: each record starts with magic byte 0 and its
    /// schema's registered id.
    ids: Option<crate::kafka::registry::OutputSchemaIds>,
}

/// The Confluent wire format's header: magic byte 0 and the big-endian schema id.
fn confluent_header(id: u32, capacity: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(capacity + 5);
    v.push(0);
    v.extend_from_slice(&id.to_be_bytes());
    v
}

/// The Avro datum of an output record written with `framing` (a `confluent` record without its
/// 5-byte header); `None` when a `confluent` record lacks the header.
pub fn output_datum(framing: crate::config::Framing, bytes: &[u8]) -> Option<&[u8]> {
    match framing {
        crate::config::Framing::Raw => Some(bytes),
        crate::config::Framing::Confluent => match bytes.first() {
            Some(0) => bytes.get(5..),
            _ => None,
        },
    }
}

impl OutputEncoder {
    /// An encoder of bare datums.
    pub fn new() -> Result<Self, apache_avro::Error> {
        Ok(OutputEncoder { ids: None })
    }

    /// An encoder that frames each record with its schema's registered id (`None`: bare).
    pub fn framed(ids: Option<crate::kafka::registry::OutputSchemaIds>) -> Self {
        OutputEncoder { ids }
    }

    fn start(
        &self,
        id: impl Fn(&crate::kafka::registry::OutputSchemaIds) -> u32,
        capacity: usize,
    ) -> AvroOut {
        AvroOut(match &self.ids {
            Some(ids) => confluent_header(id(ids), capacity),
            None => Vec::with_capacity(capacity),
        })
    }

    /// A KPI record as an Avro datum.
    pub fn kpi(&self, r: &KpiRecord<'_>) -> Result<Vec<u8>, EncodeError> {
        let mut o = self.start(|i| i.kpi, 512);
        o.long(r.window_start);
        o.long(r.window_end);
        o.string(r.level);
        o.group(r.group.iter().copied());
        for (k, v) in Kpi::ALL.iter().zip(r.values.iter()) {
            match (k, v) {
                (_, KpiValue::Count(c)) => o.long(i64::try_from(*c).unwrap_or(i64::MAX)),
                (Kpi::TrafficErlangs | Kpi::OutageSeconds, KpiValue::Real(x)) => {
                    o.double(x.unwrap_or(0.0))
                }
                (_, KpiValue::Real(Some(x))) => {
                    o.long(1);
                    o.double(*x);
                }
                (_, KpiValue::Real(None)) => o.long(0),
            }
        }
        for n in r.pooling_samples {
            o.long(i64::try_from(n).unwrap_or(i64::MAX));
        }
        Ok(o.0)
    }

    /// A breach event as an Avro datum.
    pub fn breach(&self, e: &BreachEvent) -> Result<Vec<u8>, EncodeError> {
        let severity = ["critical", "major", "minor", "warning"];
        let mut o = self.start(|i| i.breach, 256);
        o.string(&e.breach_id);
        o.string(&e.rule);
        o.string(e.kpi);
        o.long(
            severity
                .iter()
                .position(|s| *s == e.severity.as_str())
                .unwrap_or(0) as i64,
        );
        o.long(i64::from(e.state.as_str() == "CLEARED"));
        o.string(&e.level);
        o.group(e.group.iter().map(|(d, v)| (*d, v.as_str())));
        o.double(e.value);
        o.double(e.threshold);
        o.long(e.window_start);
        o.long(e.window_end);
        if !e.outages.is_empty() {
            o.long(i64::try_from(e.outages.len()).unwrap_or(i64::MAX));
            for id in &e.outages {
                o.string(id);
            }
        }
        o.long(0);
        Ok(o.0)
    }
}

fn group_key(level: &str, group: impl Iterator<Item = (Dim, String)>) -> String {
    let mut key = level.to_string();
    for (d, v) in group {
        key.push('|');
        key.push_str(d.as_str());
        key.push('=');
        key.push_str(&v);
    }
    key
}

/// Key of a KPI record: level, group and window (one record per key, ever).
pub fn kpi_key(r: &KpiRecord<'_>) -> String {
    format!(
        "{}|{}-{}",
        group_key(r.level, r.group.iter().map(|(d, v)| (*d, v.to_string()))),
        r.window_start,
        r.window_end
    )
}

/// Key of a breach event: rule and group (one alarm's events stay in order in one partition).
pub fn breach_key(e: &BreachEvent) -> String {
    format!(
        "{}|{}",
        e.rule,
        group_key(&e.level, e.group.iter().cloned())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CallOutcome, CallRecord};
    use crate::schemas::event_value;
    use apache_avro::types::Value;

    #[test]
    fn inputs_round_trip_and_garbage_is_rejected() {
        let ev = Event::Call(CallRecord {
            call_id: "c".into(),
            event_time: 5,
            cell_id: "A".into(),
            outcome: CallOutcome::Busy,
            setup_ms: Some(10),
            duration_ms: None,
            dropped: false,
            mos: Some(4.5),
            signal_dbm: None,
            sinr_db: None,
        });
        let w = GenericDatumWriter::builder(input_schema(Stream::Call))
            .build()
            .unwrap();
        let bytes = w.write_value_to_vec(event_value(&ev)).unwrap();
        let d = InputDecoder::new().unwrap();
        assert_eq!(d.decode(Stream::Call, &bytes), Ok(ev));
        assert_eq!(
            d.decode(Stream::Call, &bytes[..3]).unwrap_err().reason,
            Reason::Malformed
        );
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            d.decode(Stream::Call, &longer).unwrap_err().reason,
            Reason::Malformed
        );
        assert!(d.decode(Stream::Session, &bytes).is_err());
    }

    #[test]
    fn outputs_decode_with_their_schemas() {
        let group = [(Dim::Region, "North")];
        let r = KpiRecord {
            window_start: 0,
            window_end: 300_000,
            level: "region",
            group: &group,
            values: Kpi::ALL.map(|k| {
                let ctx = crate::kpi::GroupContext {
                    window_ms: 300_000,
                    inventory_cells: 2,
                };
                k.value(&crate::kpi::Acc::default(), ctx)
            }),
            pooling_samples: [1, 2, 3, 4],
            acc: None,
            inventory_cells: 2,
        };
        let enc = OutputEncoder::new().unwrap();
        let bytes = enc.kpi(&r).unwrap();
        let v = GenericDatumReader::builder(crate::schemas::kpi_schema())
            .build()
            .unwrap()
            .read_value(&mut bytes.as_slice())
            .unwrap();
        assert!(matches!(v, Value::Record(_)));
        let group = [(Dim::Region, "North"), (Dim::Technology, "NR")];
        let event = BreachEvent {
            breach_id: "id".into(),
            rule: "R".into(),
            kpi: "dropped_call_ratio",
            severity: crate::threshold::rule::Severity::Minor,
            state: crate::threshold::BreachState::Cleared,
            level: "region,technology".into(),
            group: group.iter().map(|(d, v)| (*d, v.to_string())).collect(),
            value: 0.5,
            threshold: 0.25,
            window_start: 1,
            window_end: 2,
            outages: vec!["o-1".into(), "o-2".into()],
        };
        // The confluent framing: magic byte 0, the schema's id, then the same datum.
        let framed = OutputEncoder::framed(Some(crate::kafka::registry::OutputSchemaIds {
            kpi: 7,
            breach: 0x0102_0304,
        }));
        let plain = enc.breach(&event).unwrap();
        let with_id = framed.breach(&event).unwrap();
        assert_eq!(with_id[..5], [0, 1, 2, 3, 4]);
        assert_eq!(&with_id[5..], plain.as_slice());
        assert_eq!(framed.kpi(&r).unwrap()[..5], [0, 0, 0, 0, 7]);
        let confluent = crate::config::Framing::Confluent;
        assert_eq!(output_datum(confluent, &with_id), Some(plain.as_slice()));
        assert_eq!(output_datum(confluent, &plain[1..]), None);
        assert_eq!(
            output_datum(crate::config::Framing::Raw, &plain),
            Some(plain.as_slice())
        );
        let bytes = enc.breach(&event).unwrap();
        let reader = GenericDatumReader::builder(crate::schemas::breach_schema())
            .build()
            .unwrap();
        let Value::Record(fields) = reader.read_value(&mut bytes.as_slice()).unwrap() else {
            panic!("record")
        };
        assert_eq!(fields[3].1, Value::Enum(2, "minor".into()));
        assert_eq!(fields[4].1, Value::Enum(1, "CLEARED".into()));
        assert!(matches!(&fields[6].1, Value::Map(m) if m.len() == 2));
        assert_eq!(
            fields[11].1,
            Value::Array(vec![
                Value::String("o-1".into()),
                Value::String("o-2".into())
            ])
        );
        assert_eq!(fields[8].1, Value::Double(0.25));
        assert_eq!(kpi_key(&r), "region|region=North|0-300000");
    }
}
