//! The `netkpi` command line: parses the arguments, sets up logging and hands over to the
//! command's module in `commands/`.

mod commands;

use clap::{Parser, ValueEnum};
use std::io::IsTerminal;
use std::process::ExitCode;

/// netkpi turns telecom call, data-session and outage events into service-quality KPIs
/// (connection rate, dropped calls, throughput, latency, coverage, availability, …) per cell,
/// region, technology and network, and raises alarms when a KPI breaks its threshold.
#[derive(Parser)]
#[command(name = "netkpi", version, about, long_about = None)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    /// Log filter, e.g. `info`, `netkpi=debug` (also RUST_LOG).
    #[arg(long, default_value = "info", global = true)]
    log_level: String,
    #[command(subcommand)]
    command: commands::Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Logs to stderr; colours only when stderr is a terminal.
fn init_logging(format: LogFormat, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> ExitCode {
    netkpi::keep_freed_memory_a_second();
    let cli = Cli::parse();
    // The demo's terminal view is the output: keep routine log lines out of it unless asked.
    let level = if matches!(cli.command, commands::Command::Demo(_)) && cli.log_level == "info" {
        "warn"
    } else {
        cli.log_level.as_str()
    };
    init_logging(cli.log_format, level);
    let format = cli.log_format;
    match cli.command.execute() {
        Ok(code) => code,
        Err(e) => {
            // Printed once: as a log event for JSON logs (what a log pipeline reads), else as
            // the plain last line a person reads.
            let text = netkpi::config::secrets::redact(&format!("{e:#}")).into_owned();
            match format {
                LogFormat::Json => tracing::error!("{text}"),
                LogFormat::Text => eprintln!("error: {text}"),
            }
            ExitCode::FAILURE
        }
    }
}
