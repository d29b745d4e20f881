//! Bad input never panics and is never silently dropped: random and mutated lines each come out
//! aggregated or as a dead letter with a reason.

use crate::*;
use proptest::prelude::*;

const GOOD: &str = r#"{"type":"data_session","session_id":"s","event_time":1767225600000,"cell_id":"N1-L1","plan":"P","active_ms":2000,"dl_bytes":123456,"ul_bytes":100,"rtt_ms":12.5,"packets_sent":10,"packets_lost":1,"signal_dbm":-90,"sinr_db":3.5}"#;

fn accounted(lines: &[String]) -> Result<(), TestCaseError> {
    let r = replay_lines(&settings(""), &small_inventory(), lines);
    // A byte-order mark opening the file is skipped (it is not part of the first line).
    let non_blank = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                l.strip_prefix('\u{feff}').unwrap_or(l)
            } else {
                l
            }
        })
        .filter(|l| !l.chars().all(|c| matches!(c, ' ' | '\t' | '\r')))
        .count() as u64;
    prop_assert_eq!(r.counters.records_read, non_blank);
    let sessions: u64 = r
        .kpis
        .iter()
        .filter(|k| k["level"] == "network")
        .map(|k| {
            k["kpis"]["sessions"].as_u64().unwrap_or(0)
                + k["kpis"]["call_attempts"].as_u64().unwrap_or(0)
                + k["kpis"]["outages_started"].as_u64().unwrap_or(0)
                + k["kpis"]["outages_restored"].as_u64().unwrap_or(0)
        })
        .sum();
    // Every record is aggregated or dead-lettered (ignored repeated DOWNs aside, which random
    // mutation of a session line cannot produce).
    prop_assert_eq!(sessions + r.counters.dead_letters_total(), non_blank);
    for d in &r.dead {
        prop_assert!(d["reason"].as_str().is_some_and(
            |s| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        ));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_lines_never_panic(lines in prop::collection::vec(".{0,80}", 1..20)) {
        let lines: Vec<String> = lines.into_iter().map(|l| l.replace(['\n', '\r'], " ")).collect();
        accounted(&lines)?;
    }

    #[test]
    fn mutated_records_are_aggregated_or_dead_lettered(edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..4, "[-0-9a-z.\"{}:,e ]{0,3}"), 1..6)) {
        let mut line = GOOD.to_string();
        for (at, op, text) in edits {
            let mut i = at.index(line.len() + 1);
            while !line.is_char_boundary(i) { i -= 1; }
            match op {
                0 => line.insert_str(i, &text),
                1 => { let end = (i + text.len()).min(line.len()); let mut e = end; while !line.is_char_boundary(e) { e -= 1; } line.replace_range(i..e, ""); }
                2 => line.truncate(i),
                _ => line.replace_range(i..i, &text),
            }
        }
        accounted(&[line])?;
    }
}

#[test]
fn every_field_fault_has_its_reason() {
    let cases = [
        (GOOD.replace("123456", "-1"), "negative_value"),
        (
            GOOD.replace("\"packets_lost\":1", "\"packets_lost\":11"),
            "packets_lost_exceed_sent",
        ),
        (GOOD.replace("123456", "123456.5"), "invalid_type"),
        (GOOD.replace("123456", "\"lots\""), "invalid_type"),
        (GOOD.replace("\"cell_id\":\"N1-L1\",", ""), "missing_field"),
        (
            GOOD.replace("\"active_ms\":2000", "\"active_ms\":null"),
            "missing_field",
        ),
        (GOOD.replace("data_session", "voice"), "unknown_record_type"),
        (GOOD.replace("12.5", "-12.5"), "negative_value"),
        (GOOD[..40].to_string(), "malformed"),
        ("not json at all".to_string(), "malformed"),
    ];
    for (line, reason) in cases {
        let r = replay_lines(
            &settings(""),
            &small_inventory(),
            std::slice::from_ref(&line),
        );
        assert_eq!(r.dead.len(), 1, "{line}");
        assert_eq!(r.dead[0]["reason"], reason, "{line}");
        assert_eq!(r.dead[0]["payload"], line.as_str());
        assert!(r.dead[0]["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    // Integers for floats and unknown keys are fine; blank lines are skipped.
    let ok = GOOD
        .replace("12.5", "12")
        .replace("\"plan\"", "\"extra\":[1,{\"a\":null}],\"plan\"");
    let r = replay_lines(
        &settings(""),
        &small_inventory(),
        &[ok, String::new(), "   ".into()],
    );
    assert!(r.dead.is_empty(), "{:?}", r.dead);
    assert_eq!(r.counters.records_read, 1);
}
