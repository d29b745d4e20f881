//! Two-phase aggregation (DESIGN principle 6): an engine in *shard* mode aggregates the records
//! of its input partitions per cell and, when a window closes, hands over the per-cell
//! accumulators as one [`Partial`] instead of rolling them up; the *merger*'s engine ingests the
//! partials of every shard with [`Engine::ingest_partial`] and closes windows as usual (roll-up,
//! KPI records, thresholds). Accumulators merge exactly (integer counts and sums, the exact MOS
//! sum, bucket-wise sketches) and the merger rolls cells up in its own fixed order, so N shards
//! give bit for bit the records one engine gives for the same records.

use super::Engine;
use super::sources::PartialOrigin;
use super::window::cell_acc;
use crate::kpi::Acc;
use serde::{Deserialize, Serialize};

/// The per-cell accumulators of one closed window of one shard: every cell that received a
/// record in the window or was down during it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Partial {
    pub size_ms: i64,
    pub start: i64,
    pub cells: Vec<(String, Acc)>,
    /// `(cell_id, outage id)` of the outages open in the window on the shard's cells
    /// (docs/sleeping-cells.md, related outages); carried by the first part of a partial cut into parts.
    #[serde(default)]
    pub outage_ids: Vec<(String, String)>,
}

/// A partial the merger cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartialError {
    #[error("window size {0} ms is not configured")]
    UnknownSize(i64),
    #[error("window [{0}, +{1} ms) was already emitted")]
    Late(i64, i64),
}

/// What became of a partial the merger took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartialTaken {
    /// Merged into its open window.
    Merged,
    /// A copy of one its window already holds (an aborted or repeated shard transaction left it
    /// behind): ignored, so it cannot count twice.
    Copy,
}

impl Engine {
    /// Merges a shard's partial (or one part of it) into the open window it belongs to. A
    /// window already emitted rejects it (a shard that fell behind the others by more than the
    /// watermark allowed).
    pub fn ingest_partial(
        &mut self,
        p: &Partial,
        from: PartialOrigin,
    ) -> Result<PartialTaken, PartialError> {
        let size_index = self
            .sizes
            .iter()
            .position(|s| s.size_ms == p.size_ms)
            .ok_or(PartialError::UnknownSize(p.size_ms))?;
        if self.sizes[size_index].holds(p.start, from) {
            return Ok(PartialTaken::Copy);
        }
        let cells: Vec<u32> = p
            .cells
            .iter()
            .map(|(id, _)| {
                let idx = match self.cells.get(id) {
                    Some(idx) => idx,
                    None => self.add_unknown_cell(id),
                };
                self.cells.seen(idx, p.start);
                idx
            })
            .collect();
        let ncells = self.cells.len();
        let window = self.sizes[size_index]
            .window_for(p.start, self.watermark)
            .ok_or(PartialError::Late(p.start, p.size_ms))?;
        window.feeders.merged(from);
        for (&cell, (_, acc)) in cells.iter().zip(&p.cells) {
            cell_acc(&mut window.accs, cell, ncells).merge(acc);
        }
        if !p.outage_ids.is_empty() {
            let ids = self
                .partial_outage_ids
                .entry((size_index, p.start))
                .or_default();
            for (cell, id) in &p.outage_ids {
                if let Some(idx) = self.cells.get(cell) {
                    ids.push((idx, id.as_str().into()));
                }
            }
        }
        self.max_aggregated = Some(self.max_aggregated.map_or(p.start, |m| m.max(p.start)));
        Ok(PartialTaken::Merged)
    }

    /// The partial of a closing window in shard mode (`None` when no cell has anything).
    pub(super) fn partial_of(
        &self,
        size_ms: i64,
        start: i64,
        cell_accs: Vec<Acc>,
        outage_ids: &[(u32, Box<str>)],
    ) -> Option<Partial> {
        let cells: Vec<(String, Acc)> = cell_accs
            .into_iter()
            .enumerate()
            .filter(|(_, a)| a.records > 0 || a.outage_ms > 0)
            .map(|(c, a)| (self.cells.info(c as u32).id.to_string(), a))
            .collect();
        let outage_ids = outage_ids
            .iter()
            .map(|(c, id)| (self.cells.info(*c).id.to_string(), id.to_string()))
            .collect();
        (!cells.is_empty()).then_some(Partial {
            size_ms,
            start,
            cells,
            outage_ids,
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::engine::sources::Origin;
    use crate::engine::{KpiRecord, Output};
    use crate::threshold::BreachEvent;

    /// Every output, as the tests of the engine's modules read them.
    #[derive(Default)]
    pub(in crate::engine) struct Collect {
        kpis: Vec<String>,
        breaches: Vec<String>,
        pub(in crate::engine) partials: Vec<Partial>,
    }

    impl Output for Collect {
        type Error = std::convert::Infallible;
        fn kpi(&mut self, r: &KpiRecord<'_>) -> Result<(), Self::Error> {
            self.kpis.push(format!("{r:?}"));
            Ok(())
        }
        fn breach(&mut self, e: &BreachEvent) -> Result<(), Self::Error> {
            self.breaches.push(format!("{e:?}"));
            Ok(())
        }
        fn partial(&mut self, p: &Partial) -> Result<(), Self::Error> {
            self.partials.push(p.clone());
            Ok(())
        }
    }

    /// Traffic split over shards by cell gives, through the merger, exactly what one engine
    /// gives (KPI records and breach events, in order), however many shards there are.
    #[test]
    fn shards_and_merger_equal_one_engine() {
        let settings = crate::config::from_toml_str(
            include_str!("../../config/netkpi.toml"),
            std::path::Path::new("."),
        )
        .expect("shipped config");
        let cells = crate::traffic::synthetic_inventory(40, 3);
        let opts = crate::traffic::GenOptions {
            peak_rate: 60.0,
            degraded_share: 0.2,
            outages_per_cell_day: 20.0,
            ..crate::traffic::GenOptions::default()
        };
        let events: Vec<crate::model::Event> = crate::traffic::Generator::new(cells.clone(), opts)
            .filter_map(|item| match item {
                crate::traffic::GenItem::Event(ev) => Some(ev),
                crate::traffic::GenItem::Bad(_) => None,
            })
            .collect();
        let mut one = Engine::new(&settings.engine(), &cells);
        let mut expected = Collect::default();
        for ev in &events {
            one.ingest_and_advance(ev, Origin::file(0), &mut expected)
                .unwrap();
        }
        one.finish(&mut expected).unwrap();
        assert!(
            !expected.breaches.is_empty(),
            "the traffic should breach a rule"
        );

        for shards in [1usize, 3] {
            let mut engines: Vec<Engine> = (0..shards)
                .map(|_| Engine::new_shard(&settings.engine(), &cells))
                .collect();
            let mut outs: Vec<Collect> = (0..shards).map(|_| Collect::default()).collect();
            let shard_of = |id: &str| id.bytes().map(usize::from).sum::<usize>() % shards;
            for ev in &events {
                let s = shard_of(ev.cell_id());
                engines[s]
                    .ingest_and_advance(ev, Origin::file(0), &mut outs[s])
                    .unwrap();
            }
            let mut reports = Vec::new();
            for (i, (e, o)) in engines.iter_mut().zip(&mut outs).enumerate() {
                e.finish(o).unwrap();
                assert!(o.kpis.is_empty() && o.breaches.is_empty());
                reports.push(e.shard_outages(i as i32));
            }
            let mut partials: Vec<(i32, Partial)> = (0..)
                .zip(outs)
                .flat_map(|(shard, o)| o.partials.into_iter().map(move |p| (shard, p)))
                .collect();
            partials.sort_by_key(|(_, p)| (p.start + p.size_ms, p.size_ms));
            let mut merger = Engine::new(&settings.engine(), &cells);
            let mut got = Collect::default();
            let mut offset = 0;
            for (shard, p) in &partials {
                // Cut into parts as shards of a large network send them.
                for (part, range) in (0..).zip(crate::pipeline::progress::part_bounds(p, 2048)) {
                    let cut = crate::pipeline::progress::part_of(p, range);
                    let bytes = postcard::to_stdvec(&cut).unwrap();
                    let cut: Partial = postcard::from_bytes(&bytes).unwrap();
                    let from = PartialOrigin {
                        shard: *shard,
                        part,
                        offset,
                    };
                    assert_eq!(merger.ingest_partial(&cut, from), Ok(PartialTaken::Merged));
                    // A copy (an aborted shard transaction's) is recognised and ignored.
                    assert_eq!(merger.ingest_partial(&cut, from), Ok(PartialTaken::Copy));
                    offset += 1;
                }
            }
            for r in reports {
                merger.take_shard_outages(r);
            }
            merger.finish(&mut got).unwrap();
            assert_eq!(got.kpis, expected.kpis, "{shards} shards");
            assert_eq!(got.breaches, expected.breaches, "{shards} shards");
        }
    }
}
