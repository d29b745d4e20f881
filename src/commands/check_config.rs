//! `netkpi check-config`: every problem of a configuration, or a summary of what it sets.

use anyhow::Result;
use netkpi::threshold::rule::{DuringOutage, RuleKind};
use netkpi::{config, inventory};
use std::path::PathBuf;
use std::process::ExitCode;

/// The arguments of `netkpi check-config`.
#[derive(clap::Args)]
pub struct Args {
    /// Configuration file (TOML).
    pub file: PathBuf,
    /// A target set (e.g. config/targets/trai.toml) in place of the file's [[targets]].
    #[arg(long)]
    pub targets: Option<PathBuf>,
}

pub fn execute(args: Args) -> Result<ExitCode> {
    let (file, targets) = (args.file.as_path(), args.targets.as_deref());
    let settings = match config::load_with_targets(file, targets) {
        Ok(s) => s,
        Err(e) => {
            println!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let (unsupported, rejected): (Vec<_>, Vec<_>) =
        netkpi::kafka::client::check_properties(&settings.kafka)
            .into_iter()
            .partition(|p| p.unsupported_here);
    if !rejected.is_empty() {
        println!("{} problem(s) in {}:", rejected.len(), file.display());
        for p in rejected {
            println!("  - {}: librdkafka refuses it: {}", p.path(), p.message);
        }
        return Ok(ExitCode::from(2));
    }
    for p in unsupported {
        println!(
            "warning: {}: not supported by this build of librdkafka: {}",
            p.path(),
            p.message
        );
    }
    let cells = match inventory::load(&settings.inventory_path) {
        Ok(c) => c,
        Err(e) => {
            println!("inventory.path: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    println!("{}: OK", file.display());
    println!(
        "  inventory: {} ({} cells)",
        settings.inventory_path.display(),
        cells.len()
    );
    let sizes: Vec<String> = settings
        .window_sizes_ms
        .iter()
        .map(|ms| {
            humantime::format_duration(std::time::Duration::from_millis(*ms as u64)).to_string()
        })
        .collect();
    println!(
        "  windows:   {} (allowed delay {} ms)",
        sizes.join(", "),
        settings.allowed_delay_ms
    );
    let levels: Vec<String> = settings.levels.iter().map(|l| l.name()).collect();
    println!("  levels:    {}", levels.join(" | "));
    println!("  plans:     {}", settings.agg.plans.len());
    let k = &settings.kafka;
    println!(
        "  kafka:     {} (group {}, transactional id {})",
        k.brokers, k.group_id, k.transactional_id
    );
    println!(
        "             in: {} | out: {}, {}, {} | checkpoints: {}",
        k.input_topics.join(", "),
        k.kpis_topic,
        k.breaches_topic,
        k.dead_letters_topic,
        k.checkpoints_topic
    );
    for (key, value) in k.redacted_properties() {
        println!("             {key} = {value}");
    }
    print_rules(&settings);
    print_report(&settings);
    Ok(ExitCode::SUCCESS)
}

/// The rules, one line each: what is compared, where, for how long.
fn print_rules(settings: &config::Settings) {
    println!("  rules:     {}", settings.rules.len());
    for r in &settings.rules {
        let m: Vec<String> = r
            .matches
            .iter()
            .map(|(d, v)| format!("{}={v}", d.as_str()))
            .collect();
        let test = match r.kind {
            RuleKind::Fixed => format!(
                "{} {} {} (clear {})",
                r.watched.name(),
                r.op.as_str(),
                r.raise,
                r.clear
            ),
            RuleKind::Baseline => format!(
                "{} {} {}× baseline (clear {}×)",
                r.watched.name(),
                r.op.as_str(),
                r.raise,
                r.clear
            ),
            RuleKind::SleepingCell => format!(
                "sleeping cell (traffic ≤ {}× baseline, peers ≥ {}×)",
                settings.sleeping.max_share, settings.sleeping.peer_share
            ),
        };
        let outage = match r.during_outage {
            DuringOutage::Annotate => "",
            DuringOutage::Suppress => ", suppressed during outages",
        };
        println!(
            "    - {} [{}]: {test} on {}{} over {} window(s){outage}",
            r.name,
            r.severity,
            r.level.name(),
            if m.is_empty() {
                String::new()
            } else {
                format!(" where {}", m.join(", "))
            },
            r.for_windows
        );
    }
}

/// The report settings and each target.
fn print_report(settings: &config::Settings) {
    match &settings.report {
        None => println!("  report:    none ([report] and [[targets]] not set)"),
        Some(r) => {
            println!(
                "  report:    {} windows, time zone {}, {} worst cells; {} target(s)",
                netkpi::telemetry::series::window_label(r.window_ms),
                r.timezone,
                r.worst_cells,
                r.targets.len()
            );
            for t in &r.targets {
                println!(
                    "    - {}: {} {} {} at {} on {}{}",
                    t.name,
                    t.kpi.name(),
                    t.op.as_str(),
                    t.value,
                    t.at.as_str(),
                    t.level.name(),
                    t.shares.map_or(String::new(), |s| format!(
                        " within {} ({} of cells on {} of days)",
                        s.within.name(),
                        s.cells_share,
                        s.days_share
                    ))
                );
            }
        }
    }
}
