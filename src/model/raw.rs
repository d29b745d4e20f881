//! The loosely typed form of an input record, as a decoder produced it: every field optional,
//! strings borrowed from the input where possible. JSON Lines and Avro decoders both fill a
//! [`RawEvent`]; [`super::validate`] alone decides whether it is a valid [`super::Event`], so the
//! two formats cannot drift apart in what they accept.

use serde::Deserialize;
use std::borrow::Cow;

/// Every field any of the three input records can carry, each optional. `kind` is the JSON
/// `"type"` (or, for Avro, derived from the writer schema's record name).
#[derive(Debug, Default, Deserialize, Clone, PartialEq)]
pub struct RawEvent<'a> {
    #[serde(rename = "type", borrow, default)]
    pub kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub call_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub session_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub outage_id: Option<Cow<'a, str>>,
    #[serde(default)]
    pub event_time: Option<i64>,
    #[serde(borrow, default)]
    pub cell_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub outcome: Option<Cow<'a, str>>,
    #[serde(default)]
    pub setup_ms: Option<i32>,
    #[serde(default)]
    pub duration_ms: Option<i64>,
    #[serde(default)]
    pub dropped: Option<bool>,
    #[serde(default)]
    pub mos: Option<f64>,
    #[serde(default)]
    pub signal_dbm: Option<i32>,
    #[serde(default)]
    pub sinr_db: Option<f64>,
    #[serde(borrow, default)]
    pub plan: Option<Cow<'a, str>>,
    #[serde(default)]
    pub active_ms: Option<i64>,
    #[serde(default)]
    pub dl_bytes: Option<i64>,
    #[serde(default)]
    pub ul_bytes: Option<i64>,
    #[serde(default)]
    pub rtt_ms: Option<f64>,
    #[serde(default)]
    pub packets_sent: Option<i64>,
    #[serde(default)]
    pub packets_lost: Option<i64>,
    #[serde(borrow, default)]
    pub state: Option<Cow<'a, str>>,
    #[serde(default)]
    pub started_at: Option<i64>,
    #[serde(borrow, default)]
    pub cause: Option<Cow<'a, str>>,
    #[serde(default)]
    pub planned: Option<bool>,
}
