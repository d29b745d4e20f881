//! Input decoding per topic framing, with a Confluent schema-registry client.
//!
//! `raw` topics carry bare datums of our schemas (hand-written decoder). `confluent` topics carry
//! magic byte 0, a big-endian schema id and a datum of that schema: the writer's schema is fetched
//! once per id (`GET {url}/schemas/ids/{id}`, the Confluent REST API) and cached; when it is our
//! schema the fast decoder is used, otherwise the datum is decoded with the writer's schema and
//! resolved against ours (Avro schema resolution: an older producer's missing fields take our
//! defaults, a newer producer's extra fields are skipped).
//!
//! A record whose schema id the registry does not know is a dead letter (`unknown_schema`); a
//! writer schema that cannot be resolved against ours makes its records dead letters
//! (`incompatible_schema`). A registry that cannot be reached is not the record's fault: after a
//! few retries the pipeline stops (and resumes exactly where it was when restarted).

use super::datum;
use crate::config::{Framing, KafkaSettings};
use crate::model::validate::{Reason, Reject, validate};
use crate::model::{Event, Stream};
use crate::schemas::input_schema;
use crate::source::avro_value::to_raw;
use apache_avro::Schema;
use apache_avro::reader::datum::GenericDatumReader;
use std::collections::HashMap;
use std::time::Duration;

/// The registry refused to register an output schema (it is not compatible with the subject's
/// latest version, say).
#[derive(Debug, thiserror::Error)]
#[error(
    "schema registry {url} refused the schema of subject `{subject}`: HTTP {status}: {message}"
)]
pub struct RegistrationRefused {
    pub url: String,
    pub subject: String,
    pub status: u16,
    pub message: String,
}

/// Why an output schema could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error(transparent)]
    Unavailable(#[from] RegistryUnavailable),
    #[error(transparent)]
    Refused(#[from] RegistrationRefused),
}

/// The registered ids of the output schemas, for the `confluent` output framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputSchemaIds {
    pub kpi: u32,
    pub breach: u32,
}

/// The registry could not be asked.
#[derive(Debug, thiserror::Error)]
#[error("schema registry {url} unavailable for schema id {id}: {message}")]
pub struct RegistryUnavailable {
    pub url: String,
    pub id: u32,
    pub message: String,
}

enum Writer {
    /// Exactly our schema: the fast decoder applies.
    Ours,
    /// Another schema, resolved against ours (leaked: one per distinct schema id, for the
    /// process's life, so the resolving reader can borrow it).
    Resolving(GenericDatumReader<'static>),
    /// Not resolvable against ours.
    Incompatible(String),
}

/// What the registry answered for a schema id.
#[derive(Clone)]
enum Fetched {
    Avro(String),
    /// A schema of another type (PROTOBUF, JSON).
    OtherType(String),
    Missing,
}

/// The schema texts the registry answered, by id: one cache per instance, shared by its shards,
/// so each id is fetched once however many shards read it.
#[derive(Clone, Default)]
pub struct SchemaCache(std::sync::Arc<std::sync::Mutex<HashMap<u32, Fetched>>>);

/// A cached Confluent schema-registry client: schema texts in the instance's [`SchemaCache`],
/// resolved readers of its own.
pub struct Registry {
    url: String,
    agent: ureq::Agent,
    texts: SchemaCache,
    cache: HashMap<(u32, usize), Writer>,
}

#[derive(serde::Deserialize)]
struct SchemaResponse {
    schema: String,
    #[serde(default, rename = "schemaType")]
    schema_type: Option<String>,
}

impl Registry {
    /// A client for the registry at `url` with a cache of its own.
    pub fn new(url: &str) -> Self {
        Self::sharing(url, SchemaCache::default())
    }

    /// A client for the registry at `url` that shares the schema texts of `texts`.
    pub fn sharing(url: &str, texts: SchemaCache) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .build()
            .into();
        Registry {
            url: url.trim_end_matches('/').to_string(),
            agent,
            texts,
            cache: HashMap::new(),
        }
    }

    /// The schema text of `id`, from the instance's cache or else the registry (the cache is
    /// held while fetching, so two shards never fetch the same id). An unknown id is not
    /// cached: the registry may learn it.
    fn text_of(&self, id: u32) -> Result<Fetched, RegistryUnavailable> {
        let Ok(mut texts) = self.texts.0.lock() else {
            return self.fetch(id);
        };
        if let Some(f) = texts.get(&id) {
            return Ok(f.clone());
        }
        let fetched = self.fetch(id)?;
        if !matches!(fetched, Fetched::Missing) {
            texts.insert(id, fetched.clone());
        }
        Ok(fetched)
    }

    /// Registers `schema` (Avro schema text) under `subject` (`POST /subjects/{subject}/versions`)
    /// and returns its id; registering a schema the subject already has returns its id again.
    pub fn register(&self, subject: &str, schema: &str) -> Result<u32, RegisterError> {
        let unavailable = |message: String| RegistryUnavailable {
            url: self.url.clone(),
            id: 0,
            message: format!("registering subject `{subject}`: {message}"),
        };
        let url = format!("{}/subjects/{subject}/versions", self.url);
        let body = serde_json::json!({ "schema": schema }).to_string();
        let (status, text) = self
            .answer(|agent| {
                agent
                    .post(&url)
                    .header("Content-Type", "application/vnd.schemaregistry.v1+json")
                    .send(body.as_str())
            })
            .map_err(unavailable)?;
        if status != 200 {
            return Err(RegistrationRefused {
                url: self.url.clone(),
                subject: subject.to_string(),
                status,
                message: text,
            }
            .into());
        }
        #[derive(serde::Deserialize)]
        struct Registered {
            id: u32,
        }
        let r: Registered = serde_json::from_str(&text)
            .map_err(|e| unavailable(format!("unexpected answer: {e}")))?;
        Ok(r.id)
    }

    /// The registry's answer (status, body) to the request `send` makes, retried with backoff
    /// (4 tries over ~4 s) while it cannot be reached or answers 5xx; the last failure when
    /// every try failed.
    fn answer(
        &self,
        send: impl Fn(&ureq::Agent) -> Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<(u16, String), String> {
        let mut last = String::new();
        for backoff_ms in [0u64, 200, 1000, 3000] {
            std::thread::sleep(Duration::from_millis(backoff_ms));
            let mut response = match send(&self.agent) {
                Ok(r) => r,
                Err(e) => {
                    last = e.to_string();
                    continue;
                }
            };
            let status = response.status().as_u16();
            let body = response
                .body_mut()
                .read_to_string()
                .map_err(|e| e.to_string())?;
            if status >= 500 {
                last = format!("HTTP {status}: {body}");
                continue;
            }
            return Ok((status, body));
        }
        Err(last)
    }

    /// Registers the KPI record and breach event schemas under `<kpis topic>-value` and
    /// `<breaches topic>-value` (the registry's default subject naming).
    pub fn register_outputs(&self, k: &KafkaSettings) -> Result<OutputSchemaIds, RegisterError> {
        Ok(OutputSchemaIds {
            kpi: self.register(
                &format!("{}-value", k.kpis_topic),
                crate::schemas::KPI_RECORD,
            )?,
            breach: self.register(
                &format!("{}-value", k.breaches_topic),
                crate::schemas::BREACH_EVENT,
            )?,
        })
    }

    /// Fetches the schema text of `id` (`GET /schemas/ids/{id}`).
    fn fetch(&self, id: u32) -> Result<Fetched, RegistryUnavailable> {
        let unavailable = |message: String| RegistryUnavailable {
            url: self.url.clone(),
            id,
            message,
        };
        let url = format!("{}/schemas/ids/{id}", self.url);
        let (status, body) = self
            .answer(|agent| {
                agent
                    .get(&url)
                    .header("Accept", "application/vnd.schemaregistry.v1+json")
                    .call()
            })
            .map_err(unavailable)?;
        match status {
            200 => {
                let parsed: SchemaResponse = serde_json::from_str(&body)
                    .map_err(|e| unavailable(format!("unexpected answer: {e}")))?;
                Ok(match parsed.schema_type {
                    Some(t) if t != "AVRO" => Fetched::OtherType(t),
                    _ => Fetched::Avro(parsed.schema),
                })
            }
            404 => Ok(Fetched::Missing),
            s => Err(unavailable(format!("HTTP {s}: {body}"))),
        }
    }

    fn writer(&mut self, id: u32, stream: Stream) -> Result<Option<&Writer>, RegistryUnavailable> {
        let key = (id, stream as usize);
        if !self.cache.contains_key(&key) {
            let text = match self.text_of(id)? {
                Fetched::Missing => return Ok(None),
                Fetched::OtherType(t) => {
                    let why = format!("schema {id} is a {t} schema, not Avro");
                    self.cache.insert(key, Writer::Incompatible(why));
                    return Ok(self.cache.get(&key));
                }
                Fetched::Avro(text) => text,
            };
            let ours = input_schema(stream);
            let writer = match Schema::parse_str(&text) {
                Err(e) => Writer::Incompatible(format!("schema {id} is not an Avro schema: {e}")),
                Ok(w) if let Err(why) = crate::source::writer_schema::check(&w) => {
                    Writer::Incompatible(format!("schema {id} is refused: {why}"))
                }
                Ok(w) if w.canonical_form() == ours.canonical_form() => Writer::Ours,
                Ok(w) => {
                    match apache_avro::schema_compatibility::SchemaCompatibility::can_read(&w, ours)
                    {
                        Err(e) => Writer::Incompatible(format!(
                            "records of schema {id} cannot be read as ours: {e}"
                        )),
                        Ok(_) => {
                            let w: &'static Schema = Box::leak(Box::new(w));
                            match GenericDatumReader::builder(w).reader_schema(ours).build() {
                                Ok(r) => Writer::Resolving(r),
                                Err(e) => Writer::Incompatible(format!(
                                    "schema {id} does not resolve against ours: {e}"
                                )),
                            }
                        }
                    }
                }
            };
            tracing::info!(
                id,
                stream = stream.as_str(),
                "writer schema fetched from the registry"
            );
            self.cache.insert(key, writer);
        }
        Ok(self.cache.get(&key))
    }

    /// Decodes one Confluent-framed record of `stream`.
    pub fn decode(
        &mut self,
        stream: Stream,
        bytes: &[u8],
    ) -> Result<Result<Event, Reject>, RegistryUnavailable> {
        let (Some(0), Some(id)) = (bytes.first(), bytes.get(1..5)) else {
            return Ok(Err(Reject::new(
                Reason::Malformed,
                "not in the Confluent wire format (magic byte 0, 4-byte schema id)",
            )));
        };
        let id = u32::from_be_bytes([id[0], id[1], id[2], id[3]]);
        let body = &bytes[5..];
        let kind = match stream {
            Stream::Call => "call",
            Stream::Session => "data_session",
            Stream::Outage => "outage",
        };
        Ok(match self.writer(id, stream)? {
            None => Err(Reject::new(
                Reason::UnknownSchema,
                format!("the schema registry has no schema {id}"),
            )),
            Some(Writer::Ours) => datum::decode(stream, body),
            Some(Writer::Incompatible(why)) => {
                Err(Reject::new(Reason::IncompatibleSchema, why.clone()))
            }
            Some(Writer::Resolving(reader)) => {
                let mut rest = body;
                match reader.read_value(&mut rest) {
                    Err(e) => Err(Reject::new(
                        Reason::Malformed,
                        format!("not a datum of schema {id}: {e}"),
                    )),
                    Ok(_) if !rest.is_empty() => Err(Reject::new(
                        Reason::Malformed,
                        format!("{} trailing bytes after the datum", rest.len()),
                    )),
                    Ok(value) => to_raw(kind, value).and_then(|raw| validate(&raw)),
                }
            }
        })
    }
}

/// Decodes every input topic according to its framing.
pub struct InputDecoders {
    framing: [Framing; 3],
    registry: Option<Registry>,
}

impl InputDecoders {
    /// Decoders for the configured framings, sharing the instance's schema texts.
    pub fn new(k: &KafkaSettings, texts: &SchemaCache) -> Self {
        InputDecoders {
            framing: k.framing,
            registry: k
                .schema_registry_url
                .as_deref()
                .map(|url| Registry::sharing(url, texts.clone())),
        }
    }

    /// Decodes and validates one record of input `stream`.
    pub fn decode(
        &mut self,
        stream: Stream,
        bytes: &[u8],
    ) -> Result<Result<Event, Reject>, RegistryUnavailable> {
        match (self.framing.get(stream.index()), self.registry.as_mut()) {
            (Some(Framing::Confluent), Some(registry)) => registry.decode(stream, bytes),
            _ => Ok(datum::decode(stream, bytes)),
        }
    }
}
