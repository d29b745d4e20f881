//! Sleeping cells (docs/sleeping-cells.md): a cell on air, not in outage, whose traffic collapsed while the
//! other cells of its site (of its region when the site has no other) carry theirs.
//!
//! Per window size a sleeping-cell rule watches, every inventory cell has a traffic
//! [`Series`] (call and session records per window). When a window closes, each cell gets a
//! [`Sleep`] verdict from its traffic, its baseline for the hour, its outages and its peers' sums
//! — O(cells) per window, no pairwise work — and then learns the window unless it was in outage
//! or asleep. A cell learns only from its first window with traffic on, so a new cell has no
//! baseline for its first `baseline.min_days` days and cannot be judged.

use super::baseline::{BaselineSettings, Series, Slot};
use super::groups::CellTable;
use crate::kpi::Acc;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// `[sleeping]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SleepingSettings {
    /// A cell sleeps when its traffic is at most this share of its baseline.
    pub max_share: f64,
    /// … and its baseline is at least this many records per window.
    pub min_baseline: f64,
    /// … and its peers carry at least this share of their own baselines.
    pub peer_share: f64,
}

impl Default for SleepingSettings {
    fn default() -> Self {
        SleepingSettings {
            max_share: 0.1,
            min_baseline: 30.0,
            peer_share: 0.5,
        }
    }
}

/// What one window says of one cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sleep {
    /// No baseline, a baseline below `min_baseline`, or no peer with a baseline.
    NoData,
    /// Traffic at most `threshold` (max_share × baseline), peers awake, no outage.
    Asleep { traffic: f64, threshold: f64 },
    /// Anything else judged: traffic above the threshold, an outage, or quiet peers.
    Awake { traffic: f64, threshold: f64 },
}

/// One cell's traffic baseline and whether it has ever carried traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellTraffic {
    pub started: bool,
    pub series: Series,
}

/// The traffic baselines of every inventory cell for one window size.
#[derive(Debug, Clone)]
pub struct SleepWatch {
    pub size_index: usize,
    pub cells: Vec<CellTraffic>,
}

/// Peers of each inventory cell: the index of its peer group (its site, or its region when
/// its site has no other cell).
#[derive(Debug, Clone, Default)]
pub struct Peers {
    group_of: Vec<u32>,
    groups: usize,
}

impl Peers {
    /// Peer groups of the inventory cells of `cells`.
    pub fn new(cells: &CellTable) -> Peers {
        let n = cells.inventory_len();
        let mut site_size: FxHashMap<&str, usize> = FxHashMap::default();
        for c in 0..n as u32 {
            *site_size.entry(&cells.info(c).site).or_default() += 1;
        }
        let mut ids: FxHashMap<(bool, &str), u32> = FxHashMap::default();
        let group_of = (0..n as u32)
            .map(|c| {
                let info = cells.info(c);
                let key = if site_size.get(&*info.site).copied().unwrap_or(0) > 1 {
                    (true, &*info.site)
                } else {
                    (false, &*info.region)
                };
                let next = ids.len() as u32;
                *ids.entry(key).or_insert(next)
            })
            .collect();
        Peers {
            group_of,
            groups: ids.len(),
        }
    }
}

/// Traffic of a cell in a window: its call and session records.
pub fn traffic(acc: &Acc) -> u64 {
    acc.call_attempts.saturating_add(acc.sessions)
}

impl SleepWatch {
    /// Empty baselines for `cells` inventory cells.
    pub fn new(size_index: usize, cells: usize, baseline: BaselineSettings) -> SleepWatch {
        SleepWatch {
            size_index,
            cells: (0..cells)
                .map(|_| CellTraffic {
                    started: false,
                    series: Series::new(baseline),
                })
                .collect(),
        }
    }

    /// Judges every inventory cell in the window `slot` with accumulators `accs` (by cell
    /// index), then learns the window where it is normal. Returns the verdicts by cell index.
    pub fn close_window(
        &mut self,
        slot: Slot,
        accs: &[Acc],
        peers: &Peers,
        baseline: BaselineSettings,
        s: SleepingSettings,
    ) -> Vec<Sleep> {
        let empty = Acc::default();
        let acc = |c: usize| accs.get(c).unwrap_or(&empty);
        let bases: Vec<Option<f64>> = self
            .cells
            .iter_mut()
            .map(|cell| {
                cell.series.advance(slot);
                cell.series.baseline(slot, baseline)
            })
            .collect();
        // Per peer group: traffic, baseline and cells of the members that have a baseline.
        let mut sums = vec![(0.0f64, 0.0f64, 0usize); peers.groups];
        for (c, base) in bases.iter().enumerate() {
            if let (Some(b), Some(g)) = (base, peers.group_of.get(c))
                && let Some(sum) = sums.get_mut(*g as usize)
            {
                sum.0 += traffic(acc(c)) as f64;
                sum.1 += b;
                sum.2 += 1;
            }
        }
        let verdicts: Vec<Sleep> = bases
            .iter()
            .enumerate()
            .map(|(c, base)| {
                let Some(b) = base.filter(|b| *b >= s.min_baseline) else {
                    return Sleep::NoData;
                };
                let t = traffic(acc(c)) as f64;
                let Some(&(sum_t, sum_b, n)) =
                    peers.group_of.get(c).and_then(|g| sums.get(*g as usize))
                else {
                    return Sleep::NoData;
                };
                if n < 2 {
                    return Sleep::NoData;
                }
                let (peer_t, peer_b) = (sum_t - t, sum_b - b);
                let threshold = s.max_share * b;
                let peers_awake = peer_b > 0.0 && peer_t >= s.peer_share * peer_b;
                if acc(c).outage_ms == 0 && peers_awake && t <= threshold {
                    Sleep::Asleep {
                        traffic: t,
                        threshold,
                    }
                } else {
                    Sleep::Awake {
                        traffic: t,
                        threshold,
                    }
                }
            })
            .collect();
        for (c, (cell, verdict)) in self.cells.iter_mut().zip(&verdicts).enumerate() {
            let a = acc(c);
            cell.started |= traffic(a) > 0;
            if cell.started && a.outage_ms == 0 && !matches!(verdict, Sleep::Asleep { .. }) {
                cell.series.learn(slot, traffic(a) as f64);
            }
        }
        verdicts
    }

    /// Bytes held by the baselines.
    pub fn bytes(&self) -> usize {
        self.cells
            .iter()
            .map(|c| c.series.bytes() + std::mem::size_of::<bool>())
            .sum()
    }
}
