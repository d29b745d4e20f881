//! `report.csv`: one row per (target, group, period) with the value or shares and the verdict.

use super::result::{Outcome, Report, json_number};

/// A verdict as a word.
pub fn verdict(complies: Option<bool>) -> &'static str {
    match complies {
        Some(true) => "met",
        Some(false) => "missed",
        None => "no data",
    }
}

fn number(x: Option<f64>) -> String {
    x.map(json_number).unwrap_or_default()
}

/// The CSV text of a report.
pub fn render(report: &Report) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = [
        "target",
        "kpi",
        "level",
        "group",
        "period_start",
        "period_end",
        "days",
        "days_with_data",
        "value",
        "samples",
        "days_share",
        "margin",
        "verdict",
    ];
    // Writing into a Vec cannot fail.
    let _ = w.write_record(header);
    for t in &report.targets {
        for g in &t.groups {
            for p in &g.periods {
                let (value, samples, share, margin) = match &p.outcome {
                    Outcome::Value {
                        value,
                        samples,
                        margin,
                        ..
                    } => (
                        number(*value),
                        samples.to_string(),
                        String::new(),
                        number(*margin),
                    ),
                    Outcome::Shares {
                        days_share, margin, ..
                    } => (
                        String::new(),
                        String::new(),
                        number(*days_share),
                        number(*margin),
                    ),
                };
                let _ = w.write_record([
                    t.name.as_str(),
                    t.kpi,
                    t.level.as_str(),
                    g.group.text().as_str(),
                    p.start.as_str(),
                    p.end.as_str(),
                    p.days.to_string().as_str(),
                    p.days_with_data.to_string().as_str(),
                    value.as_str(),
                    samples.as_str(),
                    share.as_str(),
                    margin.as_str(),
                    verdict(p.complies),
                ]);
            }
        }
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}
