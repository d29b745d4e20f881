//! The `netkpi` command line: `replay`, `check-config`, `gen`, `demo`.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use netkpi::engine::Engine;
use netkpi::threshold::rule::{DuringOutage, RuleKind};
use netkpi::traffic::{GenItem, GenOptions, Generator, synthetic_inventory};
use netkpi::{config, inventory, replay, schemas, telemetry};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
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
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum FileFormat {
    Jsonl,
    Avro,
}

/// Faults `gen` makes on purpose, so that a report or an alarm has a known right answer.
#[derive(clap::Args)]
struct FaultArgs {
    /// REGION=P: in the busy hours, calls of the region also fail in the network with
    /// probability P (repeat for several regions).
    #[arg(long = "degrade-busy-hour", value_name = "REGION=P")]
    busy_hour_failures: Vec<String>,
    /// CELL=P: answered calls of the cell drop with probability P (a chronic drop cell).
    #[arg(long = "drop-cell", value_name = "CELL=P")]
    drop_cells: Vec<String>,
    /// CELL=HOURS: the cell goes down every day at 01:00 UTC for HOURS hours.
    #[arg(long = "daily-outage", value_name = "CELL=HOURS")]
    daily_outages: Vec<String>,
    /// REGION=DAY: the region's cells send nothing on day DAY of the run (0 = the first).
    #[arg(long = "silent-day", value_name = "REGION=DAY")]
    silent_days: Vec<String>,
    /// CELL=FROM-TO: the cell falls asleep from hour FROM to hour TO of the run (hours since
    /// its start): it carries no traffic and reports no outage while its site carries on.
    #[arg(long = "sleep-cell", value_name = "CELL=FROM-TO")]
    sleeping_cells: Vec<String>,
}

impl FaultArgs {
    fn scenario(&self) -> Result<netkpi::traffic::Scenario> {
        use netkpi::traffic::scenario::pair;
        let pairs = |list: &[String]| -> Result<Vec<(String, f64)>> {
            Ok(list.iter().map(|t| pair(t)).collect::<Result<_, _>>()?)
        };
        Ok(netkpi::traffic::Scenario {
            busy_hour_failures: pairs(&self.busy_hour_failures)?,
            drop_cells: pairs(&self.drop_cells)?,
            daily_outages: pairs(&self.daily_outages)?,
            silent_days: pairs(&self.silent_days)?
                .into_iter()
                .map(|(r, d)| (r, d as i64))
                .collect(),
            sleeping_cells: self
                .sleeping_cells
                .iter()
                .map(|t| netkpi::traffic::scenario::span(t))
                .collect::<Result<_, _>>()?,
        })
    }
}

#[derive(Subcommand)]
enum Command {
    /// Replay JSON Lines or Avro files through the KPI engine; write KPI records, breach events
    /// and dead letters as JSON Lines.
    Replay {
        /// Configuration file (TOML).
        #[arg(long)]
        config: PathBuf,
        /// Input file (JSON Lines or Avro object container; `-` for standard input); repeat for
        /// several, read in order.
        #[arg(long = "input", required = true)]
        inputs: Vec<PathBuf>,
        /// Latest plausible event time (RFC 3339, e.g. 2030-01-01T00:00:00Z) instead of the wall
        /// clock plus windows.max_future: for byte-reproducible replays of future-dated data.
        #[arg(long)]
        not_after: Option<String>,
        /// Where to write KPI records.
        #[arg(long)]
        kpis_out: PathBuf,
        /// Where to write breach events.
        #[arg(long)]
        breaches_out: PathBuf,
        /// Where to write dead letters (rejected and late records).
        #[arg(long)]
        dead_letters_out: PathBuf,
    },
    /// Consume calls, data sessions and outages from Kafka; write KPI records, breach events and
    /// dead letters to Kafka, exactly once (see README: delivery guarantee).
    Run {
        /// Configuration file (TOML).
        #[arg(long)]
        config: PathBuf,
        /// Stop when every input partition has reached its end, closing all open windows.
        #[arg(long)]
        exit_at_end: bool,
    },
    /// Validate a configuration file (and its inventory) without running anything.
    CheckConfig {
        /// Configuration file (TOML).
        file: PathBuf,
        /// A target set (e.g. config/targets/trai.toml) in place of the file's [[targets]].
        #[arg(long)]
        targets: Option<PathBuf>,
    },
    /// Regulatory compliance over calendar periods from stored KPI records: report.json,
    /// report.csv and report.html in --out (see README: compliance reports).
    Report {
        /// Configuration file (TOML) with [report] and [[targets]].
        #[arg(long)]
        config: PathBuf,
        /// A target set (e.g. config/targets/trai.toml) in place of the configuration's.
        #[arg(long)]
        targets: Option<PathBuf>,
        /// KPI record files (JSON Lines, as `replay --kpis-out` writes them); repeat for several.
        #[arg(
            long = "kpis",
            required_unless_present = "from_kafka",
            conflicts_with = "from_kafka"
        )]
        kpis: Vec<PathBuf>,
        /// Read the configuration's `kpis` topic (to its current end) instead of files.
        #[arg(long)]
        from_kafka: bool,
        /// First local day, YYYY-MM-DD in report.timezone (inclusive).
        #[arg(long)]
        from: String,
        /// Day after the last, YYYY-MM-DD (exclusive).
        #[arg(long)]
        to: String,
        /// Calendar period each verdict covers: day, week, month or quarter.
        #[arg(long, default_value = "month")]
        period: String,
        /// Folder for report.json, report.csv and report.html.
        #[arg(long)]
        out: PathBuf,
    },
    /// Generate realistic traffic for an inventory into a file.
    Gen {
        /// Cell inventory CSV to generate for (default: a synthetic one of --cells cells).
        #[arg(long)]
        inventory: Option<PathBuf>,
        /// Size of the synthetic inventory when --inventory is not given.
        #[arg(long, default_value_t = 1000)]
        cells: usize,
        /// Also write the synthetic inventory here.
        #[arg(long)]
        write_inventory: Option<PathBuf>,
        /// Output file (JSON Lines or Avro); or use --kafka.
        #[arg(long, required_unless_present = "kafka")]
        out: Option<PathBuf>,
        /// Write to the Kafka input topics of this configuration instead of a file (Avro datums
        /// keyed by cell; topics created when missing).
        #[arg(long, conflicts_with = "out")]
        kafka: Option<PathBuf>,
        /// Partitions of the input topics created by --kafka.
        #[arg(long, default_value_t = 3)]
        partitions: i32,
        /// Release at most this many records per wall-clock second (default: as fast as possible).
        #[arg(long)]
        wall_rate: Option<f64>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = FileFormat::Jsonl)]
        format: FileFormat,
        /// Event-time span to cover, e.g. `2h`.
        #[arg(long, default_value = "1h")]
        duration: String,
        /// Stop after this many records.
        #[arg(long)]
        max_records: Option<u64>,
        /// Mean records per second of event time at the daily peak.
        #[arg(long, default_value_t = 200.0)]
        rate: f64,
        /// First event time, epoch ms (default 2026-01-01T00:00:00Z).
        #[arg(long)]
        start_ms: Option<i64>,
        /// Seed: the same seed gives the same records.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Share of late records (behind the watermark).
        #[arg(long, default_value_t = 0.0)]
        late_share: f64,
        /// Share of bad records (JSON Lines only; Avro output skips them).
        #[arg(long, default_value_t = 0.0)]
        bad_share: f64,
        /// Outages per cell per day (each a DOWN and its RESTORED).
        #[arg(long, default_value_t = 0.2)]
        outages_per_cell_day: f64,
        /// Restore the outages still open at the end (at the end time): consecutive chunks of
        /// history then leave no outage open for ever.
        #[arg(long)]
        restore_at_end: bool,
        #[command(flatten)]
        faults: FaultArgs,
    },
    /// The whole product in one process, no external services: an in-process Kafka cluster,
    /// generated traffic for the sample inventory, the streaming pipeline, and a live view of
    /// regional KPIs and alarms. Ctrl-C stops it.
    Demo {
        /// Configuration file (inventory, windows, rules; its Kafka section is replaced).
        #[arg(long, default_value = "config/netkpi.toml")]
        config: PathBuf,
        /// Event time per wall-clock second (60: a 5-minute window every 5 seconds).
        #[arg(long, default_value_t = 60.0)]
        speedup: f64,
        /// Stop after this long (e.g. `30s`); default: until Ctrl-C.
        #[arg(long = "for")]
        run_for: Option<String>,
        /// Records per second of event time at the daily peak.
        #[arg(long, default_value_t = 150.0)]
        rate: f64,
        /// Seed.
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
}

fn init_logging(format: LogFormat, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo's terminal view is the output: keep routine log lines out of it unless asked.
    let level = if matches!(cli.command, Command::Demo { .. }) && cli.log_level == "info" {
        "warn"
    } else {
        cli.log_level.as_str()
    };
    init_logging(cli.log_format, level);
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            let text = netkpi::config::secrets::redact(&format!("{e:#}")).into_owned();
            tracing::error!("{text}");
            eprintln!("error: {text}");
            ExitCode::FAILURE
        }
    }
}

fn create(path: &Path) -> Result<BufWriter<std::fs::File>> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let f =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(BufWriter::with_capacity(1 << 20, f))
}

fn load(config_path: &Path) -> Result<(config::Settings, Vec<inventory::Cell>)> {
    let settings = config::load(config_path)?;
    let cells = inventory::load(&settings.inventory_path)?;
    Ok((settings, cells))
}

/// Stops before connecting when librdkafka refuses a configured property (as `check-config`
/// reports it; one this build does not support is left for the client to refuse).
fn refuse_bad_kafka_properties(settings: &config::Settings) -> Result<()> {
    if let Some(p) = netkpi::kafka::client::check_properties(&settings.kafka)
        .into_iter()
        .find(|p| !p.unsupported_here)
    {
        bail!(
            "kafka.properties.\"{}\": librdkafka refuses it: {}",
            p.key,
            p.message
        );
    }
    Ok(())
}

/// Spec 10.5: an output path equal to an input path or to another output path is refused
/// before anything is opened for writing (paths compared after resolving links and `..`).
fn refuse_colliding_paths(inputs: &[PathBuf], outputs: &[&Path]) -> Result<()> {
    let resolve = |p: &Path| -> PathBuf {
        if let Ok(c) = std::fs::canonicalize(p) {
            return c;
        }
        // Not there yet: resolve its folder and keep the name.
        let dir = p.parent().filter(|d| !d.as_os_str().is_empty());
        let dir = dir.map_or_else(
            || std::env::current_dir().unwrap_or_default(),
            |d| std::fs::canonicalize(d).unwrap_or_else(|_| d.to_path_buf()),
        );
        dir.join(p.file_name().unwrap_or_default())
    };
    let ins: Vec<PathBuf> = inputs
        .iter()
        .filter(|p| p.as_os_str() != netkpi::source::STDIN)
        .map(|p| resolve(p))
        .collect();
    let mut seen: Vec<(PathBuf, &Path)> = Vec::new();
    for out in outputs {
        let r = resolve(out);
        if let Some(i) = ins.iter().position(|p| *p == r) {
            bail!(
                "output {} is the input {}: refusing to overwrite an input (nothing was written)",
                out.display(),
                inputs[i].display()
            );
        }
        if let Some((_, other)) = seen.iter().find(|(p, _)| *p == r) {
            bail!(
                "outputs {} and {} are the same file: give each output its own path (nothing was written)",
                other.display(),
                out.display()
            );
        }
        seen.push((r, out));
    }
    Ok(())
}

fn duration_ms(text: &str) -> Result<i64> {
    let d =
        humantime::parse_duration(text).with_context(|| format!("`{text}` is not a duration"))?;
    Ok(i64::try_from(d.as_millis())?)
}

fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Replay {
            config,
            inputs,
            not_after,
            kpis_out,
            breaches_out,
            dead_letters_out,
        } => {
            refuse_colliding_paths(&inputs, &[&kpis_out, &breaches_out, &dead_letters_out])?;
            let (settings, cells) = load(&config)?;
            let mut opts = replay::ReplayOptions::of(&settings);
            if let Some(text) = not_after {
                opts.clock = replay::Clock::NotAfter(
                    config::parse_time_ms(&text)
                        .map_err(|e| anyhow::anyhow!("--not-after: {e}"))?,
                );
            }
            let mut engine = Engine::new(&settings, &cells);
            let started = std::time::Instant::now();
            let metrics = settings
                .remote_write
                .is_some()
                .then(|| make_metrics(&settings, &cells))
                .transpose()?
                .flatten();
            let counters = replay::replay(
                &mut engine,
                &inputs,
                &opts,
                create(&kpis_out)?,
                create(&breaches_out)?,
                create(&dead_letters_out)?,
                metrics.as_deref(),
            )?;
            if let Some(m) = &metrics {
                m.finish_remote_write();
            }
            telemetry::log_summary(
                "replay",
                &counters,
                engine.stats(),
                &settings.window_sizes_ms,
                started.elapsed().as_secs_f64(),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig { file, targets } => check_config(&file, targets.as_deref()),
        Command::Report {
            config,
            targets,
            kpis,
            from_kafka,
            from,
            to,
            period,
            out,
        } => {
            use netkpi::report::{self, calendar};
            let settings = config::load_with_targets(&config, targets.as_deref())?;
            let request = report::Request {
                from: calendar::parse_date(&from).context("--from")?,
                to: calendar::parse_date(&to).context("--to")?,
                period: calendar::PeriodKind::parse(&period).with_context(|| {
                    format!("--period `{period}` is not day, week, month or quarter")
                })?,
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
        Command::Run {
            config,
            exit_at_end,
        } => {
            let (settings, cells) = load(&config)?;
            refuse_bad_kafka_properties(&settings)?;
            let mut control = netkpi::pipeline::Control::default();
            start_http(&settings, &cells, &mut control, true)?;
            for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
                signal_hook::flag::register(signal, control.shutdown.clone())?;
            }
            let summary = netkpi::pipeline::run(
                &settings,
                &cells,
                netkpi::pipeline::RunOptions { exit_at_end },
                &control,
            )?;
            if let Some(m) = &control.metrics {
                m.finish_remote_write();
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
        Command::Gen {
            inventory: inv,
            cells,
            write_inventory,
            out,
            kafka,
            partitions,
            wall_rate,
            format,
            duration,
            max_records,
            rate,
            start_ms,
            seed,
            late_share,
            bad_share,
            outages_per_cell_day,
            restore_at_end,
            faults,
        } => {
            let cells = match inv {
                Some(p) => inventory::load(&p)?,
                None => synthetic_inventory(cells, seed),
            };
            if cells.is_empty() {
                bail!("the inventory has no cell to generate traffic for");
            }
            if let Some(p) = write_inventory {
                let mut w = create(&p)?;
                inventory::write(&mut w, &cells)?;
                w.flush()?;
            }
            let scenario = faults.scenario()?;
            scenario.check(&cells)?;
            let defaults = GenOptions::default();
            let opts = GenOptions {
                start_ms: start_ms.unwrap_or(defaults.start_ms),
                duration_ms: duration_ms(&duration)?,
                max_records: max_records.unwrap_or(u64::MAX),
                peak_rate: rate,
                seed,
                late_share,
                bad_share,
                outages_per_cell_day,
                restore_at_end,
                scenario,
                ..defaults
            };
            let pace = wall_rate.map_or(
                netkpi::pace::Pace::Unpaced,
                netkpi::pace::Pace::RecordsPerSecond,
            );
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
                signal_hook::flag::register(signal, stop.clone())?;
            }
            let generator = netkpi::pace::Paced::new(Generator::new(cells, opts), pace, stop);
            let n = match (out, kafka) {
                (Some(out), _) => write_traffic(generator, &out, format)?,
                (None, Some(config)) => {
                    let settings = config::load(&config)?;
                    netkpi::kafka::produce::produce_traffic(&settings.kafka, generator, partitions)?
                }
                (None, None) => bail!("give --out FILE or --kafka CONFIG"),
            };
            tracing::info!(records = n, "traffic written");
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo {
            config,
            speedup,
            run_for,
            rate,
            seed,
        } => {
            let (settings, cells) = load(&config)?;
            let mut control = netkpi::pipeline::Control::default();
            start_http(&settings, &cells, &mut control, false)?;
            for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
                signal_hook::flag::register(signal, control.shutdown.clone())?;
            }
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
    }
}

fn write_traffic(
    generator: impl Iterator<Item = GenItem>,
    out: &Path,
    format: FileFormat,
) -> Result<u64> {
    let mut n = 0u64;
    match format {
        FileFormat::Jsonl => {
            let mut w = create(out)?;
            for item in generator {
                let line = match item {
                    GenItem::Event(ev) => netkpi::source::json::encode_event(&ev),
                    GenItem::Bad(line) => line,
                };
                w.write_all(line.as_bytes())?;
                w.write_all(b"\n")?;
                n += 1;
            }
            w.flush()?;
        }
        FileFormat::Avro => {
            // One container file with a union schema keeps the three streams in order.
            let schema = schemas::input_union_schema();
            let codec = apache_avro::Codec::Deflate(apache_avro::DeflateSettings::default());
            let mut w = apache_avro::Writer::with_codec(schema, create(out)?, codec)?;
            for item in generator {
                if let GenItem::Event(ev) = item {
                    w.append_value(schemas::event_union_value(&ev))?;
                    n += 1;
                }
            }
            w.into_inner()?.flush()?;
        }
    }
    Ok(n)
}

/// The process's metrics, when the endpoint or remote write is configured.
fn make_metrics(
    settings: &config::Settings,
    cells: &[inventory::Cell],
) -> Result<Option<std::sync::Arc<netkpi::telemetry::metrics::Metrics>>> {
    if settings.http_address.is_none() && settings.remote_write.is_none() {
        return Ok(None);
    }
    let metrics = netkpi::telemetry::metrics::Metrics::new(settings.exported_levels.clone())?;
    metrics.set_inventory(cells)?;
    metrics.set_rules(&settings.rules);
    if let Some((url, queue)) = &settings.remote_write {
        metrics.enable_remote_write(url, *queue)?;
        tracing::info!(url = %url, "remote-writing closed windows");
    }
    Ok(Some(std::sync::Arc::new(metrics)))
}

/// Sets up metrics and starts the metrics and health endpoint when configured. `required`: a busy
/// address is an error (run); otherwise a warning (the demo still runs).
fn start_http(
    settings: &config::Settings,
    cells: &[inventory::Cell],
    control: &mut netkpi::pipeline::Control,
    required: bool,
) -> Result<()> {
    control.metrics = make_metrics(settings, cells)?;
    let (Some(address), Some(metrics)) = (&settings.http_address, &control.metrics) else {
        return Ok(());
    };
    match netkpi::telemetry::http::serve(address, metrics.clone(), control.health.clone()) {
        Ok(bound) => {
            tracing::info!(address = %bound, "serving /metrics, /healthz, /readyz");
            Ok(())
        }
        Err(e) if !required => {
            tracing::warn!(error = %e, "metrics endpoint not started");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

fn check_config(file: &Path, targets: Option<&Path>) -> Result<ExitCode> {
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
            println!(
                "  - kafka.properties.\"{}\": librdkafka refuses it: {}",
                p.key, p.message
            );
        }
        return Ok(ExitCode::from(2));
    }
    for p in unsupported {
        println!(
            "warning: kafka.properties.\"{}\": not supported by this build of librdkafka: {}",
            p.key, p.message
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
    Ok(ExitCode::SUCCESS)
}
