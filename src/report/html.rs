//! `report.html`: one self-contained page (inline CSS and SVG, no script, no external request)
//! for screen and A4 print: the compliance matrix, a daily trend chart per target with its
//! target line, worst-cell tables, and an appendix with every figure exactly as computed.

#![allow(clippy::write_with_newline)] // one line of HTML per table row reads better in the page source

use super::chart;
use super::csv::verdict;
use super::result::{GroupResult, Outcome, PeriodResult, Report, TargetResult, json_number};
use std::fmt::Write;

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Whether a KPI's values are ratios 0–1 (shown as percentages).
fn is_ratio(kpi: &str) -> bool {
    kpi.ends_with("_ratio")
}

/// A value as people read it: a ratio as a percentage, anything else with its unit's sense.
pub fn shown(kpi: &str, v: f64) -> String {
    if is_ratio(kpi) {
        format!("{:.2} %", v * 100.0)
    } else if kpi == "mttr_seconds" {
        format!("{:.1} h", v / 3600.0)
    } else if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

fn margin_shown(kpi: &str, m: f64, share: bool) -> String {
    let sign = if m >= 0.0 { "+" } else { "−" };
    if share || is_ratio(kpi) {
        format!("{sign}{:.2} pp", m.abs() * 100.0)
    } else {
        format!("{sign}{}", shown(kpi, m.abs()))
    }
}

fn class(complies: Option<bool>) -> &'static str {
    match complies {
        Some(true) => "met",
        Some(false) => "missed",
        None => "nodata",
    }
}

const STYLE: &str = r#"
@page { size: A4; margin: 14mm 12mm; }
* { box-sizing: border-box; }
body { font: 10.5pt/1.4 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #1d232b; margin: 0 auto; max-width: 190mm; padding: 10mm 0; background: #fff; }
h1 { font-size: 17pt; margin: 0 0 2mm; letter-spacing: .2px; }
h2 { font-size: 13pt; margin: 8mm 0 2mm; border-bottom: 2px solid #1f4e79; padding-bottom: 1mm; color: #1f4e79; }
h3 { font-size: 11pt; margin: 5mm 0 1.5mm; }
.sub { color: #55606e; margin: 0 0 4mm; }
.facts { display: grid; grid-template-columns: repeat(4, 1fr); gap: 2mm; margin: 3mm 0 4mm; }
.facts div { border: 1px solid #d5dbe3; border-radius: 2px; padding: 1.5mm 2.5mm; }
.facts b { display: block; font-size: 12pt; }
.facts span { color: #55606e; font-size: 8.5pt; }
table { border-collapse: collapse; width: 100%; margin: 1mm 0 3mm; font-size: 9pt; page-break-inside: auto; }
th, td { border: 1px solid #cfd6df; padding: 1mm 1.8mm; text-align: left; vertical-align: top; }
th { background: #eef2f7; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr { page-break-inside: avoid; }
.met { background: #e3f4e6; }
.missed { background: #fbe2e0; }
.nodata { background: #f1f2f4; color: #6b7480; }
.verdict { font-weight: 700; display: block; }
.small { font-size: 8.5pt; color: #55606e; }
.target { page-break-inside: avoid; }
.legend span { display: inline-block; margin-right: 4mm; font-size: 8.5pt; }
.legend i { display: inline-block; width: 10px; height: 3px; margin-right: 1.5mm; vertical-align: middle; }
svg { display: block; width: 100%; height: auto; }
footer { margin-top: 8mm; border-top: 1px solid #cfd6df; padding-top: 2mm; font-size: 8.5pt; color: #55606e; }
@media print { body { padding: 0; max-width: none; } h2 { page-break-after: avoid; } .appendix { page-break-before: always; } }
"#;

/// The page.
pub fn render(r: &Report) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Service-quality compliance report {} – {}</title><style>{STYLE}</style></head><body>\n",
        esc(&r.period.from),
        esc(&r.period.to)
    );
    header(&mut h, r);
    matrix(&mut h, r);
    for t in &r.targets {
        target_section(&mut h, r, t);
    }
    appendix(&mut h, r);
    let _ = write!(
        h,
        "<footer>Values pool the windows (Σ numerators / Σ denominators), never average ratios. \
         Busy hour: a group's (or a cell's own) {} window with the most traffic on a local day, \
         the earliest on a tie. Days are local days in {}; a window belongs to the day it starts \
         on. Made by netkpi report from {} KPI records.</footer>\n</body></html>\n",
        esc(&r.window),
        esc(&r.timezone),
        r.input.read.used
    );
    h
}

fn header(h: &mut String, r: &Report) {
    let p = &r.period;
    let _ = write!(
        h,
        "<h1>Service-quality compliance report</h1>\
         <p class=\"sub\">{} to {} (exclusive), by {}, time zone {}, {} windows</p>\
         <div class=\"facts\"><div><b>{}</b><span>days in the period</span></div>\
         <div><b>{}</b><span>days with data</span></div>\
         <div><b>{}</b><span>targets</span></div>\
         <div><b>{}</b><span>KPI records used</span></div></div>\n",
        esc(&p.from),
        esc(&p.to),
        esc(p.kind),
        esc(&r.timezone),
        esc(&r.window),
        p.days,
        p.days_with_data,
        r.targets.len(),
        r.input.read.used
    );
}

fn period_value(t: &TargetResult, p: &PeriodResult) -> String {
    match &p.outcome {
        Outcome::Value {
            value: Some(v),
            margin,
            ..
        } => format!(
            "{} <span class=\"small\">({})</span>",
            shown(t.kpi, *v),
            margin
                .map(|m| margin_shown(t.kpi, m, false))
                .unwrap_or_default()
        ),
        Outcome::Shares {
            days_share: Some(s),
            margin,
            ..
        } => format!(
            "{:.1} % of days <span class=\"small\">({})</span>",
            s * 100.0,
            margin
                .map(|m| margin_shown(t.kpi, m, true))
                .unwrap_or_default()
        ),
        _ => String::new(),
    }
}

fn matrix(h: &mut String, r: &Report) {
    let Some(first) = r.targets.first() else {
        return;
    };
    let periods = first.groups.first().map_or(0, |g| g.periods.len());
    for pi in 0..periods {
        let label = first
            .groups
            .first()
            .and_then(|g| g.periods.get(pi))
            .map(|p| format!("{} – {}", p.start, p.end))
            .unwrap_or_default();
        let _ = write!(
            h,
            "<h2>Compliance matrix, {}</h2><table><tr><th>Group</th>",
            esc(&label)
        );
        for t in &r.targets {
            let _ = write!(
                h,
                "<th>{}<br><span class=\"small\">{} {} {}</span></th>",
                esc(&t.name),
                esc(t.kpi),
                esc(t.op),
                esc(&shown(t.kpi, t.value))
            );
        }
        h.push_str("</tr>\n");
        let mut rows: Vec<String> = r
            .targets
            .iter()
            .flat_map(|t| t.groups.iter().map(|g| g.group.display()))
            .collect();
        rows.sort();
        rows.dedup();
        for row in rows {
            let _ = write!(h, "<tr><th>{}</th>", esc(&row));
            for t in &r.targets {
                match t
                    .groups
                    .iter()
                    .find(|g| g.group.display() == row)
                    .and_then(|g| g.periods.get(pi))
                {
                    None => h.push_str("<td class=\"nodata\">—</td>"),
                    Some(p) => {
                        let _ = write!(
                            h,
                            "<td class=\"{}\"><span class=\"verdict\">{}</span>{}<br><span class=\"small\">{} of {} days with data</span></td>",
                            class(p.complies),
                            verdict(p.complies),
                            period_value(t, p),
                            p.days_with_data,
                            p.days
                        );
                    }
                }
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</table>\n");
    }
}

fn target_section(h: &mut String, r: &Report, t: &TargetResult) {
    let _ = write!(
        h,
        "<div class=\"target\"><h2>{}</h2><p class=\"sub\">",
        esc(&t.name)
    );
    match (&t.within, t.cells_share, t.days_share) {
        (Some(w), Some(cs), Some(ds)) => {
            let _ = write!(
                h,
                "Each cell's {} at {} must be {} {}; a day complies when at least {:.0} % of a {} group's cells with data comply (cells with fewer than {} samples that day left out); the period complies when at least {:.0} % of its days with data comply.",
                esc(t.kpi),
                at_text(t.at),
                esc(t.op),
                esc(&shown(t.kpi, t.value)),
                cs * 100.0,
                esc(w),
                t.min_samples,
                ds * 100.0
            );
        }
        _ => {
            let _ = write!(
                h,
                "Each {} group's {} pooled over {} of the period must be {} {}.",
                esc(&t.level),
                esc(t.kpi),
                if t.at == "busy_hour" {
                    "the busy hours"
                } else {
                    "every window"
                },
                esc(t.op),
                esc(&shown(t.kpi, t.value))
            );
        }
    }
    h.push_str("</p>\n");
    h.push_str(&chart::daily(r, t));
    for g in &t.groups {
        worst_table(h, t, g);
    }
    h.push_str("</div>\n");
}

fn holds(op: &str, value: f64, target: f64) -> bool {
    if op == ">=" {
        value >= target
    } else {
        value <= target
    }
}

fn at_text(at: &str) -> &'static str {
    if at == "busy_hour" {
        "its own busy hour"
    } else {
        "over the day"
    }
}

fn worst_table(h: &mut String, t: &TargetResult, g: &GroupResult) {
    if g.worst_cells.is_empty() {
        return;
    }
    let _ = write!(
        h,
        "<h3>Worst cells, {}</h3><table><tr><th>#</th><th>Cell</th><th>{}</th><th>Samples</th><th>Failures</th><th>Days failed</th></tr>\n",
        esc(&g.group.display()),
        esc(t.kpi)
    );
    for (i, c) in g.worst_cells.iter().enumerate() {
        let failed = !holds(t.op, c.value, t.value);
        let _ = write!(
            h,
            "<tr><td class=\"num\">{}</td><td>{}</td><td class=\"num{}\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
            i + 1,
            esc(&c.cell),
            if failed { " missed" } else { "" },
            shown(t.kpi, c.value),
            c.samples,
            c.failures
                .map(|f| format!("{f:.0}"))
                .unwrap_or_else(|| "—".into()),
            c.days_failed
        );
    }
    h.push_str("</table>\n");
}

fn appendix(h: &mut String, r: &Report) {
    h.push_str(
        "<div class=\"appendix\"><h2>Figures as computed</h2><p class=\"sub\">Every value as \
         report.json holds it (ratios 0–1).</p><table><tr><th>Target</th><th>Group</th>\
         <th>Period</th><th>Value / days share</th><th>Samples</th><th>Margin</th><th>Verdict</th></tr>\n",
    );
    for t in &r.targets {
        for g in &t.groups {
            for p in &g.periods {
                let (value, samples, margin) = match &p.outcome {
                    Outcome::Value {
                        value,
                        samples,
                        margin,
                        ..
                    } => (*value, Some(*samples), *margin),
                    Outcome::Shares {
                        days_share, margin, ..
                    } => (*days_share, None, *margin),
                };
                let n = |x: Option<f64>| x.map_or_else(|| "null".into(), json_number);
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{} – {}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"{}\">{}</td></tr>\n",
                    esc(&t.name),
                    esc(&g.group.display()),
                    esc(&p.start),
                    esc(&p.end),
                    n(value),
                    samples.map(|s| s.to_string()).unwrap_or_default(),
                    n(margin),
                    class(p.complies),
                    verdict(p.complies)
                );
            }
        }
    }
    h.push_str("</table></div>\n");
}
