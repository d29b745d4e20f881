//! JSON Lines encoding of KPI records, breach events and dead letters (docs/outputs.md and docs/semantics.md),
//! and the file [`Output`]s of replay. Encoding is hand-rolled: field order is fixed, numbers go
//! through the crates serde_json writes them with (`itoa`, and `zmij` for the shortest round-trip
//! form of a float), strings are escaped as serde_json escapes them, so the same records always
//! give the same bytes.

use crate::engine::{KpiRecord, Output};
use crate::kpi::{KPI_COUNT, Kpi, KpiValue, POOLING_SAMPLES};
use crate::model::level::Dim;
use crate::report::row::KpiRow;
use crate::sink::background::BackgroundLines;
use crate::source::{DeadLetter, Payload};
use crate::threshold::BreachEvent;
use base64::Engine as _;
use std::io::Write;
use std::sync::LazyLock;

fn string(buf: &mut Vec<u8>, s: &str) {
    // What serde_json escapes: a quote, a backslash, a control character. Ids and names have
    // none, so they are copied as they are; anything else goes through serde_json.
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        buf.push(b'"');
        buf.extend_from_slice(s.as_bytes());
        buf.push(b'"');
    } else {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *buf, s);
    }
}

fn real(buf: &mut Vec<u8>, v: Option<f64>) {
    match v {
        // A whole number below 10¹⁵ (a count, a 0.0 or 1.0 ratio) is written as the integer and
        // `.0`, which is what zmij writes for it; -0.0 is not (its sign).
        Some(x) if x.abs() < 1e15 && x.fract() == 0.0 && !(x == 0.0 && x.is_sign_negative()) => {
            int(buf, x as i64);
            buf.extend_from_slice(b".0");
        }
        // The shortest representation that reads back to the same f64, as serde_json writes it
        // (with the same crate).
        Some(x) if x.is_finite() => {
            buf.extend_from_slice(zmij::Buffer::new().format_finite(x).as_bytes());
        }
        _ => buf.extend_from_slice(b"null"),
    }
}

fn int(buf: &mut Vec<u8>, v: impl itoa::Integer) {
    buf.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// `"name":` of each KPI and pooling count as it follows the one before (a comma first, but
/// for the first KPI): one copy per field.
static KEYS: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    let kpis = Kpi::ALL.iter().map(|k| k.name());
    let pooling = POOLING_SAMPLES.iter().map(|(name, _)| *name);
    kpis.chain(pooling)
        .enumerate()
        .map(|(i, name)| format!("{}\"{name}\":", if i == 0 { "" } else { "," }).into_bytes())
        .collect()
});

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
    let (kpi_keys, pooling_keys) = KEYS.split_at_checked(KPI_COUNT).unwrap_or_default();
    for (key, v) in kpi_keys.iter().zip(r.values.iter()) {
        buf.extend_from_slice(key);
        match v {
            KpiValue::Count(c) => int(buf, *c),
            KpiValue::Real(x) => real(buf, *x),
        }
    }
    for (key, n) in pooling_keys.iter().zip(r.pooling_samples) {
        buf.extend_from_slice(key);
        int(buf, n);
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
        write_breach(&mut self.buf, &mut self.breaches, event)
    }
}

fn write_breach(
    buf: &mut Vec<u8>,
    to: &mut impl Write,
    event: &BreachEvent,
) -> std::io::Result<()> {
    buf.clear();
    breach_line(buf, event);
    to.write_all(buf)
}

/// Encodes a KPI record read back or copied as one JSON line.
fn kpi_row_line(row: &KpiRow, buf: &mut Vec<u8>) {
    row.with_record(|r| kpi_line(buf, r));
}

/// Writes KPI records as [`JsonlOutput`] does, but encodes them on a thread of their own (a
/// copy of each record goes there, [`BackgroundLines`]); breach events are few and are written
/// here.
pub struct BackgroundJsonlOutput<'scope, B: Write> {
    kpis: BackgroundLines<'scope, KpiRow>,
    breaches: B,
    buf: Vec<u8>,
}

impl<'scope, B: Write> BackgroundJsonlOutput<'scope, B> {
    /// Output to a KPI writer encoded on a thread named `name` in `scope`, and a breach writer
    /// (wrap a file in `BufWriter`).
    pub fn start<K: Write + Send + 'scope>(
        scope: &'scope std::thread::Scope<'scope, '_>,
        name: &str,
        kpis: K,
        breaches: B,
    ) -> std::io::Result<Self> {
        Ok(BackgroundJsonlOutput {
            kpis: BackgroundLines::start(scope, name, kpis, kpi_row_line)?,
            breaches,
            buf: Vec::with_capacity(1024),
        })
    }

    /// Writes what is left and flushes both writers.
    pub fn finish(mut self) -> std::io::Result<()> {
        self.kpis.finish()?;
        self.breaches.flush()
    }
}

impl<B: Write> Output for BackgroundJsonlOutput<'_, B> {
    type Error = std::io::Error;

    fn kpi(&mut self, record: &KpiRecord<'_>) -> Result<(), Self::Error> {
        self.kpis.push(KpiRow::of(record))
    }

    fn breach(&mut self, event: &BreachEvent) -> Result<(), Self::Error> {
        write_breach(&mut self.buf, &mut self.breaches, event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn written(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut buf = Vec::new();
        f(&mut buf);
        String::from_utf8(buf).expect("UTF-8")
    }

    /// What serde_json writes for the value (`null` for NaN and infinities).
    fn serde_real(x: f64) -> String {
        serde_json::to_string(&x).expect("serializes")
    }

    #[test]
    fn whole_numbers_are_written_as_serde_json_writes_them() {
        let edges = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            2049.0,
            1e15 - 1.0,
            -(1e15 - 1.0),
            1e15,
            1e16,
            9_007_199_254_740_993.0,
            0.5,
            f64::MIN_POSITIVE,
            f64::MAX,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        for x in edges.into_iter().chain((-3000..3000).map(f64::from)) {
            assert_eq!(written(|b| real(b, Some(x))), serde_real(x), "{x:?}");
        }
        assert_eq!(written(|b| real(b, None)), "null");
    }

    proptest! {
        #[test]
        fn reals_are_written_as_serde_json_writes_them(bits in any::<u64>(), whole in -1e16f64..1e16) {
            let x = f64::from_bits(bits);
            prop_assert_eq!(written(|b| real(b, Some(x))), serde_real(x));
            let w = whole.trunc();
            prop_assert_eq!(written(|b| real(b, Some(w))), serde_real(w));
        }

        #[test]
        fn strings_are_written_as_serde_json_writes_them(s in "[\\x00-\\x7f\u{80}-\u{10ffff}]{0,12}") {
            prop_assert_eq!(written(|b| string(b, &s)), serde_json::to_string(&s).expect("serializes"));
        }
    }
}
