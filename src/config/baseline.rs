//! `[baseline]` and `[sleeping]` (docs/sleeping-cells.md), validated like the rest.

use super::raw::{RawBaseline, RawSleeping};
use super::read::Problems;
use super::values::count;
use crate::engine::baseline::BaselineSettings;
use crate::engine::sleeping::SleepingSettings;

pub(super) fn validate_baseline(raw: RawBaseline, p: &mut Problems) -> BaselineSettings {
    let default = BaselineSettings::default();
    let days = count(
        raw.days,
        i64::from(default.days),
        1,
        "baseline.days".into(),
        p,
    );
    let days = match u16::try_from(days) {
        Ok(d) if d <= 60 => d,
        _ => {
            p.add(
                "baseline.days",
                format!("{days} is out of range; expected 1 to 60 days"),
            );
            default.days
        }
    };
    let min_days = count(
        raw.min_days,
        i64::from(default.min_days),
        1,
        "baseline.min_days".into(),
        p,
    );
    let min_days = match u16::try_from(min_days) {
        Ok(m) if m <= days => m,
        _ => {
            p.add(
                "baseline.min_days",
                format!("{min_days} is out of range; expected 1 to baseline.days ({days})"),
            );
            default.min_days.min(days)
        }
    };
    BaselineSettings { days, min_days }
}

pub(super) fn validate_sleeping(raw: RawSleeping, p: &mut Problems) -> SleepingSettings {
    let d = SleepingSettings::default();
    let mut share = |v: Option<f64>, key: &str, default: f64| match v {
        None => default,
        Some(x) if x.is_finite() && (0.0..=1.0).contains(&x) => x,
        Some(x) => {
            p.add(
                key,
                format!("{x} is out of range; expected a share from 0 to 1"),
            );
            default
        }
    };
    let max_share = share(raw.max_share, "sleeping.max_share", d.max_share);
    let peer_share = share(raw.peer_share, "sleeping.peer_share", d.peer_share);
    let min_baseline = match raw.min_baseline {
        None => d.min_baseline,
        Some(x) if x.is_finite() && x >= 1.0 => x,
        Some(x) => {
            p.add(
                "sleeping.min_baseline",
                format!("{x} is out of range; expected at least 1 record per window"),
            );
            d.min_baseline
        }
    };
    SleepingSettings {
        max_share,
        min_baseline,
        peer_share,
    }
}
