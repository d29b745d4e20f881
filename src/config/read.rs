//! Reading the configuration tree into [`RawConfig`]: unknown keys and type errors, each with
//! its key path, every one of a file reported in one go (a value of the wrong type is reported,
//! taken out of the tree, and the tree read again).

use super::raw::RawConfig;
use super::{Problem, Settings};
use std::path::Path;

pub(super) struct Problems(pub(super) Vec<Problem>);

impl Problems {
    pub(super) fn add(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            key: key.into(),
            message: message.into(),
        });
    }
}

/// Deserializes (reporting unknown keys and type errors by path) and validates. A value of the
/// wrong type is reported and then taken out of the tree, and deserialization tried again, so
/// that every type error of a file is reported in one go, not only the first.
pub(super) fn from_config(built: config::Config, base: &Path) -> Result<Settings, Vec<Problem>> {
    let mut problems = Problems(Vec::new());
    let mut tree: serde_json::Value = match built.try_deserialize() {
        Ok(tree) => tree,
        Err(e) => {
            problems.add("(file)", e.to_string());
            return Err(problems.0);
        }
    };
    let mut type_errors: Vec<String> = Vec::new();
    let raw = loop {
        let mut unknown = Vec::new();
        let attempt: Result<RawConfig, _> = serde_path_to_error::deserialize(
            serde_ignored::Deserializer::new(&tree, &mut |path: serde_ignored::Path<'_>| {
                unknown.push(key_path(&path.to_string()))
            }),
        );
        match attempt {
            Ok(raw) => {
                for key in unknown {
                    problems.add(key, "unknown key");
                }
                break raw;
            }
            Err(e) => {
                let key = key_path(&e.path().to_string());
                let removed = remove_at(&mut tree, e.path());
                problems.add(key.clone(), e.into_inner().to_string());
                let repeated = type_errors.contains(&key);
                type_errors.push(key);
                if !removed || repeated || type_errors.len() > 1000 {
                    return Err(problems.0);
                }
            }
        }
    };
    let settings = super::validate::validate(raw, base, &mut problems);
    // A value already reported as of the wrong type is not reported again as missing.
    let mut seen = std::collections::BTreeSet::new();
    problems.0.retain(|p| {
        let retyped = type_errors.contains(&p.key) && p.message.starts_with("required");
        !retyped && seen.insert((p.key.clone(), p.message.clone()))
    });
    if problems.0.is_empty() {
        Ok(settings)
    } else {
        Err(problems.0)
    }
}

/// Removes the value at `path` from `tree`; false when there is nothing there to remove.
fn remove_at(tree: &mut serde_json::Value, path: &serde_path_to_error::Path) -> bool {
    use serde_path_to_error::Segment;
    let segments: Vec<&Segment> = path.iter().collect();
    let Some((last, parents)) = segments.split_last() else {
        return false;
    };
    let mut node = tree;
    for seg in parents {
        node = match (seg, node) {
            (Segment::Map { key }, serde_json::Value::Object(m)) => match m.get_mut(key) {
                Some(n) => n,
                None => return false,
            },
            (Segment::Seq { index }, serde_json::Value::Array(a)) => match a.get_mut(*index) {
                Some(n) => n,
                None => return false,
            },
            _ => return false,
        };
    }
    match (last, node) {
        (Segment::Map { key }, serde_json::Value::Object(m)) => m.remove(key).is_some(),
        (Segment::Seq { index }, serde_json::Value::Array(a)) if *index < a.len() => {
            a.remove(*index);
            true
        }
        _ => false,
    }
}

/// `rules.0.bogus` → `rules[0].bogus`, the form every other message uses.
fn key_path(dotted: &str) -> String {
    let mut out = String::new();
    for part in dotted.split('.') {
        if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(part);
        }
    }
    out
}
