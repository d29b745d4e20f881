//! Avro [`Value`] → [`RawEvent`]: maps a decoded record of one of our input schemas (or a
//! compatible producer's schema: fields by name, extra fields ignored) onto the loosely typed
//! form that [`crate::model::validate`] judges. A field of the wrong Avro type is `invalid_type`.

use crate::model::raw::RawEvent;
use crate::model::validate::{Reason, Reject};
use apache_avro::Schema;
use apache_avro::types::Value;
use std::borrow::Cow;

/// The JSON `"type"` of a writer schema's record name (`CallRecord`, `DataSession`, `Outage`).
pub fn kind_of_schema(schema: &Schema) -> Option<&'static str> {
    match schema.name()?.name() {
        "CallRecord" => Some("call"),
        "DataSession" => Some("data_session"),
        "Outage" => Some("outage"),
        _ => None,
    }
}

/// The kind of a decoded value: from the writer schema, or, when the schema is a union of our
/// records (one file holding all three streams in order), from the branch the value took.
pub fn kind_of_value(schema: &Schema, value: &Value) -> Option<&'static str> {
    match (schema, value) {
        (Schema::Union(u), Value::Union(idx, _)) => {
            kind_of_schema(u.variants().get(*idx as usize)?)
        }
        _ => kind_of_schema(schema),
    }
}

fn wrong(field: &str, v: &Value, want: &str) -> Reject {
    Reject::new(
        Reason::InvalidType,
        format!("`{field}`: expected {want}, found {v:?}"),
    )
}

fn unwrap_union(v: Value) -> Option<Value> {
    match v {
        Value::Union(_, inner) => unwrap_union(*inner),
        Value::Null => None,
        other => Some(other),
    }
}

fn long(field: &str, v: Value) -> Result<i64, Reject> {
    match v {
        Value::Long(x) | Value::TimestampMillis(x) | Value::LocalTimestampMillis(x) => Ok(x),
        Value::Int(x) => Ok(i64::from(x)),
        other => Err(wrong(field, &other, "a long")),
    }
}

fn int(field: &str, v: Value) -> Result<i32, Reject> {
    match v {
        Value::Int(x) => Ok(x),
        Value::Long(x) => i32::try_from(x).map_err(|_| wrong(field, &Value::Long(x), "an int")),
        other => Err(wrong(field, &other, "an int")),
    }
}

fn float(field: &str, v: Value) -> Result<f64, Reject> {
    match v {
        Value::Float(x) => Ok(f64::from(x)),
        Value::Double(x) => Ok(x),
        Value::Int(x) => Ok(f64::from(x)),
        Value::Long(x) => Ok(x as f64),
        other => Err(wrong(field, &other, "a float")),
    }
}

fn text(field: &str, v: Value) -> Result<Cow<'static, str>, Reject> {
    match v {
        Value::String(s) | Value::Enum(_, s) => Ok(Cow::Owned(s)),
        other => Err(wrong(field, &other, "a string")),
    }
}

fn boolean(field: &str, v: Value) -> Result<bool, Reject> {
    match v {
        Value::Boolean(b) => Ok(b),
        other => Err(wrong(field, &other, "a boolean")),
    }
}

/// Maps a decoded record of kind `kind` (`call`, `data_session`, `outage`).
pub fn to_raw(kind: &'static str, value: Value) -> Result<RawEvent<'static>, Reject> {
    let value = match value {
        Value::Union(_, inner) => *inner,
        other => other,
    };
    let Value::Record(fields) = value else {
        return Err(wrong("(record)", &value, "a record"));
    };
    let mut raw = RawEvent {
        kind: Some(Cow::Borrowed(kind)),
        ..RawEvent::default()
    };
    for (name, v) in fields {
        let Some(v) = unwrap_union(v) else { continue };
        let f = name.as_str();
        match f {
            "call_id" => raw.call_id = Some(text(f, v)?),
            "session_id" => raw.session_id = Some(text(f, v)?),
            "outage_id" => raw.outage_id = Some(text(f, v)?),
            "event_time" => raw.event_time = Some(long(f, v)?),
            "cell_id" => raw.cell_id = Some(text(f, v)?),
            "outcome" => raw.outcome = Some(text(f, v)?),
            "setup_ms" => raw.setup_ms = Some(int(f, v)?),
            "duration_ms" => raw.duration_ms = Some(long(f, v)?),
            "dropped" => raw.dropped = Some(boolean(f, v)?),
            "mos" => raw.mos = Some(float(f, v)?),
            "signal_dbm" => raw.signal_dbm = Some(int(f, v)?),
            "sinr_db" => raw.sinr_db = Some(float(f, v)?),
            "plan" => raw.plan = Some(text(f, v)?),
            "active_ms" => raw.active_ms = Some(long(f, v)?),
            "dl_bytes" => raw.dl_bytes = Some(long(f, v)?),
            "ul_bytes" => raw.ul_bytes = Some(long(f, v)?),
            "rtt_ms" => raw.rtt_ms = Some(float(f, v)?),
            "packets_sent" => raw.packets_sent = Some(long(f, v)?),
            "packets_lost" => raw.packets_lost = Some(long(f, v)?),
            "state" => raw.state = Some(text(f, v)?),
            "started_at" => raw.started_at = Some(long(f, v)?),
            "cause" => raw.cause = Some(text(f, v)?),
            "planned" => raw.planned = Some(boolean(f, v)?),
            _ => {}
        }
    }
    Ok(raw)
}
