//! The engine's state that outlives a window, as a serialisable checkpoint, and the re-reading of
//! records after a restore.
//!
//! Recovery design (see `pipeline` for the offsets): a checkpoint holds everything but the
//! call and session contributions to open windows — the watermark, each size's next window to
//! emit, outage state, the outage counts of open windows, the threshold machines and the rules'
//! baselines (inline, or named by version when saved apart, as the merger does). After a
//! restore, the pipeline re-reads every record from the lowest offset still feeding an open
//! window ([`Engine::low_water`]) up to the checkpoint's position through [`Engine::reingest`],
//! which rebuilds the open windows' call and session accumulators exactly as they were: a record
//! is re-aggregated iff its window is at or after the size's next window to emit (it was
//! aggregated then and is not emitted yet); its dead letters and counts were already written.
//! Group and cell identities are saved by their values, not by the engine's internal indices,
//! which depend on arrival order.

use super::Engine;
use super::baseline::Series;
use super::sources::Origin;
use super::window::cell_acc;
use crate::kpi::Acc;
use crate::model::Event;
use crate::threshold::AlarmState;
use serde::{Deserialize, Serialize};

/// Outage counts one cell received in one open window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutageCounts {
    pub cell_id: String,
    pub started: u64,
    pub restored: u64,
    pub restore_ms_sum: u64,
    pub records: u64,
}

/// One open window's outage counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowCheckpoint {
    pub start: i64,
    pub outages: Vec<OutageCounts>,
}

/// One window size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SizeCheckpoint {
    pub size_ms: i64,
    pub front: Option<i64>,
    pub emitted: bool,
    pub windows: Vec<WindowCheckpoint>,
    /// The latest event time of the emitted windows that received records (docs/operating-limits.md's gaps).
    #[serde(default)]
    pub last_record: Option<i64>,
}

/// A saved alarm: rule name, group values in canonical order, state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmCheckpoint {
    pub rule: String,
    pub group: Vec<String>,
    pub state: AlarmState,
}

/// Everything needed to continue exactly where a run stopped, given the re-read records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineCheckpoint {
    pub watermark: Option<i64>,
    pub max_aggregated: Option<i64>,
    pub sizes: Vec<SizeCheckpoint>,
    pub outages: super::outage::OutageSnapshot,
    pub alarms: Vec<AlarmCheckpoint>,
    /// Merger: the shards' outages of windows they have not closed.
    #[serde(default)]
    pub shard_outages: Vec<super::shard_outages::ShardOutages>,
    /// Baselines of sleeping-cell and baseline rules (docs/sleeping-cells.md), when saved inline.
    #[serde(default)]
    pub baselines: BaselinesCheckpoint,
    /// When the baselines are saved apart (the merger's checkpoint records stay small): the
    /// [`Engine::baselines_version`] of the saved baselines.
    #[serde(default)]
    pub baselines_at: Option<i64>,
}

/// The traffic baselines of one window size, by cell id (cells that carried traffic only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SleepCheckpoint {
    pub size_ms: i64,
    pub cells: Vec<(String, Series)>,
}

/// A baseline rule's baseline of one group: rule name, group values, series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueBaselineCheckpoint {
    pub rule: String,
    pub group: Vec<String>,
    pub series: Series,
}

/// Every baseline, by names rather than indices.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BaselinesCheckpoint {
    pub sleep: Vec<SleepCheckpoint>,
    pub values: Vec<ValueBaselineCheckpoint>,
}

/// Why a checkpoint does not fit this engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("checkpoint does not match the configuration: {0}")]
pub struct RestoreError(pub String);

impl Engine {
    /// The state to save with a transaction.
    pub fn checkpoint(&self) -> EngineCheckpoint {
        let sizes = self
            .sizes
            .iter()
            .map(|s| SizeCheckpoint {
                size_ms: s.size_ms,
                front: s.front(),
                emitted: s.emitted(),
                last_record: s.last_record(),
                windows: s
                    .open()
                    .map(|(start, accs)| WindowCheckpoint {
                        start,
                        outages: accs
                            .iter()
                            .enumerate()
                            .filter(|(_, a)| a.outage_records > 0)
                            .map(|(c, a)| OutageCounts {
                                cell_id: self.cells.info(c as u32).id.to_string(),
                                started: a.outages_started,
                                restored: a.outages_restored,
                                restore_ms_sum: a.restore_ms_sum,
                                records: a.outage_records,
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect();
        let alarms = self
            .thresholds
            .states()
            .map(|(r, g, state)| {
                let rule = &self.thresholds.rules()[r];
                let table = &self.levels[rule.level_index];
                AlarmCheckpoint {
                    rule: rule.name.clone(),
                    group: table
                        .group_values(g, &self.cells)
                        .map(|(_, v)| v.to_string())
                        .collect(),
                    state: state.clone(),
                }
            })
            .chain(
                self.thresholds
                    .pending()
                    .map(|(r, group, state)| AlarmCheckpoint {
                        rule: self.thresholds.rules()[r].name.clone(),
                        group: group.to_vec(),
                        state: state.clone(),
                    }),
            )
            .collect();
        EngineCheckpoint {
            watermark: self.watermark,
            max_aggregated: self.max_aggregated,
            sizes,
            outages: self.outages.snapshot(|c| self.cells.info(c).id.to_string()),
            alarms,
            shard_outages: self.shard_outages.values().cloned().collect(),
            baselines: self.baselines_checkpoint(),
            baselines_at: self.baselines.version,
        }
    }

    /// The baselines by cell id and group values.
    pub fn baselines_checkpoint(&self) -> BaselinesCheckpoint {
        let b = &self.baselines;
        let sleep = b
            .sleep
            .iter()
            .map(|w| SleepCheckpoint {
                size_ms: self.sizes.get(w.size_index).map_or(0, |s| s.size_ms),
                cells: w
                    .cells
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.started)
                    .map(|(i, c)| (self.cells.info(i as u32).id.to_string(), c.series.clone()))
                    .collect(),
            })
            .collect();
        let mut values: Vec<ValueBaselineCheckpoint> = b
            .values
            .iter()
            .filter_map(|((r, g), series)| {
                let rule = self.thresholds.rules().get(*r as usize)?;
                let table = self.levels.get(rule.level_index)?;
                Some(ValueBaselineCheckpoint {
                    rule: rule.name.clone(),
                    group: table
                        .group_values(*g, &self.cells)
                        .map(|(_, v)| v.to_string())
                        .collect(),
                    series: series.clone(),
                })
            })
            .collect();
        values.sort_by(|a, b| (&a.rule, &a.group).cmp(&(&b.rule, &b.group)));
        BaselinesCheckpoint { sleep, values }
    }

    /// Restores baselines saved by [`Engine::baselines_checkpoint`] (also apart from the rest).
    pub fn restore_baselines(&mut self, cp: &BaselinesCheckpoint) {
        for saved in &cp.sleep {
            let Some(size_index) = self.sizes.iter().position(|s| s.size_ms == saved.size_ms)
            else {
                continue;
            };
            let Some(watch) = self
                .baselines
                .sleep
                .iter_mut()
                .find(|w| w.size_index == size_index)
            else {
                continue; // No sleeping-cell rule watches this size any more.
            };
            for (id, series) in &saved.cells {
                if let Some(cell) = self.cells.get(id)
                    && let Some(c) = watch.cells.get_mut(cell as usize)
                {
                    c.started = true;
                    c.series = series.clone();
                }
            }
        }
        for v in &cp.values {
            let rules = self.thresholds.rules();
            let Some(r) = rules.iter().position(|rule| rule.name == v.rule) else {
                continue;
            };
            let Some(table) = self.levels.get(rules[r].level_index) else {
                continue;
            };
            if let Some(g) = table.find(&v.group, &self.cells) {
                self.baselines
                    .values
                    .insert((r as u32, g), v.series.clone());
            }
        }
    }

    /// Restores a checkpoint into a fresh engine (before any record).
    pub fn restore(&mut self, cp: &EngineCheckpoint) -> Result<(), RestoreError> {
        let sizes: Vec<i64> = self.sizes.iter().map(|s| s.size_ms).collect();
        let saved: Vec<i64> = cp.sizes.iter().map(|s| s.size_ms).collect();
        if sizes != saved {
            return Err(RestoreError(format!(
                "window sizes {saved:?} were saved, {sizes:?} are configured"
            )));
        }
        self.watermark = cp.watermark;
        self.max_aggregated = cp.max_aggregated;
        let ncells = self.cells.len();
        for (size, saved) in self.sizes.iter_mut().zip(&cp.sizes) {
            size.restore(saved.front, saved.emitted, saved.last_record);
            for w in &saved.windows {
                let Some(window) = size.window_at(w.start) else {
                    continue;
                };
                let accs = &mut window.accs;
                for o in &w.outages {
                    let Some(cell) = self.cells.get(&o.cell_id) else {
                        continue;
                    };
                    let acc: &mut Acc = cell_acc(accs, cell, ncells);
                    acc.outages_started += o.started;
                    acc.outages_restored += o.restored;
                    acc.restore_ms_sum += o.restore_ms_sum;
                    acc.outage_records += o.records;
                    acc.records += o.records;
                }
            }
        }
        let cells = &self.cells;
        self.outages.restore(&cp.outages, |id| cells.get(id));
        self.shard_outages = cp
            .shard_outages
            .iter()
            .map(|s| (s.shard, s.clone()))
            .collect();
        self.restore_baselines(&cp.baselines);
        self.baselines.version = cp.baselines_at;
        for a in &cp.alarms {
            let Some(r) = self
                .thresholds
                .rules()
                .iter()
                .position(|rule| rule.name == a.rule)
            else {
                continue; // The rule was removed from the configuration: its alarms go with it.
            };
            let table = &self.levels[self.thresholds.rules()[r].level_index];
            match table.find(&a.group, &self.cells) {
                Some(g) => self.thresholds.restore(r, g, a.state.clone()),
                None => self
                    .thresholds
                    .restore_pending(r, a.group.clone(), a.state.clone()),
            }
        }
        Ok(())
    }

    /// Re-reads a record that the checkpointed run had already processed: rebuilds its call or
    /// session contribution to windows not yet emitted; writes nothing, counts nothing.
    pub fn reingest(&mut self, ev: &Event, from: Origin) {
        if matches!(ev, Event::Outage(_)) || self.out_of_range(ev).is_some() {
            return; // Outage effects are part of the checkpoint; implausible times were rejected.
        }
        let cell = match self.cells.get(ev.cell_id()) {
            Some(c) => c,
            None => self.add_unknown_cell(ev.cell_id()),
        };
        if !self.cells.is_known(cell) {
            self.cells.seen(cell, ev.event_time());
        }
        let tech = self.cells.info(cell).technology;
        let ncells = self.cells.len();
        let t = ev.event_time();
        let mut takers = super::fold::Takers::default();
        for (size_index, size) in self.sizes.iter_mut().enumerate() {
            let Some(window) = size.window_at(t) else {
                takers.refused();
                continue;
            };
            window.feeders.fed(from);
            if !takers.aggregates(&self.fold_base, size_index) {
                continue;
            }
            window.unfolded = true;
            let acc = cell_acc(&mut window.accs, cell, ncells);
            match ev {
                Event::Call(c) => acc.add_call(c, tech, &self.agg),
                Event::Session(s) => acc.add_session(s, tech, &self.agg),
                Event::Outage(_) => {}
            }
        }
    }

    /// Start of the next window to emit for each size (a record feeds an open window of size
    /// `i` iff its window starts at or after `fronts()[i]`).
    pub(super) fn fronts(&self) -> Vec<Option<i64>> {
        self.sizes.iter().map(|s| s.front()).collect()
    }
}
