//! Scenario tests of the window, lateness, group and outage rules (docs/semantics.md).

use super::*;
use crate::config::from_toml_str;
use crate::inventory;
use crate::kpi::{KPI_COUNT, Kpi, KpiValue};
use crate::model::level::Dim;
use crate::model::{CallOutcome, CallRecord, Outage};
use crate::threshold::BreachEvent;
use crate::threshold::BreachState;
use std::path::Path;

const MIN: i64 = 60_000;

fn setup(extra: &str) -> Engine {
    let toml = format!("[inventory]\npath = \"cells.csv\"\n{extra}");
    let settings = from_toml_str(&toml, Path::new(".")).expect("valid config");
    let cells = inventory::parse(
        "cell_id,site_id,region,area,technology\nA1,S1,North,URBAN,NR\nA2,S1,North,URBAN,LTE\nB1,S2,South,RURAL,LTE\n"
            .as_bytes(),
        "test",
    )
    .expect("inventory");
    let mut engine = Engine::new(&settings.engine(), &cells);
    // These scenarios count time from the epoch.
    engine.not_before = i64::MIN;
    engine
}

/// (window start, window end, level, group, values) of one KPI record.
type Row = (i64, i64, String, Vec<(Dim, String)>, [KpiValue; KPI_COUNT]);

/// Collects outputs as simple tuples.
#[derive(Default)]
struct Collect {
    kpis: Vec<Row>,
    breaches: Vec<BreachEvent>,
}

impl Output for Collect {
    type Error = std::convert::Infallible;
    fn kpi(&mut self, r: &KpiRecord<'_>) -> Result<(), Self::Error> {
        self.kpis.push((
            r.window_start,
            r.window_end,
            r.level.to_string(),
            r.group.iter().map(|(d, v)| (*d, v.to_string())).collect(),
            r.values,
        ));
        Ok(())
    }
    fn breach(&mut self, e: &BreachEvent) -> Result<(), Self::Error> {
        self.breaches.push(e.clone());
        Ok(())
    }
}

impl Collect {
    fn find(&self, start: i64, level: &str, value: &str) -> Option<&[KpiValue; KPI_COUNT]> {
        self.kpis
            .iter()
            .find(|(s, _, l, g, _)| {
                *s == start
                    && l == level
                    && (g.is_empty() && value.is_empty() || g.iter().any(|(_, v)| v == value))
            })
            .map(|k| &k.4)
    }
    fn windows(&self, level: &str) -> Vec<i64> {
        let mut w: Vec<i64> = self
            .kpis
            .iter()
            .filter(|k| k.2 == level)
            .map(|k| k.0)
            .collect();
        w.dedup();
        w
    }
}

fn call(t: i64, cell: &str, outcome: CallOutcome) -> Event {
    Event::Call(CallRecord {
        call_id: format!("c{t}").into(),
        event_time: t,
        cell_id: cell.into(),
        outcome,
        setup_ms: Some(1000),
        duration_ms: (outcome == CallOutcome::Answered).then_some(60_000),
        dropped: false,
        mos: None,
        signal_dbm: None,
        sinr_db: None,
    })
}

fn outage(t: i64, cell: &str, id: &str, state: OutageState, started_at: Option<i64>) -> Event {
    Event::Outage(Outage {
        outage_id: id.into(),
        event_time: t,
        cell_id: cell.into(),
        state,
        started_at,
        cause: "POWER".into(),
        planned: false,
    })
}

fn feed(engine: &mut Engine, out: &mut Collect, events: &[Event]) -> Vec<Ingested> {
    events
        .iter()
        .map(|e| {
            engine
                .ingest_and_advance(e, Origin::file(0), out)
                .unwrap_or_else(|e| match e {})
        })
        .collect()
}

fn count(v: &[KpiValue; KPI_COUNT], k: Kpi) -> u64 {
    match v[k as usize] {
        KpiValue::Count(c) => c,
        other => panic!("{k:?} is not a count: {other:?}"),
    }
}

fn real(v: &[KpiValue; KPI_COUNT], k: Kpi) -> Option<f64> {
    v[k as usize].as_f64()
}

#[test]
fn windows_close_when_the_watermark_reaches_their_end() {
    let mut e = setup("");
    let mut out = Collect::default();
    feed(
        &mut e,
        &mut out,
        &[call(5 * MIN - 1, "A1", CallOutcome::Answered)],
    );
    feed(
        &mut e,
        &mut out,
        &[call(5 * MIN + 29_999, "A1", CallOutcome::Busy)],
    );
    assert!(
        out.kpis.is_empty(),
        "watermark 5m-1ms has not reached the end"
    );
    feed(
        &mut e,
        &mut out,
        &[call(5 * MIN + 30_000, "A1", CallOutcome::Busy)],
    );
    assert_eq!(out.windows("network"), vec![0]);
    // Every inventory cell is emitted, silent ones with zero counts.
    assert_eq!(out.kpis.iter().filter(|k| k.2 == "cell").count(), 3);
    let silent = out.find(0, "cell", "B1").unwrap();
    assert_eq!(count(silent, Kpi::CallAttempts), 0);
    assert_eq!(real(silent, Kpi::NetworkConnectionRatio), None);
    assert_eq!(real(silent, Kpi::AvailabilityRatio), Some(1.0));
    // A record exactly on the boundary belongs to the next window.
    e.finish(&mut out).unwrap_or_else(|e| match e {});
    let w1 = out.find(5 * MIN, "network", "").unwrap();
    assert_eq!(count(w1, Kpi::CallAttempts), 2);
}

#[test]
fn late_records_are_not_aggregated() {
    let mut e = setup("");
    let mut out = Collect::default();
    let r = feed(
        &mut e,
        &mut out,
        &[
            call(5 * MIN + 10_000, "A1", CallOutcome::Answered),
            call(4 * MIN, "A1", CallOutcome::Answered), // window [0,5m) still open: wm = 4m40s
            call(11 * MIN, "A1", CallOutcome::Answered), // wm = 10.5m closes [5m,10m)
            call(9 * MIN, "A1", CallOutcome::Answered), // late
            call(MIN, "A1", CallOutcome::Answered),     // late, before every emitted window too
        ],
    );
    assert_eq!(r[3], Ingested::Late);
    assert_eq!(r[4], Ingested::Late);
    // A late call is a dead letter naming its event time (replay and run alike).
    match r[3]
        .clone()
        .disposition(&call(9 * MIN, "A1", CallOutcome::Answered))
    {
        Disposition::DeadLetter(reject) => {
            assert_eq!(reject.reason, crate::model::validate::Reason::Late);
            assert!(
                reject.detail.contains(&(9 * MIN).to_string()),
                "{}",
                reject.detail
            );
        }
        other => panic!("late call: {other:?}"),
    }
    assert_eq!(
        Ingested::Aggregated.disposition(&call(0, "A1", CallOutcome::Answered)),
        Disposition::Kept
    );
    e.finish(&mut out).unwrap_or_else(|e| match e {});
    assert_eq!(out.windows("network"), vec![0, 5 * MIN, 10 * MIN]);
    assert_eq!(
        count(out.find(0, "network", "").unwrap(), Kpi::CallAttempts),
        1
    );
    assert_eq!(
        count(out.find(5 * MIN, "network", "").unwrap(), Kpi::CallAttempts),
        1
    );
    assert_eq!(e.stats().late, vec![2]);
}

#[test]
fn gap_windows_are_emitted_and_finish_stops_at_the_last_record() {
    let mut e = setup("");
    let mut out = Collect::default();
    feed(
        &mut e,
        &mut out,
        &[
            call(MIN, "A1", CallOutcome::Answered),
            call(31 * MIN, "A1", CallOutcome::Answered),
        ],
    );
    e.finish(&mut out).unwrap_or_else(|e| match e {});
    assert_eq!(
        out.windows("network"),
        (0..7).map(|k| k * 5 * MIN).collect::<Vec<_>>()
    );
    let gap = out.find(10 * MIN, "network", "").unwrap();
    assert_eq!(count(gap, Kpi::CallAttempts), 0);
    assert_eq!(real(gap, Kpi::TrafficErlangs), Some(0.0));
}

#[test]
fn unknown_cells_are_their_own_groups_only_when_they_have_records() {
    let mut e = setup("");
    let mut out = Collect::default();
    feed(
        &mut e,
        &mut out,
        &[
            call(MIN, "Z9", CallOutcome::NetworkFailure),
            call(6 * MIN, "A1", CallOutcome::Answered),
        ],
    );
    e.finish(&mut out).unwrap_or_else(|e| match e {});
    let z = out
        .kpis
        .iter()
        .find(|k| k.2 == "cell" && k.3[0].1 == "Z9")
        .unwrap();
    assert_eq!(z.0, 0);
    assert_eq!(real(&z.4, Kpi::AvailabilityRatio), None);
    assert_eq!(real(&z.4, Kpi::NetworkConnectionRatio), Some(0.0));
    let unknown_rt = out
        .kpis
        .iter()
        .find(|k| k.2 == "region,technology" && k.3[0].1 == "UNKNOWN")
        .unwrap();
    assert_eq!(unknown_rt.3[1], (Dim::Technology, "UNKNOWN".to_string()));
    // Not emitted in the second window, where it received nothing.
    assert!(
        !out.kpis
            .iter()
            .any(|k| k.0 == 5 * MIN && k.3.iter().any(|(_, v)| v == "Z9" || v == "UNKNOWN"))
    );
    assert_eq!(e.stats().unknown_cell_records, 1);
    // An outage on an unknown cell is rejected.
    let r = e.ingest(
        &outage(7 * MIN, "Z9", "o", OutageState::Down, None),
        Origin::file(0),
    );
    assert!(matches!(
        r,
        Ingested::Rejected(Reject {
            reason: Reason::UnknownCell,
            ..
        })
    ));
}

#[test]
fn outage_time_is_the_union_and_open_outages_count_to_window_end() {
    let mut e = setup("");
    let mut out = Collect::default();
    feed(
        &mut e,
        &mut out,
        &[
            outage(MIN, "A1", "o1", OutageState::Down, None),
            outage(2 * MIN, "A1", "o1", OutageState::Down, None), // repeated DOWN: ignored
            outage(3 * MIN, "A1", "o2", OutageState::Restored, Some(30_000)), // overlaps o1
            call(6 * MIN, "B1", CallOutcome::Answered),
            outage(8 * MIN, "A1", "o1", OutageState::Restored, Some(MIN)),
            call(16 * MIN, "B1", CallOutcome::Answered),
        ],
    );
    e.finish(&mut out).unwrap_or_else(|e| match e {});
    let w0 = out.find(0, "cell", "A1").unwrap();
    // [30s, 5m) union [1m, 5m): 270 s.
    assert_eq!(real(w0, Kpi::OutageSeconds), Some(270.0));
    assert_eq!(count(w0, Kpi::OutagesStarted), 1);
    assert_eq!(count(w0, Kpi::OutagesRestored), 1);
    assert_eq!(real(w0, Kpi::MttrSeconds), Some(150.0));
    assert_eq!(real(w0, Kpi::AvailabilityRatio), Some(1.0 - 270.0 / 300.0));
    let w1 = out.find(5 * MIN, "cell", "A1").unwrap();
    assert_eq!(real(w1, Kpi::OutageSeconds), Some(180.0));
    let w2 = out.find(10 * MIN, "cell", "A1").unwrap();
    assert_eq!(real(w2, Kpi::OutageSeconds), Some(0.0));
    // Region: 3 inventory cells of which North has 2.
    let north = out.find(0, "region", "North").unwrap();
    assert_eq!(
        real(north, Kpi::AvailabilityRatio),
        Some(1.0 - 270.0 / 600.0)
    );
}

#[test]
fn late_outage_records_still_change_state_for_open_windows() {
    let mut e = setup("");
    let mut out = Collect::default();
    let r = feed(
        &mut e,
        &mut out,
        &[
            call(MIN, "B1", CallOutcome::Answered),
            call(11 * MIN, "B1", CallOutcome::Answered), // closes [0,5m) and [5m,10m)
            outage(4 * MIN, "A1", "o1", OutageState::Down, None), // late DOWN: opens, counts nowhere
        ],
    );
    assert_eq!(r[2], Ingested::Late);
    // Counted as a late outage record, not dead-lettered (it changed the outage state).
    let down = outage(4 * MIN, "A1", "o1", OutageState::Down, None);
    assert_eq!(r[2].clone().disposition(&down), Disposition::LateOutage);
    e.finish(&mut out).unwrap_or_else(|e| match e {});
    let w2 = out.find(10 * MIN, "cell", "A1").unwrap();
    assert_eq!(real(w2, Kpi::OutageSeconds), Some(300.0));
    assert_eq!(count(w2, Kpi::OutagesStarted), 0);
    assert_eq!(
        real(out.find(0, "cell", "A1").unwrap(), Kpi::OutageSeconds),
        Some(0.0)
    );
}

#[test]
fn down_after_its_restore_counts_but_opens_nothing() {
    let mut e = setup("");
    let mut out = Collect::default();
    feed(
        &mut e,
        &mut out,
        &[
            outage(2 * MIN, "A1", "o1", OutageState::Restored, Some(MIN)),
            outage(MIN + 10_000, "A1", "o1", OutageState::Down, None),
        ],
    );
    e.finish(&mut out).unwrap_or_else(|e| match e {});
    let w0 = out.find(0, "cell", "A1").unwrap();
    assert_eq!(count(w0, Kpi::OutagesStarted), 1);
    assert_eq!(real(w0, Kpi::OutageSeconds), Some(60.0));
}

#[test]
fn lateness_is_decided_per_window_size() {
    let mut e = setup("[windows]\nsizes = [\"5m\", \"1h\"]\n");
    let mut out = Collect::default();
    let r = feed(
        &mut e,
        &mut out,
        &[
            call(MIN, "A1", CallOutcome::Answered),
            call(11 * MIN, "A1", CallOutcome::Answered),
            call(2 * MIN, "A1", CallOutcome::Answered),
        ],
    );
    assert_eq!(r[2], Ingested::Late);
    assert_eq!(e.stats().late, vec![1, 0]);
    e.finish(&mut out).unwrap_or_else(|e| match e {});
    let hour = out
        .kpis
        .iter()
        .find(|k| k.1 - k.0 == 60 * MIN && k.2 == "network")
        .unwrap();
    assert_eq!(count(&hour.4, Kpi::CallAttempts), 3);
    // Sizes close in order of window end.
    let ends: Vec<i64> = out
        .kpis
        .iter()
        .filter(|k| k.2 == "network")
        .map(|k| k.1)
        .collect();
    assert!(ends.windows(2).all(|w| w[0] <= w[1]), "{ends:?}");
}

#[test]
fn breaches_raise_and_clear_with_one_id() {
    let rules = r#"
[[rules]]
name = "Fail"
kpi = "network_connection_ratio"
level = "cell"
match = { cell = "A1" }
op = "<"
raise = 0.5
clear = 0.8
for_windows = 2
severity = "major"
"#;
    let mut e = setup(rules);
    let mut out = Collect::default();
    let mut events = Vec::new();
    for w in 0..6 {
        let t = w * 5 * MIN + MIN;
        let outcome = if (1..=2).contains(&w) {
            CallOutcome::NetworkFailure
        } else {
            CallOutcome::Answered
        };
        events.push(call(t, "A1", outcome));
    }
    feed(&mut e, &mut out, &events);
    e.finish(&mut out).unwrap_or_else(|e| match e {});
    assert_eq!(out.breaches.len(), 2);
    let (raised, cleared) = (&out.breaches[0], &out.breaches[1]);
    assert_eq!(raised.state, BreachState::Raised);
    assert_eq!(raised.window_start, 10 * MIN);
    assert_eq!(cleared.state, BreachState::Cleared);
    assert_eq!(cleared.window_start, 15 * MIN);
    assert_eq!(raised.breach_id, cleared.breach_id);
    assert_eq!(raised.threshold, 0.5);
    assert_eq!(cleared.threshold, 0.8);
    assert_eq!(e.alarms_firing(), 0);
}

#[test]
fn an_ignored_down_moves_the_watermark_but_adds_no_window() {
    let mut e = setup("");
    let mut out = Collect::default();
    let r = feed(
        &mut e,
        &mut out,
        &[
            outage(MIN, "A1", "o1", OutageState::Down, None),
            outage(7 * MIN, "A1", "o1", OutageState::Down, None),
        ],
    );
    assert_eq!(r[1], Ingested::Ignored);
    // The watermark (6m30s) closed [0, 5m); finish adds nothing for the ignored record's window.
    assert_eq!(out.windows("network"), vec![0]);
    e.finish(&mut out).unwrap_or_else(|e| match e {});
    assert_eq!(out.windows("network"), vec![0]);
}

#[test]
fn a_cell_of_the_table_takes_72_bytes() {
    // The per-cell memory figures of docs/performance.md count on it (a million cells).
    assert!(std::mem::size_of::<super::groups::CellInfo>() <= 72);
}

#[test]
fn a_cell_baseline_takes_448_bytes() {
    // 400 bytes of words inline and the hour being learned (docs/performance.md, a million cells).
    let size = std::mem::size_of::<super::sleeping::CellTraffic>();
    assert!(size <= 448, "{size} bytes");
}
