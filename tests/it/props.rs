//! Property tests of the engine's invariants over random inputs:
//! every valid record is counted exactly once at every level; the output does not depend on the
//! arrival order within the allowed delay; every `CLEARED` follows a `RAISED` with the same id.

use crate::*;
use netkpi::engine::sources::Origin;
use netkpi::model::{CallOutcome, CallRecord, DataSession, Event, Outage, OutageState};
use netkpi::source::json::encode_event;
use proptest::prelude::*;
use std::collections::HashMap;

const CELLS: [&str; 8] = [
    "N1-L1", "N1-N1", "N2-L1", "S1-L1", "S1-U1", "S2-G1", "GHOST1", "GHOST2",
];
const CONFIG: &str = r#"
[windows]
sizes = ["1m", "3m"]
allowed_delay = "20s"
# These properties count time from the epoch.
not_before = "1970-01-01T00:00:00Z"
[kpi]
levels = ["cell", "site", "region,technology", "area", "network"]
min_active_ms = 100
[plans.P]
min_dl_bps = 1000000
[[rules]]
name = "Fail"
kpi = "network_connection_ratio"
level = "region,technology"
op = "<"
raise = 0.7
clear = 0.8
for_windows = 1
clear_windows = 1
severity = "major"
[[rules]]
name = "Down"
kpi = "availability_ratio"
level = "cell"
op = "<"
raise = 0.9
clear = 0.95
severity = "critical"
[[rules]]
name = "Volume"
kpi = "dl_bytes"
level = "network"
op = ">"
raise = 50000
clear = 20000
for_windows = 2
clear_windows = 2
severity = "warning"
"#;

#[derive(Debug, Clone)]
struct Spec {
    kind: u8,
    cell: usize,
    dt: i64,
    a: i64,
    b: i64,
    flag: bool,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0u8..10,
        0usize..CELLS.len(),
        0i64..15_000,
        0i64..100_000,
        0i64..1_000,
        any::<bool>(),
    )
        .prop_map(|(kind, cell, dt, a, b, flag)| Spec {
            kind,
            cell,
            dt,
            a,
            b,
            flag,
        })
}

/// Events in event-time order; some outages stay open, others are restored later.
fn events(specs: &[Spec]) -> Vec<Event> {
    let mut t = 1_000_000i64;
    let mut out = Vec::new();
    let mut restores = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        t += s.dt;
        let cell = CELLS[s.cell].to_string();
        let ev = match s.kind {
            0..=3 => Event::Call(CallRecord {
                call_id: format!("c{i}").into(),
                event_time: t,
                cell_id: cell.into(),
                outcome: CallOutcome::ALL[(s.a % 6) as usize],
                setup_ms: s.flag.then_some((s.a % 5000) as i32),
                duration_ms: Some(s.a),
                dropped: s.b % 3 == 0,
                mos: (s.b % 2 == 0).then_some(1.0 + (s.b % 400) as f64 / 100.0),
                signal_dbm: Some(-(s.b % 130) as i32),
                sinr_db: s.flag.then_some((s.b % 40) as f64 - 10.0),
            }),
            4..=7 => Event::Session(DataSession {
                session_id: format!("s{i}").into(),
                event_time: t,
                cell_id: cell.into(),
                plan: s.flag.then(|| "P".into()),
                active_ms: s.b * 3,
                dl_bytes: s.a,
                ul_bytes: s.a / 3,
                rtt_ms: s.flag.then_some(s.b as f64 / 7.0),
                packets_sent: s.b,
                packets_lost: s.b / 10,
                signal_dbm: None,
                sinr_db: None,
            }),
            _ => {
                // A well-formed outage: one DOWN, one RESTORED carrying the DOWN's time. (With
                // reused ids or missing DOWNs the rules make arrival order matter on purpose.)
                let cell = CELLS[s.cell % 6].to_string();
                let id = format!("o{i}");
                let down = Outage {
                    outage_id: id.into(),
                    event_time: t,
                    cell_id: cell.into(),
                    state: OutageState::Down,
                    started_at: None,
                    cause: "X".into(),
                    planned: s.flag,
                };
                if s.kind == 9 {
                    restores.push(Event::Outage(Outage {
                        event_time: t + s.a,
                        state: OutageState::Restored,
                        started_at: Some(t),
                        ..down.clone()
                    }));
                }
                Event::Outage(down)
            }
        };
        out.push(ev);
    }
    out.append(&mut restores);
    out.sort_by_key(Event::event_time);
    out
}

fn lines(evs: &[Event]) -> Vec<String> {
    evs.iter().map(encode_event).collect()
}

/// Reorders events within blocks whose event times span less than the allowed delay.
fn shuffle_within_delay(mut evs: Vec<Event>, keys: &[u64], delay: i64) -> Vec<Event> {
    evs.sort_by_key(Event::event_time);
    let mut out = Vec::new();
    let mut block: Vec<(u64, Event)> = Vec::new();
    for (i, ev) in evs.into_iter().enumerate() {
        if block
            .first()
            .is_some_and(|(_, f)| ev.event_time() - f.event_time() >= delay)
        {
            block.sort_by_key(|(k, _)| *k);
            out.extend(block.drain(..).map(|(_, e)| e));
        }
        block.push((keys.get(i).copied().unwrap_or(0), ev));
    }
    block.sort_by_key(|(k, _)| *k);
    out.extend(block.into_iter().map(|(_, e)| e));
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn every_valid_record_is_counted_once_at_every_level(specs in prop::collection::vec(spec(), 1..250)) {
        let s = settings(CONFIG);
        let evs = events(&specs);
        let r = replay_lines(&s, &small_inventory(), &lines(&evs));
        let late = dead_by_reason(&r.dead).get("late").copied().unwrap_or(0);
        prop_assert_eq!(late, 0, "base times never go backwards");
        let calls = evs.iter().filter(|e| matches!(e, Event::Call(_))).count() as u64;
        let sessions = evs.iter().filter(|e| matches!(e, Event::Session(_))).count() as u64;
        for size in [60_000i64, 180_000] {
            for level in ["cell", "site", "region,technology", "area", "network"] {
                let sum = |kpi: &str| -> u64 {
                    r.kpis.iter()
                        .filter(|k| k["level"] == level && k["window_end"].as_i64().unwrap_or(0) - k["window_start"].as_i64().unwrap_or(0) == size)
                        .map(|k| k["kpis"][kpi].as_u64().unwrap_or(0))
                        .sum()
                };
                prop_assert_eq!(sum("call_attempts"), calls, "calls at {} {}", level, size);
                prop_assert_eq!(sum("sessions"), sessions, "sessions at {} {}", level, size);
            }
        }
    }

    #[test]
    fn output_is_independent_of_order_within_the_allowed_delay(
        specs in prop::collection::vec(spec(), 1..250),
        keys in prop::collection::vec(any::<u64>(), 250),
    ) {
        let s = settings(CONFIG);
        let mut sorted = events(&specs);
        sorted.sort_by_key(Event::event_time);
        let shuffled = shuffle_within_delay(sorted.clone(), &keys, s.allowed_delay_ms);
        let a = replay_lines(&s, &small_inventory(), &lines(&sorted));
        let b = replay_lines(&s, &small_inventory(), &lines(&shuffled));
        prop_assert!(a.dead.is_empty() && b.dead.is_empty(), "nothing is late: {:?}", b.dead);
        assert_same_kpis(&b.kpis, &a.kpis);
        assert_same_breaches(&b.breaches, &a.breaches);
    }

    #[test]
    fn every_cleared_follows_a_raised_with_the_same_id(specs in prop::collection::vec(spec(), 1..300)) {
        let s = settings(CONFIG);
        let r = replay_lines(&s, &small_inventory(), &lines(&events(&specs)));
        let mut firing: HashMap<(String, String), String> = HashMap::new();
        for e in &r.breaches {
            let key = (e["rule"].to_string(), e["group"].to_string());
            let id = e["breach_id"].as_str().unwrap_or_default().to_string();
            match e["state"].as_str() {
                Some("RAISED") => prop_assert!(firing.insert(key, id).is_none(), "raised twice without a clear"),
                Some("CLEARED") => prop_assert_eq!(firing.remove(&key), Some(id)),
                other => prop_assert!(false, "bad state {:?}", other),
            }
        }
    }
}

/// Runs events through an engine, returning KPI and breach lines.
fn run_engine(
    engine: &mut netkpi::engine::Engine,
    evs: &[Event],
    finish: bool,
) -> (Vec<u8>, Vec<u8>) {
    let mut out = netkpi::sink::jsonl::JsonlOutput::new(Vec::new(), Vec::new());
    for e in evs {
        let _ = engine.ingest_and_advance(e, Origin::file(0), &mut out);
    }
    if finish {
        let _ = engine.finish(&mut out);
    }
    out.finish().unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    /// A checkpoint taken after any record, restored into a fresh engine that re-reads the records
    /// before it, continues exactly as if nothing had happened.
    #[test]
    fn restore_and_reingest_continue_exactly(
        specs in prop::collection::vec(spec(), 1..250),
        cut in any::<prop::sample::Index>(),
        swaps in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 0..20),
    ) {
        let s = settings(CONFIG);
        let cells = small_inventory();
        let mut evs = events(&specs);
        // Far swaps make late records and late outage changes.
        for (a, b) in swaps {
            let (a, b) = (a.index(evs.len()), b.index(evs.len()));
            evs.swap(a, b);
        }
        let k = cut.index(evs.len() + 1);
        let mut whole = netkpi::engine::Engine::new(&s.engine(), &cells);
        let expected = run_engine(&mut whole, &evs, true);

        let mut first = netkpi::engine::Engine::new(&s.engine(), &cells);
        let (mut kpis, mut breaches) = run_engine(&mut first, &evs[..k], false);
        let saved = serde_json::to_vec(&first.checkpoint()).expect("serialise");
        let cp: netkpi::engine::checkpoint::EngineCheckpoint = serde_json::from_slice(&saved).expect("deserialise");
        let mut second = netkpi::engine::Engine::new(&s.engine(), &cells);
        second.restore(&cp).expect("restore");
        for e in &evs[..k] {
            second.reingest(e, Origin::file(0));
        }
        let (k2, b2) = run_engine(&mut second, &evs[k..], true);
        kpis.extend(k2);
        breaches.extend(b2);
        prop_assert_eq!(String::from_utf8_lossy(&kpis), String::from_utf8_lossy(&expected.0));
        prop_assert_eq!(String::from_utf8_lossy(&breaches), String::from_utf8_lossy(&expected.1));
    }
}

/// KPI and breach lines of a replay, sorted: windows of different sizes that end together come
/// out in configured order, which is all two orders of the same sizes may change.
fn sorted_outputs(config: &str, evs: &[Event]) -> (Vec<String>, Vec<String>) {
    let s = settings(config);
    let mut engine = netkpi::engine::Engine::new(&s.engine(), &small_inventory());
    let (kpis, breaches) = run_engine(&mut engine, evs, true);
    let sorted = |bytes: Vec<u8>| {
        let mut lines: Vec<String> = String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_string)
            .collect();
        lines.sort();
        lines
    };
    (sorted(kpis), sorted(breaches))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    /// Windows folded from finer ones (sizes listed finest first: 2 m and 3 m from 1 m, 6 m from
    /// 2 m) give exactly what each size aggregated on its own gives (coarsest first: nothing is
    /// folded), late records and outages included.
    #[test]
    fn folded_windows_equal_windows_aggregated_alone(
        specs in prop::collection::vec(spec(), 1..250),
        swaps in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 0..20),
    ) {
        let mut evs = events(&specs);
        for (a, b) in swaps {
            let (a, b) = (a.index(evs.len()), b.index(evs.len()));
            evs.swap(a, b);
        }
        // A rule watches the first size unless it names one.
        let config = CONFIG.replace("[[rules]]\n", "[[rules]]\nwindow = \"3m\"\n");
        let sizes = r#"sizes = ["1m", "3m"]"#;
        let folded = config.replace(sizes, r#"sizes = ["1m", "2m", "6m", "3m"]"#);
        let alone = config.replace(sizes, r#"sizes = ["6m", "3m", "2m", "1m"]"#);
        prop_assert!(folded != CONFIG && alone != CONFIG);
        let (folded_kpis, folded_breaches) = sorted_outputs(&folded, &evs);
        let (alone_kpis, alone_breaches) = sorted_outputs(&alone, &evs);
        prop_assert!(!folded_kpis.is_empty());
        prop_assert!(config.matches("window = ").count() == 3);
        prop_assert_eq!(folded_kpis, alone_kpis);
        prop_assert_eq!(folded_breaches, alone_breaches);
    }
}
