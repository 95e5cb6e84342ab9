//! The batch's report for the platform's managers (`mianshen run --report FILE.html`):
//! one self-contained HTML page — outcomes per policy, amounts, the missing fields
//! that block decisions, near misses — as inline SVG charts and tables. No script,
//! no style sheet or font from elsewhere; every text is escaped. Its fixed words come
//! from the message catalogue (`report--…`), in the language asked for.

use crate::batch::{rank_missing, Summary};
use crate::compile::RuleSet;
use crate::escape::html as esc;
use crate::messages::{text, Lang};
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

/// The words of the report in one language, escaped for HTML.
#[derive(Clone, Copy)]
struct Words(Lang);

impl Words {
    fn get(self, id: &'static str) -> String {
        esc(&text(self.0, id, &[]))
    }

    fn with(self, id: &'static str, args: &[(&'static str, &str)]) -> String {
        esc(&text(self.0, id, args))
    }
}

/// The report of a batch run of `rules`, its fixed words in `lang`.
pub fn render_report(rules: &RuleSet, summary: &Summary, lang: Lang) -> String {
    let w = Words(lang);
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n",
        w.get("report--html-lang")
    );
    let date = summary.reference_date.to_string();
    let _ = write!(
        h,
        "<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        w.with("report--title", &[("date", &date)])
    );
    let _ = write!(
        h,
        "<h1>{}</h1>\n<p class=\"meta\">{}</p>\n",
        w.get("report--heading"),
        w.with(
            "report--meta",
            &[
                ("date", &date),
                ("version", &summary.rule_set),
                ("read", &summary.read.to_string()),
                ("evaluated", &summary.evaluated.to_string()),
                ("rejected", &summary.rejected.to_string()),
            ]
        )
    );
    outcomes(&mut h, rules, summary, w);
    amounts(&mut h, rules, summary, w);
    missing(&mut h, summary, w);
    near(&mut h, summary, w);
    h.push_str("</body>\n</html>\n");
    h
}

fn title<'r>(rules: &'r RuleSet, id: &str) -> &'r str {
    rules.policy_def(id).map_or("", |p| p.title.as_str())
}

/// Outcomes per policy: a stacked bar each, and the table.
fn outcomes(h: &mut String, rules: &RuleSet, s: &Summary, w: Words) {
    let heading = w.get("report--outcomes");
    let _ = write!(h, "<h2>{heading}</h2>\n<p class=\"key\">");
    let labels = [
        w.get("report--eligible"),
        w.get("report--not-eligible"),
        w.get("report--undetermined"),
    ];
    for (label, colour) in labels.iter().zip(COLOURS) {
        let _ = write!(h, "<span style=\"background:{colour}\"></span>{label}");
    }
    h.push_str("</p>\n");
    let (label_w, bar_w, row_h) = (300.0, 600.0, 22.0);
    let height = row_h * s.policies.len() as f64 + 4.0;
    let _ = writeln!(
        h,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" role=\"img\" aria-label=\"{heading}\">",
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
    let _ = writeln!(
        h,
        "</svg>\n<table>\n<tr><th>{}</th><th class=\"t\">{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        w.get("report--policy"),
        w.get("report--policy-title"),
        labels[0],
        labels[1],
        labels[2],
        w.get("report--errors")
    );
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
fn amounts(h: &mut String, rules: &RuleSet, s: &Summary, w: Words) {
    let _ = writeln!(
        h,
        "<h2>{}</h2>\n<table>\n<tr><th>{}</th><th class=\"t\">{}</th><th>{}</th><th>{}</th></tr>",
        w.get("report--amounts"),
        w.get("report--policy"),
        w.get("report--policy-title"),
        w.get("report--eligible"),
        w.get("report--total-amount")
    );
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
fn missing(h: &mut String, s: &Summary, w: Words) {
    let _ = writeln!(
        h,
        "<h2>{}</h2>\n<p class=\"meta\">{}</p>",
        w.get("report--thin"),
        w.get("report--thin-meta")
    );
    let all = s.missing_overall();
    let ranked: Vec<_> = rank_missing(&all).into_iter().take(TOP).collect();
    if ranked.is_empty() {
        let _ = writeln!(h, "<p>{}</p>", w.get("report--no-missing"));
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
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\" aria-label=\"{}\">",
        label_w + bar_w + 60.0,
        row_h * ranked.len() as f64 + 4.0,
        w.get("report--missing-fields")
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
    let _ = writeln!(
        h,
        "</svg>\n<table>\n<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        w.get("report--field"),
        w.get("report--blocks-alone"),
        w.get("report--missing-in"),
        w.get("report--policies")
    );
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
fn near(h: &mut String, s: &Summary, w: Words) {
    let Some(k) = s.near_miss else {
        return;
    };
    let _ = writeln!(
        h,
        "<h2>{}</h2>\n<p class=\"meta\">{}</p>\n<table>\n<tr><th>{}</th><th>{}</th></tr>",
        w.get("report--near"),
        w.with("report--near-meta", &[("k", &k.to_string())]),
        w.get("report--policy"),
        w.get("report--near-misses")
    );
    for ((id, _), n) in s.policies.iter().zip(&s.near_misses) {
        let _ = writeln!(h, "<tr><td>{}</td><td>{n}</td></tr>", esc(id));
    }
    h.push_str("</table>\n");
}
