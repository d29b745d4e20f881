//! JSON Lines encoding of KPI records, breach events and dead letters (docs/outputs.md and docs/semantics.md),
//! and a file [`Output`] for replay. Encoding is hand-rolled over `serde_json`'s string and number
//! writers: field order is fixed, floats use the shortest round-trip form, so the same records
//! always give the same bytes.

use crate::engine::{KpiRecord, Output};
use crate::kpi::{Kpi, KpiValue, POOLING_SAMPLES};
use crate::model::level::Dim;
use crate::source::{DeadLetter, Payload};
use crate::threshold::BreachEvent;
use base64::Engine as _;
use std::io::Write;

fn string(buf: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *buf, s);
}

fn real(buf: &mut Vec<u8>, v: Option<f64>) {
    match v {
        // serde_json writes the shortest representation that reads back to the same f64.
        Some(x) if x.is_finite() => {
            let _ = serde_json::to_writer(&mut *buf, &x);
        }
        _ => buf.extend_from_slice(b"null"),
    }
}

fn int(buf: &mut Vec<u8>, v: i64) {
    let _ = write!(buf, "{v}");
}

fn group<'a>(buf: &mut Vec<u8>, dims: impl Iterator<Item = (Dim, &'a str)>) {
    buf.push(b'{');
    for (i, (d, v)) in dims.enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        string(buf, d.as_str());
        buf.push(b':');
        string(buf, v);
    }
    buf.push(b'}');
}

/// Appends a KPI record as one JSON line.
pub fn kpi_line(buf: &mut Vec<u8>, r: &KpiRecord<'_>) {
    buf.extend_from_slice(b"{\"window_start\":");
    int(buf, r.window_start);
    buf.extend_from_slice(b",\"window_end\":");
    int(buf, r.window_end);
    buf.extend_from_slice(b",\"level\":");
    string(buf, r.level);
    buf.extend_from_slice(b",\"group\":");
    group(buf, r.group.iter().copied());
    buf.extend_from_slice(b",\"kpis\":{");
    for (i, (k, v)) in Kpi::ALL.iter().zip(r.values.iter()).enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        buf.push(b'"');
        buf.extend_from_slice(k.name().as_bytes());
        buf.extend_from_slice(b"\":");
        match v {
            KpiValue::Count(c) => {
                let _ = write!(buf, "{c}");
            }
            KpiValue::Real(x) => real(buf, *x),
        }
    }
    for ((name, _), n) in POOLING_SAMPLES.iter().zip(r.pooling_samples) {
        let _ = write!(buf, ",\"{name}\":{n}");
    }
    buf.extend_from_slice(b"}}\n");
}

/// Appends a breach event as one JSON line.
pub fn breach_line(buf: &mut Vec<u8>, e: &BreachEvent) {
    buf.extend_from_slice(b"{\"breach_id\":");
    string(buf, &e.breach_id);
    buf.extend_from_slice(b",\"rule\":");
    string(buf, &e.rule);
    buf.extend_from_slice(b",\"kpi\":");
    string(buf, e.kpi);
    buf.extend_from_slice(b",\"severity\":");
    string(buf, e.severity.as_str());
    buf.extend_from_slice(b",\"state\":");
    string(buf, e.state.as_str());
    buf.extend_from_slice(b",\"level\":");
    string(buf, &e.level);
    buf.extend_from_slice(b",\"group\":");
    group(buf, e.group.iter().map(|(d, v)| (*d, v.as_str())));
    buf.extend_from_slice(b",\"value\":");
    real(buf, Some(e.value));
    buf.extend_from_slice(b",\"threshold\":");
    real(buf, Some(e.threshold));
    buf.extend_from_slice(b",\"window_start\":");
    int(buf, e.window_start);
    buf.extend_from_slice(b",\"window_end\":");
    int(buf, e.window_end);
    buf.extend_from_slice(b",\"outages\":[");
    for (i, id) in e.outages.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        string(buf, id);
    }
    buf.extend_from_slice(b"]}\n");
}

/// Appends a dead letter as one JSON line (`payload` is base64 for binary input).
pub fn dead_letter_line(buf: &mut Vec<u8>, d: &DeadLetter) {
    buf.extend_from_slice(b"{\"reason\":");
    string(buf, d.reason.as_str());
    buf.extend_from_slice(b",\"source\":");
    string(buf, &d.source);
    buf.extend_from_slice(b",\"payload\":");
    match &d.payload {
        Payload::Text(t) => string(buf, t),
        Payload::Binary(b) => string(buf, &base64::engine::general_purpose::STANDARD.encode(b)),
    }
    buf.extend_from_slice(b",\"detail\":");
    string(buf, &d.detail);
    buf.extend_from_slice(b"}\n");
}

/// Writes KPI records and breach events to two JSON Lines writers.
pub struct JsonlOutput<K: Write, B: Write> {
    kpis: K,
    breaches: B,
    buf: Vec<u8>,
}

impl<K: Write, B: Write> JsonlOutput<K, B> {
    /// Output to the given writers (wrap files in `BufWriter`).
    pub fn new(kpis: K, breaches: B) -> Self {
        JsonlOutput {
            kpis,
            breaches,
            buf: Vec::with_capacity(4096),
        }
    }

    /// Flushes both writers and gives them back.
    pub fn finish(mut self) -> std::io::Result<(K, B)> {
        self.kpis.flush()?;
        self.breaches.flush()?;
        Ok((self.kpis, self.breaches))
    }
}

impl<K: Write, B: Write> Output for JsonlOutput<K, B> {
    type Error = std::io::Error;

    fn kpi(&mut self, record: &KpiRecord<'_>) -> Result<(), Self::Error> {
        self.buf.clear();
        kpi_line(&mut self.buf, record);
        self.kpis.write_all(&self.buf)
    }

    fn breach(&mut self, event: &BreachEvent) -> Result<(), Self::Error> {
        self.buf.clear();
        breach_line(&mut self.buf, event);
        self.breaches.write_all(&self.buf)
    }
}
