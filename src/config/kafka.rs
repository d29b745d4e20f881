//! `[kafka]`: brokers, group, topics, framing, registry, properties and created-topic settings.

use super::Framing;
use super::raw::{RawFraming, RawTopics};
use super::read::Problems;
use super::values::{MAX_DURATION_MS, duration_in, in_range, parse_duration_ms};

pub(super) fn validate_kafka(k: super::raw::RawKafka, p: &mut Problems) -> super::KafkaSettings {
    if k.brokers.trim().is_empty() {
        p.add("kafka.brokers", "must name at least one host:port");
    }
    if k.group_id.trim().is_empty() {
        p.add("kafka.group_id", "must not be empty");
    }
    let output_partitions = in_range(
        k.output_partitions.0,
        1..=10_000,
        "kafka.output_partitions",
        "partitions",
        p,
    )
    .unwrap_or(3);
    let small = |v: Option<super::raw::Integer>, key: &str, p: &mut Problems| {
        v.and_then(|v| in_range(v.0, 1..=100, key, "replicas", p))
            .and_then(|v| i32::try_from(v).ok())
    };
    let replication_factor = small(k.replication_factor, "kafka.replication_factor", p);
    let min_insync_replicas = small(k.min_insync_replicas, "kafka.min_insync_replicas", p);
    let output_retention_ms = k.output_retention.as_deref().map(|text| {
        duration_in(
            text,
            60_000..=MAX_DURATION_MS,
            "kafka.output_retention",
            604_800_000,
            p,
        )
    });
    let commit_interval_ms = match parse_duration_ms(&k.commit_interval) {
        Ok(ms) if ms > 0 => ms,
        Ok(_) => {
            p.add("kafka.commit_interval", "must be longer than 0");
            1000
        }
        Err(e) => {
            p.add("kafka.commit_interval", e);
            1000
        }
    };
    let session_timeout_ms = match parse_duration_ms(&k.session_timeout) {
        Ok(ms) if (1000..=3_600_000).contains(&ms) => ms,
        Ok(_) => {
            p.add("kafka.session_timeout", "must be between 1s and 1h");
            10_000
        }
        Err(e) => {
            p.add("kafka.session_timeout", e);
            10_000
        }
    };
    let t = k.topics;
    check_topic_names(&t, p);
    let (framing, output_framing) = framings(k.framing, p);
    let registry = registry_url(k.schema_registry_url, &framing, output_framing, p);
    super::KafkaSettings {
        framing,
        output_framing,
        schema_registry_url: registry,
        transactional_id: k.transactional_id.unwrap_or_else(|| k.group_id.clone()),
        brokers: k.brokers,
        group_id: k.group_id,
        output_partitions: i32::try_from(output_partitions).unwrap_or(3),
        replication_factor,
        min_insync_replicas,
        output_retention_ms,
        commit_interval_ms,
        session_timeout_ms,
        input_topics: [t.calls, t.data_sessions, t.outages],
        kpis_topic: t.kpis,
        breaches_topic: t.breaches,
        dead_letters_topic: t.dead_letters,
        checkpoints_topic: t.checkpoints,
        partials_topic: t.partials,
        properties: k.properties.common.into_iter().collect(),
        role_properties: [
            k.properties.consumer.into_iter().collect(),
            k.properties.producer.into_iter().collect(),
            k.properties.admin.into_iter().collect(),
        ],
    }
}

/// Topic names: valid for Kafka, and each used for one purpose only.
fn check_topic_names(t: &RawTopics, p: &mut Problems) {
    let names = [
        ("calls", &t.calls),
        ("data_sessions", &t.data_sessions),
        ("outages", &t.outages),
        ("kpis", &t.kpis),
        ("breaches", &t.breaches),
        ("dead_letters", &t.dead_letters),
        ("checkpoints", &t.checkpoints),
        ("partials", &t.partials),
    ];
    for (i, (key, name)) in names.iter().enumerate() {
        let valid = !name.is_empty()
            && name.len() <= 249
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !valid {
            p.add(
                format!("kafka.topics.{key}"),
                format!("`{name}` is not a valid topic name"),
            );
        }
        if names[..i].iter().any(|(_, other)| other == name) {
            p.add(
                format!("kafka.topics.{key}"),
                format!("`{name}` is used for two purposes"),
            );
        }
    }
}

/// `kafka.framing`: each input's and the outputs', `raw` or `confluent`.
fn framings(f: RawFraming, p: &mut Problems) -> ([Framing; 3], Framing) {
    let [calls, data_sessions, outages, output_framing] = [
        ("calls", f.calls),
        ("data_sessions", f.data_sessions),
        ("outages", f.outages),
        ("outputs", f.outputs),
    ]
    .map(|(key, v)| match v.as_str() {
        "raw" => Framing::Raw,
        "confluent" => Framing::Confluent,
        other => {
            p.add(
                format!("kafka.framing.{key}"),
                format!("`{other}` is not `raw` or `confluent`"),
            );
            Framing::Raw
        }
    });
    ([calls, data_sessions, outages], output_framing)
}

/// `kafka.schema_registry_url`: an http(s) URL, required when a topic is `confluent`-framed.
fn registry_url(
    url: Option<String>,
    framing: &[Framing; 3],
    output_framing: Framing,
    p: &mut Problems,
) -> Option<String> {
    let registry = url.filter(|u| !u.trim().is_empty());
    if (framing.contains(&Framing::Confluent) || output_framing == Framing::Confluent)
        && registry.is_none()
    {
        p.add(
            "kafka.schema_registry_url",
            "required when a topic uses the `confluent` framing",
        );
    }
    if let Some(url) = &registry
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        p.add(
            "kafka.schema_registry_url",
            format!("`{url}` is not an http:// or https:// URL"),
        );
    }
    registry
}
