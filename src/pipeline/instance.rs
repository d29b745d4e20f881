//! One instance of a deployment: joins the owners group, runs the units it is given on threads
//! of their own, stops those that move away, restarts those that fail for a reason that passes
//! (with backoff, from their checkpoints), and says what it waits for. See the parent module for
//! the work split and the delivery guarantee.

use super::owners::{Owners, Unit};
use super::{Control, PipelineError, RunOptions, RunSummary, merge, merger, shard};
use crate::config::Settings;
use crate::inventory::Cell;
use crate::kafka::client::input_consumer;
use crate::kafka::client::{TopicRole, ensure_topics, partitions_of};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long this instance has waited for the owners group to assign it anything: logged every
/// 10 s and reported by `/readyz` (a group join normally takes about half the session timeout;
/// Tansu has been seen to wedge a group for good when a member dies mid-join).
struct Joining {
    since: Instant,
    warned_at: Option<Instant>,
}

impl Joining {
    fn new() -> Self {
        Joining {
            since: Instant::now(),
            warned_at: None,
        }
    }

    fn check(&mut self, group: &str, health: &crate::telemetry::health::Health) {
        let waited = self.since.elapsed();
        if waited < Duration::from_secs(10)
            || self
                .warned_at
                .is_some_and(|at| at.elapsed() < Duration::from_secs(10))
        {
            return;
        }
        self.warned_at = Some(Instant::now());
        let what = format!("waiting for group `{group}.owners` to assign units");
        tracing::warn!(
            waited_s = waited.as_secs(),
            "{what}: a join normally takes about half of kafka.session_timeout; a broker that keeps a member that died mid-join can hold the group (restart the broker, or use another group_id)"
        );
        health.waiting("owners group", what);
    }

    fn assigned(&mut self, health: &crate::telemetry::health::Health) {
        if self.warned_at.take().is_some() {
            health.done("owners group");
        }
        self.since = Instant::now();
    }
}

/// Units that failed for a reason that passes (broker or registry unreachable) and when each
/// may start again: backoff doubling from 2 s to 30 s, reset when the unit finishes.
#[derive(Debug, Default)]
struct Restarts {
    pending: BTreeMap<Unit, (Instant, u32)>,
}

impl Restarts {
    fn failed(
        &mut self,
        unit: Unit,
        error: &PipelineError,
        health: &crate::telemetry::health::Health,
    ) {
        let attempts = self.pending.get(&unit).map_or(0, |(_, n)| *n) + 1;
        let delay = Duration::from_secs(1u64 << attempts.min(5)).min(Duration::from_secs(30));
        let error = crate::config::secrets::redact(&error.to_string()).into_owned();
        tracing::error!(
            %unit,
            attempt = attempts,
            retry_in_s = delay.as_secs(),
            %error,
            "unit failed; restarting it from its checkpoint (outputs stay exact)"
        );
        health.waiting(
            &unit.to_string(),
            format!("restarting after a failure (attempt {attempts}): {error}"),
        );
        self.pending
            .insert(unit, (Instant::now() + delay, attempts));
    }

    fn succeeded(&mut self, unit: Unit, health: &crate::telemetry::health::Health) {
        self.pending.remove(&unit);
        health.done(&unit.to_string());
    }

    /// Whether `unit` may start now.
    fn due(&self, unit: Unit) -> bool {
        self.pending
            .get(&unit)
            .is_none_or(|(at, _)| Instant::now() >= *at)
    }
}

/// A unit running on a thread of its own.
struct Worker {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Result<RunSummary, PipelineError>>,
}

impl Worker {
    fn join(self) -> Result<RunSummary, PipelineError> {
        self.handle
            .join()
            .map_err(|p| PipelineError::Panicked(format!("{p:?}")))?
    }
}

/// Runs this instance's share of the pipeline until the end of input (`exit_at_end`) or a
/// shutdown request: joins the owners group and runs the units it is given, starting and
/// stopping them as they move between instances.
pub fn run(
    settings: &Settings,
    cells: &[Cell],
    opts: RunOptions,
    control: &Control,
) -> Result<RunSummary, PipelineError> {
    let k = &settings.kafka;
    let (shard_topic, shards) = prepare_topics(settings)?;
    let mut control_of_units = control.clone();
    control_of_units.output_schema_ids = register_output_schemas(k)?;
    let owners = Owners::join(k, &shard_topic, &k.partials_topic)?;
    let mut units = Units {
        settings: Arc::new(settings.clone()),
        cells: Arc::new(cells.to_vec()),
        shards,
        opts,
        control: control_of_units,
        running: BTreeMap::new(),
        finished: BTreeSet::new(),
        restarts: Restarts::default(),
        summary: RunSummary::default(),
    };
    let mut joining = Joining::new();
    let mut last_merger_check: Option<Instant> = None;
    let mut watch = if opts.exit_at_end {
        Some(merge::MergerWatch::new(settings)?)
    } else {
        None
    };
    let result = loop {
        if control.shutdown.load(Ordering::SeqCst) {
            tracing::info!("shutdown requested: committing and leaving");
            break Ok(());
        }
        owners.poll(Duration::from_millis(100));
        // With --exit-at-end the job is done when the merger has seen every shard at its end:
        // here, or on another instance (checked every 2 s while this instance runs no unit:
        // a checkpoint committed since this instance started, with every shard at its end).
        // That check does not wait for the group to settle: a rebalance can stall while a
        // member leaves (Tansu waits for it), and leaving earlier, before the job is done,
        // would strand the units of a member that died.
        if opts.exit_at_end {
            if units.finished.contains(&Unit::Merger) {
                break Ok(());
            }
            if units.running.is_empty()
                && last_merger_check.is_none_or(|t: Instant| t.elapsed() >= Duration::from_secs(2))
            {
                last_merger_check = Some(Instant::now());
                match watch.as_mut().map(|w| w.finished(settings, shards)) {
                    Some(Ok(true)) => break Ok(()),
                    Some(Err(e)) => break Err(e),
                    _ => {}
                }
            }
        }
        let Some(owned) = owners.owned() else {
            joining.check(&k.group_id, &control.health);
            continue;
        };
        joining.assigned(&control.health);
        control.health.set_ready(true);
        if let Err(e) = units.follow(&owned, owners.settled()) {
            break Err(e);
        }
    };
    let summary = units.stop_all(result.is_err())?;
    result?;
    log_breach_latency(&summary);
    Ok(summary)
}

/// With the `confluent` output framing, registers the output schemas (once per instance start:
/// registering a schema the subject has returns its id again).
fn register_output_schemas(
    k: &crate::config::KafkaSettings,
) -> Result<Option<crate::kafka::registry::OutputSchemaIds>, PipelineError> {
    let (crate::config::Framing::Confluent, Some(url)) = (k.output_framing, &k.schema_registry_url)
    else {
        return Ok(None);
    };
    let ids = crate::kafka::registry::Registry::new(url).register_outputs(k)?;
    tracing::info!(
        kpi = ids.kpi,
        breach = ids.breach,
        "output schemas registered"
    );
    Ok(Some(ids))
}

/// Creates the output and internal topics when missing; returns the input topic with the most
/// partitions and that count (the shards).
fn prepare_topics(settings: &Settings) -> Result<(String, i32), PipelineError> {
    let k = &settings.kafka;
    let outputs = [
        k.kpis_topic.as_str(),
        k.breaches_topic.as_str(),
        k.dead_letters_topic.as_str(),
    ];
    ensure_topics(k, &outputs, k.output_partitions, TopicRole::Output)?;
    ensure_topics(
        k,
        &[k.checkpoints_topic.as_str()],
        1,
        TopicRole::Checkpoints,
    )?;
    ensure_topics(k, &[k.partials_topic.as_str()], 1, TopicRole::Internal)?;
    let probe = input_consumer(k, &k.group_id)?;
    let mut shard_topic = (String::new(), 0usize);
    for topic in &k.input_topics {
        let n = partitions_of(&probe, topic)?.len();
        if n == 0 {
            return Err(PipelineError::MissingTopic(topic.clone()));
        }
        if n > shard_topic.1 {
            shard_topic = (topic.clone(), n);
        }
    }
    Ok((
        shard_topic.0,
        i32::try_from(shard_topic.1).unwrap_or(i32::MAX),
    ))
}

/// The units of this instance: running, finished, waiting to restart.
struct Units {
    settings: Arc<Settings>,
    cells: Arc<Vec<Cell>>,
    shards: i32,
    opts: RunOptions,
    control: Control,
    running: BTreeMap<Unit, Worker>,
    finished: BTreeSet<Unit>,
    restarts: Restarts,
    summary: RunSummary,
}

impl Units {
    /// Starts `unit` on a thread of its own.
    fn spawn(&self, unit: Unit) -> Worker {
        let stop = Arc::new(AtomicBool::new(false));
        let control = Control {
            metrics: self.control.metrics.clone(),
            remote_write: self.control.remote_write.clone(),
            shutdown: stop.clone(),
            health: self.control.health.clone(),
            schemas: self.control.schemas.clone(),
            output_schema_ids: self.control.output_schema_ids,
        };
        let (settings, cells) = (self.settings.clone(), self.cells.clone());
        let (shards, opts) = (self.shards, self.opts);
        let handle = std::thread::Builder::new()
            .name(unit.to_string())
            .spawn(move || match unit {
                Unit::Shard(p) => shard::run_shard(&settings, &cells, p, opts, &control),
                Unit::Merger => merger::run_merger(&settings, &cells, shards, opts, &control),
            })
            .expect("spawning a worker thread");
        Worker { stop, handle }
    }

    /// Follows the group's assignment `owned`: units that moved away stop (committing what they
    /// did), new ones start once the group has `settled`, ended ones are collected. A unit
    /// that failed for a passing reason is restarted later; any other failure is returned.
    fn follow(&mut self, owned: &BTreeSet<Unit>, settled: bool) -> Result<(), PipelineError> {
        let mut failed = None;
        let gone: Vec<Unit> = self
            .running
            .keys()
            .filter(|u| !owned.contains(u))
            .copied()
            .collect();
        for unit in gone {
            if let Some(w) = self.running.remove(&unit) {
                tracing::info!(%unit, "unit moved to another instance: stopping it");
                w.stop.store(true, Ordering::SeqCst);
                match w.join() {
                    Ok(s) => self.summary.add(s),
                    Err(e) if e.is_fenced() => {}
                    Err(e) if e.is_transient() => {
                        self.restarts.failed(unit, &e, &self.control.health)
                    }
                    Err(e) => failed = Some(e),
                }
            }
        }
        self.finished.retain(|u| owned.contains(u));
        let new: Vec<Unit> = owned
            .iter()
            .filter(|u| settled && !self.running.contains_key(u) && !self.finished.contains(u))
            .filter(|u| self.restarts.due(**u))
            .filter(|u| !matches!(u, Unit::Shard(p) if *p >= self.shards))
            .copied()
            .collect();
        for unit in new {
            tracing::info!(%unit, "unit assigned to this instance: starting it");
            let worker = self.spawn(unit);
            self.running.insert(unit, worker);
        }
        if let Some(e) = self.collect_ended().err().or(failed) {
            return Err(e);
        }
        Ok(())
    }

    /// Joins the units whose threads ended.
    fn collect_ended(&mut self) -> Result<(), PipelineError> {
        let done: Vec<Unit> = self
            .running
            .iter()
            .filter(|(_, w)| w.handle.is_finished())
            .map(|(u, _)| *u)
            .collect();
        let mut failed = None;
        for unit in done {
            let Some(w) = self.running.remove(&unit) else {
                continue;
            };
            match w.join() {
                Ok(s) => {
                    self.summary.add(s);
                    self.finished.insert(unit);
                    self.restarts.succeeded(unit, &self.control.health);
                }
                Err(e) if e.is_fenced() => {
                    tracing::warn!(%unit, "fenced by another owner of the unit; it restarts here if this instance still owns it");
                }
                Err(e) if e.is_transient() => self.restarts.failed(unit, &e, &self.control.health),
                Err(e) => failed = Some(e),
            }
        }
        failed.map_or(Ok(()), Err)
    }

    /// Stops every running unit (each commits what it did) and returns the instance's summary
    /// (`failing`: the instance stops on an error, so a unit's own error is not the one told).
    fn stop_all(mut self, failing: bool) -> Result<RunSummary, PipelineError> {
        for (_, w) in std::mem::take(&mut self.running) {
            w.stop.store(true, Ordering::SeqCst);
            match w.join() {
                Ok(s) => self.summary.add(s),
                Err(e) if e.is_fenced() || failing => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.summary)
    }
}

/// Logs the breach latency of the run: a shard's watermark past a window's end → the
/// transaction holding its breach events committed.
fn log_breach_latency(summary: &RunSummary) {
    let mut lat = summary.breach_latency_us.clone();
    lat.sort_unstable();
    if lat.is_empty() {
        return;
    }
    let rank = |permille: u32| {
        lat[(crate::kpi::sketch::nearest_rank(permille, lat.len() as u64) - 1) as usize]
    };
    tracing::info!(
        transactions_with_breaches = lat.len(),
        p50_ms = format!("{:.2}", rank(500) as f64 / 1000.0),
        p99_ms = format!("{:.2}", rank(990) as f64 / 1000.0),
        max_ms = format!("{:.2}", rank(1000) as f64 / 1000.0),
        "breach latency (a shard's watermark past the window's end → breach committed)"
    );
}
