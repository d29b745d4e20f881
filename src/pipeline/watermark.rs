//! The watermark of a source (an input partition, a shard) with its state made explicit —
//! active, idle or at its end — and the one rule that combines sources: the minimum over the
//! active ones; when none is active, the latest of them all (so an idle pipeline still closes
//! what every source has passed).

/// Whether a source holds the pipeline's watermark back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceState {
    /// Delivering: it holds the watermark back.
    Active,
    /// Silent for `windows.idle_timeout` (streaming): it does not.
    Idle,
    /// At its end (`--exit-at-end`): it does not.
    AtEnd,
}

/// Where one source's watermark stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watermark {
    /// Its event-time watermark (`None`: nothing read yet; an active source without one holds
    /// the pipeline back entirely).
    pub at: Option<i64>,
    pub state: SourceState,
}

/// The pipeline's watermark from its sources' (`None` for a source never heard of: it holds
/// the pipeline back entirely).
pub fn combined(sources: impl IntoIterator<Item = Option<Watermark>>) -> Option<i64> {
    let mut lowest_active: Option<i64> = None;
    let mut any_active = false;
    let mut latest: Option<i64> = None;
    for source in sources {
        let s = source?;
        latest = latest.max(s.at);
        if s.state == SourceState::Active {
            any_active = true;
            let at = s.at?;
            lowest_active = Some(lowest_active.map_or(at, |m| m.min(at)));
        }
    }
    if any_active { lowest_active } else { latest }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(at: Option<i64>, state: SourceState) -> Option<Watermark> {
        Some(Watermark { at, state })
    }

    #[test]
    fn active_sources_hold_the_watermark_and_inactive_ones_do_not() {
        use SourceState::*;
        assert_eq!(combined([w(Some(5), Active), w(Some(9), Active)]), Some(5));
        assert_eq!(combined([w(Some(5), Idle), w(Some(9), Active)]), Some(9));
        assert_eq!(combined([w(Some(5), AtEnd), w(Some(9), Idle)]), Some(9));
        // An active source that read nothing, or a source never heard of, holds everything.
        assert_eq!(combined([w(None, Active), w(Some(9), Active)]), None);
        assert_eq!(combined([None, w(Some(9), Active)]), None);
        assert_eq!(combined([w(None, Idle), w(Some(9), Active)]), Some(9));
        assert_eq!(combined(std::iter::empty()), None);
    }
}
