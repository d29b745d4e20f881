//! Operating limits (docs/operating-limits.md): one test per class of input that used to take netkpi down
//! or grow it without bound — time bombs, gaps, over-long lines, pipes, output collisions,
//! damaged and exotic Avro containers, hostile writer schemas, cardinality bombs, config damage
//! and secrets. Each checks that the bad item is refused or dead-lettered with its reason and
//! that every good record is still counted as if the bad ones were not there.

use crate::*;
use netkpi::model::Event;
use netkpi::schemas::{event_union_value, input_union_schema};
use netkpi::source::json::encode_event;
use netkpi::traffic::{GenItem, GenOptions, Generator};
use std::io::Write;
use std::process::{Command, Stdio};

/// One event as a datum of the union schema.
fn datum(e: &Event) -> Vec<u8> {
    apache_avro::writer::datum::GenericDatumWriter::builder(input_union_schema())
        .build()
        .expect("writer")
        .write_value_to_vec(event_union_value(e))
        .expect("datum")
}

/// A block compressor.
type Compress = Box<dyn Fn(&[u8]) -> Vec<u8>>;

const DAY: i64 = 86_400_000;

fn good_events(n: u64) -> Vec<Event> {
    let opts = GenOptions {
        max_records: n,
        peak_rate: 5.0,
        outages_per_cell_day: 20.0,
        ..GenOptions::default()
    };
    Generator::new(small_inventory(), opts)
        .filter_map(|i| match i {
            GenItem::Event(e) => Some(e),
            GenItem::Bad(_) => None,
        })
        .collect()
}

fn lines(evs: &[Event]) -> Vec<String> {
    evs.iter().map(encode_event).collect()
}

fn call_at(id: &str, t: i64) -> String {
    format!(
        r#"{{"type":"call","call_id":"{id}","event_time":{t},"cell_id":"N1-L1","outcome":"ANSWERED","dropped":false,"duration_ms":1000}}"#
    )
}

/// Sum of `call_attempts` and `sessions` over network-level records.
fn network_totals(kpis: &[Value]) -> (u64, u64) {
    kpis.iter()
        .filter(|k| k["level"] == "network")
        .fold((0, 0), |(c, s), k| {
            (
                c + k["kpis"]["call_attempts"].as_u64().unwrap_or(0),
                s + k["kpis"]["sessions"].as_u64().unwrap_or(0),
            )
        })
}

/// Replays `input` (JSON lines) with `opts` and returns the engine (for its counters and
/// state), the KPI records and the dead letters written.
fn replay_keeping_the_engine(
    s: &netkpi::config::Settings,
    cells: &[netkpi::inventory::Cell],
    input: &[String],
    opts: &netkpi::replay::ReplayOptions,
) -> (netkpi::engine::Engine, Vec<u8>, Vec<u8>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("input.jsonl");
    std::fs::write(&path, input.join("\n")).expect("write");
    let mut engine = netkpi::engine::Engine::new(&s.engine(), cells);
    let (mut k, mut b, mut d) = (Vec::new(), Vec::new(), Vec::new());
    netkpi::replay::replay(
        &mut engine,
        &[path],
        opts,
        &mut k,
        &mut b,
        &mut d,
        Default::default(),
    )
    .expect("replays");
    (engine, k, d)
}

#[test]
fn time_bombs_are_dead_letters_and_move_nothing() {
    let s = settings("");
    let cells = small_inventory();
    let good = lines(&good_events(2000));
    let clean = replay_lines(&s, &cells, &good);
    let mut bombed = good.clone();
    // Year 9999, epoch 0, a negative-looking flip, and an outage that began before 2000.
    bombed.insert(10, call_at("far", 253_402_300_799_000));
    bombed.insert(500, call_at("zero", 0));
    bombed.insert(900, call_at("y1999", 946_684_799_999));
    bombed.insert(1200, r#"{"type":"outage","outage_id":"old","event_time":1767225600000,"cell_id":"N1-L1","state":"RESTORED","started_at":5,"cause":"POWER","planned":false}"#.to_string());
    let r = replay_lines(&s, &cells, &bombed);
    assert_eq!(
        dead_by_reason(&r.dead).get("event_time_out_of_range"),
        Some(&4),
        "{:?}",
        dead_by_reason(&r.dead)
    );
    assert!(
        r.raw.0 == clean.raw.0,
        "KPI records differ from the clean input's"
    );
    assert!(
        r.raw.1 == clean.raw.1,
        "breach events differ from the clean input's"
    );
    assert!(!dead_by_reason(&r.dead).contains_key("late"));
}

#[test]
fn a_fixed_not_after_replays_future_data_reproducibly() {
    let s = settings("");
    let cells = small_inventory();
    let future = 4_102_444_800_000; // 2100-01-01
    let input = vec![call_at("a", future), call_at("b", future + 60_000)];
    // Against the wall clock both are from the future.
    let r = replay_lines(&s, &cells, &input);
    assert_eq!(
        dead_by_reason(&r.dead).get("event_time_out_of_range"),
        Some(&2)
    );
    let opts = netkpi::replay::ReplayOptions {
        clock: netkpi::replay::Clock::NotAfter(future + DAY),
        ..netkpi::replay::ReplayOptions::of(&s)
    };
    let (engine, _, d) = replay_keeping_the_engine(&s, &cells, &input, &opts);
    assert!(d.is_empty(), "{}", String::from_utf8_lossy(&d));
    assert_eq!(engine.stats().records[0], 2);
}

#[test]
fn a_long_gap_is_skipped_counted_and_bounded() {
    let s = settings("[windows]\nmax_gap = \"1h\"\n");
    let cells = small_inventory();
    let t0 = 1_767_225_600_000;
    let input = vec![
        call_at("a", t0),
        call_at("b", t0 + 30 * DAY),
        call_at("c", t0 + 30 * DAY + 60_000),
    ];
    let r = replay_lines(&s, &cells, &input);
    let windows: std::collections::BTreeSet<i64> = r
        .kpis
        .iter()
        .filter_map(|k| k["window_start"].as_i64())
        .collect();
    // The first hour after the record (12 windows), then the windows of the new records.
    assert_eq!(windows.len(), 13, "{windows:?}");
    assert!(windows.contains(&(t0 + 30 * DAY)));
    let skipped = (30 * DAY - 3_600_000) / 300_000;
    let opts = netkpi::replay::ReplayOptions::of(&s);
    let (engine, _, d) = replay_keeping_the_engine(&s, &cells, &input, &opts);
    assert_eq!(engine.stats().skipped_windows, vec![skipped as u64]);
    // Both later records are on time: nothing became late because of the gap.
    assert!(d.is_empty());
}

#[test]
fn over_long_lines_bom_and_cr_line_ends() {
    let s = settings("[input]\nmax_record_bytes = \"4KiB\"\n");
    let cells = small_inventory();
    let good = lines(&good_events(300));
    let clean = replay_lines(&s, &cells, &good);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("messy.jsonl");
    let mut body = String::from("\u{feff}");
    for (i, l) in good.iter().enumerate() {
        body.push_str(l);
        body.push_str(if i % 2 == 0 { "\r" } else { "\r\n" });
        if i == 100 {
            body.push_str(&format!("{{\"pad\":\"{}\"}}\n", "x".repeat(100_000)));
        }
    }
    std::fs::write(&path, body).expect("write");
    let r = replay_files(&s, &cells, &[path]);
    assert_eq!(
        dead_by_reason(&r.dead),
        [("record_too_large".to_string(), 1)].into()
    );
    assert!(r.dead[0]["payload"].as_str().unwrap_or("").len() <= 4096);
    assert!(
        r.raw.0 == clean.raw.0,
        "KPI records differ from the clean input's"
    );
}

#[test]
fn a_newline_free_file_does_not_exhaust_memory() {
    let s = settings("");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("zeros.bin");
    let mut f = std::fs::File::create(&path).expect("create");
    let block = vec![0u8; 1 << 20];
    for _ in 0..200 {
        f.write_all(&block).expect("write");
    }
    drop(f);
    let r = replay_files(&s, &small_inventory(), &[path]);
    assert_eq!(
        dead_by_reason(&r.dead),
        [("record_too_large".to_string(), 1)].into()
    );
    assert_eq!(r.counters.records_read, 1);
}

fn netkpi_replay(dir: &Path, input: &str, stdin: Option<&[u8]>) -> (std::process::Output, Vec<u8>) {
    let config = dir.join("netkpi.toml");
    std::fs::write(dir.join("cells.csv"), SMALL_INVENTORY_CSV).expect("inventory");
    std::fs::write(&config, "[inventory]\npath = \"cells.csv\"\n").expect("config");
    let kpis = dir.join("kpis.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_netkpi"))
        .args(["replay", "--config"])
        .arg(&config)
        .args(["--input", input, "--kpis-out"])
        .arg(&kpis)
        .arg("--breaches-out")
        .arg(dir.join("b.jsonl"))
        .arg("--dead-letters-out")
        .arg(dir.join("d.jsonl"))
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run netkpi");
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // Written in small pieces, as a pipe delivers them.
        for chunk in bytes.chunks(3) {
            pipe.write_all(chunk).expect("pipe");
        }
    }
    let out = child.wait_with_output().expect("wait");
    (out, std::fs::read(&kpis).unwrap_or_default())
}

#[test]
fn standard_input_loses_no_byte_for_json_and_avro() {
    let evs = good_events(400);
    let json = lines(&evs).join("\n").into_bytes();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("in.jsonl");
    std::fs::write(&file, &json).expect("write");
    let (o, from_file) = netkpi_replay(dir.path(), file.to_str().unwrap_or_default(), None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (o, piped) = netkpi_replay(dir.path(), "-", Some(&json));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!piped.is_empty());
    assert!(piped == from_file, "piped JSON differs from the file's");
    let avro = container("deflate", &evs, 100, |d| {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(d).expect("deflate");
        e.finish().expect("deflate")
    });
    let (o, piped) = netkpi_replay(dir.path(), "-", Some(&avro));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (a, b) = (parse_lines(&piped), parse_lines(&from_file));
    assert_eq!(
        network_totals(&a),
        network_totals(&b),
        "piped Avro counts differ"
    );
}

#[test]
fn an_output_on_an_input_or_another_output_is_refused_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("cells.csv"), SMALL_INVENTORY_CSV).expect("inventory");
    let config = dir.path().join("netkpi.toml");
    std::fs::write(&config, "[inventory]\npath = \"cells.csv\"\n").expect("config");
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, lines(&good_events(50)).join("\n")).expect("write");
    let before = std::fs::read(&input).expect("read");
    let same_via_dots = dir.path().join("sub/../in.jsonl");
    std::fs::create_dir_all(dir.path().join("sub")).expect("mkdir");
    for (kpis, dead) in [
        (same_via_dots.clone(), dir.path().join("d.jsonl")),
        (dir.path().join("k.jsonl"), dir.path().join("k.jsonl")),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_netkpi"))
            .args(["replay", "--config"])
            .arg(&config)
            .arg("--input")
            .arg(&input)
            .arg("--kpis-out")
            .arg(&kpis)
            .arg("--breaches-out")
            .arg(dir.path().join("b.jsonl"))
            .arg("--dead-letters-out")
            .arg(&dead)
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains("nothing was written"), "{err}");
    }
    assert_eq!(std::fs::read(&input).expect("read"), before);
    assert!(!dir.path().join("b.jsonl").exists());
}

/// An object container written by hand: `datums` in blocks of `per_block`, each compressed
/// with `compress`, under codec name `codec`.
fn container(
    codec: &str,
    evs: &[Event],
    per_block: usize,
    compress: impl Fn(&[u8]) -> Vec<u8>,
) -> Vec<u8> {
    let schema = input_union_schema();
    let datums: Vec<Vec<u8>> = evs.iter().map(datum).collect();
    let blocks: Vec<(u64, Vec<u8>)> = datums
        .chunks(per_block)
        .map(|c| (c.len() as u64, compress(&c.concat())))
        .collect();
    raw_container(&schema.canonical_form(), codec, &blocks)
}

const SYNC: [u8; 16] = *b"0123456789abcdef";

fn long(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    loop {
        let b = (z & 0x7f) as u8;
        z >>= 7;
        if z == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn raw_container(schema: &str, codec: &str, blocks: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut out = b"Obj\x01".to_vec();
    long(&mut out, 2);
    for (k, v) in [
        ("avro.schema", schema.as_bytes()),
        ("avro.codec", codec.as_bytes()),
    ] {
        long(&mut out, k.len() as i64);
        out.extend_from_slice(k.as_bytes());
        long(&mut out, v.len() as i64);
        out.extend_from_slice(v);
    }
    long(&mut out, 0);
    out.extend_from_slice(&SYNC);
    for (count, data) in blocks {
        long(&mut out, *count as i64);
        long(&mut out, data.len() as i64);
        out.extend_from_slice(data);
        out.extend_from_slice(&SYNC);
    }
    out
}

/// Offset of the first sync marker at or after `from`.
fn sync_at(bytes: &[u8], from: usize) -> usize {
    from + bytes[from..]
        .windows(16)
        .position(|w| w == SYNC)
        .expect("a sync marker")
}

fn replay_avro(bytes: &[u8]) -> Replayed {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("in.avro");
    std::fs::write(&path, bytes).expect("write");
    replay_files(&settings(""), &small_inventory(), &[path])
}

#[test]
fn every_avro_codec_reads_like_json() {
    let evs = good_events(600);
    let want = replay_lines(&settings(""), &small_inventory(), &lines(&evs));
    let snappy = |d: &[u8]| {
        let mut out = snap::raw::Encoder::new().compress_vec(d).expect("snappy");
        out.extend_from_slice(&netkpi::source::avro_codec::crc32(d).to_be_bytes());
        out
    };
    let codecs: Vec<(&str, Compress)> = vec![
        ("null", Box::new(|d: &[u8]| d.to_vec())),
        (
            "deflate",
            Box::new(|d: &[u8]| {
                let mut e =
                    flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(d).expect("deflate");
                e.finish().expect("deflate")
            }),
        ),
        ("snappy", Box::new(snappy)),
        (
            "zstandard",
            Box::new(|d: &[u8]| {
                ruzstd::encoding::compress_to_vec(d, ruzstd::encoding::CompressionLevel::Fastest)
            }),
        ),
        (
            "bzip2",
            Box::new(|d: &[u8]| {
                let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
                e.write_all(d).expect("bzip2");
                e.finish().expect("bzip2")
            }),
        ),
        (
            "xz",
            Box::new(|d: &[u8]| {
                let mut out = Vec::new();
                lzma_rs::xz_compress(&mut std::io::Cursor::new(d), &mut out).expect("xz");
                out
            }),
        ),
    ];
    // Avro floats are 32-bit: the counts agree with JSON's, and every codec's output with the
    // null codec's, byte for byte.
    let plain = replay_avro(&container("null", &evs, 64, |d| d.to_vec()));
    assert_eq!(network_totals(&plain.kpis), network_totals(&want.kpis));
    for (name, compress) in codecs {
        let r = replay_avro(&container(name, &evs, 64, compress));
        assert!(r.dead.is_empty(), "{name}: {:?}", dead_by_reason(&r.dead));
        assert!(
            r.raw.0 == plain.raw.0,
            "{name}: KPI records differ from the null codec's"
        );
    }
}

#[test]
fn block_counts_and_sync_markers_are_checked_against_the_bytes() {
    let evs = good_events(300);
    let schema = input_union_schema();
    let block = |r: &[Event]| r.iter().map(datum).collect::<Vec<_>>().concat();
    let (a, rest) = evs.split_at(100);
    let (b, c) = rest.split_at(100);
    let canonical = schema.canonical_form();
    // Count too high: 100 datums said to be 150 — no record out of nothing; too low: said to be
    // 60 — the other 40 are not dropped unseen (the rest of the block is one dead letter).
    let mut detail = String::new();
    for (said, good) in [(150, 300), (60, 260)] {
        let bytes = raw_container(
            &canonical,
            "null",
            &[(said, block(a)), (100, block(b)), (100, block(c))],
        );
        let r = replay_avro(&bytes);
        assert_eq!(
            r.counters.records_read - r.counters.dead_letters_total(),
            good,
            "block count {said}"
        );
        assert_eq!(
            dead_by_reason(&r.dead),
            [("malformed".to_string(), 1)].into(),
            "block count {said}"
        );
        detail = r.dead[0]["detail"].as_str().unwrap_or("").to_string();
    }
    assert!(detail.contains("bytes follow"), "{detail}");
    // A damaged sync marker after block a costs block a only; b and c are read.
    let mut bytes = raw_container(
        &canonical,
        "null",
        &[(100, block(a)), (100, block(b)), (100, block(c))],
    );
    let second = sync_at(&bytes, sync_at(&bytes, 0) + 16);
    bytes[second + 3] ^= 0xff;
    let r = replay_avro(&bytes);
    let good: u64 = r.counters.records_read - r.counters.dead_letters_total();
    assert_eq!(good, 200, "{:?}", dead_by_reason(&r.dead));
}

#[test]
fn a_decompression_bomb_costs_only_its_block() {
    let s = settings("[input]\nmax_block_bytes = \"1MiB\"\n");
    let evs = good_events(200);
    let schema = input_union_schema();
    let datums = evs.iter().map(datum).collect::<Vec<_>>().concat();
    let deflate = |d: &[u8]| {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(d).expect("deflate");
        e.finish().expect("deflate")
    };
    let bomb = deflate(&vec![0u8; 256 << 20]);
    let bytes = raw_container(
        &schema.canonical_form(),
        "deflate",
        &[(1_000_000, bomb), (200, deflate(&datums))],
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bomb.avro");
    std::fs::write(&path, &bytes).expect("write");
    let r = replay_files(&s, &small_inventory(), &[path]);
    assert_eq!(
        dead_by_reason(&r.dead),
        [("malformed".to_string(), 1)].into()
    );
    assert!(
        r.dead[0]["detail"]
            .as_str()
            .unwrap_or("")
            .contains("max_block_bytes")
    );
    assert_eq!(r.counters.records_read, 201);
}

#[test]
fn hostile_writer_schemas_are_refused_with_a_clear_error() {
    let endless = r#"{"type":"record","name":"R","fields":[{"name":"r","type":"R"}]}"#;
    let r = replay_avro(&raw_container(endless, "null", &[(1, vec![0u8; 8])]));
    assert_eq!(r.dead.len(), 1);
    assert!(
        r.dead[0]["detail"]
            .as_str()
            .unwrap_or("")
            .contains("must contain itself")
    );
    let mut deep = String::from("\"long\"");
    for _ in 0..100 {
        deep = format!(r#"{{"type":"array","items":{deep}}}"#);
    }
    let r = replay_avro(&raw_container(&deep, "null", &[(1, vec![0u8; 8])]));
    assert_eq!(r.dead.len(), 1);
    assert!(
        r.dead[0]["detail"]
            .as_str()
            .unwrap_or("")
            .contains("deeper"),
        "{:?}",
        r.dead
    );
}

#[test]
fn unknown_cells_are_forgotten_and_restored_outages_pruned() {
    let s = settings("[kpi]\nunknown_cell_ttl = \"10m\"\nrestored_outage_retention = \"30m\"\n");
    let cells = small_inventory();
    let t0 = 1_767_225_600_000;
    let mut input = Vec::new();
    // A cardinality bomb: 20 000 made-up cells in the first minutes…
    for i in 0..20_000 {
        input.push(format!(
            r#"{{"type":"data_session","session_id":"s{i}","event_time":{},"cell_id":"bogus-{i}","active_ms":10,"dl_bytes":1,"ul_bytes":1,"packets_sent":1,"packets_lost":0}}"#,
            t0 + i64::from(i) * 10
        ));
    }
    // …then hours of ordinary traffic, with outages that are restored.
    for m in 0..240 {
        let t = t0 + 600_000 + m * 60_000;
        input.push(call_at(&format!("c{m}"), t));
        input.push(format!(r#"{{"type":"outage","outage_id":"o{m}","event_time":{t},"cell_id":"S1-L1","state":"RESTORED","started_at":{},"cause":"POWER","planned":false}}"#, t - 30_000));
    }
    let opts = netkpi::replay::ReplayOptions::of(&s);
    let (engine, k, d) = replay_keeping_the_engine(&s, &cells, &input, &opts);
    assert!(d.is_empty(), "{}", String::from_utf8_lossy(&d));
    assert_eq!(engine.stats().unknown_cells_forgotten, 20_000);
    assert_eq!(engine.stats().unknown_cell_records, 20_000);
    let cp = engine.checkpoint();
    assert!(
        cp.outages.restored_at.len() <= 40,
        "restored ids kept: {}",
        cp.outages.restored_at.len()
    );
    // The cells' records were counted in their windows all the same.
    let kpis = parse_lines(&k);
    assert_eq!(network_totals(&kpis).1, 20_000);
}

fn parse_lines(bytes: &[u8]) -> Vec<Value> {
    bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect()
}

fn check_config(toml: &str, env: &[(&str, &str)]) -> (i32, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("cells.csv"), SMALL_INVENTORY_CSV).expect("inventory");
    let path = dir.path().join("netkpi.toml");
    std::fs::write(&path, toml).expect("config");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_netkpi"));
    cmd.arg("check-config").arg(&path);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().expect("run");
    (
        o.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

#[test]
fn config_floats_ranges_and_every_problem_at_once() {
    let (code, out) = check_config(
        "[inventory]\npath = \"cells.csv\"\n[kpi]\nmin_active_ms = 1e23\n[windows]\nsizes = [\"500ms\"]\n[[rules]]\nname = \"r\"\nkpi = \"call_attempts\"\nlevel = \"network\"\nop = \">\"\nraise = 1\nfor_windows = 1.5\nclear_windows = \"x\"\nseverity = \"minor\"\n",
        &[],
    );
    assert_eq!(code, 2, "{out}");
    for needle in [
        "rules[0].for_windows: expected an integer, found the number 1.5",
        "rules[0].clear_windows",
        "kpi.min_active_ms",
        "windows.sizes[0]: `500ms` is shorter than one second",
    ] {
        assert!(out.contains(needle), "missing {needle} in {out}");
    }
}

#[test]
fn a_near_miss_override_is_warned_about() {
    let (code, out) = check_config(
        "[inventory]\npath = \"cells.csv\"\n",
        &[("NETKPI_WINDOWS__SIZES", "1h")],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("NETKPI_WINDOWS__SIZES") && out.contains("not one"),
        "{out}"
    );
}

#[test]
fn secrets_never_appear_in_any_spelling() {
    let secret = "Sup3r-S3cret-Value";
    let cases: Vec<(String, Vec<(&str, String)>)> = vec![
        // A TOML syntax error on the secret's own line (the parser quotes it).
        (
            format!(
                "[inventory]\npath = \"cells.csv\"\n[kafka.properties]\n\"sasl.password\" = \"{secret}\n"
            ),
            vec![],
        ),
        // librdkafka refusing a property next to a secret one, and the secret's own property.
        (
            format!(
                "[inventory]\npath = \"cells.csv\"\n[kafka.properties]\n\"sasl.password\" = \"{secret}\"\n\"sasl.mechanisms\" = \"{secret}\"\n\"no.such.property\" = \"{secret}\"\n"
            ),
            vec![],
        ),
        // A misspelled key and a wrong type on a secret-named key.
        (
            format!(
                "[inventory]\npath = \"cells.csv\"\n[kafka]\nsasl_password = \"{secret}\"\nschema_registry_url = [\"{secret}\"]\n"
            ),
            vec![],
        ),
        // An environment override.
        (
            "[inventory]\npath = \"cells.csv\"\n".to_string(),
            vec![(
                "NETKPI__KAFKA__PROPERTIES__SASL.JAAS.CONFIG",
                secret.to_string(),
            )],
        ),
    ];
    for (toml, env) in cases {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (_, out) = check_config(&toml, &env);
        assert!(!out.contains(secret), "secret shown:\n{out}");
        assert!(!out.contains("Sup3r"), "part of a secret shown:\n{out}");
    }
    let (code, out) = check_config(
        "[inventory]\npath = \"cells.csv\"\n[kafka.properties]\n\"no.such.property\" = \"1\"\n",
        &[],
    );
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no.such.property"), "{out}");
}

#[test]
fn a_long_damaged_stretch_is_cut_into_bounded_dead_letters() {
    // max_block_bytes 1 KiB: a block is settled within 2 × (1024 + 36) bytes, and a damaged
    // stretch is dead-lettered in pieces of at most that, never held whole.
    let reach = 2 * (1024 + 36);
    let s = settings("[input]\nmax_block_bytes = \"1KiB\"\n");
    let evs = good_events(10);
    let block = |r: &[Event]| r.iter().map(datum).collect::<Vec<_>>().concat();
    let (a, b) = evs.split_at(5);
    let mut bytes = raw_container(
        &input_union_schema().canonical_form(),
        "null",
        &[(5, block(a)), (5, block(b))],
    );
    let block_a_end = sync_at(&bytes, sync_at(&bytes, 0) + 16) + 16;
    let garbage: Vec<u8> = (0..64 * 1024u32).map(|i| (i * 7 % 251) as u8).collect();
    // Overwritten bytes where blocks were: the marker that ended the last of them is intact.
    let damaged = [garbage.as_slice(), &SYNC].concat();
    bytes.splice(block_a_end..block_a_end, damaged);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("stretch.avro");
    std::fs::write(&path, &bytes).expect("write");
    let r = replay_files(&s, &small_inventory(), &[path]);
    assert_eq!(
        r.counters.records_read - r.counters.dead_letters_total(),
        10
    );
    let starts: Vec<usize> = r
        .dead
        .iter()
        .map(|d| {
            let detail = d["detail"].as_str().unwrap_or("");
            assert!(detail.contains("corrupt Avro block"), "{detail}");
            detail
                .split("at byte ")
                .nth(1)
                .and_then(|t| t.split(':').next())
                .and_then(|n| n.parse().ok())
                .expect("offset in the detail")
        })
        .collect();
    assert!(starts.len() >= garbage.len() / reach, "{starts:?}");
    assert_eq!(starts.first(), Some(&block_a_end));
    for pair in starts.windows(2) {
        assert!(pair[1] - pair[0] <= reach, "{starts:?}");
    }
    let last_end = block_a_end + garbage.len() + 16;
    assert!(last_end - starts[starts.len() - 1] <= reach, "{starts:?}");
}
