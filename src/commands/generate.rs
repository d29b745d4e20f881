//! `netkpi gen`: deterministic realistic traffic, with faults on purpose, to a file or Kafka.

use super::{create, duration_ms, stop_on_signals};
use anyhow::{Result, bail};
use clap::ValueEnum;
use netkpi::telemetry::progress_display::{Position, ProgressDisplay};
use netkpi::traffic::{GenItem, GenOptions, Generator, synthetic_inventory};
use netkpi::{config, inventory, schemas};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The arguments of `netkpi gen`.
#[derive(clap::Args)]
pub struct Args {
    /// Cell inventory CSV to generate for (default: a synthetic one of --cells cells).
    #[arg(long)]
    pub inventory: Option<PathBuf>,
    /// Size of the synthetic inventory when --inventory is not given.
    #[arg(long, default_value_t = 1000)]
    pub cells: usize,
    /// Also write the synthetic inventory here.
    #[arg(long)]
    pub write_inventory: Option<PathBuf>,
    /// Output file (JSON Lines or Avro); or use --kafka.
    #[arg(long, required_unless_present = "kafka")]
    pub out: Option<PathBuf>,
    /// Write to the Kafka input topics of this configuration instead of a file (Avro datums
    /// keyed by cell; topics created when missing).
    #[arg(long, conflicts_with = "out")]
    pub kafka: Option<PathBuf>,
    /// Partitions of the input topics created by --kafka.
    #[arg(long, default_value_t = 3)]
    pub partitions: i32,
    /// Release at most this many records per wall-clock second (default: as fast as possible).
    #[arg(long)]
    pub wall_rate: Option<f64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FileFormat::Jsonl)]
    pub format: FileFormat,
    /// Event-time span to cover, e.g. `2h`.
    #[arg(long, default_value = "1h")]
    pub duration: String,
    /// Stop after this many records.
    #[arg(long)]
    pub max_records: Option<u64>,
    /// Mean records per second of event time at the daily peak.
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// First event time, epoch ms (default 2026-01-01T00:00:00Z).
    #[arg(long)]
    pub start_ms: Option<i64>,
    /// Seed: the same seed gives the same records.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Share of late records (behind the watermark).
    #[arg(long, default_value_t = 0.0)]
    pub late_share: f64,
    /// Share of bad records (JSON Lines only; Avro output skips them).
    #[arg(long, default_value_t = 0.0)]
    pub bad_share: f64,
    /// Outages per cell per day (each a DOWN and its RESTORED).
    #[arg(long, default_value_t = 0.2)]
    pub outages_per_cell_day: f64,
    /// Restore the outages still open at the end (at the end time): consecutive chunks of
    /// history then leave no outage open for ever.
    #[arg(long)]
    pub restore_at_end: bool,
    #[command(flatten)]
    pub faults: FaultArgs,
}

/// The file format `gen` writes.
#[derive(Clone, Copy, ValueEnum)]
pub enum FileFormat {
    Jsonl,
    Avro,
}

/// Faults `gen` makes on purpose, so that a report or an alarm has a known right answer.
#[derive(clap::Args)]
pub struct FaultArgs {
    /// REGION=P: in the busy hours, calls of the region also fail in the network with
    /// probability P (repeat for several regions).
    #[arg(long = "degrade-busy-hour", value_name = "REGION=P")]
    pub busy_hour_failures: Vec<String>,
    /// CELL=P: answered calls of the cell drop with probability P (a chronic drop cell).
    #[arg(long = "drop-cell", value_name = "CELL=P")]
    pub drop_cells: Vec<String>,
    /// CELL=HOURS: the cell goes down every day at 01:00 UTC for HOURS hours.
    #[arg(long = "daily-outage", value_name = "CELL=HOURS")]
    pub daily_outages: Vec<String>,
    /// REGION=DAY: the region's cells send nothing on day DAY of the run (0 = the first).
    #[arg(long = "silent-day", value_name = "REGION=DAY")]
    pub silent_days: Vec<String>,
    /// CELL=FROM-TO: the cell falls asleep from hour FROM to hour TO of the run (hours since
    /// its start): it carries no traffic and reports no outage while its site carries on.
    #[arg(long = "sleep-cell", value_name = "CELL=FROM-TO")]
    pub sleeping_cells: Vec<String>,
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

pub fn execute(args: Args) -> Result<ExitCode> {
    let Args {
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
    } = args;

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
    stop_on_signals(&stop)?;
    let (start, span) = (opts.start_ms, opts.duration_ms);
    let generator = WithProgress {
        inner: netkpi::pace::Paced::new(Generator::new(cells, opts), pace, stop),
        display: ProgressDisplay::new("gen"),
        at: Position::default(),
        start,
        span,
    };
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
                let line = item.into_json_line();
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

/// The generated records, shown on the progress display as they go by (share done by event
/// time over `--duration`).
struct WithProgress<I> {
    inner: I,
    display: ProgressDisplay,
    at: Position,
    start: i64,
    span: i64,
}

impl<I: Iterator<Item = GenItem>> Iterator for WithProgress<I> {
    type Item = GenItem;

    fn next(&mut self) -> Option<GenItem> {
        let Some(item) = self.inner.next() else {
            self.display.finish();
            return None;
        };
        self.at.records += 1;
        if let GenItem::Event(ev) = &item {
            self.at.event_time = Some(ev.event_time());
        }
        if self.at.records.is_multiple_of(1024) {
            self.at.done = self
                .at
                .event_time
                .filter(|_| self.span > 0)
                .map(|t| (t - self.start) as f64 / self.span as f64);
            self.display.update(std::time::Instant::now(), &self.at);
        }
        Some(item)
    }
}
