//! Golden diagnostics: small broken rule files checked against the shipped schema
//! (`rules/schema.yaml`) with `load::check_sources`, each diagnostic rendered with
//! `Diagnostic::render` and compared with `tests/golden/<name>.txt`, and in Chinese
//! (`Diagnostic::render_in`) with `tests/golden/<name>.zh.txt`.
//!
//! Besides the golden text, every case asserts the codes and `file:line:column`
//! locations it expects, so a blessed golden file cannot hide a wrong location.
//!
//! Regenerate the golden files after a deliberate change of wording:
//!
//! ```sh
//! MIANSHEN_BLESS=1 cargo test --test diagnostics
//! ```

use mianshen::internals::load::{check_sources, Checked};
use mianshen::internals::schema::Schema;
use mianshen::{Lang, Severity};
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn check(files: &[(&str, &str)]) -> Checked {
    let schema_text = std::fs::read_to_string(root().join("rules/schema.yaml")).unwrap();
    let schema = Schema::from_yaml(&schema_text).unwrap();
    let texts = files
        .iter()
        .map(|(name, text)| (PathBuf::from(name), text.to_string()))
        .collect();
    check_sources(schema, &schema_text, texts)
}

fn render(checked: &Checked) -> String {
    checked
        .diagnostics
        .iter()
        .map(|d| d.render(&checked.sources))
        .collect::<Vec<_>>()
        .join("\n")
}

fn render_zh(checked: &Checked) -> String {
    checked
        .diagnostics
        .iter()
        .map(|d| d.render_in(&checked.sources, Lang::Zh))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Compares `actual` with the golden file, or writes it when MIANSHEN_BLESS is set.
fn golden(name: &str, actual: &str) {
    let path = root().join("tests/golden").join(format!("{name}.txt"));
    if std::env::var_os("MIANSHEN_BLESS").is_some_and(|v| v != "0" && !v.is_empty()) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with MIANSHEN_BLESS=1 to create it. Actual output:\n{actual}",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "diagnostics differ from {} (MIANSHEN_BLESS=1 to update)\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}

/// Checks the files, asserts the expected (code, "file:line:col") pairs in order,
/// that no usable rule set came out, and the golden rendering.
fn case(name: &str, files: &[(&str, &str)], expected: &[(&str, &str)]) -> Checked {
    let checked = check(files);
    let got: Vec<(&str, String)> = checked
        .diagnostics
        .iter()
        .map(|d| (d.code.as_str(), d.location(&checked.sources)))
        .collect();
    let want: Vec<(&str, String)> = expected.iter().map(|(c, l)| (*c, l.to_string())).collect();
    assert_eq!(got, want, "{name}:\n{}", render(&checked));
    assert!(
        checked
            .diagnostics
            .iter()
            .all(|d| d.severity == Severity::Error),
        "{name}: all are errors"
    );
    assert!(
        checked.rules.is_none(),
        "{name}: a broken rule set is not usable"
    );
    for d in &checked.diagnostics {
        assert!(
            d.hint.as_deref().is_some_and(|h| !h.is_empty()),
            "{name}: every diagnostic has a hint: {d:?}"
        );
    }
    golden(name, &render(&checked));
    golden(&format!("{name}.zh"), &render_zh(&checked));
    checked
}

fn hint_of(checked: &Checked, code: &str) -> String {
    checked
        .diagnostics
        .iter()
        .find(|d| d.code == code)
        .and_then(|d| d.hint.clone())
        .unwrap_or_default()
}

const HEAD: &str = "  subject person\n  mode no_application\n  effective from 2024-01-01\n";

/// A policy with the standard head and the given body.
fn policy(id: &str, body: &str) -> String {
    format!("policy {id} \"{id}\" {{\n{HEAD}{body}}}\n")
}

// ------------------------------------------------------------------ syntax

#[test]
fn syntax_missing_colon_after_clause_label() {
    let src = policy(
        "demo",
        "  C1 \"本市户籍\"\n      person.hukou_region == \"上海\"\n",
    );
    case(
        "syntax_missing_colon",
        &[("missing_colon.rules", &src)],
        &[("syntax", "missing_colon.rules:5:12")],
    );
}

#[test]
fn syntax_unclosed_brace() {
    let src = format!(
        "policy demo \"demo\" {{\n{HEAD}  C1 \"本市户籍\":\n      person.hukou_region == \"上海\"\n"
    );
    case(
        "syntax_unclosed_brace",
        &[("unclosed.rules", &src)],
        &[("syntax", "unclosed.rules:1:20")],
    );
}

#[test]
fn syntax_errors_are_reported_for_every_broken_file() {
    // One broken file does not hide another.
    let a = policy("demo-a", "  C1 \"a\"\n      true\n");
    let b = policy("demo-b", "  C1 \"b\": person.alive and\n");
    let checked = check(&[("a.rules", &a), ("b.rules", &b)]);
    let locs: Vec<String> = checked
        .diagnostics
        .iter()
        .map(|d| d.location(&checked.sources))
        .collect();
    assert_eq!(locs.len(), 2, "{}", render(&checked));
    assert!(locs[0].starts_with("a.rules:"), "{locs:?}");
    assert!(locs[1].starts_with("b.rules:"), "{locs:?}");
}

// ------------------------------------------------------------------ names

#[test]
fn unknown_field_with_did_you_mean() {
    let src = policy(
        "demo",
        "  C1 \"本市户籍\":\n      person.hukou_regoin == \"上海\"\n",
    );
    let c = case(
        "unknown_field",
        &[("unknown_field.rules", &src)],
        &[("unknown-field", "unknown_field.rules:6:14")],
    );
    assert!(hint_of(&c, "unknown-field").contains("did you mean `hukou_region`?"));
}

#[test]
fn unknown_enum_value_with_did_you_mean() {
    let src = policy("demo", "  C1 \"女性\":\n      person.gender == femal\n");
    let c = case(
        "unknown_enum_value",
        &[("enum.rules", &src)],
        &[("unknown-enum-value", "enum.rules:6:24")],
    );
    assert!(hint_of(&c, "unknown-enum-value").contains("did you mean `female`?"));
}

#[test]
fn unknown_policy_in_eligible() {
    let src = format!(
        "{}{}",
        policy("senior-allowance", "  C1 \"健在\": person.alive\n"),
        policy(
            "demo",
            "  C1 \"不重复享受\":\n      not eligible(senior-allowanse)\n"
        ),
    );
    let c = case(
        "unknown_policy_eligible",
        &[("eligible.rules", &src)],
        &[("unknown-policy", "eligible.rules:12:20")],
    );
    assert!(hint_of(&c, "unknown-policy").contains("did you mean `senior-allowance`?"));
}

#[test]
fn unknown_policy_in_excludes() {
    let src = format!(
        "{}{}",
        policy("senior-allowance", "  C1 \"健在\": person.alive\n"),
        policy(
            "demo",
            "  C1 \"健在\": person.alive\n  excludes senior-alowance\n"
        ),
    );
    let c = case(
        "unknown_policy_excludes",
        &[("excludes.rules", &src)],
        &[("unknown-policy", "excludes.rules:12:12")],
    );
    assert!(hint_of(&c, "unknown-policy").contains("did you mean `senior-allowance`?"));
}

const MIN_WAGE: &str = "parameter MIN_WAGE \"最低工资\": decimal {\n  from 2024-01-01 to 2025-06-30 = 2690.00 \"old\"\n  from 2025-07-01 = 2740.00 \"new\"\n}\n\n";

#[test]
fn unknown_parameter_in_an_expression() {
    let src = format!(
        "{MIN_WAGE}{}",
        policy("demo", "  C1 \"工资\":\n      MIN_WAGES > 0\n")
    );
    let c = case(
        "unknown_parameter_name",
        &[("param.rules", &src)],
        &[("unknown-name", "param.rules:11:7")],
    );
    assert!(hint_of(&c, "unknown-name").contains("did you mean `MIN_WAGE`?"));
}

#[test]
fn unknown_parameter_in_accept_gap() {
    let src = format!(
        "{MIN_WAGE}{}",
        policy(
            "demo",
            "  accept gap in MIN_WAGES \"not published\"\n  C1 \"工资\": MIN_WAGE > 0\n"
        )
    );
    let c = case(
        "unknown_parameter_gap",
        &[("gap_name.rules", &src)],
        &[("unknown-parameter", "gap_name.rules:10:17")],
    );
    assert!(hint_of(&c, "unknown-parameter").contains("did you mean `MIN_WAGE`?"));
}

#[test]
fn unknown_function_with_did_you_mean() {
    let src = policy(
        "demo",
        "  C1 \"年龄\":\n      agee(person.birth_date) >= 60\n",
    );
    let c = case(
        "unknown_function",
        &[("function.rules", &src)],
        &[("unknown-function", "function.rules:6:7")],
    );
    assert!(hint_of(&c, "unknown-function").contains("did you mean `age`?"));
}

// ------------------------------------------------------------------ types

#[test]
fn type_mismatch_date_compared_with_number() {
    let src = policy(
        "demo",
        "  C1 \"出生日期\":\n      person.birth_date > 1960\n",
    );
    case(
        "type_date_vs_number",
        &[("types.rules", &src)],
        &[("type-mismatch", "types.rules:6:7")],
    );
}

#[test]
fn type_mismatch_clause_is_not_a_condition() {
    let src = policy("demo", "  C1 \"年龄\":\n      age(person.birth_date)\n");
    case(
        "type_clause_not_condition",
        &[("clause.rules", &src)],
        &[("type-mismatch", "clause.rules:6:7")],
    );
}

#[test]
fn wrong_arity_of_a_function() {
    let src = format!(
        "function double(n: int): int = n * 2\n\n{}",
        policy("demo", "  C1 \"两倍\":\n      double(1, 2) > 0\n")
    );
    case(
        "arity_function",
        &[("arity.rules", &src)],
        &[("arity", "arity.rules:8:7")],
    );
}

#[test]
fn wrong_arity_of_a_builtin() {
    let src = policy(
        "demo",
        "  C1 \"月数\":\n      month_diff(person.birth_date) > 0\n",
    );
    let c = case(
        "arity_builtin",
        &[("builtin.rules", &src)],
        &[("type-mismatch", "builtin.rules:6:7")],
    );
    assert!(hint_of(&c, "type-mismatch").contains("month_diff("));
}

// ------------------------------------------------------------------ structure

#[test]
fn cycle_among_lets() {
    let src = policy(
        "demo",
        "  let a = b + 1\n  let b = c + 1\n  let c = a + 1\n  C1 \"循环\": a > 0\n",
    );
    case(
        "let_cycle",
        &[("cycle.rules", &src)],
        &[("cycle", "cycle.rules:7:11")],
    );
}

#[test]
fn recursive_function() {
    let src = format!(
        "function fact(n: int): int = if n <= 1 then 1 else n * fact(n - 1)\n\n{}",
        policy("demo", "  C1 \"递归\": fact(3) > 0\n")
    );
    case(
        "recursive_function",
        &[("recursion.rules", &src)],
        &[("cycle", "recursion.rules:1:10")],
    );
}

#[test]
fn mutually_recursive_functions() {
    let src = format!(
        "function f(n: int): int = g(n)\nfunction g(n: int): int = f(n)\n\n{}",
        policy("demo", "  C1 \"递归\": f(3) > 0\n")
    );
    case(
        "mutual_recursion",
        &[("mutual.rules", &src)],
        &[
            ("cycle", "mutual.rules:1:10"),
            ("cycle", "mutual.rules:2:10"),
        ],
    );
}

#[test]
fn duplicate_policy_id_across_files() {
    let a = policy("senior-allowance", "  C1 \"健在\": person.alive\n");
    let b = policy(
        "senior-allowance",
        "  C1 \"户籍\": person.hukou_region == \"上海\"\n",
    );
    case(
        "duplicate_policy",
        &[("a.rules", &a), ("b.rules", &b)],
        &[("duplicate-id", "b.rules:1:8")],
    );
}

#[test]
fn duplicate_clause_id() {
    let src = policy(
        "demo",
        "  C1 \"健在\": person.alive\n  C2 \"户籍\": person.hukou_region == \"上海\"\n  C1 \"年龄\": age(person.birth_date) >= 60\n",
    );
    case(
        "duplicate_clause",
        &[("clause_id.rules", &src)],
        &[("duplicate-id", "clause_id.rules:7:3")],
    );
}

#[test]
fn c0_written_as_a_clause() {
    let src = policy(
        "demo",
        "  C0 \"在有效期内\": ref >= 2024-01-01\n  C1 \"健在\": person.alive\n",
    );
    case(
        "c0_clause",
        &[("c0.rules", &src)],
        &[("reserved-clause", "c0.rules:5:3")],
    );
}

const GAPPY: &str = "parameter MIN_WAGE \"最低工资\": decimal {\n  from 2024-07-01 to 2025-06-30 = 2690.00 \"old\"\n}\n\n";

#[test]
fn parameter_without_a_value_on_part_of_the_period() {
    let src = format!(
        "{GAPPY}policy wage \"工资\" {{\n  subject person\n  mode no_application\n  effective 2024-07-01 to 2025-12-31\n  C1 \"工资\": MIN_WAGE > 0\n}}\n"
    );
    let c = case(
        "parameter_gap",
        &[("gap.rules", &src)],
        &[("parameter-gap", "gap.rules:8:3")],
    );
    assert!(c.diagnostics[0].message.contains("2025-07-01"));
    assert!(hint_of(&c, "parameter-gap").contains("accept gap in MIN_WAGE"));
}

#[test]
fn parameter_gap_before_the_first_step_and_through_a_function() {
    // The policy starts before the parameter does, and reads it through a function.
    let src = format!(
        "{GAPPY}function wage(): decimal = MIN_WAGE\n\npolicy wage-early \"工资\" {{\n  subject person\n  mode no_application\n  effective 2024-01-01 to 2025-06-30\n  C1 \"工资\": wage() > 0\n}}\n"
    );
    let checked = check(&[("gap_fn.rules", &src)]);
    let codes: Vec<&str> = checked
        .diagnostics
        .iter()
        .map(|d| d.code.as_str())
        .collect();
    assert_eq!(codes, ["parameter-gap"], "{}", render(&checked));
    assert!(
        checked.diagnostics[0].message.contains("2024-01-01"),
        "{}",
        render(&checked)
    );
}

#[test]
fn accept_gap_silences_the_parameter_gap() {
    let src = format!(
        "{GAPPY}policy wage \"工资\" {{\n  subject person\n  mode no_application\n  effective 2024-07-01 to 2025-12-31\n  accept gap in MIN_WAGE \"the 2025 value is not published yet\"\n  C1 \"工资\": MIN_WAGE > 0\n}}\n"
    );
    let checked = check(&[("gap_ok.rules", &src)]);
    assert!(checked.diagnostics.is_empty(), "{}", render(&checked));
    assert!(checked.rules.is_some());
}

// ------------------------------------------------------------------ all at once

#[test]
fn several_errors_in_one_file_are_all_reported() {
    let src = format!(
        "{}{}",
        policy("senior-allowance", "  C1 \"健在\": person.alive\n"),
        policy(
            "demo",
            "  C1 \"户籍\":\n      person.hukou_regoin == \"上海\"\n  C2 \"出生日期\":\n      person.birth_date > 1960\n  C3 \"性别\":\n      person.gender == femal\n  C4 \"互斥\":\n      not eligible(senior-allowanse)\n  C5 \"函数\":\n      agee(person.birth_date) > 1\n  C5 \"重复\":\n      person.alive\n  excludes senior-alowance\n",
        ),
    );
    case(
        "several_errors",
        &[("several.rules", &src)],
        &[
            ("unknown-field", "several.rules:12:14"),
            ("type-mismatch", "several.rules:14:7"),
            ("unknown-enum-value", "several.rules:16:24"),
            ("unknown-policy", "several.rules:18:20"),
            ("unknown-function", "several.rules:20:7"),
            ("duplicate-id", "several.rules:21:3"),
            ("unknown-policy", "several.rules:23:12"),
        ],
    );
}

#[test]
fn caret_under_chinese_names() {
    // The caret is placed after full-width padding under CJK text.
    let src = policy(
        "demo",
        "  let 年龄 = age(person.birth_dat)\n  C1 \"年龄\": 年龄 >= 60 and 年龄 < 人数\n",
    );
    case(
        "chinese_names",
        &[("cjk.rules", &src)],
        &[
            ("unknown-field", "cjk.rules:5:23"),
            ("unknown-name", "cjk.rules:6:30"),
        ],
    );
}

#[test]
fn the_shipped_rules_check_clean() {
    let dir = root().join("rules");
    let checked = mianshen::internals::load::check_dir(&dir).unwrap();
    assert!(checked.diagnostics.is_empty(), "{}", render(&checked));
    assert!(checked.rules.is_some());
}

#[test]
fn too_deep_through_a_chain_of_definitions() {
    // Each step is a name (one level) and an addition (one level): 600 steps are
    // 1,203 levels with the clause, beyond the limit of 1,000, though every line is shallow.
    let mut body = String::from("  let d0 = 1\n");
    for i in 1..=600 {
        body.push_str(&format!("  let d{i} = d{} + 1\n", i - 1));
    }
    body.push_str("  C1 \"深\": d600 > 0\n");
    let src = policy("demo", &body);
    let checked = case(
        "too_deep",
        &[("deep.rules", &src)],
        &[("too-deep", "deep.rules:606:11")],
    );
    let d = &checked.diagnostics[0];
    assert!(d.message.contains("1203 levels") && d.message.contains("1000"));
    assert!(hint_of(&checked, "too-deep").contains("more definitions do not help"));
}

/// A declaration's word is a word of its own: `subjectperson` is not `subject person`.
#[test]
fn a_declaration_word_run_into_its_name_is_a_syntax_error() {
    let text = "policy p \"p\" {\n  subjectperson\n  mode no_application\n  effective from 2025-01-01\n  C1 \"c\": true\n}\n";
    let e = mianshen::internals::syntax::parse_rule_file(text, 0)
        .map(|_| ())
        .expect_err("subjectperson is not a declaration");
    assert!(e.message.to_string().contains("`subject`"), "{}", e.message);
}

#[test]
fn every_diagnostic_code_is_listed_in_the_language_reference() {
    let reference = include_str!("../docs/language.md");
    let section = reference
        .split("## 14. Diagnostics")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("§14 of the language reference");
    let unlisted: Vec<&str> = mianshen::DiagnosticCode::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !section.contains(&format!("`{c}`")))
        .collect();
    assert!(unlisted.is_empty(), "codes missing from §14: {unlisted:?}");
    let mut sorted = mianshen::DiagnosticCode::ALL;
    sorted.sort_by_key(|c| c.as_str());
    assert_eq!(
        sorted,
        mianshen::DiagnosticCode::ALL,
        "ALL is in alphabetical order"
    );
}

// ------------------------------------------------------------------ scales

const SCALE: &str = "scale TAX \"税率表（示例）\" {\n  from 2024-01-01: 0 → 0.03, 3000 → 0.10, 12000 → 0.20 \"示例\"\n}\n\n";

#[test]
fn scale_thresholds_must_ascend() {
    let src = "scale TAX \"税率表\" {\n  from 2024-01-01 to 2025-12-31: 0 → 0.03, 12000 → 0.20, 3000 → 0.10 \"示例\"\n  from 2026-01-01: 0 → 0.03, 0 -> 0.04\n}\n";
    let c = case(
        "scale_unordered_thresholds",
        &[("tax.rules", src)],
        &[
            ("unordered-thresholds", "tax.rules:2:58"),
            ("unordered-thresholds", "tax.rules:3:30"),
        ],
    );
    assert!(c.diagnostics[0]
        .message
        .contains("3000 is not above the threshold before it (12000)"));
    assert!(hint_of(&c, "unordered-thresholds").contains("lowest threshold"));
}

#[test]
fn unknown_scale_with_did_you_mean() {
    let src = format!(
        "{SCALE}{}",
        policy(
            "tax",
            "  C1 \"t\": marginal(TAXX, housing_fund.balance) > 0\n"
        )
    );
    let c = case(
        "scale_unknown",
        &[("tax.rules", &src)],
        &[("unknown-scale", "tax.rules:9:20")],
    );
    assert_eq!(hint_of(&c, "unknown-scale"), "did you mean `TAX`?");
}

#[test]
fn scale_misuses_are_type_errors_with_a_way_out() {
    let param = "parameter RATE \"rate\": decimal {\n  from 2024-01-01 = 0.1\n}\n";
    let body = "  C1 \"as a value\": TAX > 0\n  C2 \"called\": TAX(ref) > 0\n  C3 \"of a date\": marginal(TAX, person.birth_date) > 0\n  C4 \"a parameter\": bracket(RATE, housing_fund.balance) > 0\n  C5 \"no name\": bracket(1, housing_fund.balance) > 0\n  C6 \"arity\": marginal(TAX) > 0\n  C7 \"date\": marginal(TAX, 1, 5) > 0\n";
    let src = format!("{SCALE}{param}{}", policy("tax", body));
    let checked = check(&[("tax.rules", &src)]);
    let codes: Vec<&str> = checked
        .diagnostics
        .iter()
        .map(|d| d.code.as_str())
        .collect();
    assert_eq!(
        codes,
        [
            "type-mismatch",
            "type-mismatch",
            "type-mismatch",
            "type-mismatch",
            "type-mismatch",
            "arity",
            "type-mismatch"
        ],
        "{}",
        render(&checked)
    );
    let messages: Vec<&str> = checked
        .diagnostics
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(messages[0], "`TAX` is a scale, not a value");
    assert!(checked.diagnostics[0]
        .hint
        .as_deref()
        .unwrap()
        .contains("marginal(TAX, x)"));
    assert!(messages[2].contains("must be a number, and this is date"));
    assert_eq!(messages[3], "`RATE` is a parameter, not a scale");
    assert!(messages[4].contains("must name a scale"));
    assert!(messages[6].contains("the date a scale is read at"));
    assert!(checked.rules.is_none());
}

#[test]
fn scale_steps_must_not_overlap_and_need_brackets() {
    let src = "scale TAX \"税率表\" {\n  from 2024-01-01: 0 → 0.03\n  from 2024-06-01: absent \"abolished\"\n  from 2025-01-01: \"nothing\"\n}\nscale TAX \"again\" {\n  from 2024-01-01: 0 → 1\n}\nparameter TAX \"a parameter\": int {\n  from 2024-01-01 = 1\n}\n";
    let checked = check(&[("tax.rules", src)]);
    let got: Vec<(&str, String)> = checked
        .diagnostics
        .iter()
        .map(|d| (d.code.as_str(), d.location(&checked.sources)))
        .collect();
    assert_eq!(
        got,
        [
            ("empty-scale", "tax.rules:4:3".to_string()),
            ("overlapping-steps", "tax.rules:3:3".to_string()),
            ("overlapping-steps", "tax.rules:4:3".to_string()),
            ("duplicate-id", "tax.rules:6:7".to_string()),
            ("duplicate-id", "tax.rules:9:11".to_string()),
        ],
        "{}",
        render(&checked)
    );
}

#[test]
fn a_scale_read_on_ref_must_cover_the_period() {
    let src = format!(
        "{SCALE}policy tax \"tax\" {{\n  subject person\n  mode no_application\n  effective from 2023-01-01\n  C1 \"t\": bracket(TAX, housing_fund.balance) > 0\n  C2 \"at a date\": marginal(TAX, 1, 2024-01-01) > 0\n}}\n"
    );
    let checked = check(&[("tax.rules", &src)]);
    let codes: Vec<&str> = checked
        .diagnostics
        .iter()
        .map(|d| d.code.as_str())
        .collect();
    assert_eq!(codes, ["parameter-gap"], "{}", render(&checked));
    assert!(checked.diagnostics[0]
        .message
        .starts_with("scale `TAX` has no value on 2023-01-01"));
}

const ABOLISHED: &str = "parameter SUB \"补贴\": decimal {\n  from 2020-01-01 to 2024-12-31 = 100.00 \"old\"\n  from 2025-01-01 = absent \"人社部发〔2024〕x号\"\n}\n\n";

#[test]
fn a_value_abolished_inside_the_period_is_a_warning_not_a_gap() {
    let src = format!(
        "{ABOLISHED}policy sub \"sub\" {{\n  subject person\n  mode no_application\n  effective from 2020-01-01\n  C1 \"t\": SUB > 0\n}}\n"
    );
    let checked = check(&[("sub.rules", &src)]);
    let got: Vec<(&str, Severity, String)> = checked
        .diagnostics
        .iter()
        .map(|d| (d.code.as_str(), d.severity, d.location(&checked.sources)))
        .collect();
    assert_eq!(
        got,
        [(
            "parameter-abolished",
            Severity::Warning,
            "sub.rules:9:3".to_string()
        )],
        "{}",
        render(&checked)
    );
    assert!(checked.diagnostics[0].message.contains("from 2025-01-01"));
    assert!(hint_of(&checked, "parameter-abolished").contains("to 2024-12-31"));
    // A warning: the rule set is usable.
    assert!(checked.rules.is_some());
    // A period that ends before the abolition, or an accepted gap: nothing to say.
    for head in [
        "effective 2020-01-01 to 2024-12-31",
        "effective from 2020-01-01\n  accept gap in SUB \"abolished in 2025\"",
    ] {
        let src = format!(
            "{ABOLISHED}policy sub \"sub\" {{\n  subject person\n  mode no_application\n  {head}\n  C1 \"t\": SUB > 0\n}}\n"
        );
        let checked = check(&[("sub.rules", &src)]);
        assert!(checked.diagnostics.is_empty(), "{}", render(&checked));
    }
    // A period that starts while the value is abolished.
    let src = format!(
        "{ABOLISHED}policy sub \"sub\" {{\n  subject person\n  mode no_application\n  effective from 2025-02-01\n  C1 \"t\": SUB > 0\n}}\n"
    );
    let checked = check(&[("sub.rules", &src)]);
    let codes: Vec<&str> = checked
        .diagnostics
        .iter()
        .map(|d| d.code.as_str())
        .collect();
    assert_eq!(codes, ["parameter-abolished"], "{}", render(&checked));
    assert!(checked.diagnostics[0]
        .message
        .contains("absent from 2025-01-01, before the effective period of `sub` begins"));
    assert!(hint_of(&checked, "parameter-abolished").contains("must end before 2025-01-01"));
    // An absent step overlapping a value is an overlap like any other.
    let src = "parameter SUB \"补贴\": decimal {\n  from 2020-01-01 = 100.00\n  from 2025-01-01 = absent\n}\n";
    let checked = check(&[("sub.rules", src)]);
    let codes: Vec<&str> = checked
        .diagnostics
        .iter()
        .map(|d| d.code.as_str())
        .collect();
    assert_eq!(codes, ["overlapping-steps"], "{}", render(&checked));
}
