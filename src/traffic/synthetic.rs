//! A synthetic inventory for generated traffic when no inventory file is given.

use super::Rng;
use crate::inventory::Cell;
use crate::model::{Area, Technology};

/// A synthetic inventory of `n` cells: 3 cells a site, regions and areas mixed, technologies
/// weighted towards LTE and NR.
pub fn synthetic_inventory(n: usize, seed: u64) -> Vec<Cell> {
    let regions = ["North", "South", "East", "West", "Central", "Coast"];
    let mut rng = Rng::new(seed ^ 0xce11);
    (0..n)
        .map(|i| {
            let site = i / 3;
            let area = match rng.below(10) {
                0..=4 => Area::Urban,
                5..=7 => Area::Suburban,
                _ => Area::Rural,
            };
            let technology = match rng.below(20) {
                0 => Technology::Gsm,
                1..=2 => Technology::Umts,
                3..=11 => Technology::Lte,
                _ => Technology::Nr,
            };
            Cell {
                cell_id: synthetic_cell_id(i),
                site_id: format!("S{site:06}"),
                region: regions[site % regions.len()].to_string(),
                area,
                technology,
            }
        })
        .collect()
}

/// The id of cell `i` of a synthetic inventory.
pub fn synthetic_cell_id(i: usize) -> String {
    format!("C{i:07}")
}
