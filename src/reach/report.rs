//! The batch's report for the platform's managers (`mianshen run --report FILE.html`):
//! one self-contained HTML page — outcomes per policy, amounts, the missing fields
//! that block decisions, near misses — as inline SVG charts and tables. No script,
//! no style sheet or font from elsewhere; every text is escaped.

use crate::batch::{rank_missing, Summary};
use crate::compile::RuleSet;
use crate::escape::html as esc;
use std::fmt::Write as _;

const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#222;max-width:1100px}\
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}\
td:first-child,th:first-child,.t{text-align:left}.meta{color:#555}.key span{display:inline-block;width:.9em;height:.9em;margin:0 .3em 0 1em;vertical-align:middle}\
svg text{font-size:12px;font-family:sans-serif}";

/// Colours of eligible, not eligible, undetermined.
const COLOURS: [&str; 3] = ["#2e7d32", "#bdbdbd", "#f9a825"];

/// Rows shown of the missing fields.
const TOP: usize = 15;

/// The report of a batch run of `rules`.
pub fn render_report(rules: &RuleSet, summary: &Summary) -> String {
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = write!(
        h,
        "<title>免申即享 batch report {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        summary.reference_date
    );
    let _ = write!(
        h,
        "<h1>免申即享 · batch report</h1>\n<p class=\"meta\">reference date {} · rule set {} · {} records read, {} evaluated, {} rejected</p>\n",
        summary.reference_date,
        esc(&summary.rule_set),
        summary.read,
        summary.evaluated,
        summary.rejected
    );
    outcomes(&mut h, rules, summary);
    amounts(&mut h, rules, summary);
    missing(&mut h, summary);
    near(&mut h, summary);
    h.push_str("</body>\n</html>\n");
    h
}

fn title<'r>(rules: &'r RuleSet, id: &str) -> &'r str {
    rules.policy_def(id).map_or("", |p| p.title.as_str())
}

/// Outcomes per policy: a stacked bar each, and the table.
fn outcomes(h: &mut String, rules: &RuleSet, s: &Summary) {
    h.push_str("<h2>Outcomes per policy</h2>\n<p class=\"key\">");
    for (label, colour) in ["eligible", "not eligible", "undetermined"]
        .iter()
        .zip(COLOURS)
    {
        let _ = write!(h, "<span style=\"background:{colour}\"></span>{label}");
    }
    h.push_str("</p>\n");
    let (label_w, bar_w, row_h) = (300.0, 600.0, 22.0);
    let height = row_h * s.policies.len() as f64 + 4.0;
    let _ = writeln!(
        h,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" role=\"img\" aria-label=\"outcomes per policy\">",
        label_w + bar_w + 10.0
    );
    for (k, (id, p)) in s.policies.iter().enumerate() {
        let y = row_h * k as f64 + 2.0;
        let total = (p.eligible + p.not_eligible + p.undetermined).max(1) as f64;
        let _ = writeln!(h, "<text x=\"0\" y=\"{}\">{}</text>", y + 14.0, esc(id));
        let mut x = label_w;
        for (n, colour) in [p.eligible, p.not_eligible, p.undetermined]
            .iter()
            .zip(COLOURS)
        {
            let w = bar_w * (*n as f64) / total;
            if w > 0.0 {
                let _ = writeln!(
                    h,
                    "<rect x=\"{x:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" fill=\"{colour}\"><title>{n}</title></rect>",
                    row_h - 4.0
                );
            }
            x += w;
        }
    }
    h.push_str("</svg>\n<table>\n<tr><th>policy</th><th class=\"t\">title</th><th>eligible</th><th>not eligible</th><th>undetermined</th><th>of which errors</th></tr>\n");
    for ((id, p), errors) in s.policies.iter().zip(&s.errors) {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"t\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{errors}</td></tr>",
            esc(id),
            esc(title(rules, id)),
            p.eligible,
            p.not_eligible,
            p.undetermined
        );
    }
    h.push_str("</table>\n");
}

/// The amounts granted or pushed per policy.
fn amounts(h: &mut String, rules: &RuleSet, s: &Summary) {
    h.push_str("<h2>Amounts</h2>\n<table>\n<tr><th>policy</th><th class=\"t\">title</th><th>eligible</th><th>total amount</th></tr>\n");
    for (id, p) in &s.policies {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"t\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(id),
            esc(title(rules, id)),
            p.eligible,
            crate::value::money(p.amount)
        );
    }
    h.push_str("</table>\n");
}

/// The missing fields that block the most decisions alone, as bars and a table.
fn missing(h: &mut String, s: &Summary) {
    h.push_str("<h2>Where the data is thin</h2>\n<p class=\"meta\">Missing fields ranked by the undetermined decisions each blocks alone (collecting it would decide them), then by all the decisions it is missing in.</p>\n");
    let all = s.missing_overall();
    let ranked: Vec<_> = rank_missing(&all).into_iter().take(TOP).collect();
    if ranked.is_empty() {
        h.push_str("<p>No decision is undetermined for missing data.</p>\n");
        return;
    }
    let most = ranked
        .iter()
        .map(|(_, n)| n.total)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let (label_w, bar_w, row_h) = (360.0, 500.0, 22.0);
    let _ = writeln!(
        h,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\" aria-label=\"missing fields\">",
        label_w + bar_w + 60.0,
        row_h * ranked.len() as f64 + 4.0
    );
    for (k, (path, n)) in ranked.iter().enumerate() {
        let y = row_h * k as f64 + 2.0;
        let w_total = bar_w * n.total as f64 / most;
        let w_alone = bar_w * n.alone as f64 / most;
        let _ = writeln!(
            h,
            "<text x=\"0\" y=\"{}\">{}</text><rect x=\"{label_w}\" y=\"{y}\" width=\"{w_total:.1}\" height=\"{}\" fill=\"#ffe082\"/><rect x=\"{label_w}\" y=\"{y}\" width=\"{w_alone:.1}\" height=\"{}\" fill=\"#f9a825\"/><text x=\"{:.1}\" y=\"{}\">{} / {}</text>",
            y + 14.0,
            esc(path),
            row_h - 4.0,
            row_h - 4.0,
            label_w + w_total + 4.0,
            y + 14.0,
            n.alone,
            n.total
        );
    }
    h.push_str("</svg>\n<table>\n<tr><th>field</th><th>blocks alone</th><th>missing in</th><th>policies</th></tr>\n");
    for (path, n) in &ranked {
        let policies: Vec<&str> = s
            .policies
            .iter()
            .zip(&s.missing)
            .filter(|(_, m)| m.contains_key(*path))
            .map(|((id, _), _)| id.as_str())
            .collect();
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"t\">{}</td></tr>",
            esc(path),
            n.alone,
            n.total,
            esc(&policies.join(", "))
        );
    }
    h.push_str("</table>\n");
}

/// Near-miss counts per policy, when the run looked for them.
fn near(h: &mut String, s: &Summary) {
    let Some(k) = s.near_miss else {
        return;
    };
    let _ = writeln!(
        h,
        "<h2>One step away</h2>\n<p class=\"meta\">Not-eligible decisions that fail at least one and at most {k} clause(s), the policy in force.</p>\n<table>\n<tr><th>policy</th><th>near misses</th></tr>"
    );
    for ((id, _), n) in s.policies.iter().zip(&s.near_misses) {
        let _ = writeln!(h, "<tr><td>{}</td><td>{n}</td></tr>", esc(id));
    }
    h.push_str("</table>\n");
}
