//! State-machine tests, one per rule of docs/thresholds.md.

use super::rule::{DuringOutage, Op, Rule, RuleKind, Severity, Watched};
use super::*;
use crate::kpi::Kpi;
use crate::model::level::Level;

fn rule(
    op: Op,
    raise: f64,
    clear: f64,
    for_windows: u32,
    clear_windows: u32,
    min_samples: u64,
) -> Rule {
    Rule {
        name: "R".into(),
        watched: Watched::Kpi(Kpi::DroppedCallRatio),
        kind: RuleKind::Fixed,
        during_outage: DuringOutage::Annotate,
        level: Level::NETWORK,
        level_index: 0,
        matches: vec![],
        op,
        raise,
        clear,
        for_windows,
        clear_windows,
        min_samples,
        severity: Severity::Major,
        window_index: 0,
    }
}

/// Feeds values (None = null) with 100 samples each; returns (window index, state) of events.
fn run(r: Rule, values: &[Option<f64>]) -> Vec<(usize, BreachState, String)> {
    run_with_samples(r, &values.iter().map(|v| (*v, 100)).collect::<Vec<_>>())
}

fn run_with_samples(r: Rule, values: &[(Option<f64>, u64)]) -> Vec<(usize, BreachState, String)> {
    let mut t = Thresholds::new(vec![r.clone()]);
    let mut out = Vec::new();
    for (i, (value, samples)) in values.iter().enumerate() {
        let obs = Observation {
            reading: Reading::of(&r, *value, *samples, None),
            suppressed: false,
            outages: &[],
            window_start: i as i64 * 300_000,
            window_end: (i as i64 + 1) * 300_000,
            level: "network",
            group: &[],
        };
        if let Some(e) = t.observe(0, 0, obs) {
            out.push((i, e.state, e.breach_id));
        }
    }
    out
}

fn states(events: &[(usize, BreachState, String)]) -> Vec<(usize, BreachState)> {
    events.iter().map(|(i, s, _)| (*i, *s)).collect()
}

#[test]
fn raise_is_strict() {
    let ev = run(
        rule(Op::Above, 0.02, 0.02, 1, 1, 0),
        &[Some(0.02), Some(0.021), Some(0.02)],
    );
    assert_eq!(
        states(&ev),
        vec![(1, BreachState::Raised), (2, BreachState::Cleared)]
    );
}

#[test]
fn for_windows_needs_consecutive_breaches() {
    let r = rule(Op::Above, 0.02, 0.02, 3, 1, 0);
    let ev = run(
        r.clone(),
        &[
            Some(0.1),
            Some(0.1),
            Some(0.0),
            Some(0.1),
            Some(0.1),
            Some(0.1),
        ],
    );
    assert_eq!(states(&ev), vec![(5, BreachState::Raised)]);
}

#[test]
fn no_data_keeps_state_and_counters() {
    let r = rule(Op::Above, 0.02, 0.02, 2, 2, 0);
    let ev = run(
        r,
        &[Some(0.1), None, Some(0.1), None, Some(0.0), None, Some(0.0)],
    );
    assert_eq!(
        states(&ev),
        vec![(2, BreachState::Raised), (6, BreachState::Cleared)]
    );
}

#[test]
fn min_samples_makes_thin_windows_no_data() {
    let r = rule(Op::Above, 0.02, 0.02, 1, 1, 50);
    let ev = run_with_samples(
        r,
        &[
            (Some(0.5), 49),
            (Some(0.5), 50),
            (Some(0.0), 10),
            (Some(0.0), 60),
        ],
    );
    assert_eq!(
        states(&ev),
        vec![(1, BreachState::Raised), (3, BreachState::Cleared)]
    );
}

#[test]
fn hysteresis_uses_the_clear_threshold() {
    // op "<": raise below 0.95, clear only at or above 0.96.
    let r = rule(Op::Below, 0.95, 0.96, 1, 1, 0);
    let ev = run(r, &[Some(0.94), Some(0.955), Some(0.959), Some(0.96)]);
    assert_eq!(
        states(&ev),
        vec![(0, BreachState::Raised), (3, BreachState::Cleared)]
    );
}

#[test]
fn clear_windows_resets_on_a_non_clearing_window() {
    let r = rule(Op::Above, 0.02, 0.01, 1, 2, 0);
    let ev = run(r, &[Some(0.5), Some(0.0), Some(0.5), Some(0.0), Some(0.0)]);
    assert_eq!(
        states(&ev),
        vec![(0, BreachState::Raised), (4, BreachState::Cleared)]
    );
}

#[test]
fn ids_pair_raise_and_clear_and_are_stable() {
    let r = rule(Op::Above, 0.02, 0.02, 1, 1, 0);
    let values = [Some(0.5), Some(0.0), Some(0.5), Some(0.0)];
    let a = run(r.clone(), &values);
    let b = run(r, &values);
    assert_eq!(a, b);
    assert_eq!(a[0].2, a[1].2);
    assert_eq!(a[2].2, a[3].2);
    assert_ne!(a[0].2, a[2].2, "a new alarm gets a new id");
}

#[test]
fn breach_ids_depend_on_rule_group_and_window() {
    let g1 = [(Dim::Region, "North")];
    let g2 = [(Dim::Region, "South")];
    let base = breach_id("R", "region", &g1, 0);
    assert_eq!(base, breach_id("R", "region", &g1, 0));
    assert_ne!(base, breach_id("R2", "region", &g1, 0));
    assert_ne!(base, breach_id("R", "region", &g2, 0));
    assert_ne!(base, breach_id("R", "region", &g1, 300_000));
}

#[test]
fn only_non_default_states_are_stored() {
    let mut t = Thresholds::new(vec![rule(Op::Above, 0.02, 0.02, 2, 1, 0)]);
    for g in 0..1000 {
        let obs = Observation {
            reading: Reading::Compare {
                value: 0.0,
                raise: 0.5,
                clear: 0.5,
            },
            suppressed: false,
            outages: &[],
            window_start: 0,
            window_end: 1,
            level: "cell",
            group: &[],
        };
        assert!(t.observe(0, g, obs).is_none());
    }
    assert!(t.states[0].is_empty());
}
