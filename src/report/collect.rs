//! Gathering KPI records for a report: records of the report's window size, of the levels its
//! targets need, inside `[from, to)`, folded per (level, group, local day) into the day's sums
//! and its busy hour (docs/reports.md). Memory is one day state per group and day, not
//! one per record; the result does not depend on the order the records come in.

use super::calendar::Calendar;
use super::pool::Sums;
use super::row::KpiRow;
use crate::kpi::Kpi;
use jiff::civil::Date;
use std::collections::BTreeMap;

/// One group's day.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DayState {
    /// Every window of the day.
    pub all: Sums,
    /// The busy hour: the window with the most traffic (earliest on a tie); `None` while every
    /// window carried none.
    pub busy: Option<(i64, Sums)>,
    /// Window starts already counted (a repeated record is counted once).
    starts: Vec<i64>,
}

impl DayState {
    /// The day's sums for a target taken at the busy hour or over the day.
    pub fn sums(&self, busy_hour: bool) -> Option<&Sums> {
        if busy_hour {
            self.busy.as_ref().map(|(_, s)| s)
        } else {
            Some(&self.all)
        }
    }
}

/// The days of one group: its level (index into [`Collector::levels`]) and dimension values in
/// canonical order.
#[derive(Debug, Clone, Default)]
pub struct GroupDays {
    pub level: usize,
    pub values: Vec<String>,
    pub days: BTreeMap<Date, DayState>,
}

/// The map key of a group: level index and values joined by a separator no name contains.
fn key_into(buf: &mut String, level: usize, values: impl Iterator<Item = impl AsRef<str>>) {
    use std::fmt::Write;
    buf.clear();
    let _ = write!(buf, "{level}");
    for v in values {
        buf.push('\u{1f}');
        buf.push_str(v.as_ref());
    }
}

/// What reading the records found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CollectStats {
    pub records: u64,
    pub used: u64,
    pub other_window_size: u64,
    pub other_level: u64,
    pub outside_range: u64,
    pub repeated: u64,
    pub unreadable: u64,
}

/// The records of a report, folded.
pub struct Collector {
    filter: Filter,
    calendar: Calendar,
    groups: rustc_hash::FxHashMap<String, GroupDays>,
    pub stats: CollectStats,
}

impl Collector {
    /// A collector for records of `window_ms` and the `levels` (canonical names) in
    /// `[from_ms, to_ms)`.
    pub fn new(
        window_ms: i64,
        levels: Vec<String>,
        from_ms: i64,
        to_ms: i64,
        calendar: Calendar,
    ) -> Collector {
        Collector {
            filter: Filter {
                window_ms,
                levels,
                from_ms,
                to_ms,
            },
            calendar,
            groups: rustc_hash::FxHashMap::default(),
            stats: CollectStats::default(),
        }
    }

    /// The canonical level names collected, by index.
    pub fn levels(&self) -> &[String] {
        &self.filter.levels
    }

    /// The days of one group, if it had records.
    pub fn days(&self, level: usize, values: &[String]) -> Option<&BTreeMap<Date, DayState>> {
        let mut key = String::new();
        key_into(&mut key, level, values.iter());
        self.groups.get(&key).map(|g| &g.days)
    }

    /// Every group that had records (in no particular order).
    pub fn groups(&self) -> impl Iterator<Item = &GroupDays> {
        self.groups.values()
    }

    /// A record that could not be read.
    pub fn unreadable(&mut self) {
        self.stats.records += 1;
        self.stats.unreadable += 1;
    }

    /// Which records this collector wants: [`Filter::prepare`] can run on other threads, and
    /// [`Collector::fold`] then adds what it made.
    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// Folds one record in.
    pub fn add(&mut self, row: KpiRow) {
        let prepared = self.filter.prepare(row);
        self.fold(prepared);
    }

    /// Folds in a record a [`Filter`] prepared.
    pub fn fold(&mut self, p: Prepared) {
        self.stats.records += 1;
        let r = match p {
            Prepared::OtherWindowSize => return self.stats.other_window_size += 1,
            Prepared::OtherLevel => return self.stats.other_level += 1,
            Prepared::OutsideRange => return self.stats.outside_range += 1,
            Prepared::Use(r) => r,
        };
        let Some(day) = self.calendar.day_of(r.window_start) else {
            self.stats.outside_range += 1;
            return;
        };
        let UsedRecord {
            level,
            key,
            values,
            window_start,
            sums,
            has_traffic,
        } = r;
        let group = self.groups.entry(key).or_insert_with(|| GroupDays {
            level,
            values,
            days: BTreeMap::new(),
        });
        let state = group.days.entry(day).or_default();
        match state.starts.binary_search(&window_start) {
            Ok(_) => {
                self.stats.repeated += 1;
                return;
            }
            Err(at) => state.starts.insert(at, window_start),
        }
        self.stats.used += 1;
        state.all.merge(&sums);
        let traffic = sums.traffic_key();
        let busier = match &state.busy {
            None => traffic > 0,
            Some((start, best)) => {
                let best = best.traffic_key();
                traffic > best || (traffic == best && window_start < *start)
            }
        };
        if busier && has_traffic {
            state.busy = Some((window_start, sums));
        }
    }
}

/// Which records a collector wants (sendable to parser threads).
#[derive(Debug, Clone)]
pub struct Filter {
    window_ms: i64,
    levels: Vec<String>,
    from_ms: i64,
    to_ms: i64,
}

/// A record as a collector needs it, or why it does not. Unboxed on purpose: prepared records
/// travel in batches (a `Vec`), and a box each cost an allocation freed on another thread.
#[allow(clippy::large_enum_variant)]
pub enum Prepared {
    OtherWindowSize,
    OtherLevel,
    OutsideRange,
    Use(UsedRecord),
}

/// The part of a record a collector keeps: its group and its sums.
pub struct UsedRecord {
    level: usize,
    key: String,
    values: Vec<String>,
    window_start: i64,
    sums: Sums,
    has_traffic: bool,
}

impl Filter {
    /// Classifies a record and computes its sums.
    pub fn prepare(&self, row: KpiRow) -> Prepared {
        if row.window_end.saturating_sub(row.window_start) != self.window_ms {
            return Prepared::OtherWindowSize;
        }
        let Some(level) = self.levels.iter().position(|l| *l == row.level) else {
            return Prepared::OtherLevel;
        };
        if row.window_start < self.from_ms || row.window_start >= self.to_ms {
            return Prepared::OutsideRange;
        }
        let mut key = String::with_capacity(32);
        key_into(&mut key, level, row.group.iter().map(|(_, v)| v));
        Prepared::Use(UsedRecord {
            level,
            key,
            window_start: row.window_start,
            sums: Sums::of(&row),
            has_traffic: row.get(Kpi::TrafficErlangs).is_some(),
            values: row.group.into_iter().map(|(_, v)| v).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kpi::KpiValue;
    use crate::model::level::Dim;

    fn row(start_h: i64, erlangs: f64, attempts: u64) -> KpiRow {
        let mut values = Kpi::ALL.map(|_| KpiValue::Real(None));
        values[Kpi::TrafficErlangs as usize] = KpiValue::Real(Some(erlangs));
        values[Kpi::CallAttempts as usize] = KpiValue::Count(attempts);
        KpiRow {
            window_start: start_h * 3_600_000,
            window_end: (start_h + 1) * 3_600_000,
            level: "region".into(),
            group: vec![(Dim::Region, "North".into())],
            values,
            pooling_samples: [0; 4],
        }
    }

    #[test]
    fn busy_hour_is_the_most_traffic_earliest_on_a_tie_and_none_without_traffic() {
        let calendar = Calendar::new("UTC").unwrap();
        let mut c = Collector::new(
            3_600_000,
            vec!["region".into()],
            0,
            10 * 86_400_000,
            calendar,
        );
        for r in [
            row(3, 2.0, 10),
            row(1, 2.0, 20),
            row(2, 1.0, 30),
            row(1, 2.0, 20),
            row(30, 0.0, 5),
        ] {
            c.add(r);
        }
        let mut bad = row(4, 9.0, 1);
        bad.window_end += 1;
        c.add(bad);
        assert_eq!(c.stats.repeated, 1);
        assert_eq!(c.stats.other_window_size, 1);
        let days = c.days(0, &["North".to_string()]).unwrap();
        let first = days.values().next().unwrap();
        assert_eq!(first.busy.as_ref().map(|(s, _)| *s), Some(3_600_000));
        assert_eq!(first.all.attempts, 60);
        let second = days.values().nth(1).unwrap();
        assert!(second.busy.is_none());
    }
}
