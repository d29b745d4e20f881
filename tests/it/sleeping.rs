//! Sleeping cells, baseline rules and related outages (docs/sleeping-cells.md) on multi-day traffic
//! with a diurnal load: cells that fall asleep in a busy and in a quieter hour, a site that goes
//! down with outage records, quiet nights, a cell that appears on day 2, and a time zone other
//! than UTC. Checked: every sleeper raised and cleared within a few windows, no other cell ever
//! raised, the outage's breaches carry its ids (none with `suppress`), and a checkpoint taken in
//! the middle, or three shards and a merger, give the same breach events.

use super::settings;
use netkpi::engine::Engine;
use netkpi::engine::partial::Partial;
use netkpi::engine::sources::{Origin, PartialOrigin};
use netkpi::model::{Event, Outage, OutageState};
use netkpi::traffic::{GenItem, GenOptions, Generator, Scenario, synthetic_inventory};
use serde_json::Value;

const CONFIG: &str = r#"
[windows]
sizes = ["5m"]
[kpi]
levels = ["cell", "region", "network"]
[report]
window = "5m"
timezone = "Asia/Kolkata"
[[rules]]
name = "CellSleeping"
kind = "sleeping_cell"
for_windows = 3
clear_windows = 2
severity = "major"
[[rules]]
name = "CellTrafficBelowUsual"
kpi = "traffic_records"
level = "cell"
baseline = true
op = "<"
raise = 0.5
clear = 0.7
for_windows = 3
severity = "minor"
match = { cell = "C0000004" }
[[rules]]
name = "CellUnavailable"
kpi = "availability_ratio"
level = "cell"
op = "<"
raise = 0.5
clear = 0.999
severity = "critical"
[[rules]]
name = "RegionAvailabilityAnnotated"
kpi = "availability_ratio"
level = "region"
op = "<"
raise = 0.999
severity = "major"
[[rules]]
name = "RegionAvailabilitySuppressed"
kpi = "availability_ratio"
level = "region"
op = "<"
raise = 0.999
severity = "major"
during_outage = "suppress"
"#;

const START: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const HOUR: i64 = 3_600_000;
const WINDOW: i64 = 300_000;

/// (cell, asleep from hour, to hour): a busy-hour sleeper and a morning sleeper.
const SLEEPERS: [(&str, i64, i64); 2] = [("C0000004", 60, 66), ("C0000013", 78, 82)];
/// A cell that carries traffic only from hour 62 on: no baseline within the run.
const NEW_CELL: &str = "C0000020";
/// Site S000008 (cells 24–26) is down from hour 84 to 86, with outage records.
const DOWN_SITE: [&str; 3] = ["C0000024", "C0000025", "C0000026"];
const DOWN: (i64, i64) = (84, 86);

fn events() -> Vec<Event> {
    let cells = synthetic_inventory(30, 7);
    let mut sleeping: Vec<(String, f64, f64)> = SLEEPERS
        .iter()
        .map(|(c, a, b)| (c.to_string(), *a as f64, *b as f64))
        .collect();
    sleeping.push((NEW_CELL.into(), 0.0, 62.0));
    let opts = GenOptions {
        start_ms: START,
        duration_ms: 89 * HOUR,
        peak_rate: 20.0,
        seed: 11,
        degraded_share: 0.0,
        outages_per_cell_day: 0.0,
        scenario: Scenario {
            sleeping_cells: sleeping,
            ..Scenario::default()
        },
        ..GenOptions::default()
    };
    let (down, up) = (START + DOWN.0 * HOUR, START + DOWN.1 * HOUR);
    let mut evs: Vec<Event> = Generator::new(cells, opts)
        .filter_map(|item| match item {
            GenItem::Event(ev) => Some(ev),
            GenItem::Bad(_) => None,
        })
        // A cell that is down carries nothing.
        .filter(|ev| !(DOWN_SITE.contains(&ev.cell_id()) && (down..up).contains(&ev.event_time())))
        .collect();
    for cell in DOWN_SITE {
        let record = |state, t, started_at| {
            Event::Outage(Outage {
                outage_id: format!("site-down-{cell}").into(),
                event_time: t,
                cell_id: cell.into(),
                state,
                started_at,
                cause: "POWER".into(),
                planned: false,
            })
        };
        evs.push(record(OutageState::Down, down, None));
        evs.push(record(OutageState::Restored, up, Some(down)));
    }
    evs.sort_by_key(Event::event_time);
    evs
}

fn breaches(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn run(engine: &mut Engine, evs: &[Event], finish: bool) -> Vec<u8> {
    let mut out = netkpi::sink::jsonl::JsonlOutput::new(std::io::sink(), Vec::new());
    for e in evs {
        engine
            .ingest_and_advance(e, Origin::file(0), &mut out)
            .expect("ingest");
    }
    if finish {
        engine.finish(&mut out).expect("finish");
    }
    out.finish().expect("finish output").1
}

fn of<'a>(all: &'a [Value], rule: &str) -> Vec<&'a Value> {
    all.iter().filter(|b| b["rule"] == rule).collect()
}

fn hours_since_start(t: &Value) -> f64 {
    (t.as_i64().unwrap_or(0) - START) as f64 / HOUR as f64
}

#[test]
fn sleeping_cells_are_found_and_nothing_else_is() {
    let s = settings(CONFIG);
    let cells = synthetic_inventory(30, 7);
    let evs = events();
    let mut engine = Engine::new(&s.engine(), &cells);
    let raw = run(&mut engine, &evs, true);
    let all = breaches(&raw);

    let sleeping = of(&all, "CellSleeping");
    for (cell, from, to) in SLEEPERS {
        let mine: Vec<&&Value> = sleeping
            .iter()
            .filter(|b| b["group"]["cell"] == cell)
            .collect();
        assert_eq!(mine.len(), 2, "{cell}: one RAISED, one CLEARED: {mine:#?}");
        let (raised, cleared) = (mine[0], mine[1]);
        assert_eq!(raised["state"], "RAISED");
        assert_eq!(cleared["state"], "CLEARED");
        assert_eq!(raised["breach_id"], cleared["breach_id"]);
        assert_eq!(raised["kpi"], "traffic_records");
        let raised_at = raised["window_end"].as_i64().unwrap_or(0);
        let fell_asleep = START + from * HOUR;
        assert!(
            raised_at > fell_asleep && raised_at <= fell_asleep + 5 * WINDOW,
            "{cell} raised {:.2} h after the start, asleep from {from} h",
            hours_since_start(&raised["window_end"])
        );
        let cleared_at = cleared["window_end"].as_i64().unwrap_or(0);
        let woke = START + to * HOUR;
        assert!(
            cleared_at > woke && cleared_at <= woke + 4 * WINDOW,
            "{cell} cleared {:.2} h after the start, awake from {to} h",
            hours_since_start(&cleared["window_end"])
        );
        eprintln!(
            "{cell}: raised {} windows after falling asleep, cleared {} after waking",
            (raised_at - fell_asleep) / WINDOW,
            (cleared_at - woke) / WINDOW
        );
        let threshold = raised["threshold"].as_f64().unwrap_or(0.0);
        assert!(
            raised["value"].as_f64().unwrap_or(f64::MAX) <= threshold && threshold >= 3.0,
            "value within 0.1 of a baseline of at least 30: {raised}"
        );
    }
    let others: Vec<&&Value> = sleeping
        .iter()
        .filter(|b| !SLEEPERS.iter().any(|(c, _, _)| b["group"]["cell"] == *c))
        .collect();
    assert!(
        others.is_empty(),
        "no other cell sleeps (the new cell, the site in outage, quiet nights): {others:#?}"
    );

    // The baseline rule sees the busy-hour sleeper too.
    let below = of(&all, "CellTrafficBelowUsual");
    assert!(
        below
            .iter()
            .any(|b| b["state"] == "RAISED" && hours_since_start(&b["window_start"]) >= 60.0),
        "traffic below half of usual: {below:#?}"
    );

    // The site outage: its breaches carry its outage ids; with `suppress` there are none.
    let ids: Vec<String> = DOWN_SITE.iter().map(|c| format!("site-down-{c}")).collect();
    let unavailable = of(&all, "CellUnavailable");
    assert_eq!(
        unavailable.len(),
        6,
        "each cell of the site raised and cleared"
    );
    for b in &unavailable {
        let cell = b["group"]["cell"].as_str().unwrap_or("");
        // The CLEARED window comes after the RESTORED: no outage is open in it any more.
        let want: Vec<String> = match b["state"].as_str() {
            Some("RAISED") => vec![format!("site-down-{cell}")],
            _ => vec![],
        };
        assert_eq!(b["outages"], serde_json::json!(want), "{b}");
    }
    let region = of(&all, "RegionAvailabilityAnnotated");
    let raised = region
        .iter()
        .find(|b| b["state"] == "RAISED")
        .expect("the region's availability alarm");
    assert_eq!(raised["outages"], serde_json::json!(ids));
    assert!(
        of(&all, "RegionAvailabilitySuppressed")
            .iter()
            .all(|b| b["state"] != "RAISED"),
        "suppressed during the outage"
    );
    assert!(
        engine.baseline_bytes() < 30 * 1024,
        "baselines of 30 cells: {} bytes",
        engine.baseline_bytes()
    );
}

#[test]
fn a_checkpoint_and_the_shards_keep_the_baselines() {
    let s = settings(CONFIG);
    let cells = synthetic_inventory(30, 7);
    let evs = events();
    let mut whole = Engine::new(&s.engine(), &cells);
    let expected = run(&mut whole, &evs, true);
    assert!(!breaches(&expected).is_empty());

    // Stop in the middle of the first sleep, restore from the checkpoint, continue.
    let cut_at = START + 62 * HOUR;
    let k = evs.partition_point(|e| e.event_time() < cut_at);
    let mut first = Engine::new(&s.engine(), &cells);
    let mut got = run(&mut first, &evs[..k], false);
    let saved = serde_json::to_vec(&first.checkpoint()).expect("save");
    let cp = serde_json::from_slice(&saved).expect("load");
    let mut second = Engine::new(&s.engine(), &cells);
    second.restore(&cp).expect("restore");
    let reread = evs[..k].partition_point(|e| e.event_time() < cut_at - HOUR);
    for e in &evs[reread..k] {
        second.reingest(e, Origin::file(0));
    }
    got.extend(run(&mut second, &evs[k..], true));
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&expected),
        "restored from a checkpoint"
    );

    // Three shards by cell, one merger.
    let shards = 3usize;
    let shard_of = |id: &str| id.bytes().map(usize::from).sum::<usize>() % shards;
    let mut engines: Vec<Engine> = (0..shards)
        .map(|_| Engine::new_shard(&s.engine(), &cells))
        .collect();
    let mut partials: Vec<(i32, Partial)> = Vec::new();
    let mut reports = Vec::new();
    for (i, engine) in engines.iter_mut().enumerate() {
        let mut out = Partials::default();
        for e in evs.iter().filter(|e| shard_of(e.cell_id()) == i) {
            engine
                .ingest_and_advance(e, Origin::file(0), &mut out)
                .expect("shard");
        }
        engine.finish(&mut out).expect("finish");
        partials.extend(out.0.into_iter().map(|p| (i as i32, p)));
        reports.push(engine.shard_outages(i as i32));
    }
    partials.sort_by_key(|(_, p)| (p.start + p.size_ms, p.size_ms));
    let mut merger = Engine::new(&s.engine(), &cells);
    let mut out = netkpi::sink::jsonl::JsonlOutput::new(std::io::sink(), Vec::new());
    for (offset, (shard, p)) in (0..).zip(&partials) {
        let from = PartialOrigin {
            shard: *shard,
            part: 0,
            offset,
        };
        merger.ingest_partial(p, from).expect("partial");
    }
    for r in reports {
        merger.take_shard_outages(r);
    }
    merger.finish(&mut out).expect("merge");
    let merged = out.finish().expect("finish").1;
    assert_eq!(
        String::from_utf8_lossy(&merged),
        String::from_utf8_lossy(&expected),
        "three shards and a merger"
    );
}

#[derive(Default)]
struct Partials(Vec<Partial>);

impl netkpi::engine::Output for Partials {
    type Error = std::convert::Infallible;
    fn kpi(&mut self, _: &netkpi::engine::KpiRecord<'_>) -> Result<(), Self::Error> {
        Ok(())
    }
    fn breach(&mut self, _: &netkpi::threshold::BreachEvent) -> Result<(), Self::Error> {
        Ok(())
    }
    fn partial(&mut self, p: &Partial) -> Result<(), Self::Error> {
        self.0.push(p.clone());
        Ok(())
    }
}

/// `netkpi run` on Tansu, stopped at hour 50 and started again on the rest of the traffic:
/// the second run finds its baselines beside the checkpoint (parts under
/// `<group>/merger/baselines/<i>`), so the cell that falls asleep at hour 60 raises exactly the
/// alarms a replay of all the traffic raises.
#[test]
fn a_restarted_run_finds_its_baselines_on_kafka() {
    use super::kafka::{Broker, assert_breaches_topic_equals, start_run, traffic_of, wait_until};
    use std::time::{Duration, Instant};
    let broker = Broker::start();
    let cells = synthetic_inventory(6, 7);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut csv: Vec<u8> = Vec::new();
    netkpi::inventory::write(&mut csv, &cells).expect("inventory");
    std::fs::write(dir.path().join("cells.csv"), csv).expect("cells");
    let toml = format!(
        "[windows]\nsizes = [\"1h\"]\n[kpi]\nlevels = [\"cell\", \"network\"]\n[[rules]]\nname = \"CellSleeping\"\nkind = \"sleeping_cell\"\nfor_windows = 2\nclear_windows = 1\nseverity = \"major\"\n[kafka]\nbrokers = \"{}\"\ngroup_id = \"baselines\"\ncommit_interval = \"100ms\"\nsession_timeout = \"2s\"\noutput_partitions = 2\n[http]\naddress = \"\"\n",
        broker.addr
    );
    let config = dir.path().join("netkpi.toml");
    std::fs::write(
        &config,
        format!("[inventory]\npath = \"cells.csv\"\n{toml}"),
    )
    .expect("config");
    let s = settings(&toml);
    let opts = GenOptions {
        start_ms: START,
        duration_ms: 70 * HOUR,
        peak_rate: 0.5,
        seed: 5,
        degraded_share: 0.0,
        outages_per_cell_day: 0.0,
        jitter_ms: 0,
        scenario: Scenario {
            sleeping_cells: vec![("C0000001".into(), 60.0, 64.0)],
            ..Scenario::default()
        },
        ..GenOptions::default()
    };
    let (items, lines) = traffic_of(&cells, opts);
    let cut = items
        .iter()
        .position(|i| matches!(i, GenItem::Event(e) if e.event_time() >= START + 50 * HOUR))
        .expect("traffic past hour 50");
    let (first, rest) = items.split_at(cut);
    let mut stderr = String::new();
    for part in [first, rest] {
        netkpi::kafka::produce::produce_traffic(&s.kafka, part.iter().cloned(), 2)
            .expect("produce");
        let out = wait_until(
            start_run(&config),
            Instant::now() + Duration::from_secs(120),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    }
    assert!(
        stderr.contains("restored from checkpoint") && !stderr.contains("learned anew"),
        "the second run restored its baselines: {stderr}"
    );
    let reference = super::replay_lines(&s, &cells, &lines);
    assert!(
        reference
            .breaches
            .iter()
            .any(|b| b["rule"] == "CellSleeping" && b["group"]["cell"] == "C0000001"),
        "the sleeper is found: {:#?}",
        reference.breaches
    );
    // A shard restored as idle once let the other close windows its partials still fed: they
    // came back as `late` dead letters of the partials topic.
    let dead = netkpi::kafka::client::read_all(&s.kafka, "dead-letters").expect("dead letters");
    assert!(dead.is_empty(), "{} dead letters", dead.len());
    super::kafka::assert_kpis_topic_equals(&s, &reference.kpis);
    assert_breaches_topic_equals(&s, &reference.breaches);
}
