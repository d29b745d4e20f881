//! Avro on Kafka: input records as raw binary datums of our schemas, KPI records and breach
//! events as datums of `schemas/kpi_record.avsc` and `schemas/breach_event.avsc`, and the record
//! keys that keep one group's (or one alarm's) records in order in one partition.

use crate::engine::KpiRecord;
use crate::kpi::{Kpi, KpiValue};
use crate::model::Event;
use crate::model::Stream;
use crate::model::level::Dim;
use crate::model::validate::{Reason, Reject, validate};
use crate::schemas::{breach_schema, input_schema, kpi_schema};
use crate::source::avro_value::to_raw;
use crate::threshold::BreachEvent;
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value;
use apache_avro::writer::datum::GenericDatumWriter;
use std::collections::HashMap;

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

    /// Decodes and validates one datum of `stream`. The whole payload must be one datum.
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
        validate(to_raw(kind, value)?)
    }
}

fn group_map(group: impl Iterator<Item = (Dim, String)>) -> Value {
    Value::Map(
        group
            .map(|(d, v)| (d.as_str().to_string(), Value::String(v)))
            .collect::<HashMap<_, _>>(),
    )
}

/// Encodes KPI records and breach events.
pub struct OutputEncoder {
    kpi: GenericDatumWriter<'static>,
    breach: GenericDatumWriter<'static>,
}

impl OutputEncoder {
    /// Writers for the bundled output schemas.
    pub fn new() -> Result<Self, apache_avro::Error> {
        Ok(OutputEncoder {
            kpi: GenericDatumWriter::builder(kpi_schema()).build()?,
            breach: GenericDatumWriter::builder(breach_schema()).build()?,
        })
    }

    /// A KPI record as an Avro datum.
    pub fn kpi(&self, r: &KpiRecord<'_>) -> Result<Vec<u8>, EncodeError> {
        let kpis = Kpi::ALL
            .iter()
            .zip(r.values.iter())
            .map(|(k, v)| {
                let value = match (k, v) {
                    (_, KpiValue::Count(c)) => Value::Long(i64::try_from(*c).unwrap_or(i64::MAX)),
                    (Kpi::TrafficErlangs | Kpi::OutageSeconds, KpiValue::Real(x)) => {
                        Value::Double(x.unwrap_or(0.0))
                    }
                    (_, KpiValue::Real(Some(x))) => Value::Union(1, Box::new(Value::Double(*x))),
                    (_, KpiValue::Real(None)) => Value::Union(0, Box::new(Value::Null)),
                };
                (k.name().to_string(), value)
            })
            .collect();
        let record = Value::Record(vec![
            (
                "window_start".into(),
                Value::TimestampMillis(r.window_start),
            ),
            ("window_end".into(), Value::TimestampMillis(r.window_end)),
            ("level".into(), Value::String(r.level.to_string())),
            (
                "group".into(),
                group_map(r.group.iter().map(|(d, v)| (*d, v.to_string()))),
            ),
            ("kpis".into(), Value::Record(kpis)),
        ]);
        self.kpi
            .write_value_to_vec(record)
            .map_err(|e| EncodeError {
                what: "KPI record",
                message: e.to_string(),
            })
    }

    /// A breach event as an Avro datum.
    pub fn breach(&self, e: &BreachEvent) -> Result<Vec<u8>, EncodeError> {
        let severity = ["critical", "major", "minor", "warning"];
        let sev_idx = severity
            .iter()
            .position(|s| *s == e.severity.as_str())
            .unwrap_or(0);
        let state_idx = u32::from(e.state.as_str() == "CLEARED");
        let record = Value::Record(vec![
            ("breach_id".into(), Value::String(e.breach_id.clone())),
            ("rule".into(), Value::String(e.rule.clone())),
            ("kpi".into(), Value::String(e.kpi.to_string())),
            (
                "severity".into(),
                Value::Enum(sev_idx as u32, e.severity.as_str().to_string()),
            ),
            (
                "state".into(),
                Value::Enum(state_idx, e.state.as_str().to_string()),
            ),
            ("level".into(), Value::String(e.level.clone())),
            ("group".into(), group_map(e.group.iter().cloned())),
            ("value".into(), Value::Double(e.value)),
            ("threshold".into(), Value::Double(e.threshold)),
            (
                "window_start".into(),
                Value::TimestampMillis(e.window_start),
            ),
            ("window_end".into(), Value::TimestampMillis(e.window_end)),
        ]);
        self.breach
            .write_value_to_vec(record)
            .map_err(|e| EncodeError {
                what: "breach event",
                message: e.to_string(),
            })
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
        };
        let enc = OutputEncoder::new().unwrap();
        let bytes = enc.kpi(&r).unwrap();
        let v = GenericDatumReader::builder(kpi_schema())
            .build()
            .unwrap()
            .read_value(&mut bytes.as_slice())
            .unwrap();
        assert!(matches!(v, Value::Record(_)));
        assert_eq!(kpi_key(&r), "region|region=North|0-300000");
    }
}
