//! Faults of the services around netkpi, with the real broker: a schema registry that answers
//! 500s or hangs, and an instance stalled (SIGSTOP) past its session and poll timeouts while
//! another carries on. Each must end with the outputs of an undisturbed run, and `/readyz`
//! (the health netkpi reports) must say what it is waiting for while it waits.

use crate::kafka::{
    Broker, assert_kpis_topic_equals, binary_setup, kafka_settings, start_run, traffic, wait_until,
    watched_run,
};
use crate::registry::{FakeRegistry, Outage, framed};
use crate::*;
use netkpi::schemas::{CALL_RECORD, DATA_SESSION, OUTAGE, event_value, input_schema};
use netkpi::traffic::GenItem;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Sends `signal` (`STOP`, `CONT`) to process `pid`.
fn signal(pid: u32, signal: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("kill");
    assert!(sent.success(), "kill -{signal} {pid}");
}

/// The distinct "not ready" texts `/readyz` would have answered, sampled every 100 ms until
/// `until` says stop.
fn sample_health(
    health: &netkpi::telemetry::health::Health,
    mut until: impl FnMut() -> bool,
) -> Vec<String> {
    let mut seen = Vec::new();
    while !until() {
        let (ready, text) = health.status();
        if !ready && !seen.contains(&text) {
            seen.push(text);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    seen
}

/// Produces the good records of `items` in the Confluent framing (schema ids 1, 2, 3 = our
/// call, session and outage schemas); returns their JSON lines.
fn produce_confluent(s: &Settings, items: &[GenItem], lines: &[String]) -> Vec<String> {
    netkpi::kafka::client::ensure_topics(
        &s.kafka,
        &["calls", "data-sessions", "outages"],
        2,
        netkpi::kafka::client::TopicRole::Input,
    )
    .expect("topics");
    let producer: BaseProducer =
        netkpi::kafka::client::base_config(&s.kafka, netkpi::config::ClientRole::Producer)
            .create()
            .expect("producer");
    let mut kept = Vec::new();
    for (item, line) in items.iter().zip(lines) {
        let GenItem::Event(ev) = item else { continue };
        let (topic, id) = match ev.stream() {
            netkpi::model::Stream::Call => ("calls", 1),
            netkpi::model::Stream::Session => ("data-sessions", 2),
            netkpi::model::Stream::Outage => ("outages", 3),
        };
        let datum =
            apache_avro::writer::datum::GenericDatumWriter::builder(input_schema(ev.stream()))
                .build()
                .expect("writer")
                .write_value_to_vec(event_value(ev))
                .expect("datum");
        let payload = framed(id, datum);
        let key = ev.cell_id().to_string();
        producer
            .send(
                BaseRecord::to(topic)
                    .key(key.as_bytes())
                    .payload(payload.as_slice()),
            )
            .expect("send");
        producer.poll(Duration::ZERO);
        kept.push(line.clone());
    }
    producer.flush(Duration::from_secs(30)).expect("flush");
    kept
}

fn registry_outage_is_ridden_out(outage: Outage, lasts: Duration, group: &str) -> Vec<String> {
    let registry = FakeRegistry::start_with_outage(
        HashMap::from([
            (1, CALL_RECORD.to_string()),
            (2, DATA_SESSION.to_string()),
            (3, OUTAGE.to_string()),
        ]),
        Some((outage, Instant::now() + lasts)),
    );
    let broker = Broker::start();
    let cells = small_inventory();
    let (_, toml) = kafka_settings(&broker, group);
    // The registry URL belongs to `[kafka]`, which the shared settings close with `[http]`.
    let toml = toml.replace(
        "[http]",
        &format!("schema_registry_url = \"{}\"\n[http]", registry.url),
    );
    let s = settings(&format!(
        "{toml}[kafka.framing]\ncalls = \"confluent\"\ndata_sessions = \"confluent\"\noutages = \"confluent\"\n"
    ));
    let (items, lines) = traffic(&cells, 31, 60, 6.0);
    let lines = produce_confluent(&s, &items, &lines);

    // Watch what the instance reports while it runs.
    let control = netkpi::pipeline::Control::default();
    let (health, done) = (control.health.clone(), Arc::new(AtomicBool::new(false)));
    let watcher = {
        let done = done.clone();
        std::thread::spawn(move || sample_health(&health, || done.load(Ordering::SeqCst)))
    };
    let summary = netkpi::pipeline::run(
        &s,
        &cells,
        netkpi::pipeline::RunOptions { exit_at_end: true },
        &control,
    )
    .expect("the run outlives the registry outage");
    eprintln!(
        "run: {} records read, {} transactions, restored {}",
        summary.counters.records_read, summary.transactions, summary.restored
    );
    done.store(true, Ordering::SeqCst);
    let reported = watcher.join().expect("watcher");
    let reference = replay_lines(&s, &cells, &lines);
    assert_kpis_topic_equals(&s, &reference.kpis);
    reported
}

#[test]
fn a_registry_answering_500s_makes_units_restart_and_outputs_stay_exact() {
    // Longer than the client's retries (~4 s): the units fail and restart from their checkpoints.
    let reported = registry_outage_is_ridden_out(Outage::Errors, Duration::from_secs(9), "reg500");
    assert!(
        reported
            .iter()
            .any(|t| t.contains("restarting after a failure") && t.contains("registry")),
        "/readyz never said why: {reported:?}"
    );
}

#[test]
fn a_hanging_registry_is_waited_out_and_outputs_stay_exact() {
    registry_outage_is_ridden_out(Outage::Hangs, Duration::from_secs(12), "reghang");
}

#[test]
fn an_instance_stalled_past_its_timeouts_is_replaced_and_outputs_stay_exact() {
    let broker = Broker::start();
    let cells = small_inventory();
    let (s, _dir, config) = binary_setup(&broker, "stalled");
    let (items, lines) = traffic(&cells, 33, 16 * 60, 8.0);
    netkpi::kafka::produce::produce_traffic(&s.kafka, items, 3).expect("produce");
    let a = start_run(&config);
    let b = start_run(&config);
    std::thread::sleep(Duration::from_millis(2500));
    // A freezes for longer than the session timeout (2 s) and the poll interval (10 s): the
    // group gives its units to B, which fences A's producers; A then wakes up.
    let pid = a.id();
    signal(pid, "STOP");
    std::thread::sleep(Duration::from_secs(14));
    signal(pid, "CONT");
    let deadline = Instant::now() + Duration::from_secs(180);
    for (name, child) in [("a", a), ("b", b)] {
        let out = wait_until(child, deadline);
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "instance {name} failed:\n{log}");
        assert!(
            log.contains("run finished"),
            "instance {name} ended without its summary:\n{log}"
        );
    }
    let reference = replay_lines(&s, &cells, &lines);
    assert_kpis_topic_equals(&s, &reference.kpis);
}

#[test]
fn seeded_kills_during_start_up_and_restore_end_in_the_outputs_of_an_undisturbed_run() {
    let broker = Broker::start();
    let cells = small_inventory();
    let (s, _dir, config) = binary_setup(&broker, "killschedule");
    let (items, lines) = traffic(&cells, 35, 12 * 60, 8.0);
    let half = items.len() / 2;
    let (first, rest) = items.split_at(half);
    netkpi::kafka::produce::produce_traffic(&s.kafka, first.to_vec(), 3).expect("produce");
    // The rest arrives while instances are being killed.
    let producer = {
        let (k, rest) = (s.kafka.clone(), rest.to_vec());
        std::thread::spawn(move || {
            for chunk in rest.chunks(rest.len() / 20 + 1) {
                netkpi::kafka::produce::produce_traffic(&k, chunk.to_vec(), 3).expect("produce");
                std::thread::sleep(Duration::from_millis(700));
            }
        })
    };
    // A seeded schedule: each run is killed 0.1–3 s after a unit says it consumes.
    let mut seed: u64 = 20_261_201;
    let mut kills = 0;
    for _ in 0..14 {
        let mut run = watched_run(&config, false);
        let started = Instant::now();
        while !run.consuming.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(10));
        }
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay_ms = 100 + (seed >> 33) % 2900;
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = run.child.kill();
        let _ = run.child.wait();
        kills += 1;
    }
    producer.join().expect("producer");
    let mut last = watched_run(&config, true);
    let deadline = Instant::now() + Duration::from_secs(300);
    while last.child.try_wait().expect("wait").is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let hung = last.child.try_wait().expect("wait").is_none();
    let _ = last.child.kill();
    let status = last.child.wait().expect("wait");
    std::thread::sleep(Duration::from_millis(200));
    let log = last.log.lock().map(|l| l.clone()).unwrap_or_default();
    assert!(!hung, "the final run did not end within 5 minutes:\n{log}");
    assert!(status.success(), "the final run failed:\n{log}");
    assert!(
        log.contains("run finished"),
        "the final run ended without its summary:\n{log}"
    );
    assert!(kills >= 10);
    let reference = replay_lines(&s, &cells, &lines);
    assert_kpis_topic_equals(&s, &reference.kpis);
}

#[test]
fn a_broker_that_stops_answering_is_ridden_out_and_outputs_stay_exact() {
    let broker = Broker::start();
    let cells = small_inventory();
    let (s, _) = kafka_settings(&broker, "paused");
    let (items, lines) = traffic(&cells, 37, 16 * 60, 8.0);
    netkpi::kafka::produce::produce_traffic(&s.kafka, items, 3).expect("produce");
    let control = netkpi::pipeline::Control::default();
    let (health, run_settings) = (control.health.clone(), s.clone());
    let run = {
        let cells = cells.clone();
        std::thread::spawn(move || {
            netkpi::pipeline::run(
                &run_settings,
                &cells,
                netkpi::pipeline::RunOptions { exit_at_end: true },
                &control,
            )
            .map_err(|e| e.to_string())
        })
    };
    // Once the instance is ready, the broker freezes (SIGSTOP: no answer, no data lost) for
    // longer than a transaction may take, then comes back.
    let ready_by = Instant::now() + Duration::from_secs(30);
    while !health.is_ready() && Instant::now() < ready_by {
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = broker.pid();
    signal(pid, "STOP");
    let frozen = Instant::now();
    let reported = sample_health(&health, || frozen.elapsed() >= Duration::from_secs(40));
    signal(pid, "CONT");
    let result = run.join().expect("run thread");
    assert!(
        result.is_ok(),
        "the run did not survive the pause: {result:?}"
    );
    assert!(
        !reported.is_empty(),
        "/readyz never reported the broker outage"
    );
    let reference = replay_lines(&s, &cells, &lines);
    assert_kpis_topic_equals(&s, &reference.kpis);
    eprintln!("reported while the broker was frozen: {reported:?}");
}

/// Without any outage of the registry: this traffic ends with a cell in outage on a shard whose
/// last record is windows before the end, so the merger closes the last windows without that
/// shard's partials — its cells in outage must still count as down there (as one engine counts
/// them), from the outages the shard reports.
#[test]
fn a_shard_that_stopped_closing_windows_still_reports_its_cells_in_outage() {
    registry_outage_is_ridden_out(Outage::Errors, Duration::ZERO, "regbase");
}
