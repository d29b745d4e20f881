//! `netkpi demo`: the whole product in one process on an in-process Kafka cluster.

use super::{duration_ms, http::start_http, load, override_http_address, stop_on_signals};
use anyhow::Result;
use std::path::PathBuf;
use std::process::ExitCode;

/// The arguments of `netkpi demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Configuration file (inventory, windows, rules; its Kafka section is replaced).
    #[arg(long, default_value = "config/netkpi.toml")]
    pub config: PathBuf,
    /// Event time per wall-clock second (60: a 5-minute window every 5 seconds).
    #[arg(long, default_value_t = 60.0)]
    pub speedup: f64,
    /// Stop after this long (e.g. `30s`); default: until Ctrl-C.
    #[arg(long = "for")]
    pub run_for: Option<String>,
    /// Records per second of event time at the daily peak.
    #[arg(long, default_value_t = 150.0)]
    pub rate: f64,
    /// Seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Serve /metrics, /healthz and /readyz on this host:port instead of `[http] address`
    /// (several instances on one host each take their own); empty: no endpoint.
    #[arg(long)]
    pub http_address: Option<String>,
}

pub fn execute(args: Args) -> Result<ExitCode> {
    let Args {
        config,
        speedup,
        run_for,
        rate,
        seed,
        http_address,
    } = args;

    let (mut settings, cells) = load(&config)?;
    override_http_address(&mut settings, http_address)?;
    let mut control = netkpi::pipeline::Control::default();
    start_http(&settings, &cells, &mut control, false)?;
    stop_on_signals(&control.shutdown)?;
    let duration = run_for
        .as_deref()
        .map(duration_ms)
        .transpose()?
        .map(|ms| std::time::Duration::from_millis(ms.max(0) as u64));
    let opts = netkpi::demo::DemoOptions {
        speedup,
        duration,
        rate,
        seed,
    };
    let summary = netkpi::demo::run(settings, cells, opts, control)?;
    let c = &summary.counters;
    println!(
        "\nstopped: {} records consumed, {} dead letters, {} transactions",
        c.records_read,
        c.dead_letters_total(),
        summary.transactions
    );
    Ok(ExitCode::SUCCESS)
}
