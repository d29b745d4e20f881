//! `netkpi report`: regulatory compliance over calendar periods from stored KPI records (what
//! `replay` wrote, or the `kpis` topic). Pure from records to [`result::Report`]; reading files
//! or a topic, and writing `report.json`, `report.csv` and `report.html`, are at the edges.

pub mod calendar;
pub mod chart;
pub mod collect;
pub mod compute;
pub mod csv;
pub mod html;
pub mod input;
pub mod pool;
pub mod result;
pub mod row;
pub mod targets;

use crate::config::Settings;
use crate::inventory::Cell;
use crate::model::level::{Dim, Level};
use calendar::{Calendar, CalendarError, Period, PeriodKind};
use collect::Collector;
use jiff::civil::Date;
use result::{InputInfo, PeriodInfo, Report};
use targets::ReportSettings;

/// What a report covers.
#[derive(Debug, Clone, Copy)]
pub struct Request {
    /// First local day (inclusive).
    pub from: Date,
    /// Day after the last (exclusive).
    pub to: Date,
    pub period: PeriodKind,
}

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(
        "the configuration has no report targets: add a [report] section and [[targets]] (or pass --targets config/targets/trai.toml)"
    )]
    NoTargets,
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    #[error(transparent)]
    Input(#[from] input::InputError),
    #[error(transparent)]
    Inventory(#[from] crate::inventory::InventoryError),
    #[error("cannot encode the report as JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// A collector for the records `settings` and `request` need.
pub fn collector(settings: &Settings, request: &Request) -> Result<Collector, ReportError> {
    let report = report_settings(settings)?;
    let calendar = Calendar::new(&report.timezone)?;
    calendar::periods(request.period, request.from, request.to)?;
    let bound = |d: Date| {
        calendar
            .start_ms(d)
            .ok_or(CalendarError::BadDate(d.to_string()))
    };
    let (from_ms, to_ms) = (bound(request.from)?, bound(request.to)?);
    let mut levels: Vec<String> = report.targets.iter().map(|t| t.level.name()).collect();
    let cell = Level::of(&[Dim::Cell]);
    if settings.levels.contains(&cell) {
        levels.push(cell.name());
    }
    levels.sort();
    levels.dedup();
    Ok(Collector::new(
        report.window_ms,
        levels,
        from_ms,
        to_ms,
        calendar,
    ))
}

fn report_settings(settings: &Settings) -> Result<&ReportSettings, ReportError> {
    settings
        .report
        .as_ref()
        .filter(|r| !r.targets.is_empty())
        .ok_or(ReportError::NoTargets)
}

/// The report of everything collected.
pub fn build(
    settings: &Settings,
    request: &Request,
    collected: &Collector,
    inventory: &[Cell],
) -> Result<Report, ReportError> {
    let report = report_settings(settings)?;
    let periods = calendar::periods(request.period, request.from, request.to)?;
    let range = Period {
        start: request.from,
        end: request.to,
    };
    let ctx = compute::Context {
        settings: report,
        collected,
        inventory,
        periods: &periods,
        range,
    };
    let days_with_data: std::collections::BTreeSet<Date> = collected
        .groups()
        .flat_map(|g| g.days.keys().copied())
        .collect();
    let known: std::collections::HashSet<&str> =
        inventory.iter().map(|c| c.cell_id.as_str()).collect();
    let cell_level = collected.levels().iter().position(|l| l == "cell");
    let cells_outside_inventory = collected
        .groups()
        .filter(|g| Some(g.level) == cell_level)
        .filter(|g| {
            g.values
                .first()
                .is_some_and(|c| !known.contains(c.as_str()))
        })
        .count() as u64;
    Ok(Report {
        period: PeriodInfo {
            kind: request.period.as_str(),
            from: request.from.to_string(),
            to: request.to.to_string(),
            days: range.days(),
            days_with_data: days_with_data.len() as u64,
        },
        timezone: report.timezone.clone(),
        window: crate::telemetry::series::window_label(report.window_ms),
        input: InputInfo {
            read: collected.stats.clone(),
            cells_outside_inventory,
        },
        targets: report.targets.iter().map(|t| ctx.target(t)).collect(),
    })
}

/// Where a report's records come from.
#[derive(Debug, Clone, Copy)]
pub enum Records<'a> {
    /// JSON Lines files as `replay --kpis-out` writes them.
    Files(&'a [std::path::PathBuf]),
    /// The configuration's `kpis` topic.
    Topic,
}

/// `netkpi report`: reads the records, builds the report and writes it into `out`.
pub fn run(
    settings: &Settings,
    request: &Request,
    records: Records<'_>,
    out: &std::path::Path,
) -> Result<Report, ReportError> {
    let cells = crate::inventory::load(&settings.inventory_path)?;
    let mut collected = collector(settings, request)?;
    match records {
        Records::Topic => input::read_topic(&settings.kafka, &mut collected)?,
        Records::Files(paths) => {
            for path in paths {
                input::read_file(path, settings.max_record_bytes, &mut collected)?;
            }
        }
    }
    let report = build(settings, request, &collected, &cells)?;
    write(&report, out)?;
    Ok(report)
}

/// Writes `report.json`, `report.csv` and `report.html` into `dir` (created if missing).
pub fn write(report: &Report, dir: &std::path::Path) -> Result<(), ReportError> {
    let fail = |path: &std::path::Path| {
        let path = path.display().to_string();
        move |source| ReportError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(fail(dir))?;
    let mut json = serde_json::to_vec_pretty(report)?;
    json.push(b'\n');
    for (name, bytes) in [
        ("report.json", json),
        ("report.csv", csv::render(report).into_bytes()),
        ("report.html", html::render(report).into_bytes()),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(fail(&path))?;
    }
    Ok(())
}
