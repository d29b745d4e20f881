//! The Avro schemas of `schemas/` (the single source of truth for the wire format), compiled in,
//! and the encoding of validated events as Avro values of those schemas (used by the generator
//! and by tests that write Avro files).

use crate::model::{Event, Stream};
use apache_avro::Schema;
use apache_avro::types::Value;
use std::sync::OnceLock;

/// `schemas/call_record.avsc`
pub const CALL_RECORD: &str = include_str!("../schemas/call_record.avsc");
/// `schemas/data_session.avsc`
pub const DATA_SESSION: &str = include_str!("../schemas/data_session.avsc");
/// `schemas/outage.avsc`
pub const OUTAGE: &str = include_str!("../schemas/outage.avsc");
/// `schemas/kpi_record.avsc`
pub const KPI_RECORD: &str = include_str!("../schemas/kpi_record.avsc");
/// `schemas/breach_event.avsc`
pub const BREACH_EVENT: &str = include_str!("../schemas/breach_event.avsc");

fn parsed(cell: &'static OnceLock<Schema>, text: &str) -> &'static Schema {
    cell.get_or_init(|| match Schema::parse_str(text) {
        Ok(s) => s,
        // The schemas are compiled in and covered by tests: a parse failure is a build defect.
        Err(e) => panic!("bundled schema does not parse: {e}"),
    })
}

/// The input schema of a stream.
pub fn input_schema(stream: Stream) -> &'static Schema {
    static CALL: OnceLock<Schema> = OnceLock::new();
    static SESSION: OnceLock<Schema> = OnceLock::new();
    static OUT: OnceLock<Schema> = OnceLock::new();
    match stream {
        Stream::Call => parsed(&CALL, CALL_RECORD),
        Stream::Session => parsed(&SESSION, DATA_SESSION),
        Stream::Outage => parsed(&OUT, OUTAGE),
    }
}

/// The schema of KPI records (topic `kpis`).
pub fn kpi_schema() -> &'static Schema {
    static KPI: OnceLock<Schema> = OnceLock::new();
    parsed(&KPI, KPI_RECORD)
}

/// The schema of breach events (topic `kpi-breaches`).
pub fn breach_schema() -> &'static Schema {
    static BREACH: OnceLock<Schema> = OnceLock::new();
    parsed(&BREACH, BREACH_EVENT)
}

/// A union of the three input records: the writer schema of a container file that holds all
/// three streams in their original order (`netkpi gen --format avro`).
pub fn input_union_schema() -> &'static Schema {
    static UNION: OnceLock<Schema> = OnceLock::new();
    UNION.get_or_init(|| {
        let text = format!("[{CALL_RECORD},{DATA_SESSION},{OUTAGE}]");
        match Schema::parse_str(&text) {
            Ok(s) => s,
            Err(e) => panic!("bundled schemas do not form a union: {e}"),
        }
    })
}

/// An event as a value of [`input_union_schema`].
pub fn event_union_value(ev: &Event) -> Value {
    let branch = match ev.stream() {
        Stream::Call => 0,
        Stream::Session => 1,
        Stream::Outage => 2,
    };
    Value::Union(branch, Box::new(event_value(ev)))
}

fn opt<T>(v: Option<T>, idx_some: u32, f: impl FnOnce(T) -> Value) -> Value {
    match v {
        Some(x) => Value::Union(idx_some, Box::new(f(x))),
        None => Value::Union(0, Box::new(Value::Null)),
    }
}

/// An event as an Avro record value of its input schema.
pub fn event_value(ev: &Event) -> Value {
    let s = |x: &str| Value::String(x.to_string());
    let fields: Vec<(&str, Value)> = match ev {
        Event::Call(c) => vec![
            ("call_id", s(&c.call_id)),
            ("event_time", Value::TimestampMillis(c.event_time)),
            ("cell_id", s(&c.cell_id)),
            (
                "outcome",
                Value::Enum(c.outcome as u32, c.outcome.as_str().to_string()),
            ),
            ("setup_ms", opt(c.setup_ms, 1, Value::Int)),
            ("duration_ms", opt(c.duration_ms, 1, Value::Long)),
            ("dropped", Value::Boolean(c.dropped)),
            ("mos", opt(c.mos, 1, |m| Value::Float(m as f32))),
            ("signal_dbm", opt(c.signal_dbm, 1, Value::Int)),
            ("sinr_db", opt(c.sinr_db, 1, |m| Value::Float(m as f32))),
        ],
        Event::Session(x) => vec![
            ("session_id", s(&x.session_id)),
            ("event_time", Value::TimestampMillis(x.event_time)),
            ("cell_id", s(&x.cell_id)),
            ("plan", opt(x.plan.as_deref(), 1, s)),
            ("active_ms", Value::Long(x.active_ms)),
            ("dl_bytes", Value::Long(x.dl_bytes)),
            ("ul_bytes", Value::Long(x.ul_bytes)),
            ("rtt_ms", opt(x.rtt_ms, 1, |m| Value::Float(m as f32))),
            ("packets_sent", Value::Long(x.packets_sent)),
            ("packets_lost", Value::Long(x.packets_lost)),
            ("signal_dbm", opt(x.signal_dbm, 1, Value::Int)),
            ("sinr_db", opt(x.sinr_db, 1, |m| Value::Float(m as f32))),
        ],
        Event::Outage(o) => vec![
            ("outage_id", s(&o.outage_id)),
            ("event_time", Value::TimestampMillis(o.event_time)),
            ("cell_id", s(&o.cell_id)),
            (
                "state",
                Value::Enum(o.state as u32, o.state.as_str().to_string()),
            ),
            ("started_at", opt(o.started_at, 1, Value::TimestampMillis)),
            ("cause", s(&o.cause)),
            ("planned", Value::Boolean(o.planned)),
        ],
    };
    Value::Record(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kpi::Kpi;

    #[test]
    fn every_schema_parses() {
        for text in [CALL_RECORD, DATA_SESSION, OUTAGE, KPI_RECORD, BREACH_EVENT] {
            Schema::parse_str(text).expect("schema parses");
        }
    }

    #[test]
    fn kpi_schema_lists_every_kpi_then_the_pooling_samples_in_order() {
        let json: serde_json::Value = serde_json::from_str(KPI_RECORD).unwrap();
        let kpis = json["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "kpis")
            .unwrap();
        let names: Vec<&str> = kpis["type"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        let ours: Vec<&str> = Kpi::ALL
            .iter()
            .map(|k| k.name())
            .chain(crate::kpi::POOLING_SAMPLES.iter().map(|(n, _)| *n))
            .collect();
        assert_eq!(names, ours);
    }
}
