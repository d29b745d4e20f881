//! Decoding speed: one JSON line (the fast path for flat lines, and serde_json alone as its
//! baseline), and one Avro datum of the union schema, to a validated event.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use netkpi::schemas::{event_union_value, input_union_schema};
use netkpi::source::json::{decode_line, encode_event};
use netkpi::traffic::{GenItem, GenOptions, Generator, synthetic_inventory};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let events: Vec<_> = Generator::new(
        synthetic_inventory(1000, 1),
        GenOptions {
            max_records: 10_000,
            ..GenOptions::default()
        },
    )
    .filter_map(|i| match i {
        GenItem::Event(e) => Some(e),
        GenItem::Bad(_) => None,
    })
    .collect();
    let lines: Vec<String> = events.iter().map(encode_event).collect();
    let schema = input_union_schema();
    let writer = apache_avro::writer::datum::GenericDatumWriter::builder(schema)
        .build()
        .expect("writer");
    let datums: Vec<Vec<u8>> = events
        .iter()
        .map(|e| {
            writer
                .write_value_to_vec(event_union_value(e))
                .expect("encode")
        })
        .collect();
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("json_line_to_event", |b| {
        b.iter(|| {
            lines
                .iter()
                .filter(|l| decode_line(black_box(l.as_bytes())).is_ok())
                .count()
        })
    });
    // The baseline of the fast path that decode_line takes for flat lines: serde_json alone.
    g.bench_function("json_line_to_event_serde_only", |b| {
        b.iter(|| {
            lines
                .iter()
                .filter(|l| {
                    serde_json::from_str::<netkpi::model::raw::RawEvent<'_>>(black_box(l))
                        .map_err(drop)
                        .and_then(|raw| netkpi::model::validate::validate(&raw).map_err(drop))
                        .is_ok()
                })
                .count()
        })
    });
    let reader = apache_avro::reader::datum::GenericDatumReader::builder(schema)
        .build()
        .expect("reader");
    g.bench_function("avro_datum_to_event", |b| {
        b.iter(|| {
            datums
                .iter()
                .filter(|d| {
                    let Ok(value) = reader.read_value(&mut d.as_slice()) else {
                        return false;
                    };
                    let Some(kind) = netkpi::source::avro_value::kind_of_value(schema, &value)
                    else {
                        return false;
                    };
                    netkpi::source::avro_value::to_raw(kind, value)
                        .and_then(|raw| netkpi::model::validate::validate(&raw))
                        .is_ok()
                })
                .count()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
