//! Per-hour-of-day baselines (docs/sleeping-cells.md): what a cell (or a watched group) usually carries at
//! this hour, learned from its own closed windows of the last `baseline.days` days.
//!
//! A [`Series`] keeps, per local day and hour of day, the mean of the values learned in that hour
//! (a `bf16` each: `(days + 1) × 24` of them; 440 bytes a series for 7 days, inline). The baseline
//! of a window is the median of that hour's daily means over the `days` days before the window's
//! day, and exists only when at least `min_days` of them are known — so one day of silence among a
//! week moves it little, and a new cell has none. What is learned is the engine's choice: windows
//! in which a cell was in outage or asleep are left out, so a fault does not teach its own
//! baseline. Everything is a pure function of the windows learned, in order, so a replay of the
//! same history rebuilds the same baselines; a checkpoint carries them whole.

use serde::{Deserialize, Serialize};

/// `[baseline]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BaselineSettings {
    /// Days a baseline is learned from.
    pub days: u16,
    /// Known days of an hour before it has a baseline.
    pub min_days: u16,
}

impl Default for BaselineSettings {
    fn default() -> Self {
        BaselineSettings {
            days: 7,
            min_days: 2,
        }
    }
}

/// A local day (days since 1970-01-01 in the configured zone) and hour of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Slot {
    pub day: i32,
    pub hour: u8,
}

impl Slot {
    /// The slot of an epoch-millisecond time in `tz`.
    pub fn of(t_ms: i64, tz: &jiff::tz::TimeZone) -> Slot {
        let ts = jiff::Timestamp::from_millisecond(t_ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let dt = tz.to_datetime(ts);
        let day = dt
            .date()
            .since(jiff::civil::date(1970, 1, 1))
            .map_or(0, |s| s.get_days());
        Slot {
            day,
            hour: u8::try_from(dt.hour()).unwrap_or(0),
        }
    }
}

/// The hour being learned: its slot, the sum and the number of values so far (never zero, so
/// that `Option<OpenHour>` needs no room of its own; saved as a plain integer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct OpenHour {
    slot: Slot,
    sum: f64,
    n: std::num::NonZeroU32,
}

/// One baseline: daily means per hour of day for the last days, and the hour being learned.
/// Kept in one allocation of `u16`s: the day of each row (`u16::MAX`: empty; days since 1970
/// fit until 2149), then `rows × 24` means as `bf16` bits (NaN: nothing learned) — a relative
/// precision of 0.4 %, ample for "a tenth of usual". Saved as those words, little-endian; every
/// access is checked, so a saved series of the wrong length reads as partly empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    rows: u16,
    #[serde(with = "words_le")]
    words: Words,
    open: Option<OpenHour>,
}

/// The words of a series of the default 7 days (8 rows of a day and 24 means) live inside it:
/// a million cells' series sit in one allocation instead of a million 400-byte ones (building
/// the engine for a million cells adds 678 MiB instead of 721: `cargo bench --bench memory --
/// million-3-5m-only`).
type Words = smallvec::SmallVec<[u16; INLINE_WORDS]>;
const INLINE_WORDS: usize = 8 * 25;

const EMPTY_DAY: u16 = u16::MAX;

/// `u16` words as little-endian bytes (a byte string in binary formats).
mod words_le {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(words: &[u16], s: S) -> Result<S::Ok, S::Error> {
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        s.serialize_bytes(&bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<super::Words, D::Error> {
        let bytes = Vec::<u8>::deserialize(d)?;
        Ok(bytes
            .chunks_exact(2)
            .map(|b| u16::from_le_bytes(<[u8; 2]>::try_from(b).unwrap_or([0, 0])))
            .collect())
    }
}

impl Series {
    /// An empty series keeping `settings.days` days (plus the current one).
    pub fn new(settings: BaselineSettings) -> Series {
        Series::with_rows(settings.days.saturating_add(1))
    }

    fn with_rows(rows: u16) -> Series {
        let rows_n = usize::from(rows);
        let mut words = Words::from_elem(EMPTY_DAY, rows_n);
        words.resize(rows_n * 25, half::bf16::NAN.to_bits());
        Series {
            rows,
            words,
            open: None,
        }
    }

    fn day(&self, row: usize) -> Option<i32> {
        self.words
            .get(row)
            .filter(|d| **d != EMPTY_DAY)
            .map(|d| i32::from(*d))
    }

    fn set_day(&mut self, row: usize, day: Option<i32>) {
        let word = day.and_then(|d| u16::try_from(d).ok()).unwrap_or(EMPTY_DAY);
        if let Some(w) = self.words.get_mut(row) {
            *w = word;
        }
    }

    fn mean(&self, i: usize) -> Option<f32> {
        self.words
            .get(usize::from(self.rows) + i)
            .map(|b| half::bf16::from_bits(*b).to_f32())
    }

    fn set_mean(&mut self, i: usize, m: f32) {
        if let Some(w) = self.words.get_mut(usize::from(self.rows) + i) {
            *w = half::bf16::from_f32(m).to_bits();
        }
    }

    /// Bytes held on the heap and inline.
    pub fn bytes(&self) -> usize {
        let heap = if self.words.spilled() {
            self.words.capacity() * std::mem::size_of::<u16>()
        } else {
            0
        };
        std::mem::size_of::<Self>() + heap
    }

    /// Closes the hour being learned when `slot` is in a later hour (call before reading the
    /// baseline of `slot`).
    pub fn advance(&mut self, slot: Slot) {
        if self.open.as_ref().is_some_and(|o| o.slot != slot)
            && let Some(o) = self.open.take()
        {
            self.store(o);
        }
    }

    /// Learns `value` in `slot` (slots come in non-decreasing order).
    pub fn learn(&mut self, slot: Slot, value: f64) {
        self.advance(slot);
        match &mut self.open {
            Some(open) => {
                open.sum += value;
                open.n = open.n.saturating_add(1);
            }
            None => {
                self.open = Some(OpenHour {
                    slot,
                    // Not `value`: a sum that starts at 0.0 turns a first -0.0 into 0.0.
                    sum: 0.0 + value,
                    n: std::num::NonZeroU32::MIN,
                });
            }
        }
    }

    fn store(&mut self, o: OpenHour) {
        let rows = i32::from(self.rows.max(1));
        let Ok(row) = usize::try_from(o.slot.day.rem_euclid(rows)) else {
            return;
        };
        if self.day(row) != Some(o.slot.day) {
            self.set_day(row, Some(o.slot.day));
            for h in 0..24 {
                self.set_mean(row * 24 + h, f32::NAN);
            }
        }
        let mean = (o.sum / f64::from(o.n.get())) as f32;
        self.set_mean(row * 24 + usize::from(o.slot.hour), mean);
    }

    /// The baseline of `slot`: the median of its hour's means on the `days` days before its
    /// day, when at least `min_days` are known.
    pub fn baseline(&self, slot: Slot, settings: BaselineSettings) -> Option<f64> {
        let first = slot.day - i32::from(settings.days);
        let mut known: Vec<f32> = (0..usize::from(self.rows))
            .filter(|r| self.day(*r).is_some_and(|d| d >= first && d < slot.day))
            .filter_map(|r| self.mean(r * 24 + usize::from(slot.hour)))
            .filter(|m| !m.is_nan())
            .collect();
        if known.len() < usize::from(settings.min_days.max(1)) {
            return None;
        }
        known.sort_by(f32::total_cmp);
        let mid = known.len() / 2;
        let median = if known.len() % 2 == 1 {
            f64::from(*known.get(mid)?)
        } else {
            (f64::from(*known.get(mid - 1)?) + f64::from(*known.get(mid)?)) / 2.0
        };
        Some(median)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: BaselineSettings = BaselineSettings {
        days: 7,
        min_days: 2,
    };

    fn at(day: i32, hour: u8) -> Slot {
        Slot { day, hour }
    }

    #[test]
    fn no_baseline_before_min_days_then_the_median_of_the_hour() {
        let mut s = Series::new(S);
        for day in 0..3 {
            for hour in 0..24 {
                s.advance(at(day, hour));
                if day < 2 {
                    assert_eq!(s.baseline(at(day, hour), S), None, "day {day}");
                }
                // Twelve 5-minute windows an hour.
                for w in 0..12 {
                    s.learn(at(day, hour), f64::from(100 * (day + 1) + w));
                }
            }
        }
        s.advance(at(3, 0));
        // Day means of hour 10: 105.5, 205.5, 305.5 → median 205.5 (kept to 0.4 %).
        let near =
            |got: Option<f64>, want: f64| got.is_some_and(|g| (g - want).abs() <= want * 0.004);
        assert!(
            near(s.baseline(at(3, 10), S), 205.5),
            "{:?}",
            s.baseline(at(3, 10), S)
        );
        // Day 2 only sees days 0 and 1: the mean of the two.
        assert!(
            near(s.baseline(at(2, 10), S), 155.5),
            "{:?}",
            s.baseline(at(2, 10), S)
        );
    }

    #[test]
    fn one_silent_day_in_a_week_does_not_teach_silence() {
        let mut s = Series::new(S);
        for day in 0..8 {
            let v = if day == 4 { 0.0 } else { 60.0 };
            s.learn(at(day, 9), v);
            s.advance(at(day, 10));
        }
        assert_eq!(s.baseline(at(8, 9), S), Some(60.0));
    }

    #[test]
    fn days_older_than_the_horizon_are_forgotten() {
        let mut s = Series::new(S);
        s.learn(at(0, 9), 50.0);
        s.learn(at(1, 9), 50.0);
        s.advance(at(1, 10));
        assert_eq!(s.baseline(at(7, 9), S), Some(50.0), "days 0 to 6 hold both");
        assert_eq!(s.baseline(at(8, 9), S), None, "day 0 is older than 7 days");
        // A row is reused for a new day: its old hours are cleared.
        s.learn(at(9, 3), 10.0);
        s.advance(at(9, 4));
        assert_eq!(s.baseline(at(10, 9), S), None);
    }

    #[test]
    fn a_series_survives_a_checkpoint() {
        let mut s = Series::new(S);
        s.learn(at(0, 9), 50.0);
        s.learn(at(1, 9), 40.0);
        let json = serde_json::to_string(&s).expect("save");
        let back: Series = serde_json::from_str(&json).expect("load");
        assert_eq!(back.baseline(at(2, 9), S), s.baseline(at(2, 9), S));
        assert_eq!(serde_json::to_string(&back).expect("save"), json);
        let packed = postcard::to_stdvec(&s).expect("pack");
        assert!(packed.len() < 420, "{} bytes", packed.len());
        let unpacked: Series = postcard::from_bytes(&packed).expect("unpack");
        assert_eq!(unpacked, s);
        assert!(postcard::from_bytes::<Series>(&packed[..100]).is_err());
    }

    #[test]
    fn a_slot_is_the_local_day_and_hour() {
        let tz = jiff::tz::TimeZone::get("Asia/Kolkata").expect("zone");
        // 2026-11-30T20:00Z is 2026-12-01 01:30 in India.
        let t = 1_764_532_800_000;
        let s = Slot::of(t, &tz);
        assert_eq!(s.hour, 1);
        assert_eq!(Slot::of(t, &jiff::tz::TimeZone::UTC).hour, 20);
        assert_eq!(s.day, Slot::of(t, &jiff::tz::TimeZone::UTC).day + 1);
    }
}
