//! Calendar periods in the report's time zone (docs/reports.md): the local day of a window,
//! the UTC bounds of local days, and days, ISO weeks, months and quarters as date ranges.

use jiff::Timestamp;
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;

/// A calendar period kind (`--period`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodKind {
    Day,
    Week,
    Month,
    Quarter,
}

impl PeriodKind {
    pub fn parse(s: &str) -> Option<PeriodKind> {
        match s {
            "day" => Some(PeriodKind::Day),
            "week" => Some(PeriodKind::Week),
            "month" => Some(PeriodKind::Month),
            "quarter" => Some(PeriodKind::Quarter),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PeriodKind::Day => "day",
            PeriodKind::Week => "week",
            PeriodKind::Month => "month",
            PeriodKind::Quarter => "quarter",
        }
    }

    /// The first day of the period holding `d`.
    fn start_of(self, d: Date) -> Date {
        match self {
            PeriodKind::Day => d,
            PeriodKind::Week => d
                .checked_sub(jiff::Span::new().days(i64::from(d.weekday().since(Weekday::Monday))))
                .unwrap_or(d),
            PeriodKind::Month => d.first_of_month(),
            PeriodKind::Quarter => {
                let month = (d.month() - 1) / 3 * 3 + 1;
                Date::new(d.year(), month, 1).unwrap_or(d)
            }
        }
    }

    /// The first day after the period starting at `start`.
    fn after(self, start: Date) -> Date {
        let span = match self {
            PeriodKind::Day => jiff::Span::new().days(1),
            PeriodKind::Week => jiff::Span::new().weeks(1),
            PeriodKind::Month => jiff::Span::new().months(1),
            PeriodKind::Quarter => jiff::Span::new().months(3),
        };
        start.checked_add(span).unwrap_or(Date::MAX)
    }
}

/// A range of local days `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: Date,
    pub end: Date,
}

impl Period {
    /// Days in the period.
    pub fn days(&self) -> i64 {
        self.start
            .until(self.end)
            .map_or(0, |s| i64::from(s.get_days()))
    }

    pub fn contains(&self, d: Date) -> bool {
        self.start <= d && d < self.end
    }
}

/// The calendar of one report.
pub struct Calendar {
    tz: TimeZone,
    day_of_window: rustc_hash::FxHashMap<i64, Option<Date>>,
}

/// Why a calendar could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("`{0}` is not an IANA time zone name")]
    UnknownZone(String),
    #[error("`{0}` is not a date (YYYY-MM-DD)")]
    BadDate(String),
    #[error("--to {to} is not after --from {from}")]
    EmptyRange { from: Date, to: Date },
}

impl Calendar {
    pub fn new(zone: &str) -> Result<Calendar, CalendarError> {
        let tz = jiff::tz::db()
            .get(zone)
            .map_err(|_| CalendarError::UnknownZone(zone.to_string()))?;
        Ok(Calendar {
            tz,
            day_of_window: rustc_hash::FxHashMap::default(),
        })
    }

    /// The local day of an instant (epoch ms); `None` outside the calendar's range.
    pub fn day_of(&mut self, ms: i64) -> Option<Date> {
        let tz = &self.tz;
        *self.day_of_window.entry(ms).or_insert_with(|| {
            Timestamp::from_millisecond(ms)
                .ok()
                .map(|t| t.to_zoned_datetime(tz.clone()).date())
        })
    }

    /// The instant (epoch ms) local day `d` starts.
    pub fn start_ms(&self, d: Date) -> Option<i64> {
        d.to_zoned_datetime(self.tz.clone())
            .ok()
            .map(|z| z.timestamp().as_millisecond())
    }
}

/// Parses a `--from` / `--to` date.
pub fn parse_date(s: &str) -> Result<Date, CalendarError> {
    s.trim()
        .parse::<Date>()
        .map_err(|_| CalendarError::BadDate(s.to_string()))
}

/// The periods of `kind` covering `[from, to)`, each cut to the range.
pub fn periods(kind: PeriodKind, from: Date, to: Date) -> Result<Vec<Period>, CalendarError> {
    if to <= from {
        return Err(CalendarError::EmptyRange { from, to });
    }
    let mut out = Vec::new();
    let mut start = kind.start_of(from);
    while start < to {
        let end = kind.after(start);
        out.push(Period {
            start: start.max(from),
            end: end.min(to),
        });
        start = end;
    }
    Ok(out)
}

/// Every day of `[from, to)`.
pub fn days(from: Date, to: Date) -> impl Iterator<Item = Date> {
    from.series(jiff::Span::new().days(1))
        .take_while(move |d| *d < to)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        parse_date(s).unwrap()
    }

    #[test]
    fn periods_follow_the_calendar_and_are_cut_to_the_range() {
        let months = periods(PeriodKind::Month, d("2026-11-15"), d("2027-01-10")).unwrap();
        assert_eq!(
            months,
            vec![
                Period {
                    start: d("2026-11-15"),
                    end: d("2026-12-01")
                },
                Period {
                    start: d("2026-12-01"),
                    end: d("2027-01-01")
                },
                Period {
                    start: d("2027-01-01"),
                    end: d("2027-01-10")
                },
            ]
        );
        // ISO weeks start on Monday: 2026-12-02 is a Wednesday.
        let weeks = periods(PeriodKind::Week, d("2026-12-02"), d("2026-12-15")).unwrap();
        assert_eq!(
            weeks[0],
            Period {
                start: d("2026-12-02"),
                end: d("2026-12-07")
            }
        );
        assert_eq!(weeks[1].days(), 7);
        let quarters = periods(PeriodKind::Quarter, d("2026-01-01"), d("2027-01-01")).unwrap();
        assert_eq!(quarters.len(), 4);
        assert_eq!(quarters[1].start, d("2026-04-01"));
        assert_eq!(quarters[1].days(), 91);
        assert!(periods(PeriodKind::Day, d("2026-01-02"), d("2026-01-02")).is_err());
    }

    #[test]
    fn a_window_belongs_to_the_local_day_of_its_start() {
        let mut cal = Calendar::new("Asia/Shanghai").unwrap();
        // 2026-11-30T16:00:00Z is 2026-12-01 00:00 in Shanghai (UTC+8).
        let ms = 1_796_054_400_000;
        assert_eq!(cal.day_of(ms), Some(d("2026-12-01")));
        assert_eq!(cal.day_of(ms - 1), Some(d("2026-11-30")));
        assert_eq!(cal.start_ms(d("2026-12-01")), Some(ms));
        assert!(Calendar::new("Mars/Olympus").is_err());
        assert_eq!(days(d("2026-02-27"), d("2026-03-02")).count(), 3);
    }
}
