//! A KPI record read back (docs/outputs.md): from a JSON line that `replay` wrote, or from an Avro
//! datum of the `kpis` topic, into one owned type. Records written before the pooling samples
//! counts existed read with those counts 0.

use crate::engine::KpiRecord;
use crate::kpi::{KPI_COUNT, Kpi, KpiValue, POOLING_COUNT, POOLING_SAMPLES};
use crate::model::level::Dim;
use apache_avro::Schema;
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value as Avro;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// One KPI record, owned.
#[derive(Debug, Clone, PartialEq)]
pub struct KpiRow {
    pub window_start: i64,
    pub window_end: i64,
    pub level: String,
    /// Dimension → value, in canonical dimension order.
    pub group: Vec<(Dim, String)>,
    /// Values in [`Kpi::ALL`] order.
    pub values: [KpiValue; KPI_COUNT],
    /// In [`POOLING_SAMPLES`] order; 0 when the record predates them.
    pub pooling_samples: [u64; POOLING_COUNT],
}

/// Why a stored KPI record could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a KPI record: {0}")]
pub struct RowError(pub String);

#[derive(serde::Deserialize)]
struct JsonRow<'a> {
    window_start: i64,
    window_end: i64,
    #[serde(borrow)]
    level: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    group: BTreeMap<std::borrow::Cow<'a, str>, std::borrow::Cow<'a, str>>,
    kpis: JsonKpis,
}

/// The `kpis` object by field (a map per record would cost an allocation per KPI).
#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct JsonKpis {
    call_attempts: Option<f64>,
    call_network_failures: Option<f64>,
    call_answered: Option<f64>,
    call_drops: Option<f64>,
    network_connection_ratio: Option<f64>,
    call_answer_ratio: Option<f64>,
    dropped_call_ratio: Option<f64>,
    call_setup_ms_p50: Option<f64>,
    call_setup_ms_p95: Option<f64>,
    call_setup_ms_p99: Option<f64>,
    mos_mean: Option<f64>,
    poor_quality_call_ratio: Option<f64>,
    traffic_erlangs: Option<f64>,
    sessions: Option<f64>,
    dl_bytes: Option<f64>,
    ul_bytes: Option<f64>,
    dl_throughput_bps: Option<f64>,
    ul_throughput_bps: Option<f64>,
    session_dl_throughput_bps_p05: Option<f64>,
    session_dl_throughput_bps_p50: Option<f64>,
    session_dl_throughput_bps_p95: Option<f64>,
    speed_compliance_ratio: Option<f64>,
    rtt_ms_p50: Option<f64>,
    rtt_ms_p95: Option<f64>,
    rtt_ms_p99: Option<f64>,
    packet_loss_ratio: Option<f64>,
    coverage_samples: Option<f64>,
    coverage_ratio: Option<f64>,
    outage_seconds: Option<f64>,
    availability_ratio: Option<f64>,
    outages_started: Option<f64>,
    outages_restored: Option<f64>,
    mttr_seconds: Option<f64>,
    mos_samples: Option<f64>,
    throughput_samples: Option<f64>,
    speed_samples: Option<f64>,
    packets_sent: Option<f64>,
}

impl JsonKpis {
    /// Values in [`Kpi::ALL`] order, then the pooling samples in [`POOLING_SAMPLES`] order.
    fn in_order(&self) -> [Option<f64>; KPI_COUNT + POOLING_COUNT] {
        [
            self.call_attempts,
            self.call_network_failures,
            self.call_answered,
            self.call_drops,
            self.network_connection_ratio,
            self.call_answer_ratio,
            self.dropped_call_ratio,
            self.call_setup_ms_p50,
            self.call_setup_ms_p95,
            self.call_setup_ms_p99,
            self.mos_mean,
            self.poor_quality_call_ratio,
            self.traffic_erlangs,
            self.sessions,
            self.dl_bytes,
            self.ul_bytes,
            self.dl_throughput_bps,
            self.ul_throughput_bps,
            self.session_dl_throughput_bps_p05,
            self.session_dl_throughput_bps_p50,
            self.session_dl_throughput_bps_p95,
            self.speed_compliance_ratio,
            self.rtt_ms_p50,
            self.rtt_ms_p95,
            self.rtt_ms_p99,
            self.packet_loss_ratio,
            self.coverage_samples,
            self.coverage_ratio,
            self.outage_seconds,
            self.availability_ratio,
            self.outages_started,
            self.outages_restored,
            self.mttr_seconds,
            self.mos_samples,
            self.throughput_samples,
            self.speed_samples,
            self.packets_sent,
        ]
    }
}

impl KpiRow {
    /// Reads one JSON line of `replay`'s KPI output.
    pub fn from_json(line: &[u8]) -> Result<KpiRow, RowError> {
        let j: JsonRow<'_> = serde_json::from_slice(line).map_err(|e| RowError(e.to_string()))?;
        let group = group_of(j.group.iter().map(|(k, v)| (k.as_ref(), v.to_string())))?;
        let all = j.kpis.in_order();
        let at = |i: usize| all.get(i).copied().flatten();
        Ok(KpiRow {
            window_start: j.window_start,
            window_end: j.window_end,
            level: j.level.into_owned(),
            group,
            values: Kpi::ALL.map(|k| value_of(k, at(k as usize))),
            pooling_samples: std::array::from_fn(|i| count(at(KPI_COUNT + i))),
        })
    }

    /// Reads one raw Avro datum of the `kpis` topic (the current schema, or the one before the
    /// pooling samples counts).
    pub fn from_avro_datum(bytes: &[u8]) -> Result<KpiRow, RowError> {
        let read = |writer: &Schema, reader: Option<&Schema>| {
            let mut rest = bytes;
            let v = GenericDatumReader::builder(writer)
                .maybe_reader_schema(reader)
                .build()
                .and_then(|d| d.read_value(&mut rest))
                .map_err(|e| RowError(e.to_string()))?;
            Ok::<_, RowError>((v, rest.len()))
        };
        let value = match read(crate::schemas::kpi_schema(), None) {
            Ok((v, 0)) => v,
            _ => {
                let (v, rest) = read(
                    kpi_schema_before_pooling(),
                    Some(crate::schemas::kpi_schema()),
                )?;
                if rest > 0 {
                    return Err(RowError(format!("{rest} trailing bytes")));
                }
                v
            }
        };
        match value {
            Avro::Record(fields) => KpiRow::from_avro_fields(fields),
            _ => Err(RowError("the datum is not a record".into())),
        }
    }

    /// Reads the fields of a decoded Avro KPI record.
    pub fn from_avro_fields(fields: Vec<(String, Avro)>) -> Result<KpiRow, RowError> {
        let mut map: BTreeMap<String, Avro> = fields.into_iter().collect();
        let long = |v: Option<&Avro>| match v {
            Some(Avro::Long(x) | Avro::TimestampMillis(x)) => Ok(*x),
            _ => Err(RowError("window_start or window_end missing".into())),
        };
        let (window_start, window_end) =
            (long(map.get("window_start"))?, long(map.get("window_end"))?);
        let level = match map.remove("level") {
            Some(Avro::String(s)) => s,
            _ => return Err(RowError("level missing".into())),
        };
        let group = match map.remove("group") {
            Some(Avro::Map(m)) => group_of(m.into_iter().filter_map(|(k, v)| match v {
                Avro::String(s) => Some((k, s)),
                _ => None,
            }))?,
            _ => return Err(RowError("group missing".into())),
        };
        let kpis: BTreeMap<String, Avro> = match map.remove("kpis") {
            Some(Avro::Record(f)) => f.into_iter().collect(),
            _ => return Err(RowError("kpis missing".into())),
        };
        let number = |name: &str| match kpis.get(name) {
            Some(Avro::Long(c)) => Some(*c as f64),
            Some(Avro::Double(x)) => Some(*x),
            Some(Avro::Union(_, inner)) => match inner.as_ref() {
                Avro::Double(x) => Some(*x),
                _ => None,
            },
            _ => None,
        };
        Ok(KpiRow {
            window_start,
            window_end,
            level,
            group,
            values: Kpi::ALL.map(|k| value_of(k, number(k.name()))),
            pooling_samples: POOLING_SAMPLES.map(|(name, _)| count(number(name))),
        })
    }

    /// The value of one KPI as a number (counts widened).
    pub fn get(&self, kpi: Kpi) -> Option<f64> {
        self.values.get(kpi as usize).and_then(|v| v.as_f64())
    }

    /// A pooling samples count by the KPI it belongs to (0 if it has none).
    pub fn pooling(&self, kpi: Kpi) -> u64 {
        POOLING_SAMPLES
            .iter()
            .position(|(_, k)| *k == kpi)
            .and_then(|i| self.pooling_samples.get(i).copied())
            .unwrap_or(0)
    }

    /// The owned copy of an engine record (to encode it on another thread).
    pub fn of(record: &KpiRecord<'_>) -> KpiRow {
        KpiRow {
            window_start: record.window_start,
            window_end: record.window_end,
            level: record.level.to_string(),
            group: record
                .group
                .iter()
                .map(|(d, v)| (*d, v.to_string()))
                .collect(),
            values: record.values,
            pooling_samples: record.pooling_samples,
        }
    }

    /// Calls `f` with the row as an engine record (for sinks that take one).
    pub fn with_record<T>(&self, f: impl FnOnce(&KpiRecord<'_>) -> T) -> T {
        let group: Vec<(Dim, &str)> = self.group.iter().map(|(d, v)| (*d, v.as_str())).collect();
        f(&KpiRecord {
            window_start: self.window_start,
            window_end: self.window_end,
            level: &self.level,
            group: &group,
            values: self.values,
            pooling_samples: self.pooling_samples,
            acc: None,
            inventory_cells: 0,
        })
    }
}

fn group_of(
    pairs: impl Iterator<Item = (impl AsRef<str>, String)>,
) -> Result<Vec<(Dim, String)>, RowError> {
    let mut group = Vec::new();
    for (k, v) in pairs {
        let dim = Dim::parse(k.as_ref())
            .ok_or_else(|| RowError(format!("unknown dimension `{}`", k.as_ref())))?;
        group.push((dim, v));
    }
    group.sort();
    Ok(group)
}

/// Counts are exact integers in both encodings; a real is kept as read.
fn value_of(kpi: Kpi, x: Option<f64>) -> KpiValue {
    if kpi.is_count() {
        KpiValue::Count(count(x))
    } else {
        KpiValue::Real(x.filter(|v| v.is_finite()))
    }
}

fn count(x: Option<f64>) -> u64 {
    x.filter(|v| v.is_finite() && *v >= 0.0)
        .map_or(0, |v| v as u64)
}

/// The KPI record schema as it was before the pooling samples counts: the writer schema of
/// older records on the topic.
fn kpi_schema_before_pooling() -> &'static Schema {
    static BEFORE: OnceLock<Schema> = OnceLock::new();
    BEFORE.get_or_init(|| {
        let mut tree: serde_json::Value =
            serde_json::from_str(crate::schemas::KPI_RECORD).unwrap_or_default();
        if let Some(fields) = tree
            .pointer_mut("/fields/4/type/fields")
            .and_then(|f| f.as_array_mut())
        {
            fields.retain(|f| {
                let name = f.get("name").and_then(|n| n.as_str()).unwrap_or("");
                !POOLING_SAMPLES.iter().any(|(p, _)| *p == name)
            });
        }
        match Schema::parse(&tree) {
            Ok(s) => s,
            // Derived from a compiled-in schema covered by tests: a failure is a build defect.
            Err(e) => panic!("the earlier KPI record schema does not parse: {e}"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_fields_are_read_in_kpi_order() {
        let names: Vec<&str> = Kpi::ALL
            .iter()
            .map(|k| k.name())
            .chain(POOLING_SAMPLES.iter().map(|(n, _)| *n))
            .collect();
        let kpis: serde_json::Map<String, serde_json::Value> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.to_string(), serde_json::json!(i + 1)))
            .collect();
        let line = serde_json::json!({"window_start": 0, "window_end": 1, "level": "network", "group": {}, "kpis": kpis});
        let row = KpiRow::from_json(line.to_string().as_bytes()).unwrap();
        for (i, k) in Kpi::ALL.iter().enumerate() {
            assert_eq!(row.get(*k), Some((i + 1) as f64), "{}", k.name());
        }
        assert_eq!(row.pooling_samples, [34, 35, 36, 37]);
    }

    #[test]
    fn older_avro_records_read_with_zero_pooling_samples() {
        let row = KpiRow {
            window_start: 0,
            window_end: 3_600_000,
            level: "region".into(),
            group: vec![(Dim::Region, "North".into())],
            values: Kpi::ALL.map(|k| value_of(k, Some(1.0))),
            pooling_samples: [5, 6, 7, 8],
        };
        let bytes = row
            .with_record(|r| crate::kafka::codec::OutputEncoder::new().unwrap().kpi(r))
            .unwrap();
        assert_eq!(KpiRow::from_avro_datum(&bytes).unwrap(), row);
        // The same record as an older writer wrote it: the four counts absent.
        let old = &bytes[..bytes.len() - 4];
        let read = KpiRow::from_avro_datum(old).unwrap();
        assert_eq!(read.pooling_samples, [0; 4]);
        assert_eq!(read.values, row.values);
        let mut line = Vec::new();
        row.with_record(|r| crate::sink::jsonl::kpi_line(&mut line, r));
        assert_eq!(KpiRow::from_json(&line).unwrap(), row);
        assert!(KpiRow::from_avro_datum(&bytes[..10]).is_err());
        assert!(KpiRow::from_json(b"{\"window_start\":1}").is_err());
    }
}
