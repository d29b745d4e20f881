//! `netkpi demo`: the whole product in one process, no external services. librdkafka's in-process
//! mock cluster stands in for Kafka; the traffic generator produces to the input topics with event
//! time running `speedup` times faster than the wall clock (a 5-minute window closes every few
//! seconds); `netkpi run`'s pipeline consumes, aggregates and writes KPI records and breach events
//! transactionally; a viewer consumes those two topics and prints each window's regional KPIs
//! and every alarm. Ctrl-C (or `--for`) stops all three cleanly.

use crate::config::Settings;
use crate::engine::Output;
use crate::inventory::Cell;
use crate::kafka::client::{QuietConsumer, QuietContext, base_config};
use crate::kpi::Kpi;
use crate::model::level::Dim;
use crate::pace::{Pace, Paced};
use crate::pipeline::{Control, RunOptions};
use crate::report::row::KpiRow;
use crate::sink::terminal::TerminalView;
use crate::threshold::rule::Severity;
use crate::threshold::{BreachEvent, BreachState};
use crate::traffic::{GenOptions, Generator};
use apache_avro::types::Value as Avro;
use rdkafka::consumer::Consumer;
use rdkafka::message::Message;
use rdkafka::mocking::MockCluster;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Why the demo stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot start the in-process Kafka cluster: {0}")]
    Cluster(#[from] rdkafka::error::KafkaError),
    #[error(transparent)]
    Pipeline(#[from] crate::pipeline::PipelineError),
    #[error(transparent)]
    Produce(#[from] crate::kafka::client::KafkaOpError),
}

/// What the demo runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Event time per wall-clock second.
    pub speedup: f64,
    /// Stop after this long (None: until Ctrl-C).
    pub duration: Option<Duration>,
    /// Peak records per second of event time.
    pub rate: f64,
    pub seed: u64,
}

fn kpi_from_avro(
    fields: Vec<(String, Avro)>,
    out: &mut TerminalView<impl std::io::Write>,
) -> std::io::Result<()> {
    match KpiRow::from_avro_fields(fields) {
        Ok(row) => row.with_record(|r| out.kpi(r)),
        Err(_) => Ok(()),
    }
}

fn breach_from_avro(
    fields: Vec<(String, Avro)>,
    out: &mut TerminalView<impl std::io::Write>,
) -> std::io::Result<()> {
    let map: BTreeMap<String, Avro> = fields.into_iter().collect();
    let text = |k: &str| match map.get(k) {
        Some(Avro::String(s) | Avro::Enum(_, s)) => s.clone(),
        _ => String::new(),
    };
    let num = |k: &str| match map.get(k) {
        Some(Avro::Double(x)) => *x,
        _ => f64::NAN,
    };
    let group = match map.get("group") {
        Some(Avro::Map(m)) => {
            let mut g: Vec<(Dim, String)> = m
                .iter()
                .filter_map(|(k, v)| match v {
                    Avro::String(s) => Dim::parse(k).map(|d| (d, s.clone())),
                    _ => None,
                })
                .collect();
            g.sort();
            g
        }
        _ => Vec::new(),
    };
    let kpi = match text("kpi").as_str() {
        crate::threshold::rule::TRAFFIC_RECORDS => crate::threshold::rule::TRAFFIC_RECORDS,
        other => Kpi::from_name(other).map_or("?", Kpi::name),
    };
    let outages = match map.get("outages") {
        Some(Avro::Array(ids)) => ids
            .iter()
            .filter_map(|v| match v {
                Avro::String(s) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let event = BreachEvent {
        breach_id: text("breach_id"),
        rule: text("rule"),
        kpi,
        severity: Severity::parse(&text("severity")).unwrap_or(Severity::Warning),
        state: if text("state") == "CLEARED" {
            BreachState::Cleared
        } else {
            BreachState::Raised
        },
        level: text("level"),
        group,
        value: num("value"),
        threshold: num("threshold"),
        window_start: match map.get("window_start") {
            Some(Avro::TimestampMillis(x) | Avro::Long(x)) => *x,
            _ => 0,
        },
        window_end: 0,
        outages,
    };
    out.breach(&event)
}

/// KPI records (network and region levels) and breach events of one window, waiting to be shown.
#[derive(Default)]
struct Window {
    kpis: Vec<Vec<(String, Avro)>>,
    breaches: Vec<Vec<(String, Avro)>>,
}

fn window_start(f: &[(String, Avro)]) -> i64 {
    f.iter()
        .find(|(n, _)| n == "window_start")
        .map_or(0, |(_, v)| {
            if let Avro::TimestampMillis(x) | Avro::Long(x) = v {
                *x
            } else {
                0
            }
        })
}

/// Sort key of a KPI record in the view: regions by name, the network last.
fn view_order(f: &[(String, Avro)]) -> (bool, String) {
    let network = f
        .iter()
        .any(|(n, v)| n == "level" && matches!(v, Avro::String(s) if s == "network"));
    let name = f
        .iter()
        .find(|(n, _)| n == "group")
        .and_then(|(_, v)| {
            if let Avro::Map(m) = v {
                m.values().next().cloned()
            } else {
                None
            }
        })
        .map_or(String::new(), |v| {
            if let Avro::String(s) = v {
                s
            } else {
                String::new()
            }
        });
    (network, name)
}

/// Consumes the KPI and breach topics and prints them, a window at a time, from the window
/// starting at `live_from` on (the history before it only teaches the baselines), until `stop`.
fn view(
    settings: &Settings,
    control: &Control,
    live_from: i64,
) -> Result<(), crate::kafka::client::KafkaOpError> {
    let k = &settings.kafka;
    let consumer: QuietConsumer = crate::kafka::client::ctx(
        base_config(k, crate::config::ClientRole::Consumer)
            .set("group.id", "netkpi-demo-viewer")
            .set("enable.auto.commit", "false")
            .set("fetch.wait.max.ms", "10")
            .create_with_context(QuietContext),
        || "creating the viewer".into(),
    )?;
    let mut tpl = TopicPartitionList::new();
    for topic in [&k.kpis_topic, &k.breaches_topic] {
        for p in 0..k.output_partitions {
            let _ = tpl.add_partition_offset(topic, p, Offset::Beginning);
        }
    }
    crate::kafka::client::ctx(consumer.assign(&tpl), || "assigning the viewer".into())?;
    let kpi_reader =
        apache_avro::reader::datum::GenericDatumReader::builder(crate::schemas::kpi_schema())
            .build();
    let breach_reader =
        apache_avro::reader::datum::GenericDatumReader::builder(crate::schemas::breach_schema())
            .build();
    let (Ok(kpi_reader), Ok(breach_reader)) = (kpi_reader, breach_reader) else {
        return Ok(());
    };
    let stdout = std::io::stdout();
    let mut view = TerminalView::new(stdout.lock());
    // KPI records of one window arrive spread over partitions: print a window once a later one shows up.
    let mut windows: BTreeMap<i64, Window> = BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    while !control.shutdown.load(Ordering::SeqCst) {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            let payload = m.payload().unwrap_or_default();
            // Copies left by repeated transactions are byte-identical: show each record once.
            if !seen.insert(payload.to_vec()) {
                continue;
            }
            let mut bytes = payload;
            if m.topic() == k.breaches_topic {
                if let Ok(Avro::Record(f)) = breach_reader.read_value(&mut bytes)
                    && window_start(&f) >= live_from
                {
                    windows
                        .entry(window_start(&f))
                        .or_default()
                        .breaches
                        .push(f);
                }
            } else if let Ok(Avro::Record(f)) = kpi_reader.read_value(&mut bytes) {
                let shown = window_start(&f) >= live_from
                    && f.iter().any(|(n, v)| {
                        n == "level"
                            && matches!(v, Avro::String(s) if s == "network" || s == "region")
                    });
                if shown {
                    windows.entry(window_start(&f)).or_default().kpis.push(f);
                }
            }
        }
        while windows.len() > 1 {
            let Some((_, mut w)) = windows.pop_first() else {
                break;
            };
            w.kpis.sort_by_key(|f| view_order(f));
            for f in w.kpis {
                let _ = kpi_from_avro(f, &mut view);
            }
            for f in w.breaches {
                let _ = breach_from_avro(f, &mut view);
            }
        }
    }
    Ok(())
}

/// The cell the demo puts to sleep: the first whose site has another cell (its peers).
fn sleeper(cells: &[Cell]) -> Option<String> {
    cells
        .iter()
        .find(|c| {
            cells
                .iter()
                .any(|o| o.site_id == c.site_id && o.cell_id != c.cell_id)
        })
        .map(|c| c.cell_id.clone())
}

/// Runs the demo until Ctrl-C or `opts.duration`.
pub fn run(
    mut settings: Settings,
    cells: Vec<Cell>,
    opts: DemoOptions,
    control: Control,
) -> Result<crate::pipeline::RunSummary, DemoError> {
    let cluster = MockCluster::new(1)?;
    settings.kafka.brokers = cluster.bootstrap_servers();
    settings.kafka.properties.clear();
    settings.kafka.role_properties = Default::default();
    settings.kafka.commit_interval_ms = 500;
    settings.kafka.output_partitions = 3;
    settings.kafka.framing = [crate::config::Framing::Raw; 3];
    settings.kafka.output_framing = crate::config::Framing::Raw;
    // Wall-clock idle timeout, scaled: sparse topics (outages) must not hold windows back.
    settings.idle_timeout_ms = 2_000;
    // Event time runs `speedup` times faster than the clock: the plausible-future bound
    // (docs/operating-limits.md) is the demo's own — a year of event time ahead of the clock.
    settings.max_future_ms = settings.max_future_ms.max(365 * 86_400_000);
    let k = &settings.kafka;
    for topic in
        k.input_topics
            .iter()
            .chain([&k.kpis_topic, &k.breaches_topic, &k.dead_letters_topic])
    {
        cluster.create_topic(topic, 3, 1)?;
    }
    cluster.create_topic(&k.checkpoints_topic, 1, 1)?;
    cluster.create_topic(&k.partials_topic, 1, 1)?;

    // Live event time starts at the latest 09:00 UTC (a busy morning); the hour from 09:00 the
    // day before is produced first, as fast as they go, so that the baselines have a
    // day of history (the demo learns from one day: baseline.min_days = 1) and the cell that
    // falls asleep 20 minutes into the live traffic is found, and cleared when it wakes.
    const DAY_MS: i64 = 86_400_000;
    let now_ms = crate::clock::wall_ms();
    let start_ms = now_ms - (now_ms - 9 * 3_600_000).rem_euclid(DAY_MS);
    settings.baseline.min_days = 1;
    // The night between is skipped, not emitted window by window (docs/operating-limits.md's bounded gap).
    settings.max_gap_ms = settings.max_gap_ms.min(3_600_000);
    let history = GenOptions {
        start_ms: start_ms - DAY_MS,
        duration_ms: 60 * 60_000,
        // Half the live rate: enough for a baseline of the busy morning, quick to read.
        peak_rate: opts.rate / 2.0,
        seed: opts.seed ^ 0x5eed,
        restore_at_end: true,
        ..GenOptions::default()
    };
    let sleeper = sleeper(&cells);
    let mut gen_opts = GenOptions {
        start_ms,
        duration_ms: i64::MAX / 4,
        peak_rate: opts.rate,
        seed: opts.seed,
        late_share: 0.002,
        bad_share: 0.001,
        ..GenOptions::default()
    };
    if let Some(cell) = &sleeper {
        gen_opts.scenario.sleeping_cells = vec![(cell.clone(), 20.0 / 60.0, 50.0 / 60.0)];
    }
    println!(
        "netkpi demo: {} cells, {} rules, window {} min; event time runs {}x faster than the clock (from {} UTC). Ctrl-C stops.",
        cells.len(),
        settings.rules.len(),
        settings.window_sizes_ms.first().copied().unwrap_or(0) / 60_000,
        opts.speedup,
        start_ms / 1000
    );
    if let Some(cell) = &sleeper {
        println!(
            "Learning baselines from an hour of the day before; cell {cell} falls asleep 20 minutes into the live traffic and wakes 30 minutes later (watch for CellSleeping)."
        );
    }
    let summary = std::thread::scope(|scope| {
        let k = settings.kafka.clone();
        let stop = control.shutdown.clone();
        let pace = Pace::Speedup {
            factor: opts.speedup.max(1.0),
            start_event_ms: start_ms,
        };
        let live_cells = cells.clone();
        // The live pace starts when the history is produced.
        let live = std::iter::once(()).flat_map(move |()| {
            Paced::new(
                Generator::new(live_cells.clone(), gen_opts.clone()),
                pace,
                stop.clone(),
            )
        });
        let traffic = Generator::new(cells.clone(), history).chain(live);
        let producer = scope.spawn(move || crate::kafka::produce::produce_traffic(&k, traffic, 3));
        let viewer = scope.spawn(|| view(&settings, &control, start_ms));
        if let Some(d) = opts.duration {
            let stop = control.shutdown.clone();
            scope.spawn(move || {
                let t = Instant::now();
                while t.elapsed() < d && !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(50));
                }
                stop.store(true, Ordering::SeqCst);
            });
        }
        let result = crate::pipeline::run(&settings, &cells, RunOptions::default(), &control);
        control.shutdown.store(true, Ordering::SeqCst);
        let produced = producer.join();
        let _ = viewer.join();
        if let Ok(Err(e)) = produced {
            tracing::warn!(error = %e, "traffic producer stopped");
        }
        result
    })?;
    drop(cluster);
    Ok(summary)
}
