//! Avro object container input: the same records give the same results as JSON Lines; corrupt
//! and truncated files give dead letters and the rest of the file is still read.

use crate::*;
use apache_avro::{Codec, DeflateSettings, Writer};
use netkpi::model::Event;
use netkpi::schemas::{event_union_value, event_value, input_schema, input_union_schema};
use netkpi::source::json::encode_event;
use netkpi::traffic::{GenItem, GenOptions, Generator};
use proptest::prelude::*;

/// Generated events with float fields on a grid an Avro `float` holds exactly, so that the JSON
/// and Avro forms carry the same numbers.
fn events(n: u64) -> Vec<Event> {
    let cells = small_inventory();
    let opts = GenOptions {
        max_records: n,
        peak_rate: 5.0,
        outages_per_cell_day: 30.0,
        ..GenOptions::default()
    };
    Generator::new(cells, opts)
        .filter_map(|i| match i {
            GenItem::Event(e) => Some(e),
            GenItem::Bad(_) => None,
        })
        .map(|mut e| {
            let q = |x: Option<f64>| x.map(|v| (v * 4.0).round() / 4.0);
            match &mut e {
                Event::Call(c) => {
                    c.mos = q(c.mos);
                    c.sinr_db = q(c.sinr_db);
                }
                Event::Session(s) => {
                    s.rtt_ms = q(s.rtt_ms);
                    s.sinr_db = q(s.sinr_db);
                }
                Event::Outage(_) => {}
            }
            e
        })
        .collect()
}

fn write_union(evs: &[Event], codec: Codec, block_size: usize) -> Vec<u8> {
    let schema = input_union_schema();
    let mut w = Writer::builder()
        .schema(schema)
        .writer(Vec::new())
        .codec(codec)
        .block_size(block_size)
        .build()
        .expect("writer");
    for e in evs {
        w.append_value(event_union_value(e)).expect("append");
    }
    w.into_inner().expect("flush")
}

fn replay_bytes(bytes: &[u8]) -> Replayed {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("in.avro");
    std::fs::write(&path, bytes).expect("write");
    replay_files(&settings(""), &small_inventory(), &[path])
}

#[test]
fn avro_and_json_give_the_same_results() {
    let evs = events(3000);
    let json = replay_lines(
        &settings(""),
        &small_inventory(),
        &evs.iter().map(encode_event).collect::<Vec<_>>(),
    );
    for codec in [Codec::Null, Codec::Deflate(DeflateSettings::default())] {
        let avro = replay_bytes(&write_union(&evs, codec, 16 * 1024));
        assert_eq!(avro.counters.records_read, evs.len() as u64);
        assert!(avro.dead.is_empty(), "{:?}", avro.dead.first());
        assert_eq!(avro.raw.0, json.raw.0, "KPI records byte-identical");
    }
}

#[test]
fn single_stream_files_are_read_too() {
    let evs: Vec<Event> = events(500)
        .into_iter()
        .filter(|e| matches!(e, Event::Call(_)))
        .collect();
    let mut w = Writer::new(input_schema(netkpi::model::Stream::Call), Vec::new()).expect("writer");
    for e in &evs {
        w.append_value(event_value(e)).expect("append");
    }
    let r = replay_bytes(&w.into_inner().expect("flush"));
    let calls: u64 = r
        .kpis
        .iter()
        .filter(|k| k["level"] == "network")
        .map(|k| k["kpis"]["call_attempts"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(calls, evs.len() as u64);
}

#[test]
fn a_corrupt_block_costs_only_that_block() {
    let evs = events(2000);
    let mut bytes = write_union(&evs, Codec::Null, 2048);
    // Smash bytes in the middle of the file: inside some block, not the header.
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 40] {
        *b = 0xff;
    }
    let r = replay_bytes(&bytes);
    let reasons = dead_by_reason(&r.dead);
    assert!(
        reasons.get("malformed").copied().unwrap_or(0) >= 1,
        "{reasons:?}"
    );
    let aggregated = r.counters.records_read - r.counters.dead_letters_total();
    assert!(
        aggregated > 1500,
        "most of the file is still read: {aggregated}"
    );
    let letter = r
        .dead
        .iter()
        .find(|d| d["reason"] == "malformed")
        .expect("malformed letter");
    assert!(
        letter["source"].as_str().unwrap_or("").contains("in.avro:"),
        "{letter}"
    );
    assert!(!letter["payload"].as_str().unwrap_or("").is_empty());
}

#[test]
fn a_truncated_file_and_a_bad_header_are_dead_letters() {
    let evs = events(300);
    let bytes = write_union(&evs, Codec::Deflate(DeflateSettings::default()), 4096);
    let r = replay_bytes(&bytes[..bytes.len() - 100]);
    assert!(dead_by_reason(&r.dead).contains_key("malformed"));
    let r = replay_bytes(b"Obj\x01\x02garbage");
    assert_eq!(dead_by_reason(&r.dead).get("malformed"), Some(&1));
    assert!(r.kpis.is_empty());
}

#[test]
fn invalid_values_in_avro_carry_their_datum() {
    let mut evs = events(50);
    if let Some(Event::Session(s)) = evs.iter_mut().find(|e| matches!(e, Event::Session(_))) {
        s.packets_lost = s.packets_sent + 1;
    }
    let r = replay_bytes(&write_union(&evs, Codec::Null, 1 << 20));
    let letter = r
        .dead
        .iter()
        .find(|d| d["reason"] == "packets_lost_exceed_sent")
        .expect("dead letter");
    use base64::Engine as _;
    let datum = base64::engine::general_purpose::STANDARD
        .decode(letter["payload"].as_str().unwrap_or(""))
        .expect("base64");
    let reader = apache_avro::reader::datum::GenericDatumReader::builder(input_union_schema())
        .build()
        .expect("reader");
    let value = reader
        .read_value(&mut datum.as_slice())
        .expect("the payload is exactly one datum");
    assert!(matches!(value, apache_avro::types::Value::Union(1, _)));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]
    #[test]
    fn random_damage_never_panics(flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..20), cut in any::<prop::sample::Index>()) {
        let evs = events(200);
        let mut bytes = write_union(&evs, Codec::Null, 1024);
        for (i, v) in flips {
            let k = i.index(bytes.len());
            bytes[k] = v;
        }
        let len = bytes.len();
        bytes.truncate(len - cut.index(len / 4));
        // A flipped byte can turn an event time into one decades ahead: such a record is
        // out of range (docs/operating-limits.md) and the output stays bounded; the replay must succeed.
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("in.avro");
        std::fs::write(&path, &bytes).expect("write");
        let s = settings("");
        let mut engine = netkpi::engine::Engine::new(&s.engine(), &small_inventory());
        let limit = || Capped { written: 0, max: 64 << 20 };
        let opts = netkpi::replay::ReplayOptions::of(&s);
        match netkpi::replay::replay(&mut engine, &[path], &opts, limit(), limit(), limit(), Default::default()) {
            Ok(counters) => {
                prop_assert!(counters.records_read >= counters.dead_letters_total());
                let aggregated: u64 = engine.stats().records.iter().sum();
                prop_assert!(aggregated <= evs.len() as u64, "records out of nothing: {} > {}", aggregated, evs.len());
            }
            Err(e) => prop_assert!(false, "unexpected error {}", e),
        }
    }
}

/// A writer that accepts `max` bytes, then fails as a full disk would.
struct Capped {
    written: usize,
    max: usize,
}

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.written += buf.len();
        if self.written > self.max {
            return Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "output cap reached",
            ));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
