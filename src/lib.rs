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

// The allocator of every program built on this library (the `netkpi` binary, its benches and
// tests): mimalloc instead of glibc's malloc. Each record, window and output line allocates
// and frees small buffers; with glibc, malloc, realloc, free and chunk coalescing took ~10 % of
// the replay's engine thread, and mimalloc made the replay ~12 % faster for ~50 MiB more RSS
// (docs/performance.md, `scripts/bench-replay-compare`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
