//! From folded records to verdicts (docs/reports.md): per target, group and period
//! the pooled value or the cell and day shares, whether it complies, and the worst cells.

use super::calendar::Period;
use super::collect::{Collector, DayState};
use super::pool::{Pooled, Sums, pooled};
use super::result::{GroupLabel, GroupResult, Outcome, PeriodResult, TargetResult, WorstCell};
use super::targets::{At, ReportSettings, Shares, Target};
use crate::inventory::Cell;
use crate::model::level::{Dim, Level};
use jiff::civil::Date;
use std::collections::{BTreeMap, BTreeSet};

type Days = BTreeMap<Date, DayState>;

/// Everything a target is computed from.
pub struct Context<'a> {
    pub settings: &'a ReportSettings,
    pub collected: &'a Collector,
    pub inventory: &'a [Cell],
    pub periods: &'a [Period],
    /// The whole report range (worst cells are ranked over it).
    pub range: Period,
}

/// One day's value of a target for one group or cell.
struct DayValue {
    day: Date,
    pooled: Pooled,
}

impl Context<'_> {
    fn level_index(&self, level: Level) -> Option<usize> {
        let name = level.name();
        self.collected.levels().iter().position(|l| *l == name)
    }

    fn days_of(&self, level: Level, values: &[String]) -> Option<&Days> {
        let li = self.level_index(level)?;
        self.collected.days(li, values)
    }

    /// Inventory cells per group of `level`, groups in value order.
    fn inventory_groups(&self, level: Level) -> BTreeMap<Vec<String>, Vec<&Cell>> {
        let mut out: BTreeMap<Vec<String>, Vec<&Cell>> = BTreeMap::new();
        for c in self.inventory {
            let key = level.dims().map(|d| c.dim(d).to_string()).collect();
            out.entry(key).or_default().push(c);
        }
        out
    }

    /// The days of a group or cell with the target's value on each (no-data days left out).
    fn day_values(&self, t: &Target, days: Option<&Days>, inventory_cells: u64) -> Vec<DayValue> {
        let busy = t.at == At::BusyHour;
        days.into_iter()
            .flatten()
            .filter(|(d, _)| self.range.contains(**d))
            .filter_map(|(day, state)| {
                let pooled = pooled(t.kpi, state.sums(busy)?, inventory_cells);
                pooled
                    .value
                    .is_some()
                    .then_some(DayValue { day: *day, pooled })
            })
            .collect()
    }

    /// The pooled value of a group or cell over the days of `within` (busy hours or all).
    fn pooled_over(&self, t: &Target, days: Option<&Days>, within: Period, cells: u64) -> Pooled {
        let busy = t.at == At::BusyHour;
        let mut total = Sums::default();
        for (_, state) in days
            .into_iter()
            .flatten()
            .filter(|(d, _)| within.contains(**d))
        {
            if let Some(s) = state.sums(busy) {
                total.merge(s);
            }
        }
        pooled(t.kpi, &total, cells)
    }

    /// The report of one target.
    pub fn target(&self, t: &Target) -> TargetResult {
        let level = t.group_level();
        let inventory = self.inventory_groups(level);
        let mut keys: BTreeSet<Vec<String>> = inventory.keys().cloned().collect();
        if t.shares.is_none()
            && let Some(li) = self.level_index(level)
        {
            keys.extend(
                self.collected
                    .groups()
                    .filter(|g| g.level == li)
                    .map(|g| g.values.clone()),
            );
        }
        let groups = keys
            .into_iter()
            .map(|values| {
                let cells: &[&Cell] = inventory.get(&values).map_or(&[], Vec::as_slice);
                let periods = match t.shares {
                    None => self.group_periods(t, level, &values, cells.len() as u64),
                    Some(shares) => self.share_periods(t, shares, cells),
                };
                GroupResult {
                    group: GroupLabel(level.dims().zip(values.iter().cloned()).collect()),
                    periods,
                    worst_cells: self.worst_cells(t, cells),
                }
            })
            .collect();
        TargetResult {
            name: t.name.clone(),
            kpi: t.kpi.name(),
            level: t.level.name(),
            within: t.shares.map(|s| s.within.name()),
            at: t.at.as_str(),
            op: t.op.as_str(),
            value: t.value,
            cells_share: t.shares.map(|s| s.cells_share),
            days_share: t.shares.map(|s| s.days_share),
            min_samples: t.min_samples,
            groups,
        }
    }

    fn group_periods(
        &self,
        t: &Target,
        level: Level,
        values: &[String],
        inventory_cells: u64,
    ) -> Vec<PeriodResult> {
        let days = self.days_of(level, values);
        let by_day = self.day_values(t, days, inventory_cells);
        self.periods
            .iter()
            .map(|p| {
                let pooled = self.pooled_over(t, days, *p, inventory_cells);
                let in_period: Vec<&DayValue> =
                    by_day.iter().filter(|d| p.contains(d.day)).collect();
                PeriodResult {
                    start: p.start.to_string(),
                    end: p.end.to_string(),
                    days: p.days(),
                    days_with_data: in_period.len() as u64,
                    complies: pooled.value.map(|v| t.op.holds(v, t.value)),
                    outcome: Outcome::Value {
                        value: pooled.value,
                        samples: pooled.samples,
                        margin: pooled.value.map(|v| t.op.margin(v, t.value)),
                        value_by_day: in_period
                            .iter()
                            .filter_map(|d| Some((d.day.to_string(), d.pooled.value?)))
                            .collect(),
                    },
                }
            })
            .collect()
    }

    fn share_periods(&self, t: &Target, shares: Shares, cells: &[&Cell]) -> Vec<PeriodResult> {
        let cell_level = Level::of(&[Dim::Cell]);
        // Per day: (cells with data, cells complying).
        let mut per_day: BTreeMap<Date, (u64, u64)> = BTreeMap::new();
        for c in cells {
            let days = self.days_of(cell_level, std::slice::from_ref(&c.cell_id));
            for d in self.day_values(t, days, 1) {
                let Some(v) = d.pooled.value else { continue };
                if d.pooled.samples < t.min_samples {
                    continue;
                }
                let e = per_day.entry(d.day).or_default();
                e.0 += 1;
                e.1 += u64::from(t.op.holds(v, t.value));
            }
        }
        self.periods
            .iter()
            .map(|p| {
                let mut cells_share_by_day = BTreeMap::new();
                let mut cells_by_day = BTreeMap::new();
                let mut complying = 0u64;
                for (day, (with_data, ok)) in per_day.range(p.start..p.end) {
                    let share = *ok as f64 / *with_data as f64;
                    complying += u64::from(share >= shares.cells_share);
                    cells_share_by_day.insert(day.to_string(), share);
                    cells_by_day.insert(day.to_string(), *with_data);
                }
                let days_with_data = cells_by_day.len() as u64;
                let days_share =
                    (days_with_data > 0).then(|| complying as f64 / days_with_data as f64);
                PeriodResult {
                    start: p.start.to_string(),
                    end: p.end.to_string(),
                    days: p.days(),
                    days_with_data,
                    complies: days_share.map(|s| s >= shares.days_share),
                    outcome: Outcome::Shares {
                        cells_share_by_day,
                        cells_by_day,
                        days_complying: complying,
                        days_share,
                        margin: days_share.map(|s| s - shares.days_share),
                    },
                }
            })
            .collect()
    }

    /// The cells of a group that cost the most over the report range (docs/reports.md).
    fn worst_cells(&self, t: &Target, cells: &[&Cell]) -> Vec<WorstCell> {
        let cell_level = Level::of(&[Dim::Cell]);
        if self.level_index(cell_level).is_none() || self.settings.worst_cells == 0 {
            return Vec::new();
        }
        let mut ranked: Vec<WorstCell> = cells
            .iter()
            .filter_map(|c| {
                let days = self.days_of(cell_level, std::slice::from_ref(&c.cell_id))?;
                let total = self.pooled_over(t, Some(days), self.range, 1);
                let value = total.value?;
                if total.samples < t.min_samples {
                    return None;
                }
                let days_failed = self
                    .day_values(t, Some(days), 1)
                    .iter()
                    .filter(|d| d.pooled.samples >= t.min_samples)
                    .filter(|d| d.pooled.value.is_some_and(|v| !t.op.holds(v, t.value)))
                    .count() as u64;
                Some(WorstCell {
                    cell: c.cell_id.clone(),
                    value,
                    samples: total.samples,
                    failures: total.failures,
                    days_failed,
                })
            })
            .collect();
        ranked.sort_by(|a, b| {
            let fa = a.failures.unwrap_or(0.0);
            let fb = b.failures.unwrap_or(0.0);
            fb.total_cmp(&fa)
                .then_with(|| {
                    t.op.margin(a.value, t.value)
                        .total_cmp(&t.op.margin(b.value, t.value))
                })
                .then_with(|| a.cell.cmp(&b.cell))
        });
        ranked.truncate(self.settings.worst_cells);
        ranked
    }
}
