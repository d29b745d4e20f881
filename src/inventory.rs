//! The cell inventory (docs/inputs.md): the CSV file of cells that exist, loaded once and
//! validated row by row. A malformed inventory is an error naming the file, line and field;
//! netkpi never starts on a half-read inventory.

use crate::model::{Area, Technology};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// One cell of the inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub cell_id: String,
    pub site_id: String,
    pub region: String,
    pub area: Area,
    pub technology: Technology,
}

impl Cell {
    /// The cell's value of one dimension.
    pub fn dim(&self, d: crate::model::level::Dim) -> &str {
        use crate::model::level::Dim;
        match d {
            Dim::Cell => &self.cell_id,
            Dim::Site => &self.site_id,
            Dim::Region => &self.region,
            Dim::Area => self.area.as_str(),
            Dim::Technology => self.technology.as_str(),
        }
    }
}

/// The header the inventory must have.
pub const HEADER: [&str; 5] = ["cell_id", "site_id", "region", "area", "technology"];

/// Why an inventory could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("cannot read cell inventory {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cell inventory {source_name}: {problems}", problems = .problems.join("; "))]
    Invalid {
        source_name: String,
        problems: Vec<String>,
    },
}

/// Writes `cells` as an inventory CSV (the form [`parse`] reads).
pub fn write(w: &mut dyn std::io::Write, cells: &[Cell]) -> std::io::Result<()> {
    writeln!(w, "{}", HEADER.join(","))?;
    for c in cells {
        writeln!(
            w,
            "{},{},{},{},{}",
            c.cell_id,
            c.site_id,
            c.region,
            c.area.as_str(),
            c.technology.as_str()
        )?;
    }
    Ok(())
}

/// Loads and validates the inventory at `path`.
pub fn load(path: &Path) -> Result<Vec<Cell>, InventoryError> {
    let file = std::fs::File::open(path).map_err(|source| InventoryError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(file, &path.display().to_string())
}

/// Parses inventory CSV from any reader; `source_name` names it in errors.
pub fn parse(reader: impl std::io::Read, source_name: &str) -> Result<Vec<Cell>, InventoryError> {
    const MAX_REPORTED: usize = 20;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(reader);
    let invalid = |problems: Vec<String>| InventoryError::Invalid {
        source_name: source_name.to_string(),
        problems,
    };
    let header = rdr
        .headers()
        .map_err(|e| invalid(vec![format!("unreadable header: {e}")]))?
        .clone();
    if header.iter().collect::<Vec<_>>() != HEADER {
        return Err(invalid(vec![format!(
            "header is `{}`; expected `{}`",
            header.iter().collect::<Vec<_>>().join(","),
            HEADER.join(",")
        )]));
    }
    let mut cells = Vec::new();
    let mut seen = HashSet::new();
    let mut problems = Vec::new();
    for (i, row) in rdr.records().enumerate() {
        let line = i + 2;
        let row = match row {
            Ok(row) => row,
            Err(e) => {
                problems.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let field = |k: usize| row.get(k).unwrap_or("");
        let cell_id = field(0);
        if cell_id.is_empty() {
            problems.push(format!("line {line}: empty cell_id"));
            continue;
        }
        let Some(area) = Area::parse(field(3)) else {
            problems.push(format!(
                "line {line}: area `{}` is not URBAN, SUBURBAN or RURAL",
                field(3)
            ));
            continue;
        };
        let Some(technology) = Technology::parse(field(4), false) else {
            problems.push(format!(
                "line {line}: technology `{}` is not GSM, UMTS, LTE or NR",
                field(4)
            ));
            continue;
        };
        if !seen.insert(cell_id.to_string()) {
            problems.push(format!("line {line}: cell_id `{cell_id}` is listed twice"));
            continue;
        }
        cells.push(Cell {
            cell_id: cell_id.to_string(),
            site_id: field(1).to_string(),
            region: field(2).to_string(),
            area,
            technology,
        });
    }
    if problems.is_empty() {
        Ok(cells)
    } else {
        let extra = problems.len().saturating_sub(MAX_REPORTED);
        problems.truncate(MAX_REPORTED);
        if extra > 0 {
            problems.push(format!("and {extra} more"));
        }
        Err(invalid(problems))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_good_inventory() {
        let csv = "cell_id,site_id,region,area,technology\nA1,S1,North,URBAN,NR\nA2, S1 ,North,RURAL,LTE\n";
        let cells = parse(csv.as_bytes(), "t").unwrap();
        assert_eq!(cells.len(), 2);
        assert_eq!(cells[1].site_id, "S1");
        assert_eq!(cells[1].technology, Technology::Lte);
    }

    #[test]
    fn names_every_problem() {
        let csv = "cell_id,site_id,region,area,technology\nA1,S1,North,CITY,NR\nA2,S1,North,URBAN,6G\nA3,S1,North,URBAN,NR\nA3,S1,North,URBAN,NR\n,S,N,URBAN,NR\n";
        let err = parse(csv.as_bytes(), "t").unwrap_err().to_string();
        assert!(err.contains("line 2: area `CITY`"), "{err}");
        assert!(err.contains("line 3: technology `6G`"), "{err}");
        assert!(
            err.contains("line 5: cell_id `A3` is listed twice"),
            "{err}"
        );
        assert!(err.contains("line 6: empty cell_id"), "{err}");
    }

    #[test]
    fn rejects_a_wrong_header_and_ragged_rows() {
        let err = parse("id,site\nA,B\n".as_bytes(), "t")
            .unwrap_err()
            .to_string();
        assert!(err.contains("header"), "{err}");
        let err = parse(
            "cell_id,site_id,region,area,technology\nA1,S1\n".as_bytes(),
            "t",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(load(Path::new("/nonexistent/cells.csv")).is_err());
    }
}
