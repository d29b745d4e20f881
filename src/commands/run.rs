//! `netkpi run`: the streaming pipeline on Kafka, until a signal (or the end of its input).

use super::{http::start_http, load, override_http_address, stop_on_signals};
use anyhow::{Result, bail};
use netkpi::config;
use std::path::PathBuf;
use std::process::ExitCode;

/// The arguments of `netkpi run`.
#[derive(clap::Args)]
pub struct Args {
    /// Configuration file (TOML).
    #[arg(long)]
    pub config: PathBuf,
    /// Stop when every input partition has reached its end, closing all open windows.
    #[arg(long)]
    pub exit_at_end: bool,
    /// Serve /metrics, /healthz and /readyz on this host:port instead of `[http] address`
    /// (several instances on one host each take their own); empty: no endpoint.
    #[arg(long)]
    pub http_address: Option<String>,
}

pub fn execute(args: Args) -> Result<ExitCode> {
    let Args {
        config,
        exit_at_end,
        http_address,
    } = args;

    let (mut settings, cells) = load(&config)?;
    override_http_address(&mut settings, http_address)?;
    refuse_bad_kafka_properties(&settings)?;
    let mut control = netkpi::pipeline::Control::default();
    start_http(&settings, &cells, &mut control, true)?;
    stop_on_signals(&control.shutdown)?;
    let summary = netkpi::pipeline::run(
        &settings,
        &cells,
        netkpi::pipeline::RunOptions { exit_at_end },
        &control,
    )?;
    if let Some(w) = &control.remote_write {
        w.finish();
    }
    let rate = summary.counters.records_read as f64 / summary.seconds.max(1e-9);
    tracing::info!(
        records_read = summary.counters.records_read,
        dead_letters = summary.counters.dead_letters_total(),
        transactions = summary.transactions,
        restored = summary.restored,
        checkpoint_bytes = summary.checkpoint_bytes,
        seconds = format!("{:.3}", summary.seconds),
        records_per_second = format!("{rate:.0}"),
        "run finished"
    );
    Ok(ExitCode::SUCCESS)
}

/// Stops before connecting when librdkafka refuses a configured property (as `check-config`
/// reports it; one this build does not support is left for the client to refuse).
fn refuse_bad_kafka_properties(settings: &config::Settings) -> Result<()> {
    if let Some(p) = netkpi::kafka::client::check_properties(&settings.kafka)
        .into_iter()
        .find(|p| !p.unsupported_here)
    {
        bail!("{}: librdkafka refuses it: {}", p.path(), p.message);
    }
    Ok(())
}
