//! One module per `netkpi` command: its arguments and the function that carries it out, plus the
//! few steps several commands share (loading a configuration, creating an output file, signals).

pub mod check_config;
pub mod demo;
pub mod generate;
mod http;
pub mod replay;
pub mod report;
pub mod run;

use anyhow::{Context, Result};
use clap::Subcommand;
use netkpi::{config, inventory};
use std::io::BufWriter;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

#[derive(Subcommand)]
pub enum Command {
    /// Replay JSON Lines or Avro files through the KPI engine; write KPI records, breach events
    /// and dead letters as JSON Lines.
    Replay(replay::Args),
    /// Consume calls, data sessions and outages from Kafka; write KPI records, breach events and
    /// dead letters to Kafka, exactly once (see docs/operations.md).
    Run(run::Args),
    /// Validate a configuration file (and its inventory) without running anything.
    CheckConfig(check_config::Args),
    /// Regulatory compliance over calendar periods from stored KPI records: report.json,
    /// report.csv and report.html in --out (see docs/reports.md).
    Report(report::Args),
    /// Generate realistic traffic for an inventory into a file.
    Gen(generate::Args),
    /// The whole product in one process, no external services: an in-process Kafka cluster,
    /// generated traffic for the sample inventory, the streaming pipeline, and a live view of
    /// regional KPIs and alarms. Ctrl-C stops it.
    Demo(demo::Args),
}

impl Command {
    /// Carries the command out.
    pub fn execute(self) -> Result<ExitCode> {
        match self {
            Command::Replay(a) => replay::execute(a),
            Command::Run(a) => run::execute(a),
            Command::CheckConfig(a) => check_config::execute(a),
            Command::Report(a) => report::execute(a),
            Command::Gen(a) => generate::execute(a),
            Command::Demo(a) => demo::execute(a),
        }
    }
}

/// An output file (its folder created when missing), buffered.
fn create(path: &Path) -> Result<BufWriter<std::fs::File>> {
    Ok(BufWriter::with_capacity(1 << 20, create_file(path)?))
}

/// An output file, its folder created when missing.
pub(crate) fn create_file(path: &Path) -> Result<std::fs::File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))
}

/// The configuration and its inventory.
fn load(config_path: &Path) -> Result<(config::Settings, Vec<inventory::Cell>)> {
    let settings = config::load(config_path)?;
    let cells = inventory::load(&settings.inventory_path)?;
    Ok((settings, cells))
}

/// A duration argument (`30s`, `2h`) in milliseconds.
fn duration_ms(text: &str) -> Result<i64> {
    let d =
        humantime::parse_duration(text).with_context(|| format!("`{text}` is not a duration"))?;
    Ok(i64::try_from(d.as_millis())?)
}

/// Sets `flag` on SIGINT and SIGTERM, so the command can stop cleanly.
fn stop_on_signals(flag: &Arc<AtomicBool>) -> Result<()> {
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, flag.clone())?;
    }
    Ok(())
}

/// `--http-address` in place of the configuration's `[http] address` (empty: no endpoint).
fn override_http_address(settings: &mut config::Settings, address: Option<String>) -> Result<()> {
    let Some(address) = address.map(|a| a.trim().to_string()) else {
        return Ok(());
    };
    if !address.is_empty() && address.parse::<std::net::SocketAddr>().is_err() {
        anyhow::bail!(
            "--http-address `{address}` is not host:port (e.g. 127.0.0.1:9899), or empty"
        );
    }
    settings.http_address = Some(address).filter(|a| !a.is_empty());
    Ok(())
}
