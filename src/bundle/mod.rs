//! "One thing" forms for people: the pre-filled bundle as a printable HTML page.
//!
//! The page is self-contained (inline CSS, no scripts, no external resources), in
//! Chinese, A4-printable: the member matters and their status, the form with the
//! pre-filled values marked as such and empty boxes for what the citizen enters, and
//! the materials checklist.

use crate::eval::{BundleResult, MemberStatus, Outcome};

/// Escapes text for HTML content and attribute values; control and bidi characters
/// of record text are shown as visible escapes ([`crate::escape::html`]).
fn esc(s: &str) -> String {
    crate::escape::html(s)
}

fn status_text(m: &MemberStatus) -> (&'static str, &'static str) {
    match m.outcome() {
        Outcome::Eligible => ("可办理", "ok"),
        Outcome::NotEligible => ("暂不符合", "no"),
        Outcome::Undetermined => ("待核实", "maybe"),
    }
}

const STYLE: &str = r#"
@page { size: A4; margin: 18mm 16mm; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif;
       color: #1a1a1a; margin: 0 auto; max-width: 190mm; font-size: 11pt; line-height: 1.5; }
h1 { font-size: 18pt; text-align: center; margin: 0 0 4pt; letter-spacing: 2pt; }
.meta { text-align: center; color: #555; font-size: 9.5pt; margin-bottom: 12pt; }
h2 { break-after: avoid; page-break-after: avoid; font-size: 12.5pt; border-left: 4pt solid #b22222; padding-left: 6pt; margin: 14pt 0 6pt; }
table { width: 100%; border-collapse: collapse; page-break-inside: auto; }
tr { page-break-inside: avoid; }
th, td { border: 0.8pt solid #444; padding: 5pt 7pt; vertical-align: top; text-align: left; }
th { background: #f2f2f2; width: 34%; font-weight: 600; }
td.value.prefilled { background: #eef6ee; }
td.value.enter { height: 24pt; }
.tag { display: inline-block; font-size: 8pt; padding: 0 4pt; border-radius: 3pt; margin-left: 6pt; border: 0.6pt solid; white-space: nowrap; }
.tag.pre { color: #2e6b2e; border-color: #2e6b2e; }
.tag.ent { color: #8a4b00; border-color: #8a4b00; }
.src { display: block; color: #666; font-size: 8pt; }
.ok { color: #2e6b2e; font-weight: 600; }
.no { color: #888; }
.maybe { color: #8a4b00; font-weight: 600; }
.box { display: inline-block; width: 11pt; height: 11pt; border: 0.8pt solid #444; margin-right: 6pt; vertical-align: -1pt; text-align: center; line-height: 10pt; font-size: 9pt; }
.legend { font-size: 9pt; color: #555; margin-top: 4pt; }
.sign { margin-top: 22pt; display: flex; justify-content: space-between; }
.sign span { display: inline-block; min-width: 60mm; border-bottom: 0.8pt solid #444; }
@media screen { body { padding: 16mm 12mm; } }
@media print { .legend { color: #333; } }
"#;

/// Renders the pre-filled bundle as a self-contained HTML page.
pub fn render_html(result: &BundleResult, subject_id: &str, ref_date: chrono::NaiveDate) -> String {
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str(&format!(
        "<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&result.title)
    ));
    h.push_str(&format!("<h1>{}</h1>\n", esc(&result.title)));
    h.push_str(&format!(
        "<div class=\"meta\">事项编号 {} · 办理对象 {} · 核验日期 {}</div>\n",
        esc(&result.bundle),
        esc(subject_id),
        ref_date
    ));

    h.push_str(
        "<h2>一、可一次办理的事项</h2>\n<table>\n<tr><th>事项</th><td><b>办理状态</b></td></tr>\n",
    );
    for (_, label, m) in &result.members {
        let (text, class) = status_text(m);
        let mut extra = String::new();
        if let Some(d) = m.decision() {
            if let Some(a) = &d.amount {
                let v = crate::value::money(a.value);
                extra = format!("（{v} 元，{}）", period_zh(&a.period));
            }
        }
        h.push_str(&format!(
            "<tr><th>{}</th><td><span class=\"{class}\">{text}</span>{}</td></tr>\n",
            esc(label),
            esc(&extra)
        ));
    }
    h.push_str("</table>\n");

    h.push_str("<h2>二、申请信息</h2>\n<table>\n");
    for f in &result.prefilled {
        let value = match (&f.display, &f.value) {
            (Some(d), _) => d.clone(),
            (None, serde_json::Value::String(s)) => s.clone(),
            (None, other) => other.to_string(),
        };
        h.push_str(&format!(
            "<tr><th>{}</th><td class=\"value prefilled\">{}<span class=\"tag pre\">已预填</span><span class=\"src\">数据来源：{}</span></td></tr>\n",
            esc(&f.label),
            esc(&value),
            esc(&f.source)
        ));
    }
    for (_, label) in &result.to_enter {
        h.push_str(&format!(
            "<tr><th>{}<span class=\"tag ent\">请填写</span></th><td class=\"value enter\"></td></tr>\n",
            esc(label)
        ));
    }
    h.push_str("</table>\n<div class=\"legend\">“已预填”的内容来自政府部门已有数据，请核对；如有误请在旁注明。</div>\n");

    h.push_str(
        "<h2>三、材料清单</h2>\n<table>\n<tr><th>材料</th><td><b>是否需要提交</b></td></tr>\n",
    );
    for m in &result.materials {
        let (mark, text) = if m.held {
            ("✓", "免于提交（部门已掌握）")
        } else {
            ("", "需提交")
        };
        h.push_str(&format!(
            "<tr><th><span class=\"box\">{mark}</span>{}</th><td>{}</td></tr>\n",
            esc(&m.label),
            text
        ));
    }
    h.push_str("</table>\n");
    h.push_str("<div class=\"sign\"><div>申请人签名：<span></span></div><div>日期：<span></span></div></div>\n");
    h.push_str("</body>\n</html>\n");
    h
}

fn period_zh(period: &str) -> &'static str {
    match period {
        "per_month" => "每月",
        "per_year" => "每年",
        "one_time" => "一次性",
        "total_entitlement" => "合计",
        "max_principal" => "最高额度",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(esc("\u{202e}\u{0}\r\n"), "\\u{202e}\\u{0}\\u{d}\\u{a}");
    }
}
