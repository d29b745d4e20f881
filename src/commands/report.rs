//! `netkpi report`: regulatory compliance over calendar periods from stored KPI records.

use anyhow::{Context, Result};
use netkpi::config;
use std::path::PathBuf;
use std::process::ExitCode;

/// The arguments of `netkpi report`.
#[derive(clap::Args)]
pub struct Args {
    /// Configuration file (TOML) with [report] and [[targets]].
    #[arg(long)]
    pub config: PathBuf,
    /// A target set (e.g. config/targets/trai.toml) in place of the configuration's.
    #[arg(long)]
    pub targets: Option<PathBuf>,
    /// KPI record files (JSON Lines, as `replay --kpis-out` writes them); repeat for several.
    #[arg(
        long = "kpis",
        required_unless_present = "from_kafka",
        conflicts_with = "from_kafka"
    )]
    pub kpis: Vec<PathBuf>,
    /// Read the configuration's `kpis` topic (to its current end) instead of files.
    #[arg(long)]
    pub from_kafka: bool,
    /// First local day, YYYY-MM-DD in report.timezone (inclusive).
    #[arg(long)]
    pub from: String,
    /// Day after the last, YYYY-MM-DD (exclusive).
    #[arg(long)]
    pub to: String,
    /// Calendar period each verdict covers: day, week, month or quarter.
    #[arg(long, default_value = "month")]
    pub period: String,
    /// Folder for report.json, report.csv and report.html.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn execute(args: Args) -> Result<ExitCode> {
    let Args {
        config,
        targets,
        kpis,
        from_kafka,
        from,
        to,
        period,
        out,
    } = args;

    use netkpi::report::{self, calendar};
    let settings = config::load_with_targets(&config, targets.as_deref())?;
    let request = report::Request {
        from: calendar::parse_date(&from).context("--from")?,
        to: calendar::parse_date(&to).context("--to")?,
        period: calendar::PeriodKind::parse(&period)
            .with_context(|| format!("--period `{period}` is not day, week, month or quarter"))?,
    };
    let records = if from_kafka {
        report::Records::Topic
    } else {
        report::Records::Files(&kpis)
    };
    let built = report::run(&settings, &request, records, &out)?;
    let s = &built.input.read;
    println!(
        "report {} – {}: {} KPI records read, {} used ({} of other window sizes, {} of other levels, {} outside the dates, {} repeated, {} unreadable); {} target(s) → {}",
        request.from,
        request.to,
        s.records,
        s.used,
        s.other_window_size,
        s.other_level,
        s.outside_range,
        s.repeated,
        s.unreadable,
        built.targets.len(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
