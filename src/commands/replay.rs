//! `netkpi replay`: files through the engine into KPI, breach and dead-letter files.

use super::{create, create_file, http::make_reporting, load};
use anyhow::{Result, bail};
use netkpi::engine::Engine;
use netkpi::telemetry::Reporters;
use netkpi::{config, replay, telemetry};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The arguments of `netkpi replay`.
#[derive(clap::Args)]
pub struct Args {
    /// Configuration file (TOML).
    #[arg(long)]
    pub config: PathBuf,
    /// Input file (JSON Lines or Avro object container; `-` for standard input); repeat for
    /// several, read in order.
    #[arg(long = "input", required = true)]
    pub inputs: Vec<PathBuf>,
    /// Latest plausible event time (RFC 3339, e.g. 2030-01-01T00:00:00Z) instead of the wall
    /// clock plus windows.max_future: for byte-reproducible replays of future-dated data.
    #[arg(long)]
    pub not_after: Option<String>,
    /// Where to write KPI records.
    #[arg(long)]
    pub kpis_out: PathBuf,
    /// Where to write breach events.
    #[arg(long)]
    pub breaches_out: PathBuf,
    /// Where to write dead letters (rejected and late records).
    #[arg(long)]
    pub dead_letters_out: PathBuf,
}

pub fn execute(args: Args) -> Result<ExitCode> {
    let Args {
        config,
        inputs,
        not_after,
        kpis_out,
        breaches_out,
        dead_letters_out,
    } = args;

    refuse_colliding_paths(&inputs, &[&kpis_out, &breaches_out, &dead_letters_out])?;
    let (settings, cells) = load(&config)?;
    let mut opts = replay::ReplayOptions::of(&settings);
    if let Some(text) = not_after {
        opts.clock = replay::Clock::NotAfter(
            config::parse_time_ms(&text).map_err(|e| anyhow::anyhow!("--not-after: {e}"))?,
        );
    }
    let mut engine = Engine::new(&settings.engine(), &cells);
    let started = std::time::Instant::now();
    // Replay reports only to remote write (a backfill); there is no endpoint to scrape.
    let (metrics, remote_write) = if settings.remote_write.is_some() {
        make_reporting(&settings, &cells)?
    } else {
        (None, None)
    };
    // The engine and the reporting hold what they need of the inventory.
    drop(cells);
    netkpi::return_freed_memory();
    let counters = replay::replay(
        &mut engine,
        &inputs,
        &opts,
        create_file(&kpis_out)?,
        create(&breaches_out)?,
        create(&dead_letters_out)?,
        Reporters {
            metrics: metrics.as_deref(),
            remote_write: remote_write.as_deref(),
        },
    )?;
    if let Some(w) = &remote_write {
        w.finish();
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

/// An output path equal to an input path or to another output path is refused
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
