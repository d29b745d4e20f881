//! A brute-force reference implementation of the rules (docs/semantics.md, windows to thresholds), written without any of the
//! engine's machinery: no per-cell accumulators, no roll-up, no sketches (exact percentiles by
//! sorting), outage time recomputed from the full interval list at every window close. Slow and
//! obvious on purpose; the engine must agree with it on every KPI record and breach event.

use netkpi::config::Settings;
use netkpi::inventory::Cell;
use netkpi::model::level::Dim;
use netkpi::model::{CallOutcome, Event, OutageState};
use netkpi::source::json::decode_line;
use netkpi::threshold::rule::{DuringOutage, Op, RuleKind};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};

pub struct OracleOut {
    pub kpis: Vec<Value>,
    pub breaches: Vec<Value>,
    pub dead: BTreeMap<String, u64>,
}

struct Rec {
    ev: Event,
    /// Aggregated into this size's window.
    sizes: Vec<bool>,
}

#[derive(Default, Clone)]
struct Alarm {
    firing: Option<String>,
    streak: u32,
}

struct State<'a> {
    s: &'a Settings,
    inv: HashMap<&'a str, &'a Cell>,
    recs: Vec<Rec>,
    open: HashMap<String, (String, i64)>,
    restored: HashSet<String>,
    intervals: Vec<(String, i64, i64, String)>,
    alarms: HashMap<(usize, Vec<String>), Alarm>,
    out: OracleOut,
}

fn dim_value(dim: Dim, cell_id: &str, inv: &HashMap<&str, &Cell>) -> String {
    match inv.get(cell_id) {
        Some(c) => match dim {
            Dim::Cell => c.cell_id.clone(),
            Dim::Site => c.site_id.clone(),
            Dim::Region => c.region.clone(),
            Dim::Area => c.area.as_str().to_string(),
            Dim::Technology => c.technology.as_str().to_string(),
        },
        None => match dim {
            Dim::Cell => cell_id.to_string(),
            _ => "UNKNOWN".to_string(),
        },
    }
}

fn ratio(n: f64, d: f64) -> Value {
    if d == 0.0 { Value::Null } else { json!(n / d) }
}

fn pct(values: &mut [f64], p: usize) -> Value {
    if values.is_empty() {
        return Value::Null;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let rank = (n * p).div_ceil(100).max(1);
    json!(values[rank - 1])
}

fn union_ms(mut ivs: Vec<(i64, i64)>) -> i64 {
    ivs.sort();
    let mut total = 0;
    let mut cur: Option<(i64, i64)> = None;
    for (a, b) in ivs {
        match cur {
            Some((ca, cb)) if a <= cb => cur = Some((ca, cb.max(b))),
            Some((ca, cb)) => {
                total += cb - ca;
                cur = Some((a, b));
            }
            None => cur = Some((a, b)),
        }
    }
    total + cur.map_or(0, |(a, b)| b - a)
}

impl State<'_> {
    fn close(&mut self, si: usize, start: i64) {
        let w = self.s.window_sizes_ms[si];
        let end = start + w;
        // Outage ms per inventory cell from everything known now.
        let mut per_cell: HashMap<String, Vec<(i64, i64)>> = HashMap::new();
        let clipped = self
            .intervals
            .iter()
            .map(|(c, a, b, id)| (c.clone(), *a, *b, id.clone()))
            .chain(
                self.open
                    .iter()
                    .map(|(id, (c, d))| (c.clone(), *d, end, id.clone())),
            );
        // Outage ids open at some time in the window, per cell (docs/sleeping-cells.md).
        let mut ids_of: HashMap<String, Vec<String>> = HashMap::new();
        for (cell, a, b, id) in clipped {
            let (a, b) = (a.max(start), b.min(end));
            if a < b {
                per_cell.entry(cell.clone()).or_default().push((a, b));
                ids_of.entry(cell).or_default().push(id);
            }
        }
        let in_window: Vec<&Rec> = self
            .recs
            .iter()
            .filter(|r| r.sizes[si] && r.ev.event_time().div_euclid(w) * w == start)
            .collect();
        for (li, level) in self.s.levels.iter().enumerate() {
            let dims: Vec<Dim> = level.dims().collect();
            let key = |cell: &str| -> Vec<String> {
                dims.iter()
                    .map(|d| dim_value(*d, cell, &self.inv))
                    .collect()
            };
            let mut groups: BTreeMap<Vec<String>, (u64, Vec<&Rec>, i64)> = BTreeMap::new();
            let mut group_ids: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
            for c in self.inv.values() {
                if let Some(ids) = ids_of.get(&c.cell_id) {
                    group_ids
                        .entry(key(&c.cell_id))
                        .or_default()
                        .extend(ids.iter().cloned());
                }
                let g = groups.entry(key(&c.cell_id)).or_default();
                g.0 += 1;
                g.2 += per_cell
                    .get(&c.cell_id)
                    .map_or(0, |iv| union_ms(iv.clone()));
            }
            for r in &in_window {
                groups.entry(key(r.ev.cell_id())).or_default().1.push(r);
            }
            let name = level.name();
            for (values, (inv_cells, recs, outage_ms)) in groups {
                let group: Map<String, Value> = dims
                    .iter()
                    .zip(&values)
                    .map(|(d, v)| (d.as_str().to_string(), json!(v)))
                    .collect();
                let kpis = self.kpis(&recs, inv_cells, outage_ms, w);
                let mut outages = group_ids.get(&values).cloned().unwrap_or_default();
                outages.sort();
                outages.dedup();
                self.out.kpis.push(json!({"window_start": start, "window_end": end, "level": name, "group": group, "kpis": kpis}));
                thresholds(
                    self.s,
                    &mut self.alarms,
                    &mut self.out.breaches,
                    (si, li),
                    &name,
                    &dims,
                    &values,
                    &kpis,
                    (start, end),
                    inv_cells,
                    &recs,
                    &outages,
                );
            }
        }
    }

    fn kpis(&self, recs: &[&Rec], inv_cells: u64, outage_ms: i64, w: i64) -> Map<String, Value> {
        let agg = &self.s.agg;
        let (mut attempts, mut fails, mut answered, mut drops, mut dur) =
            (0u64, 0u64, 0u64, 0u64, 0i64);
        let (mut setup, mut mos, mut tput, mut rtt) = (vec![], vec![], vec![], vec![]);
        let (mut sessions, mut dl, mut ul, mut act_n, mut act_dl, mut act_ul, mut act_ms) =
            (0u64, 0i64, 0i64, 0u64, 0i64, 0i64, 0i64);
        let (mut speed_ok, mut speed_n, mut sent, mut lost, mut cov_n, mut cov_ok) =
            (0u64, 0u64, 0i64, 0i64, 0u64, 0u64);
        let (mut started, mut restored, mut mttr_ms) = (0u64, 0u64, 0i64);
        let mut covered = |cell: &str, signal: Option<i32>, sinr: Option<f64>| {
            let Some(signal) = signal else { return };
            cov_n += 1;
            let tech = self
                .inv
                .get(cell)
                .map_or(netkpi::model::Technology::Unknown, |c| c.technology);
            let th = agg.coverage[tech.index()];
            if f64::from(signal) >= th.signal_dbm
                && th.sinr_db.is_none_or(|min| sinr.is_none_or(|s| s >= min))
            {
                cov_ok += 1;
            }
        };
        for r in recs {
            match &r.ev {
                Event::Call(c) => {
                    attempts += 1;
                    if c.outcome == CallOutcome::NetworkFailure {
                        fails += 1;
                    }
                    if c.outcome == CallOutcome::Answered {
                        answered += 1;
                        drops += u64::from(c.dropped);
                        dur += c.duration_ms.unwrap_or(0);
                    }
                    setup.extend(c.setup_ms.map(f64::from));
                    mos.extend(c.mos);
                    covered(&c.cell_id, c.signal_dbm, c.sinr_db);
                }
                Event::Session(s) => {
                    sessions += 1;
                    dl += s.dl_bytes;
                    ul += s.ul_bytes;
                    if s.active_ms > 0 {
                        act_n += 1;
                        act_dl += s.dl_bytes;
                        act_ul += s.ul_bytes;
                        act_ms += s.active_ms;
                    }
                    if s.active_ms >= agg.min_active_ms && s.active_ms > 0 {
                        let bps = 8.0 * s.dl_bytes as f64 * 1000.0 / s.active_ms as f64;
                        tput.push(bps);
                        if let Some(min) = s.plan.as_deref().and_then(|p| agg.plans.get(p)) {
                            speed_n += 1;
                            speed_ok += u64::from(bps >= *min);
                        }
                    }
                    rtt.extend(s.rtt_ms);
                    sent += s.packets_sent;
                    lost += s.packets_lost;
                    covered(&s.cell_id, s.signal_dbm, s.sinr_db);
                }
                Event::Outage(o) => match o.state {
                    OutageState::Down => started += 1,
                    OutageState::Restored => {
                        restored += 1;
                        mttr_ms += o.event_time - o.started_at.unwrap_or(o.event_time);
                    }
                },
            }
        }
        let mos_n = mos.len() as f64;
        let poor = mos.iter().filter(|m| **m < 3.0).count() as f64;
        let mos_sum: f64 = mos.iter().sum();
        let mut m = Map::new();
        let mut put = |k: &str, v: Value| {
            m.insert(k.to_string(), v);
        };
        put("call_attempts", json!(attempts));
        put("call_network_failures", json!(fails));
        put("call_answered", json!(answered));
        put("call_drops", json!(drops));
        put(
            "network_connection_ratio",
            ratio((attempts - fails) as f64, attempts as f64),
        );
        put("call_answer_ratio", ratio(answered as f64, attempts as f64));
        put("dropped_call_ratio", ratio(drops as f64, answered as f64));
        put("call_setup_ms_p50", pct(&mut setup, 50));
        put("call_setup_ms_p95", pct(&mut setup, 95));
        put("call_setup_ms_p99", pct(&mut setup, 99));
        put("mos_mean", ratio(mos_sum, mos_n));
        put("poor_quality_call_ratio", ratio(poor, mos_n));
        put("traffic_erlangs", json!(dur as f64 / w as f64));
        put("sessions", json!(sessions));
        put("dl_bytes", json!(dl));
        put("ul_bytes", json!(ul));
        let secs = act_ms as f64 / 1000.0;
        put(
            "dl_throughput_bps",
            if act_n > 0 {
                json!(8.0 * act_dl as f64 / secs)
            } else {
                Value::Null
            },
        );
        put(
            "ul_throughput_bps",
            if act_n > 0 {
                json!(8.0 * act_ul as f64 / secs)
            } else {
                Value::Null
            },
        );
        put("session_dl_throughput_bps_p05", pct(&mut tput, 5));
        put("session_dl_throughput_bps_p50", pct(&mut tput, 50));
        put("session_dl_throughput_bps_p95", pct(&mut tput, 95));
        put(
            "speed_compliance_ratio",
            ratio(speed_ok as f64, speed_n as f64),
        );
        put("rtt_ms_p50", pct(&mut rtt, 50));
        put("rtt_ms_p95", pct(&mut rtt, 95));
        put("rtt_ms_p99", pct(&mut rtt, 99));
        put("packet_loss_ratio", ratio(lost as f64, sent as f64));
        put("coverage_samples", json!(cov_n));
        put("coverage_ratio", ratio(cov_ok as f64, cov_n as f64));
        put("outage_seconds", json!(outage_ms as f64 / 1000.0));
        put(
            "availability_ratio",
            if inv_cells > 0 {
                json!(1.0 - (outage_ms as f64 / 1000.0) / (inv_cells as f64 * w as f64 / 1000.0))
            } else {
                Value::Null
            },
        );
        put("outages_started", json!(started));
        put("outages_restored", json!(restored));
        put(
            "mttr_seconds",
            if restored > 0 {
                json!(mttr_ms as f64 / 1000.0 / restored as f64)
            } else {
                Value::Null
            },
        );
        // The samples counts a report pools with (after the KPIs).
        put("mos_samples", json!(mos.len()));
        put("throughput_samples", json!(act_n));
        put("speed_samples", json!(speed_n));
        put("packets_sent", json!(sent));
        m
    }
}

#[allow(clippy::too_many_arguments)]
fn thresholds(
    s: &Settings,
    alarms: &mut HashMap<(usize, Vec<String>), Alarm>,
    breaches: &mut Vec<Value>,
    (si, li): (usize, usize),
    level: &str,
    dims: &[Dim],
    values: &[String],
    kpis: &Map<String, Value>,
    (start, end): (i64, i64),
    inv_cells: u64,
    recs: &[&Rec],
    outages: &[String],
) {
    for (ri, rule) in s.rules.iter().enumerate() {
        if rule.window_index != si || rule.level_index != li || rule.kind != RuleKind::Fixed {
            continue;
        }
        let matches = rule
            .matches
            .iter()
            .all(|(d, v)| dims.iter().zip(values).any(|(dd, vv)| dd == d && vv == v));
        if !matches {
            continue;
        }
        let name = rule.watched.name();
        let Some(value) = kpis[name].as_f64() else {
            continue;
        };
        let samples = samples(name, kpis, inv_cells, recs);
        if samples < rule.min_samples {
            continue;
        }
        let alarm = alarms.entry((ri, values.to_vec())).or_default();
        let holds = |th: f64| match rule.op {
            Op::Below => value < th,
            Op::Above => value > th,
        };
        let group: Vec<(Dim, &str)> = dims
            .iter()
            .zip(values)
            .map(|(d, v)| (*d, v.as_str()))
            .collect();
        let suppressed = rule.during_outage == DuringOutage::Suppress && !outages.is_empty();
        let event = match alarm.firing.clone() {
            None if suppressed => None,
            None if holds(rule.raise) => {
                alarm.streak += 1;
                (alarm.streak >= rule.for_windows).then(|| {
                    let id = netkpi::threshold::breach_id(&rule.name, level, &group, start);
                    alarm.firing = Some(id.clone());
                    alarm.streak = 0;
                    (id, "RAISED", rule.raise)
                })
            }
            None => {
                alarm.streak = 0;
                None
            }
            Some(id) if !holds(rule.clear) => {
                alarm.streak += 1;
                (alarm.streak >= rule.clear_windows).then(|| {
                    alarm.firing = None;
                    alarm.streak = 0;
                    (id, "CLEARED", rule.clear)
                })
            }
            Some(_) => {
                alarm.streak = 0;
                None
            }
        };
        if let Some((id, state, threshold)) = event {
            let g: Map<String, Value> = group
                .iter()
                .map(|(d, v)| (d.as_str().to_string(), json!(v)))
                .collect();
            breaches.push(json!({"breach_id": id, "rule": rule.name, "kpi": name, "severity": rule.severity.as_str(), "state": state, "level": level, "group": g, "value": value, "threshold": threshold, "window_start": start, "window_end": end, "outages": outages}));
        }
    }
}

fn samples(name: &str, k: &Map<String, Value>, inv_cells: u64, recs: &[&Rec]) -> u64 {
    let n = |f: &dyn Fn(&Event) -> bool| recs.iter().filter(|r| f(&r.ev)).count() as u64;
    let u = |key: &str| k[key].as_u64().unwrap_or(0);
    match name {
        "call_attempts"
        | "call_network_failures"
        | "call_answered"
        | "call_drops"
        | "network_connection_ratio"
        | "call_answer_ratio" => u("call_attempts"),
        "dropped_call_ratio" | "traffic_erlangs" => u("call_answered"),
        "call_setup_ms_p50" | "call_setup_ms_p95" | "call_setup_ms_p99" => {
            n(&|e| matches!(e, Event::Call(c) if c.setup_ms.is_some()))
        }
        "mos_mean" | "poor_quality_call_ratio" => {
            n(&|e| matches!(e, Event::Call(c) if c.mos.is_some()))
        }
        "sessions" | "dl_bytes" | "ul_bytes" => u("sessions"),
        "dl_throughput_bps" | "ul_throughput_bps" => {
            n(&|e| matches!(e, Event::Session(s) if s.active_ms > 0))
        }
        "packet_loss_ratio" => recs
            .iter()
            .map(|r| {
                if let Event::Session(s) = &r.ev {
                    s.packets_sent as u64
                } else {
                    0
                }
            })
            .sum(),
        "coverage_samples" | "coverage_ratio" => u("coverage_samples"),
        "availability_ratio" => inv_cells,
        "outage_seconds" | "outages_started" | "outages_restored" => {
            n(&|e| matches!(e, Event::Outage(_)))
        }
        "mttr_seconds" => u("outages_restored"),
        other => panic!(
            "oracle has no samples rule for {other} (tests only use rules on the KPIs above)"
        ),
    }
}

/// Runs the reference over JSON lines, in order, as one partition.
pub fn run(settings: &Settings, cells: &[Cell], lines: &[String]) -> OracleOut {
    let mut st = State {
        s: settings,
        inv: cells.iter().map(|c| (c.cell_id.as_str(), c)).collect(),
        recs: vec![],
        open: HashMap::new(),
        restored: HashSet::new(),
        intervals: vec![],
        alarms: HashMap::new(),
        out: OracleOut {
            kpis: vec![],
            breaches: vec![],
            dead: BTreeMap::new(),
        },
    };
    let sizes = settings.window_sizes_ms.clone();
    let d = settings.allowed_delay_ms;
    let mut max_t: Option<i64> = None;
    let mut max_agg: Option<i64> = None;
    let mut next: Vec<Option<i64>> = vec![None; sizes.len()];
    let mut emitted = vec![false; sizes.len()];
    for line in lines {
        if line.trim().is_empty() {
            continue;
        }
        let ev = match decode_line(line.as_bytes()) {
            Ok(ev) => ev,
            Err(r) => {
                *st.out
                    .dead
                    .entry(r.reason.as_str().to_string())
                    .or_default() += 1;
                continue;
            }
        };
        if matches!(ev, Event::Outage(_)) && !st.inv.contains_key(ev.cell_id()) {
            *st.out.dead.entry("unknown_cell".into()).or_default() += 1;
            continue;
        }
        let t = ev.event_time();
        let wm = max_t.map(|m| m - d);
        let mut counts = true;
        if let Event::Outage(o) = &ev {
            match o.state {
                OutageState::Down => {
                    if st.open.contains_key(o.outage_id.as_str()) {
                        counts = false;
                    } else if !st.restored.contains(o.outage_id.as_str()) {
                        st.open
                            .insert(o.outage_id.to_string(), (o.cell_id.to_string(), t));
                    }
                }
                OutageState::Restored => {
                    st.open.remove(o.outage_id.as_str());
                    st.restored.insert(o.outage_id.to_string());
                    st.intervals.push((
                        o.cell_id.to_string(),
                        o.started_at.unwrap_or(t),
                        t,
                        o.outage_id.to_string(),
                    ));
                }
            }
        }
        let mut flags = vec![false; sizes.len()];
        let mut late = false;
        for (si, w) in sizes.iter().enumerate() {
            let start = t.div_euclid(*w) * w;
            let is_late = wm.is_some_and(|wm| start + w <= wm)
                || (emitted[si] && next[si].is_some_and(|n| start < n));
            if is_late {
                late = true;
            } else if counts {
                flags[si] = true;
                if next[si].is_none_or(|n| start < n) {
                    next[si] = Some(start);
                }
            }
        }
        if counts && late && !matches!(ev, Event::Outage(_)) {
            *st.out.dead.entry("late".into()).or_default() += 1;
        }
        if flags.iter().any(|f| *f) {
            max_agg = Some(max_agg.map_or(t, |m| m.max(t)));
        }
        st.recs.push(Rec { ev, sizes: flags });
        max_t = Some(max_t.map_or(t, |m| m.max(t)));
        let wm = max_t.map_or(i64::MIN, |m| m - d);
        close_while(&mut st, &sizes, &mut next, &mut emitted, |_, end| end <= wm);
    }
    if let Some(max) = max_agg {
        close_while(&mut st, &sizes, &mut next, &mut emitted, |w, end| {
            end - w <= max
        });
    }
    st.out
}

fn close_while(
    st: &mut State<'_>,
    sizes: &[i64],
    next: &mut [Option<i64>],
    emitted: &mut [bool],
    ok: impl Fn(i64, i64) -> bool,
) {
    loop {
        let pick = (0..sizes.len())
            .filter_map(|si| next[si].map(|n| (n + sizes[si], si)))
            .filter(|(end, si)| ok(sizes[*si], *end))
            .min();
        let Some((_, si)) = pick else { return };
        let start = next[si].unwrap_or(0);
        st.close(si, start);
        next[si] = Some(start + sizes[si]);
        emitted[si] = true;
    }
}
