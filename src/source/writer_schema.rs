//! Guards against writer schemas that would make decoding itself the failure (docs/operating-limits.md): a
//! schema nesting deeper than [`MAX_DEPTH`] levels, or a record that must contain itself (a
//! reference back to an enclosing record with no array, map or union on the way that could end
//! the recursion) — a datum of it can never end, and decoding one recurses until the stack
//! overflows. Files with such a schema are refused with this error; from a schema registry the
//! records are `incompatible_schema`.

use apache_avro::Schema;
use apache_avro::schema::Name;

/// Deepest nesting of records, arrays, maps and unions a writer schema may have.
pub const MAX_DEPTH: usize = 64;

/// Why a writer schema is refused, if it is.
pub fn check(schema: &Schema) -> Result<(), String> {
    let mut stack = Vec::new();
    walk(schema, 0, 0, &mut stack)
}

/// `escapes`: arrays, maps and unions of several branches on the path so far; each enclosing
/// record is stacked with the escapes at its start.
fn walk<'a>(
    schema: &'a Schema,
    depth: usize,
    escapes: usize,
    stack: &mut Vec<(&'a Name, usize)>,
) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "the writer schema nests deeper than {MAX_DEPTH} levels"
        ));
    }
    match schema {
        Schema::Record(r) => {
            stack.push((&r.name, escapes));
            for field in &r.fields {
                walk(&field.schema, depth + 1, escapes, stack)?;
            }
            stack.pop();
            Ok(())
        }
        Schema::Array(a) => walk(&a.items, depth + 1, escapes + 1, stack),
        Schema::Map(m) => walk(&m.types, depth + 1, escapes + 1, stack),
        Schema::Union(u) => {
            let extra = usize::from(u.variants().len() > 1);
            for v in u.variants() {
                walk(v, depth + 1, escapes + extra, stack)?;
            }
            Ok(())
        }
        Schema::Ref { name } => match stack.iter().rev().find(|(n, _)| *n == name) {
            Some((_, at)) if *at == escapes => Err(format!(
                "record `{}` must contain itself (no array, map or union ends the recursion): no datum of it can end",
                name.name()
            )),
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(json: &str) -> Result<(), String> {
        check(&Schema::parse_str(json).expect("parses"))
    }

    #[test]
    fn endless_recursion_is_refused_and_ending_recursion_allowed() {
        let endless = r#"{"type":"record","name":"R","fields":[{"name":"r","type":"R"}]}"#;
        assert!(
            verdict(endless)
                .unwrap_err()
                .contains("must contain itself")
        );
        let via_record = r#"{"type":"record","name":"A","fields":[{"name":"b","type":{"type":"record","name":"B","fields":[{"name":"a","type":"A"}]}}]}"#;
        assert!(verdict(via_record).is_err());
        let list =
            r#"{"type":"record","name":"Node","fields":[{"name":"next","type":["null","Node"]}]}"#;
        assert_eq!(verdict(list), Ok(()));
        let tree = r#"{"type":"record","name":"T","fields":[{"name":"kids","type":{"type":"array","items":"T"}}]}"#;
        assert_eq!(verdict(tree), Ok(()));
        assert_eq!(verdict(crate::schemas::CALL_RECORD), Ok(()));
    }

    #[test]
    fn absurd_depth_is_refused() {
        let mut json = String::from("\"long\"");
        for _ in 0..70 {
            json = format!(r#"{{"type":"array","items":{json}}}"#);
        }
        assert!(verdict(&json).unwrap_err().contains("deeper"));
    }
}
