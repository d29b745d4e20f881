//! Threshold rules and their per-(rule, group) state machines (docs/thresholds.md).
//!
//! Each (rule, group) pair is an `OK`/`FIRING` machine fed with the group's closed windows in
//! window order. A window with a null value or too few samples is *no data* and changes nothing.
//! Only pairs away from the initial state (counting, or firing) are stored, so a million quiet
//! cells cost nothing. Breach ids derive from (rule, level, group, raising window) through a
//! UUID v5, so a `RAISED` and its `CLEARED` share an id that is the same in every replay and
//! after every restart.

pub mod rule;

use crate::model::level::Dim;
use rule::{Op, Rule, RuleKind, Severity};
use rustc_hash::FxHashMap;
use std::fmt::Write as _;

/// `RAISED` or `CLEARED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreachState {
    Raised,
    Cleared,
}

impl BreachState {
    /// The public symbol.
    pub fn as_str(self) -> &'static str {
        match self {
            BreachState::Raised => "RAISED",
            BreachState::Cleared => "CLEARED",
        }
    }
}

/// A breach event (docs/thresholds.md).
#[derive(Debug, Clone, PartialEq)]
pub struct BreachEvent {
    pub breach_id: String,
    pub rule: String,
    pub kpi: &'static str,
    pub severity: Severity,
    pub state: BreachState,
    pub level: String,
    pub group: Vec<(Dim, String)>,
    pub value: f64,
    pub threshold: f64,
    pub window_start: i64,
    pub window_end: i64,
    /// Ids of the outages open in the window on cells of the group (docs/sleeping-cells.md), sorted.
    pub outages: Vec<String>,
}

/// The state of one (rule, group) pair; the default is `OK` with no count.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AlarmState {
    /// The id of the firing alarm, when `FIRING`.
    pub firing: Option<String>,
    /// Consecutive breaching (when OK) or clearing (when FIRING) windows so far.
    pub streak: u32,
    /// End of the window that raised the firing alarm (epoch ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
}

/// What one closed window of one group says to a rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reading {
    /// Null value, too few samples, or no baseline: the state stays as it is.
    NoData,
    /// A value against resolved thresholds (constants, or factors times the baseline).
    Compare { value: f64, raise: f64, clear: f64 },
    /// A verdict made elsewhere (a sleeping cell): `breaching` both raises and keeps firing.
    Judged {
        value: f64,
        threshold: f64,
        breaching: bool,
    },
}

impl Reading {
    /// The reading of a `Fixed` or `Baseline` rule: `value` with `samples`, and the value's
    /// baseline for the window (only used, and required, by baseline rules).
    pub fn of(rule: &Rule, value: Option<f64>, samples: u64, baseline: Option<f64>) -> Reading {
        let Some(value) = value.filter(|_| samples >= rule.min_samples) else {
            return Reading::NoData;
        };
        match rule.kind {
            RuleKind::Fixed => Reading::Compare {
                value,
                raise: rule.raise,
                clear: rule.clear,
            },
            RuleKind::Baseline => match baseline {
                Some(b) => Reading::Compare {
                    value,
                    raise: rule.raise * b,
                    clear: rule.clear * b,
                },
                None => Reading::NoData,
            },
            // Its verdict is made with the cell's peers (`Reading::Judged`), not from a value.
            RuleKind::SleepingCell => Reading::NoData,
        }
    }

    /// The window's value, whether it moves the machine — raises it when `OK`, clears it when
    /// `firing` — and the threshold it is judged by (`None`: no data).
    fn judge(self, op: Op, firing: bool) -> Option<(f64, bool, f64)> {
        match self {
            Reading::NoData => None,
            Reading::Compare { value, raise, .. } if !firing => {
                Some((value, op.holds(value, raise), raise))
            }
            Reading::Compare { value, clear, .. } => Some((value, !op.holds(value, clear), clear)),
            Reading::Judged {
                value,
                threshold,
                breaching,
            } => Some((value, breaching != firing, threshold)),
        }
    }
}

/// One closed window of one group, as a rule sees it.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    pub reading: Reading,
    /// A cell of the group is in outage and the rule suppresses then: no raise, no count.
    pub suppressed: bool,
    /// Ids of the outages open in the window on the group's cells.
    pub outages: &'a [String],
    pub window_start: i64,
    pub window_end: i64,
    pub level: &'a str,
    pub group: &'a [(Dim, &'a str)],
}

/// Namespace of breach ids (UUID v5).
const BREACH_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x6e65_746b_7069_4000_8000_6272_6561_6368);

/// Breach id of an alarm of `rule` on `group` raised in the window starting at `window_start`.
pub fn breach_id(rule: &str, level: &str, group: &[(Dim, &str)], window_start: i64) -> String {
    let mut name = String::new();
    let _ = write!(name, "{rule}\u{1f}{level}\u{1f}");
    for (d, v) in group {
        let _ = write!(name, "{}={v}\u{1e}", d.as_str());
    }
    let _ = write!(name, "\u{1f}{window_start}");
    uuid::Uuid::new_v5(&BREACH_NAMESPACE, name.as_bytes()).to_string()
}

/// All rules and the states of their groups.
#[derive(Debug, Default)]
pub struct Thresholds {
    rules: Vec<Rule>,
    /// Per rule: group index → state (only non-default states are kept).
    states: Vec<FxHashMap<u32, AlarmState>>,
    /// Restored states of groups that do not exist yet (groups of unknown cells), by values.
    pending: FxHashMap<(usize, Vec<String>), AlarmState>,
}

impl Thresholds {
    /// Machines for `rules`, all `OK`.
    pub fn new(rules: Vec<Rule>) -> Self {
        let states = rules.iter().map(|_| FxHashMap::default()).collect();
        Thresholds {
            rules,
            states,
            pending: FxHashMap::default(),
        }
    }

    /// The rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Whether rule `r` watches a group with these values.
    pub fn matches(&self, r: usize, group: &[(Dim, &str)]) -> bool {
        self.rules[r]
            .matches
            .iter()
            .all(|(dim, want)| group.iter().any(|(d, v)| d == dim && *v == want.as_str()))
    }

    /// Feeds rule `r`'s machine for `group_index` with one closed window.
    pub fn observe(
        &mut self,
        r: usize,
        group_index: u32,
        obs: Observation<'_>,
    ) -> Option<BreachEvent> {
        let rule = &self.rules[r];
        if obs.reading == Reading::NoData {
            return None;
        }
        let states = &mut self.states[r];
        if !self.pending.is_empty() && !states.contains_key(&group_index) {
            let key = (r, obs.group.iter().map(|(_, v)| v.to_string()).collect());
            if let Some(saved) = self.pending.remove(&key) {
                states.insert(group_index, saved);
            }
        }
        let state = states.entry(group_index).or_default();
        let mut event = None;
        let firing = state.firing.is_some();
        match obs.reading.judge(rule.op, firing) {
            _ if obs.suppressed && !firing => {}
            None => {}
            Some((value, moves, threshold)) if moves => {
                state.streak += 1;
                match state.firing.take() {
                    None if state.streak >= rule.for_windows => {
                        let id = breach_id(&rule.name, obs.level, obs.group, obs.window_start);
                        state.firing = Some(id.clone());
                        state.since = Some(obs.window_end);
                        state.streak = 0;
                        event = Some((id, BreachState::Raised, value, threshold));
                    }
                    Some(id) if state.streak >= rule.clear_windows => {
                        state.since = None;
                        state.streak = 0;
                        event = Some((id, BreachState::Cleared, value, threshold));
                    }
                    still => state.firing = still,
                }
            }
            Some(_) => state.streak = 0,
        }
        if *state == AlarmState::default() {
            states.remove(&group_index);
        }
        event.map(|(breach_id, state, value, threshold)| BreachEvent {
            breach_id,
            rule: rule.name.clone(),
            kpi: rule.watched.name(),
            severity: rule.severity,
            state,
            level: obs.level.to_string(),
            group: obs.group.iter().map(|(d, v)| (*d, v.to_string())).collect(),
            value,
            threshold,
            window_start: obs.window_start,
            window_end: obs.window_end,
            outages: obs.outages.to_vec(),
        })
    }

    /// Every stored state: (rule index, group index, state).
    pub fn states(&self) -> impl Iterator<Item = (usize, u32, &AlarmState)> {
        self.states
            .iter()
            .enumerate()
            .flat_map(|(r, m)| m.iter().map(move |(g, s)| (r, *g, s)))
    }

    /// Restored states whose groups were not seen yet: (rule index, group values, state).
    pub fn pending(&self) -> impl Iterator<Item = (usize, &[String], &AlarmState)> {
        self.pending.iter().map(|((r, g), s)| (*r, g.as_slice(), s))
    }

    /// Restores the state of rule `r` on group index `g`.
    pub fn restore(&mut self, r: usize, g: u32, state: AlarmState) {
        if state != AlarmState::default() {
            self.states[r].insert(g, state);
        }
    }

    /// Restores the state of rule `r` on a group not created yet.
    pub fn restore_pending(&mut self, r: usize, group: Vec<String>, state: AlarmState) {
        if state != AlarmState::default() {
            self.pending.insert((r, group), state);
        }
    }

    /// Group indices with a stored state under any rule for which `watched` holds.
    pub fn groups_with_state(&self, watched: impl Fn(&Rule) -> bool) -> Vec<u32> {
        let mut out: Vec<u32> = self
            .rules
            .iter()
            .zip(&self.states)
            .filter(|(rule, _)| watched(rule))
            .flat_map(|(_, m)| m.keys().copied())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Renumbers the groups of the rules for which `watched` holds (old → new, `None`: gone).
    pub fn remap_groups(&mut self, watched: impl Fn(&Rule) -> bool, remap: &[Option<u32>]) {
        for (rule, m) in self.rules.iter().zip(&mut self.states) {
            if watched(rule) {
                *m = m
                    .drain()
                    .filter_map(|(g, s)| Some((remap.get(g as usize).copied().flatten()?, s)))
                    .collect();
            }
        }
    }

    /// Number of (rule, group) pairs currently firing.
    pub fn firing(&self) -> usize {
        self.firing_by_rule().map(|(_, n)| n).sum()
    }

    /// Alarms firing per rule (restored alarms of groups not seen yet included).
    pub fn firing_by_rule(&self) -> impl Iterator<Item = (&str, usize)> {
        self.rules
            .iter()
            .zip(&self.states)
            .enumerate()
            .map(|(r, (rule, m))| {
                let pending = self
                    .pending
                    .iter()
                    .filter(|((pr, _), s)| *pr == r && s.firing.is_some())
                    .count();
                (
                    rule.name.as_str(),
                    m.values().filter(|s| s.firing.is_some()).count() + pending,
                )
            })
    }
}

/// A firing alarm with its group, as the engine holds it (to show alarms restored from a
/// checkpoint).
#[derive(Debug, Clone, PartialEq)]
pub struct FiringAlarm {
    pub breach_id: String,
    pub rule: String,
    pub severity: &'static str,
    pub kpi: &'static str,
    pub level: String,
    pub group: Vec<(crate::model::level::Dim, String)>,
    /// End of the raising window (epoch ms), when known.
    pub since: Option<i64>,
}

#[cfg(test)]
mod tests;
