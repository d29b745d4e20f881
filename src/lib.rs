//! netkpi: a stream processor for telecom service-quality KPIs.
//!
//! Data flows source → validate → enrich → windows → KPI accumulators → closed windows →
//! KPI records, threshold state machines → breach events. The core ([`engine`], [`kpi`],
//! [`threshold`]) is pure and synchronous: it never reads the clock or touches the network.

pub mod clock;
pub mod config;
pub mod demo;
pub mod engine;
pub mod inventory;
pub mod kafka;
pub mod kpi;
pub mod model;
pub mod pace;
pub mod pipeline;
pub mod replay;
pub mod report;
pub mod schemas;
pub mod sink;
pub mod source;
pub mod telemetry;
pub mod threshold;
pub mod traffic;
