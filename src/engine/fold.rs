//! Folding coarser windows from finer ones: a window size that is a whole multiple of a finer
//! size configured before it (1 h after 5 min) is not fed every call and session a second time.
//! A call or session goes to the finest window that accepts it; when a window closes, what it
//! holds of calls and sessions is merged into the open window of each size folded from it, which
//! closes later (windows close in order of end, then of configured position). A coarser window
//! still accepts exactly the records it did on its own — one too late for its finer window goes
//! to it directly — and accumulators merge exactly, so every KPI is the same as with one
//! accumulation per size. Outage records still go to every size (their counts are checkpointed
//! per window), and merged partials are never folded: the merger receives every size complete.

use super::Engine;
use super::window::cell_acc;
use crate::kpi::Acc;

/// For each window size, the finer size whose windows fold into it: the coarsest size before it
/// in the configuration that divides it.
pub(super) fn fold_bases(sizes_ms: &[i64]) -> Vec<Option<usize>> {
    sizes_ms
        .iter()
        .enumerate()
        .map(|(j, &size)| {
            (0..j)
                .filter(|&i| sizes_ms[i] < size && size % sizes_ms[i] == 0)
                .max_by_key(|&i| sizes_ms[i])
        })
        .collect()
}

/// Which sizes, in configured order, accepted one call or session so far: what decides whether
/// a size aggregates it or gets it through its finer size.
#[derive(Default)]
pub(super) struct Takers(smallvec::SmallVec<[bool; 4]>);

impl Takers {
    /// The next size refused the record (late, or already emitted).
    pub(super) fn refused(&mut self) {
        self.0.push(false);
    }

    /// Size `size_index` (the next one) accepted the record; whether it aggregates it itself
    /// (`false`: its fold base accepted it, and hands it on when its window closes).
    pub(super) fn aggregates(&mut self, fold_base: &[Option<usize>], size_index: usize) -> bool {
        let held_by_finer = fold_base
            .get(size_index)
            .copied()
            .flatten()
            .is_some_and(|base| self.0.get(base).copied().unwrap_or(false));
        self.0.push(true);
        !held_by_finer
    }
}

impl Engine {
    /// Merges the calls and sessions of a closing window of `size_index` into the open window of
    /// every size folded from it (before the outage time of the closing window is filled in).
    pub(super) fn fold_into_coarser(&mut self, size_index: usize, start: i64, accs: &[Acc]) {
        let ncells = self.cells.len();
        for (coarser, base) in self.fold_base.iter().enumerate() {
            if *base != Some(size_index) {
                continue;
            }
            // The coarser window was opened by the records that reached this one, and closes
            // after it: it is there.
            let Some(window) = self
                .sizes
                .get_mut(coarser)
                .and_then(|s| s.existing_window(start))
            else {
                debug_assert!(false, "no open window to fold into");
                continue;
            };
            window.unfolded = true;
            for (cell, acc) in accs.iter().enumerate() {
                if acc.has_traffic() {
                    cell_acc(&mut window.accs, cell as u32, ncells).merge_traffic(acc);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_size_folds_from_the_coarsest_finer_divisor_listed_before_it() {
        let m = 60_000;
        assert_eq!(fold_bases(&[5 * m, 60 * m]), [None, Some(0)]);
        assert_eq!(
            fold_bases(&[5 * m, 60 * m, 1440 * m]),
            [None, Some(0), Some(1)]
        );
        assert_eq!(
            fold_bases(&[m, 2 * m, 6 * m, 3 * m]),
            [None, Some(0), Some(1), Some(0)]
        );
        // Listed coarsest first, or not a multiple: each size is aggregated on its own.
        assert_eq!(fold_bases(&[60 * m, 5 * m]), [None, None]);
        assert_eq!(fold_bases(&[5 * m, 7 * m]), [None, None]);
    }

    #[test]
    fn a_size_aggregates_a_record_unless_its_fold_base_took_it() {
        let bases = [None, Some(0), Some(1)];
        let mut all = Takers::default();
        assert!(all.aggregates(&bases, 0));
        assert!(!all.aggregates(&bases, 1));
        assert!(!all.aggregates(&bases, 2));
        // Too late for the finest window: the next size takes it itself, and hands it on.
        let mut late = Takers::default();
        late.refused();
        assert!(late.aggregates(&bases, 1));
        assert!(!late.aggregates(&bases, 2));
    }
}
