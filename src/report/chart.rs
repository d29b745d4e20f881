//! The daily trend chart of one target, as inline SVG: each group's daily value (busy hour or
//! day) or daily cell share, a gap on days without data, and the target as a dashed line.

use super::calendar::{days, parse_date};
use super::html::{esc, shown};
use super::result::{Outcome, Report, TargetResult};
use std::collections::BTreeMap;
use std::fmt::Write;

const PALETTE: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
    "#7f7f7f", "#393b79",
];
const W: f64 = 760.0;
const H: f64 = 230.0;
const LEFT: f64 = 62.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 30.0;

/// One series: the group's name and its value per day.
fn series(t: &TargetResult) -> Vec<(String, BTreeMap<String, f64>)> {
    t.groups
        .iter()
        .map(|g| {
            let mut by_day = BTreeMap::new();
            for p in &g.periods {
                match &p.outcome {
                    Outcome::Value { value_by_day, .. } => by_day.extend(value_by_day.clone()),
                    Outcome::Shares {
                        cells_share_by_day, ..
                    } => by_day.extend(cells_share_by_day.clone()),
                }
            }
            (g.group.display(), by_day)
        })
        .collect()
}

/// The chart's SVG (with its legend), or a note when there is nothing to draw.
pub fn daily(r: &Report, t: &TargetResult) -> String {
    let (Ok(from), Ok(to)) = (parse_date(&r.period.from), parse_date(&r.period.to)) else {
        return String::new();
    };
    let dates: Vec<String> = days(from, to).map(|d| d.to_string()).collect();
    let lines = series(t);
    let share = t.cells_share.is_some();
    let target = t.cells_share.unwrap_or(t.value);
    let values: Vec<f64> = lines
        .iter()
        .flat_map(|(_, m)| m.values().copied())
        .collect();
    if values.is_empty() || dates.is_empty() {
        return "<p class=\"small\">No data to chart.</p>\n".into();
    }
    let ratio = share || t.kpi.ends_with("_ratio");
    let lo = values.iter().copied().fold(target, f64::min);
    let hi = values.iter().copied().fold(target, f64::max);
    let pad = if hi > lo {
        (hi - lo) * 0.12
    } else {
        lo.abs().max(0.01) * 0.1
    };
    let (mut y0, mut y1) = (lo - pad, hi + pad);
    if ratio {
        y0 = y0.max(0.0);
        y1 = y1.min(1.0);
    }
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let x = |i: usize| LEFT + (i as f64 + 0.5) * plot_w / dates.len() as f64;
    let y = |v: f64| TOP + (y1 - v) / (y1 - y0) * plot_h;
    let label = |v: f64| {
        if share {
            format!("{:.0} %", v * 100.0)
        } else {
            shown(t.kpi, v)
        }
    };
    let mut s = String::with_capacity(16 * 1024);
    let _ = write!(
        s,
        "<svg viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"daily {} of {}\" xmlns=\"http://www.w3.org/2000/svg\" font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"10\">",
        if share { "cell share" } else { "value" },
        esc(&t.name)
    );
    let _ = write!(
        s,
        "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{plot_w}\" height=\"{plot_h}\" fill=\"#fbfcfd\" stroke=\"#cfd6df\"/>"
    );
    for k in 0..=4 {
        let v = y0 + (y1 - y0) * f64::from(k) / 4.0;
        let yy = y(v);
        let _ = write!(
            s,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#e4e8ee\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#55606e\">{}</text>",
            W - RIGHT,
            LEFT - 4.0,
            yy + 3.5,
            esc(&label(v))
        );
    }
    let step = dates.len().div_ceil(10).max(1);
    for (i, d) in dates.iter().enumerate().step_by(step) {
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\" fill=\"#55606e\">{}</text>",
            x(i),
            H - 10.0,
            esc(d.get(5..).unwrap_or(d))
        );
    }
    for (n, (_, by_day)) in lines.iter().enumerate() {
        let colour = PALETTE[n % PALETTE.len()];
        let mut path = String::new();
        let mut pen_down = false;
        for (i, d) in dates.iter().enumerate() {
            match by_day.get(d) {
                Some(v) => {
                    let _ = write!(
                        path,
                        "{}{:.1} {:.1} ",
                        if pen_down { "L" } else { "M" },
                        x(i),
                        y(*v)
                    );
                    let _ = write!(
                        s,
                        "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"1.8\" fill=\"{colour}\"/>",
                        x(i),
                        y(*v)
                    );
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        let _ = write!(
            s,
            "<path d=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.6\"/>",
            path.trim_end()
        );
    }
    let ty = y(target);
    let _ = write!(
        s,
        "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{ty:.1}\" y2=\"{ty:.1}\" stroke=\"#c0392b\" stroke-width=\"1.4\" stroke-dasharray=\"6 4\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#c0392b\">target {}</text></svg>",
        W - RIGHT,
        W - RIGHT - 4.0,
        ty - 4.0,
        esc(&label(target))
    );
    s.push_str("<div class=\"legend\">");
    for (n, (name, _)) in lines.iter().enumerate() {
        let _ = write!(
            s,
            "<span><i style=\"background:{}\"></i>{}</span>",
            PALETTE[n % PALETTE.len()],
            esc(name)
        );
    }
    s.push_str("</div>\n");
    s
}
