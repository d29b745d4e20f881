//! The Confluent wire format with a schema registry. No registry server can be installed here, so
//! this test runs a small HTTP server that speaks the part of the Confluent REST API netkpi uses
//! (`GET /schemas/ids/{id}`, `POST /subjects/{subject}/versions`), with producers on an older and a newer compatible schema, our own
//! schema, an incompatible one and an unknown id — through a real broker.

use crate::kafka::{Broker, assert_kpis_topic_equals, run_in_process};
use crate::*;
use apache_avro::types::Value as Avro;
use netkpi::kafka::client::read_all;
use netkpi::kafka::codec::InputDecoder;
use netkpi::model::{Event, Stream};
use netkpi::schemas::{CALL_RECORD, DATA_SESSION, OUTAGE, event_value, input_schema};
use netkpi::source::json::encode_event;
use netkpi::traffic::{GenItem, GenOptions, Generator};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the fake registry misbehaves until a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// Answers every request with HTTP 500.
    Errors,
    /// Accepts requests and never answers (until the deadline, then closes the connection).
    Hangs,
}

/// A minimal Confluent schema registry: `GET /schemas/ids/{id}` → `{"schema": "…"}` or 404,
/// and `POST /subjects/{subject}/versions` → `{"id": …}` (the same id for a schema registered
/// before).
pub struct FakeRegistry {
    pub url: String,
    pub requests: Arc<AtomicUsize>,
    /// Every registration: (subject, id).
    pub registered: Arc<Mutex<Vec<(String, u32)>>>,
}

/// One HTTP request: method, path without its query, body.
fn read_request(reader: &mut impl BufRead) -> Option<(String, String, String)> {
    let mut request = String::new();
    if reader.read_line(&mut request).unwrap_or(0) == 0 {
        return None;
    }
    let mut parts = request.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.split('?').next()?.to_string();
    let mut length = 0usize;
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap_or(0) > 2 {
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
        line.clear();
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    Some((method, path, String::from_utf8_lossy(&body).into_owned()))
}

/// The answer to one request.
fn answer(
    method: &str,
    path: &str,
    body: &str,
    schemas: &Mutex<HashMap<u32, String>>,
    registered: &Mutex<Vec<(String, u32)>>,
) -> (&'static str, String) {
    let Ok(mut schemas) = schemas.lock() else {
        return ("500 Internal Server Error", String::new());
    };
    if method == "POST"
        && let Some(subject) = path
            .strip_prefix("/subjects/")
            .and_then(|p| p.strip_suffix("/versions"))
    {
        let text = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["schema"].as_str().map(str::to_string));
        let Some(text) = text else {
            return ("422 Unprocessable Entity", r#"{"error_code":42201}"#.into());
        };
        let id = match schemas.iter().find(|(_, t)| **t == text) {
            Some((id, _)) => *id,
            None => {
                let id = schemas.keys().max().copied().unwrap_or(0).max(99) + 1;
                schemas.insert(id, text);
                id
            }
        };
        if let Ok(mut r) = registered.lock() {
            r.push((subject.to_string(), id));
        }
        return ("200 OK", serde_json::json!({ "id": id }).to_string());
    }
    let id = path
        .strip_prefix("/schemas/ids/")
        .and_then(|i| i.parse::<u32>().ok());
    match id.and_then(|i| schemas.get(&i)) {
        // "TYPE:text" serves a schema of another type (PROTOBUF, JSON).
        Some(text) => match text
            .split_once(':')
            .filter(|(t, _)| t.chars().all(|c| c.is_ascii_uppercase()))
        {
            Some((kind, body)) => (
                "200 OK",
                serde_json::json!({ "schemaType": kind, "schema": body }).to_string(),
            ),
            None => ("200 OK", serde_json::json!({ "schema": text }).to_string()),
        },
        None => (
            "404 Not Found",
            r#"{"error_code":40403,"message":"Schema not found"}"#.to_string(),
        ),
    }
}

impl FakeRegistry {
    pub fn start(schemas: HashMap<u32, String>) -> FakeRegistry {
        Self::start_with_outage(schemas, None)
    }

    /// A registry that misbehaves as `outage` says until the given instant.
    pub fn start_with_outage(
        schemas: HashMap<u32, String>,
        outage: Option<(Outage, std::time::Instant)>,
    ) -> FakeRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let requests = Arc::new(AtomicUsize::new(0));
        let registered = Arc::new(Mutex::new(Vec::new()));
        let schemas = Arc::new(Mutex::new(schemas));
        let (counter, subjects) = (requests.clone(), registered.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (schemas, counter, subjects) =
                    (schemas.clone(), counter.clone(), subjects.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                    let mut stream = stream;
                    while let Some((method, path, body)) = read_request(&mut reader) {
                        counter.fetch_add(1, Ordering::SeqCst);
                        let (status, body) = match outage {
                            Some((Outage::Hangs, until)) if std::time::Instant::now() < until => {
                                std::thread::sleep(until - std::time::Instant::now());
                                return;
                            }
                            Some((Outage::Errors, until)) if std::time::Instant::now() < until => {
                                ("500 Internal Server Error", "internal error".to_string())
                            }
                            _ => answer(&method, &path, &body, &schemas, &subjects),
                        };
                        let response = format!(
                            "HTTP/1.1 {status}\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if stream.write_all(response.as_bytes()).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        FakeRegistry {
            url,
            requests,
            registered,
        }
    }
}

/// Our schema with a field removed (an older producer) or added (a newer one).
fn variant(ours: &str, drop: Option<&str>, add: Option<serde_json::Value>) -> String {
    let mut s: serde_json::Value = serde_json::from_str(ours).expect("schema json");
    let fields = s["fields"].as_array_mut().expect("fields");
    if let Some(name) = drop {
        fields.retain(|f| f["name"] != name);
    }
    if let Some(field) = add {
        fields.push(field);
    }
    s.to_string()
}

pub fn framed(id: u32, datum: Vec<u8>) -> Vec<u8> {
    let mut out = vec![0u8];
    out.extend_from_slice(&id.to_be_bytes());
    out.extend(datum);
    out
}

#[test]
fn confluent_framing_resolves_older_and_newer_producers() {
    let older_calls = variant(CALL_RECORD, Some("sinr_db"), None);
    let newer_sessions = variant(
        DATA_SESSION,
        None,
        Some(serde_json::json!({"name": "apn", "type": "string", "default": ""})),
    );
    let incompatible = variant(
        CALL_RECORD,
        Some("cell_id"),
        Some(serde_json::json!({"name": "cell_id", "type": "int"})),
    );
    let registry = FakeRegistry::start(HashMap::from([
        (1, older_calls.clone()),
        (2, newer_sessions.clone()),
        (3, OUTAGE.to_string()),
        (4, incompatible),
    ]));

    let broker = Broker::start();
    let cells = small_inventory();
    let toml = format!(
        "[windows]\nsizes = [\"5m\"]\n[kafka]\nbrokers = \"{}\"\ngroup_id = \"confluent\"\ncommit_interval = \"100ms\"\nsession_timeout = \"2s\"\nschema_registry_url = \"{}\"\n[kafka.framing]\ncalls = \"confluent\"\ndata_sessions = \"confluent\"\noutages = \"confluent\"\n",
        broker.addr, registry.url
    );
    let s = settings(&toml);
    netkpi::kafka::client::ensure_topics(
        &s.kafka,
        &["calls", "data-sessions", "outages"],
        2,
        netkpi::kafka::client::TopicRole::Input,
    )
    .expect("topics");

    let old_schema = apache_avro::Schema::parse_str(&older_calls).expect("old");
    let new_schema = apache_avro::Schema::parse_str(&newer_sessions).expect("new");
    let writer = |schema| {
        apache_avro::writer::datum::GenericDatumWriter::builder(schema)
            .build()
            .expect("writer")
    };
    let (old_w, new_w, ours_w) = (
        writer(&old_schema),
        writer(&new_schema),
        writer(input_schema(Stream::Outage)),
    );
    let roundtrip = InputDecoder::new().expect("decoder");
    let producer: BaseProducer =
        netkpi::kafka::client::base_config(&s.kafka, netkpi::config::ClientRole::Producer)
            .create()
            .expect("producer");
    let mut lines = Vec::new();
    let opts = GenOptions {
        duration_ms: 60 * 60_000,
        peak_rate: 5.0,
        outages_per_cell_day: 40.0,
        seed: 21,
        ..GenOptions::default()
    };
    for item in Generator::new(cells.clone(), opts) {
        let GenItem::Event(ev) = item else { continue };
        // Carry the same values as the Avro path (floats) and as the older schema (no SINR on calls).
        let w = apache_avro::writer::datum::GenericDatumWriter::builder(input_schema(ev.stream()))
            .build()
            .expect("w");
        let mut ev = roundtrip
            .decode(
                ev.stream(),
                &w.write_value_to_vec(event_value(&ev)).expect("enc"),
            )
            .expect("valid");
        let Avro::Record(mut fields) = event_value(&ev) else {
            unreachable!()
        };
        let (topic, bytes) = match &mut ev {
            Event::Call(c) => {
                c.sinr_db = None;
                fields.retain(|(k, _)| k != "sinr_db");
                (
                    "calls",
                    framed(
                        1,
                        old_w
                            .write_value_to_vec(Avro::Record(fields))
                            .expect("old datum"),
                    ),
                )
            }
            Event::Session(_) => {
                fields.push(("apn".into(), Avro::String("internet".into())));
                (
                    "data-sessions",
                    framed(
                        2,
                        new_w
                            .write_value_to_vec(Avro::Record(fields))
                            .expect("new datum"),
                    ),
                )
            }
            Event::Outage(_) => (
                "outages",
                framed(
                    3,
                    ours_w
                        .write_value_to_vec(Avro::Record(fields))
                        .expect("datum"),
                ),
            ),
        };
        lines.push(encode_event(&ev));
        let key = ev.cell_id().to_string();
        producer
            .send(
                BaseRecord::to(topic)
                    .key(key.as_bytes())
                    .payload(bytes.as_slice()),
            )
            .expect("send");
        producer.poll(Duration::ZERO);
    }
    // Bad framing, an unknown schema id, an incompatible schema.
    for (payload, _) in [
        (vec![1u8, 2, 3], "malformed"),
        (framed(9, vec![0, 0]), "unknown_schema"),
        (framed(4, vec![0, 0]), "incompatible_schema"),
    ] {
        producer
            .send(BaseRecord::<[u8], [u8]>::to("calls").payload(payload.as_slice()))
            .expect("send");
    }
    producer.flush(Duration::from_secs(30)).expect("flush");

    run_in_process(&s, &cells);

    let reference = replay_lines(&s, &cells, &lines);
    assert_kpis_topic_equals(&s, &reference.kpis);
    let reasons: Vec<String> = read_all(&s.kafka, "dead-letters")
        .expect("dead letters")
        .iter()
        .filter_map(|d| {
            d.headers
                .iter()
                .find(|(k, _)| k == "netkpi.reason")
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        })
        .collect();
    for want in ["malformed", "unknown_schema", "incompatible_schema"] {
        assert!(
            reasons.iter().any(|r| r == want),
            "no {want} dead letter in {reasons:?}"
        );
    }
    // One request per schema id for the whole instance (its three shards share one cache):
    // ids 1 to 4, and the unknown id 9 once (one record carries it).
    assert_eq!(
        registry.requests.load(Ordering::SeqCst),
        5,
        "registry requests"
    );
}

#[test]
fn a_schema_of_another_type_is_refused_by_name() {
    let registry = FakeRegistry::start(HashMap::from([(
        9,
        "PROTOBUF:syntax = \"proto3\"; message Call { string call_id = 1; }".to_string(),
    )]));
    let mut r = netkpi::kafka::registry::Registry::new(&registry.url);
    let reject = r
        .decode(Stream::Call, &framed(9, vec![2, b'x']))
        .expect("the registry answered")
        .expect_err("not Avro");
    assert_eq!(
        reject.reason,
        netkpi::model::validate::Reason::IncompatibleSchema
    );
    assert!(
        reject.detail.contains("PROTOBUF schema, not Avro"),
        "{}",
        reject.detail
    );
}

/// What `tests/tools/confluent_reader.py` (confluent-kafka's consumer and AvroDeserializer)
/// reads from `topic`, one JSON value per record.
fn read_with_confluent_client(
    brokers: &str,
    registry: &str,
    topic: &str,
) -> Vec<serde_json::Value> {
    let tools = std::env::var("NETKPI_VALIDATORS")
        .expect("NETKPI_VALIDATORS is set by scripts/test (scripts/install-validators)");
    let out = std::process::Command::new(std::path::Path::new(&tools).join("python"))
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/tools/confluent_reader.py"
        ))
        .args([brokers, registry, topic])
        .output()
        .expect("run the Confluent reader");
    assert!(
        out.status.success(),
        "confluent reader: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[test]
fn confluent_output_framing_is_read_by_confluents_own_deserializer() {
    let registry = FakeRegistry::start(HashMap::new());
    let broker = Broker::start();
    let cells = small_inventory();
    let toml = format!(
        "{}\n[kafka]\nbrokers = \"{}\"\ngroup_id = \"confluent-out\"\ncommit_interval = \"100ms\"\nsession_timeout = \"2s\"\nschema_registry_url = \"{}\"\n[kafka.framing]\noutputs = \"confluent\"\n[http]\naddress = \"\"\n",
        crate::kafka::RULES,
        broker.addr,
        registry.url
    );
    let s = settings(&toml);
    let (items, lines) = crate::kafka::traffic(&cells, 41, 2 * 60, 8.0);
    netkpi::kafka::produce::produce_traffic(&s.kafka, items, 2).expect("produce");
    run_in_process(&s, &cells);
    // Registered under the registry's default subject names, once each.
    let registered = registry
        .registered
        .lock()
        .map(|r| r.clone())
        .unwrap_or_default();
    let subjects: Vec<&str> = registered.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(subjects, ["kpis-value", "kpi-breaches-value"]);

    let reference = replay_lines(&s, &cells, &lines);
    let key = |v: &serde_json::Value| {
        (
            v["window_start"].as_i64(),
            v["window_end"].as_i64(),
            v["level"].as_str().map(str::to_string),
            v["group"].to_string(),
        )
    };
    // Tansu's read_committed readers can lag a just-committed transaction: read again for a
    // while before comparing.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut read: BTreeMap<_, serde_json::Value> = BTreeMap::new();
    while read.len() < reference.kpis.len() && std::time::Instant::now() < deadline {
        for v in read_with_confluent_client(&broker.addr, &registry.url, "kpis") {
            read.insert(key(&v), v);
        }
    }
    assert_eq!(
        read.len(),
        reference.kpis.len(),
        "every KPI record, read once"
    );
    for want in &reference.kpis {
        let got = read
            .get(&key(want))
            .unwrap_or_else(|| panic!("missing {want}"));
        for kpi in ["call_attempts", "sessions", "dl_bytes", "outage_seconds"] {
            assert_eq!(got["kpis"][kpi], want["kpis"][kpi], "{kpi} of {want}");
        }
        for kpi in [
            "network_connection_ratio",
            "dropped_call_ratio",
            "availability_ratio",
        ] {
            let (g, w) = (got["kpis"][kpi].as_f64(), want["kpis"][kpi].as_f64());
            assert!(
                g.zip(w)
                    .map_or(g == w, |(g, w)| (g - w).abs() <= 1e-12 * w.abs().max(1.0)),
                "{kpi}: {g:?} against {w:?}"
            );
        }
    }
    let breaches = read_with_confluent_client(&broker.addr, &registry.url, "kpi-breaches");
    let ids = |vs: &[serde_json::Value]| -> std::collections::BTreeSet<(String, String)> {
        vs.iter()
            .map(|v| (v["breach_id"].to_string(), v["state"].to_string()))
            .collect()
    };
    assert!(!reference.breaches.is_empty(), "the traffic raises alarms");
    assert_eq!(ids(&breaches), ids(&reference.breaches));
}
