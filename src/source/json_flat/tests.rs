//! The fast path against serde_json: whatever line it takes, serde_json decodes to the same
//! record, bit for bit; and it does take the lines producers write.

use super::{NAMES, decode_flat, first_special, starting_with};
use crate::model::raw::RawEvent;
use crate::source::json::encode_event;
use crate::traffic::{GenItem, GenOptions, Generator, synthetic_inventory};
use proptest::prelude::*;

/// Whether the fast path took `line`; if it did, its record must be serde_json's, bit for bit
/// (`Debug` prints an `f64`'s shortest round-trip form and the sign of a zero).
fn check(line: &str) -> bool {
    let mut fast = RawEvent::default();
    if !decode_flat(line, &mut fast) {
        return false;
    }
    match serde_json::from_str::<RawEvent<'_>>(line) {
        Ok(slow) => assert_eq!(format!("{fast:?}"), format!("{slow:?}"), "{line}"),
        Err(e) => panic!("the fast path took a line serde_json refuses ({e}): {line}"),
    }
    true
}

/// Lines of every kind the generator writes, bad ones included.
fn generated() -> &'static [String] {
    static LINES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    LINES.get_or_init(|| {
        let opts = GenOptions {
            max_records: 2_000,
            ..GenOptions::default()
        };
        Generator::new(synthetic_inventory(100, 1), opts)
            .map(GenItem::into_json_line)
            .collect()
    })
}

#[test]
fn takes_every_line_the_generator_writes_for_a_valid_event() {
    let opts = GenOptions {
        max_records: 20_000,
        ..GenOptions::default()
    };
    let mut taken = 0;
    for item in Generator::new(synthetic_inventory(100, 1), opts) {
        if let GenItem::Event(e) = item {
            let line = encode_event(&e);
            assert!(check(&line), "{line}");
            taken += 1;
        }
    }
    assert!(taken > 10_000, "{taken}");
}

#[test]
fn edge_cases_agree_with_serde_json() {
    let base = r#""type":"call","call_id":"c1","cell_id":"A""#;
    // (value of `mos` or of `setup_ms`, whether the fast path takes it)
    let cases: &[(&str, &str, bool)] = &[
        ("mos", "4", true),
        ("mos", "-4", true),
        ("mos", "4.25", true),
        ("mos", "-0.0", true),
        ("mos", "0.1", true),
        ("mos", "123456789012345.678", true),
        ("mos", "1234567890123456789", false),
        ("mos", "0.30000000000000004", true),
        ("mos", "-0", false),
        ("mos", "1e3", false),
        ("mos", "1E-3", false),
        ("mos", "01", false),
        ("mos", "1.", false),
        ("mos", ".5", false),
        ("mos", "+1", false),
        ("mos", "null", true),
        ("mos", "nul", false),
        ("mos", "\"4\"", false),
        ("setup_ms", "2147483647", true),
        ("setup_ms", "2147483648", false),
        ("setup_ms", "-2147483648", true),
        ("setup_ms", "-2147483649", false),
        ("setup_ms", "1500.0", false),
        ("setup_ms", "0", true),
        ("setup_ms", "-0", false),
        ("event_time", "999999999999999999", true),
        ("event_time", "9223372036854775807", false),
        ("dropped", "true", true),
        ("dropped", "false", true),
        ("dropped", "truex", false),
        ("dropped", "1", false),
        ("cell_id2", "[1,2]", false),
        ("extra", "{\"x\":1}", false),
        ("extra", "\"ignored\"", true),
        ("extra", "12.5", true),
        ("extra", "null", true),
        ("extra", "1e9", false),
        ("plan", "\"4G\\u0041\"", false),
        ("plan", "\"caf\u{e9}\"", true),
        ("plan", "\"tab\there\"", false),
    ];
    for &(key, value, taken) in cases {
        let line = format!(r#"{{{base},"{key}":{value}}}"#);
        assert_eq!(check(&line), taken, "{line}");
    }
    for (line, taken) in [
        (format!("{{{base}}}"), true),
        (format!(" \t{{ {} }}\r\n ", base.replace(',', " ,\n")), true),
        ("{}".to_string(), true),
        ("{ }".to_string(), true),
        (format!("{{{base},}}"), false),
        (format!("{{{base}}}x"), false),
        (format!("{{{base}}}}}"), false),
        (format!("{{{base},\"cell_id\":\"B\"}}"), false),
        (format!("{{{base},\"type\":null}}"), false),
        (format!("{{{base},\"x\":1,\"x\":2}}"), true),
        (format!("{{\"ty\\u0070e\":\"call\",{base}}}"), false),
        (format!("[{base}]"), false),
        (String::new(), false),
        ("{".to_string(), false),
    ] {
        assert_eq!(check(&line), taken, "{line}");
    }
}

#[test]
fn each_name_is_among_the_candidates_of_its_first_byte_only() {
    for b in 0..=u8::MAX {
        for (i, name) in NAMES.iter().enumerate() {
            let listed = starting_with(b).any(|f| f == i as u32);
            assert_eq!(
                listed,
                name.as_bytes()[0] == b,
                "{name} under {}",
                b as char
            );
        }
    }
}

#[test]
fn first_special_finds_the_first_quote_backslash_or_control_byte() {
    let naive = |w: [u8; 8]| {
        w.iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
            .unwrap_or(8)
    };
    let mut rng = proptest::test_runner::TestRng::deterministic_rng(
        proptest::test_runner::RngAlgorithm::ChaCha,
    );
    let picks = [
        b'"', b'\\', 0x00, 0x1f, 0x20, 0x21, b'a', 0x7f, 0x80, 0xff, 0x5b, 0x5d,
    ];
    for _ in 0..200_000 {
        let w: [u8; 8] = std::array::from_fn(|_| {
            let r = rng.next_u32();
            if r.is_multiple_of(3) {
                picks[(r >> 8) as usize % picks.len()]
            } else {
                (r >> 16) as u8
            }
        });
        assert_eq!(first_special(u64::from_le_bytes(w)), naive(w), "{w:?}");
    }
}

/// Bytes that change what a line means to a JSON parser.
const EDITS: &[u8] = b"\"\\{}[],:.-+eE0123456789 \t\nntfrul\x01a";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]
    #[test]
    fn whatever_the_fast_path_takes_serde_json_decodes_the_same(
        pick in 0usize..2_000,
        edits in proptest::collection::vec((0usize..300, 0usize..EDITS.len(), 0u8..3), 1..4),
    ) {
        let lines = generated();
        let mut bytes = lines[pick % lines.len()].clone().into_bytes();
        for (at, b, op) in edits {
            let at = at % (bytes.len() + 1);
            match op {
                0 => bytes.insert(at, EDITS[b]),
                1 if at < bytes.len() => bytes[at] = EDITS[b],
                _ if at < bytes.len() => {
                    bytes.remove(at);
                }
                _ => {}
            }
        }
        if let Ok(line) = String::from_utf8(bytes) {
            check(&line);
        }
    }
}
