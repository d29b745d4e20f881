//! Rules on a closing window (docs/thresholds.md and docs/sleeping-cells.md): what each rule reads for a group — a
//! value against constants, against its baseline, or a sleeping-cell verdict — which outages
//! explain it, and the breach events that follow. The baselines the rules need live here
//! ([`Baselines`]), fed by the windows in the order they close.

use super::baseline::{BaselineSettings, Series, Slot};
use super::groups::{CellTable, LevelTable};
use super::sleeping::{Peers, Sleep, SleepWatch, SleepingSettings, traffic};
use crate::kpi::{Acc, GroupContext, KpiValue};
use crate::model::level::Dim;
use crate::threshold::rule::{DuringOutage, Rule, RuleKind, Watched};
use crate::threshold::{BreachEvent, Observation, Reading, Thresholds};
use rustc_hash::FxHashMap;

/// Every baseline the rules need, and their parameters.
#[derive(Debug)]
pub struct Baselines {
    pub settings: BaselineSettings,
    pub sleeping: SleepingSettings,
    pub timezone: jiff::tz::TimeZone,
    pub peers: Peers,
    /// One per window size a sleeping-cell rule watches.
    pub sleep: Vec<SleepWatch>,
    /// Baseline rules: (rule index, group index) → the baseline of the rule's value.
    pub values: FxHashMap<(u32, u32), Series>,
    /// Window sizes a baseline rule watches.
    pub value_sizes: Vec<usize>,
    /// End of the last window that changed a baseline.
    pub version: Option<i64>,
}

impl Baselines {
    /// Empty baselines for `rules` over the inventory of `cells`.
    pub fn new(
        rules: &[Rule],
        cells: &CellTable,
        settings: BaselineSettings,
        sleeping: SleepingSettings,
        timezone: jiff::tz::TimeZone,
    ) -> Baselines {
        let mut sizes: Vec<usize> = rules
            .iter()
            .filter(|r| r.kind == RuleKind::SleepingCell)
            .map(|r| r.window_index)
            .collect();
        sizes.sort_unstable();
        sizes.dedup();
        let mut value_sizes: Vec<usize> = rules
            .iter()
            .filter(|r| r.kind == RuleKind::Baseline)
            .map(|r| r.window_index)
            .collect();
        value_sizes.sort_unstable();
        value_sizes.dedup();
        let sleep = sizes
            .into_iter()
            .map(|size_index| SleepWatch::new(size_index, cells.inventory_len(), settings))
            .collect::<Vec<_>>();
        Baselines {
            settings,
            sleeping,
            timezone,
            peers: if sleep.is_empty() {
                Peers::default()
            } else {
                Peers::new(cells)
            },
            sleep,
            values: FxHashMap::default(),
            value_sizes,
            version: None,
        }
    }

    /// Notes that a window of size `size_index` ending at `end` was judged and learned, when a rule
    /// with a baseline watches that size.
    pub fn learned(&mut self, size_index: usize, end: i64) {
        if self.value_sizes.contains(&size_index)
            || self.sleep.iter().any(|w| w.size_index == size_index)
        {
            self.version = Some(self.version.map_or(end, |v| v.max(end)));
        }
    }

    /// Judges the cells of a closing window of size `size_index` (`None`: no sleeping rule watches it).
    pub fn judge_cells(
        &mut self,
        size_index: usize,
        slot: Slot,
        accs: &[Acc],
    ) -> Option<Vec<Sleep>> {
        let (settings, sleeping) = (self.settings, self.sleeping);
        let watch = self.sleep.iter_mut().find(|w| w.size_index == size_index)?;
        Some(watch.close_window(slot, accs, &self.peers, settings, sleeping))
    }

    /// Bytes held by every baseline.
    pub fn bytes(&self) -> usize {
        self.sleep.iter().map(SleepWatch::bytes).sum::<usize>()
            + self.values.values().map(Series::bytes).sum::<usize>()
    }

    /// Renumbers the groups of baseline rules on per-cell levels (old → new, `None`: gone).
    pub fn remap_groups(&mut self, on_cells: impl Fn(usize) -> bool, remap: &[Option<u32>]) {
        self.values = std::mem::take(&mut self.values)
            .into_iter()
            .filter_map(|((r, g), s)| {
                if !on_cells(r as usize) {
                    return Some(((r, g), s));
                }
                let new = remap.get(g as usize).copied().flatten()?;
                Some(((r, new), s))
            })
            .collect();
    }
}

/// One group of one closing window, as the rules see it.
pub struct GroupWindow<'a> {
    pub group_index: u32,
    pub table: &'a LevelTable,
    pub group: &'a [(Dim, &'a str)],
    pub acc: &'a Acc,
    pub ctx: GroupContext,
    pub values: &'a [KpiValue],
    pub start: i64,
    pub end: i64,
    pub slot: Slot,
    /// Verdicts of the window's cells, when a sleeping-cell rule watches this size.
    pub sleep: Option<&'a [Sleep]>,
    /// Ids of the outages open in the window on the group's cells, sorted.
    pub outages: &'a [String],
}

/// Feeds `rules` (the indices of the rules watching `w`'s level and window size); `emit` gets
/// each breach event.
pub fn evaluate_group<E>(
    thresholds: &mut Thresholds,
    baselines: &mut Baselines,
    cells: &CellTable,
    rules: &[usize],
    w: &GroupWindow<'_>,
    mut emit: impl FnMut(&BreachEvent) -> Result<(), E>,
) -> Result<(), E> {
    for &ri in rules {
        let Some(rule) = thresholds.rules().get(ri) else {
            continue;
        };
        let reading = match rule.kind {
            RuleKind::SleepingCell => {
                let cell = w.group_index;
                let known = (cell as usize) < cells.inventory_len();
                let matches = known
                    && rule
                        .matches
                        .iter()
                        .all(|(d, v)| cells.info(cell).dim(*d) == v.as_str());
                if !matches {
                    continue;
                }
                sleep_reading(w.sleep.and_then(|v| v.get(cell as usize)).copied())
            }
            RuleKind::Fixed | RuleKind::Baseline => {
                if !thresholds.matches(ri, w.group) {
                    continue;
                }
                value_reading(rule, ri, w, baselines)
            }
        };
        let suppressed = rule.during_outage == DuringOutage::Suppress && !w.outages.is_empty();
        let obs = Observation {
            reading,
            suppressed,
            outages: w.outages,
            window_start: w.start,
            window_end: w.end,
            level: &w.table.name,
            group: w.group,
        };
        if let Some(event) = thresholds.observe(ri, w.group_index, obs) {
            emit(&event)?;
        }
    }
    Ok(())
}

fn sleep_reading(verdict: Option<Sleep>) -> Reading {
    match verdict {
        None | Some(Sleep::NoData) => Reading::NoData,
        Some(Sleep::Asleep { traffic, threshold }) => Reading::Judged {
            value: traffic,
            threshold,
            breaching: true,
        },
        Some(Sleep::Awake { traffic, threshold }) => Reading::Judged {
            value: traffic,
            threshold,
            breaching: false,
        },
    }
}

/// The reading of a fixed or baseline rule; a baseline rule then learns the window unless it
/// breaches (a fault does not teach its own baseline).
fn value_reading(
    rule: &Rule,
    ri: usize,
    w: &GroupWindow<'_>,
    baselines: &mut Baselines,
) -> Reading {
    let (value, samples) = match rule.watched {
        Watched::Kpi(k) => (
            w.values.get(k as usize).and_then(|v| v.as_f64()),
            k.samples(w.acc, w.ctx),
        ),
        Watched::Traffic => {
            let t = traffic(w.acc);
            (Some(t as f64), t)
        }
    };
    if rule.kind == RuleKind::Fixed {
        return Reading::of(rule, value, samples, None);
    }
    let settings = baselines.settings;
    let series = baselines
        .values
        .entry((ri as u32, w.group_index))
        .or_insert_with(|| Series::new(settings));
    series.advance(w.slot);
    let reading = Reading::of(rule, value, samples, series.baseline(w.slot, settings));
    let breaching =
        matches!(reading, Reading::Compare { value, raise, .. } if rule.op.holds(value, raise));
    if let Some(v) = value.filter(|_| samples >= rule.min_samples && !breaching) {
        series.learn(w.slot, v);
    }
    reading
}

/// The outage ids open in the window per group of `table`, from `(cell, id)` pairs.
pub fn outages_by_group(
    table: &LevelTable,
    cell_outages: &[(u32, Box<str>)],
) -> FxHashMap<u32, Vec<String>> {
    let mut by_group: FxHashMap<u32, Vec<String>> = FxHashMap::default();
    for (cell, id) in cell_outages {
        by_group
            .entry(table.group_of(*cell))
            .or_default()
            .push(id.to_string());
    }
    for ids in by_group.values_mut() {
        ids.sort_unstable();
        ids.dedup();
    }
    by_group
}
