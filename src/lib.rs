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

/// mimalloc's `purge_delay` option: its number in the bundled C library's `mi_option_e` (15 in
/// both its v2 and v3 headers; the Rust bindings do not name it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Lets mimalloc keep freed memory for a second before returning it to the OS (its default is
/// 10 ms). Replay frees and reallocates window state and output buffers all the time; returning
/// them at once made the kernel zero the same pages again (`clear_page` ~6 % of the engine
/// thread), and replay runs ~7 % faster without that (docs/performance.md). What mimalloc purges
/// goes back a second later; pages it keeps for reuse stay until [`return_freed_memory`].
pub fn keep_freed_memory_a_second() {
    // SAFETY: `mi_option_set` stores an integer in mimalloc's option table; any value of a
    // known option is valid, and the allocator reads it when it next purges.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 1000) };
}

/// Hands the memory freed so far back to the OS now. mimalloc keeps a thread's emptied pages for
/// reuse and does not return them on a timer alone: the inventory and the scratch of building
/// a million-cell engine (~150 MiB) stayed resident for the whole run without this. Called once
/// the engine is built and what built it is dropped.
pub fn return_freed_memory() {
    // SAFETY: `mi_collect` only walks mimalloc's own heaps of the calling thread and the
    // abandoned ones; it takes no pointer and may be called at any time.
    unsafe { libmimalloc_sys::mi_collect(true) };
}
