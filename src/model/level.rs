//! Aggregation levels (docs/kpis.md and docs/semantics.md): a level is a set of dimensions; its public name
//! lists them in the canonical order `cell, site, region, area, technology`, or `network` for
//! the empty set, however the configuration spelled it.

use std::fmt;

/// One grouping dimension of a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dim {
    Cell,
    Site,
    Region,
    Area,
    Technology,
}

impl Dim {
    /// All dimensions in canonical order.
    pub const ALL: [Dim; 5] = [
        Dim::Cell,
        Dim::Site,
        Dim::Region,
        Dim::Area,
        Dim::Technology,
    ];

    /// The public name.
    pub fn as_str(self) -> &'static str {
        match self {
            Dim::Cell => "cell",
            Dim::Site => "site",
            Dim::Region => "region",
            Dim::Area => "area",
            Dim::Technology => "technology",
        }
    }

    /// Parses a dimension name.
    pub fn parse(s: &str) -> Option<Dim> {
        Dim::ALL.into_iter().find(|d| d.as_str() == s)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Level(u8);

/// Why a level name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LevelError {
    #[error(
        "unknown dimension `{0}` (expected cell, site, region, area, technology, or `network` alone)"
    )]
    UnknownDim(String),
    #[error("dimension `{0}` is named twice")]
    Repeated(String),
}

impl Level {
    /// The level with no dimension.
    pub const NETWORK: Level = Level(0);

    /// Parses `"region,technology"`, `"technology, region"`, `"network"`.
    pub fn parse(s: &str) -> Result<Level, LevelError> {
        let s = s.trim();
        if s == "network" {
            return Ok(Level::NETWORK);
        }
        let mut set = Level::NETWORK;
        for part in s.split(',').map(str::trim) {
            let dim = Dim::parse(part).ok_or_else(|| LevelError::UnknownDim(part.to_string()))?;
            if set.has(dim) {
                return Err(LevelError::Repeated(part.to_string()));
            }
            set.0 |= dim.bit();
        }
        Ok(set)
    }

    /// Builds a level from dimensions.
    pub fn of(dims: &[Dim]) -> Level {
        Level(dims.iter().fold(0, |acc, d| acc | d.bit()))
    }

    /// Whether the level groups by `dim`.
    pub fn has(self, dim: Dim) -> bool {
        self.0 & dim.bit() != 0
    }

    /// The level's dimensions in canonical order.
    pub fn dims(self) -> impl Iterator<Item = Dim> {
        Dim::ALL.into_iter().filter(move |d| self.has(*d))
    }

    /// Number of dimensions.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Whether this is the network level.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every dimension of `self` is also one of `other` (so `other` can be rolled up
    /// into `self`).
    pub fn is_coarser_or_equal(self, other: Level) -> bool {
        self.0 & !other.0 == 0
    }

    /// Canonical name.
    pub fn name(self) -> String {
        if self.is_empty() {
            return "network".to_string();
        }
        self.dims().map(Dim::as_str).collect::<Vec<_>>().join(",")
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_canonical() {
        assert_eq!(
            Level::parse("technology,region").unwrap().name(),
            "region,technology"
        );
        assert_eq!(Level::parse(" network ").unwrap().name(), "network");
        assert_eq!(Level::parse("cell").unwrap().name(), "cell");
        assert!(matches!(
            Level::parse("regoin"),
            Err(LevelError::UnknownDim(_))
        ));
        assert!(matches!(
            Level::parse("cell,cell"),
            Err(LevelError::Repeated(_))
        ));
        assert!(matches!(
            Level::parse("network,cell"),
            Err(LevelError::UnknownDim(_))
        ));
    }

    #[test]
    fn coarser() {
        let rt = Level::parse("region,technology").unwrap();
        let r = Level::parse("region").unwrap();
        assert!(r.is_coarser_or_equal(rt));
        assert!(Level::NETWORK.is_coarser_or_equal(r));
        assert!(!rt.is_coarser_or_equal(r));
    }
}
