//! The message catalogue (`i18n/en/mianshen.ftl`, `i18n/zh/mianshen.ftl`) and the
//! languages of the command line.
//!
//! * Both catalogues parse, hold the same message ids, and each message takes the same
//!   arguments in both.
//! * Every id the code uses is in the catalogue, and every id of the catalogue is used.
//! * Every diagnostic code has a message, and a broken rule set for each code renders
//!   in English and in Chinese as `tests/golden/messages/every_code.{en,zh}.txt` (the
//!   other golden diagnostics of `tests/diagnostics.rs` have a `.zh.txt` beside them).
//! * The command line speaks the language of `--lang`, else of `LC_ALL`,
//!   `LC_MESSAGES` or `LANG`, and English when none is set; codes and JSON are the same
//!   in both.
//!
//! Regenerate the golden files after a deliberate change of wording:
//!
//! ```sh
//! MIANSHEN_BLESS=1 cargo test --test messages
//! ```

use mianshen::internals::load::{check_sources, Checked};
use mianshen::internals::messages::{catalogue, Message};
use mianshen::internals::schema::Schema;
use mianshen::{DiagnosticCode, Lang};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The messages of a catalogue: id → the names of its arguments.
fn messages(lang: Lang) -> BTreeMap<String, BTreeSet<String>> {
    let text = catalogue(lang);
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (id, value) = line
            .split_once(" = ")
            .unwrap_or_else(|| panic!("{lang} catalogue, line {}: not `id = text`: {line}", n + 1));
        assert!(
            id.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{lang} catalogue, line {}: id `{id}`",
            n + 1
        );
        let args: BTreeSet<String> = value
            .split("{ $")
            .skip(1)
            .filter_map(|s| s.split_once(" }").map(|(name, _)| name.to_string()))
            .collect();
        assert!(
            out.insert(id.to_string(), args).is_none(),
            "{lang} catalogue: `{id}` twice"
        );
    }
    out
}

#[test]
fn both_catalogues_parse_and_hold_the_same_messages_with_the_same_arguments() {
    for lang in Lang::ALL {
        let resource = fluent_bundle::FluentResource::try_new(catalogue(lang).to_string());
        assert!(resource.is_ok(), "{lang} catalogue: {:?}", resource.err());
    }
    let en = messages(Lang::En);
    let zh = messages(Lang::Zh);
    let only_en: Vec<&String> = en.keys().filter(|k| !zh.contains_key(*k)).collect();
    let only_zh: Vec<&String> = zh.keys().filter(|k| !en.contains_key(*k)).collect();
    assert!(
        only_en.is_empty() && only_zh.is_empty(),
        "only in English: {only_en:?}; only in Chinese: {only_zh:?}"
    );
    for (id, args) in &en {
        assert_eq!(Some(args), zh.get(id), "the arguments of `{id}`");
    }
    assert!(en.len() > 250, "{} messages", en.len());
}

/// Every Rust file below `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The string literals of the sources that look like message ids: `"code--what"`, or
/// the id of `msg!("…"` and `Message::new("…"`. Every quote is tried as the start of
/// a literal, so that quotes in comments or character literals do not matter.
fn ids_in_code() -> BTreeMap<String, String> {
    let mut files = vec![];
    rust_files(&root().join("src"), &mut files);
    let is_id_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    let mut ids = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        // Unit tests may name messages that are not there.
        let text = text
            .split("#[cfg(test)]\nmod tests")
            .next()
            .unwrap_or_default();
        for (at, _) in text.match_indices('"') {
            let rest = &text[at + 1..];
            let Some(end) = rest.find(|c: char| !is_id_char(c)) else {
                continue;
            };
            let id = &rest[..end];
            if !rest[end..].starts_with('"') || !id.starts_with(|c: char| c.is_ascii_lowercase()) {
                continue;
            }
            let before = text[..at].trim_end();
            let called = before.ends_with("msg!(") || before.ends_with("Message::new(");
            if id.contains("--") || called {
                ids.entry(id.to_string())
                    .or_insert_with(|| file.display().to_string());
            }
        }
    }
    ids
}

#[test]
fn every_message_the_code_uses_is_in_the_catalogue_and_every_message_is_used() {
    let en = messages(Lang::En);
    let used = ids_in_code();
    let missing: Vec<String> = used
        .iter()
        .filter(|(id, _)| !en.contains_key(*id))
        .map(|(id, file)| format!("{id} ({file})"))
        .collect();
    assert!(missing.is_empty(), "not in the catalogue: {missing:?}");
    // Messages named only through another (`what`, `kind`) are found as literals too.
    let unused: Vec<&String> = en.keys().filter(|id| !used.contains_key(*id)).collect();
    assert!(
        unused.is_empty(),
        "in the catalogue, never used: {unused:?}"
    );
}

#[test]
fn every_diagnostic_code_has_a_message() {
    let en = messages(Lang::En);
    for code in DiagnosticCode::ALL {
        let c = code.as_str();
        assert!(
            en.keys()
                .any(|id| id == c || id.starts_with(&format!("{c}--"))),
            "no message for `{c}`"
        );
    }
}

#[test]
fn messages_render_their_arguments_without_isolation_marks() {
    let m = Message::new("unknown-enum-value")
        .arg("name", "actve")
        .arg("enum", "business_status");
    assert_eq!(
        m.render(Lang::En),
        "`actve` is not a value of business_status"
    );
    assert_eq!(m.render(Lang::Zh), "`actve` 不是 business_status 的值");
    for lang in Lang::ALL {
        assert!(!m.render(lang).contains(['\u{2068}', '\u{2069}']));
    }
}

// ------------------------------------------------------------------ every code

const HEAD: &str = "  subject person\n  mode no_application\n  effective from 2024-01-01\n";

/// A policy with the standard head and the given body.
fn policy(id: &str, body: &str) -> String {
    format!("policy {id} \"{id}\" {{\n{HEAD}{body}}}\n")
}

const WAGE: &str = "parameter WAGE \"工资\": decimal {\n  from 2024-01-01 = 2690.00 \"示例\"\n}\n";

/// One broken rule set per diagnostic code: (code, file text).
fn broken_rule_sets() -> Vec<(&'static str, String)> {
    let mut deep = String::from("  let d0 = 1\n");
    for i in 1..=600 {
        deep.push_str(&format!("  let d{i} = d{} + 1\n", i - 1));
    }
    deep.push_str("  C1 \"深\": d600 > 0\n");
    let senior = policy("senior", "  C1 \"健在\": person.alive\n");
    vec![
        (
            "amount-guard",
            policy(
                "p",
                "  C1 \"c\": person.alive\n  amount per_month CNY: 1.00\n  amount per_month CNY when person.alive: 2.00\n",
            ),
        ),
        (
            "arity",
            format!("{WAGE}{}", policy("p", "  C1 \"c\": WAGE(ref, ref) > 0\n")),
        ),
        (
            "cycle",
            policy("p", "  let a = b + 1\n  let b = a + 1\n  C1 \"c\": a > 0\n"),
        ),
        (
            "duplicate-id",
            policy("p", "  C1 \"c\": person.alive\n  C1 \"d\": person.alive\n"),
        ),
        (
            "duration-literal",
            policy(
                "p",
                "  let span = 12 months\n  C1 \"c\": person.birth_date + span < ref\n",
            ),
        ),
        (
            "empty-scale",
            "scale TAX \"税率表\" {\n  from 2024-01-01: \"无档\"\n}\n".to_string(),
        ),
        (
            "item-choice",
            format!(
                "{senior}{}",
                policy("p", "  C1 \"c\": eligible(senior for person)\n")
            ),
        ),
        (
            "missing-condition",
            policy(
                "p",
                "  C1 \"c\": any m in household.members\n",
            ),
        ),
        (
            "missing-entry",
            "policy p \"p\" {\n  subject person\n  effective from 2024-01-01\n  C1 \"c\": person.alive\n}\n"
                .to_string(),
        ),
        (
            "no-amount",
            policy(
                "p",
                "  C1 \"c\": person.alive\n  property capped \"上限\": amount <= 100.00\n",
            ),
        ),
        (
            "overlapping-steps",
            "parameter WAGE \"工资\": decimal {\n  from 2024-01-01 = 1.00 \"a\"\n  from 2024-01-01 = 2.00 \"b\"\n}\n"
                .to_string(),
        ),
        (
            "parameter-abolished",
            format!(
                "parameter GONE \"已废止\": decimal {{\n  from 2024-01-01 to 2024-12-31 = 1.00 \"a\"\n  from 2025-01-01 = absent \"废止\"\n}}\n{}",
                policy("p", "  C1 \"c\": GONE > 0\n")
            ),
        ),
        (
            "parameter-gap",
            format!(
                "parameter LATE \"较晚\": decimal {{\n  from 2025-01-01 = 1.00 \"a\"\n}}\n{}",
                policy("p", "  C1 \"c\": LATE > 0\n")
            ),
        ),
        (
            "reserved-clause",
            policy("p", "  C0 \"在有效期内\": ref >= 2024-01-01\n  C1 \"c\": person.alive\n"),
        ),
        (
            "subject-mismatch",
            format!(
                "policy firm \"firm\" {{\n  subject enterprise\n  mode apply\n  effective from 2024-01-01\n  C1 \"c\": enterprise.region == \"上海\"\n}}\n{}",
                policy("p", "  C1 \"c\": eligible(firm)\n")
            ),
        ),
        ("syntax", policy("p", "  C1 \"本市户籍\"\n      person.alive\n")),
        ("too-deep", policy("p", &deep)),
        (
            "total-without-items",
            policy(
                "p",
                "  C1 \"c\": person.alive\n  amount one_time CNY: 1.00\n  total one_time: sum of value\n",
            ),
        ),
        (
            "type-mismatch",
            policy("p", "  C1 \"c\": person.birth_date > 1960\n"),
        ),
        (
            "unknown-clause",
            format!(
                "{senior}bundle b \"b\" {{\n  subject person\n  member m \"m\": policy senior with C9 = true\n}}\n"
            ),
        ),
        (
            "unknown-enum-value",
            policy("p", "  C1 \"c\": person.gender == femal\n"),
        ),
        (
            "unknown-extra",
            policy(
                "p",
                "  for each member m in household.members\n  C1 \"c\": person.alive\n  amount one_time CNY: 1.00\n  total one_time: sum of months\n",
            ),
        ),
        (
            "unknown-field",
            policy("p", "  C1 \"c\": person.hukou_regoin == \"上海\"\n"),
        ),
        (
            "unknown-function",
            policy("p", "  C1 \"c\": agee(person.birth_date) >= 60\n"),
        ),
        (
            "unknown-member",
            format!(
                "{senior}bundle b \"b\" {{\n  subject person\n  member m \"m\": policy senior\n  material id_card \"居民身份证\" for n\n}}\n"
            ),
        ),
        (
            "unknown-mode",
            "policy p \"p\" {\n  subject person\n  mode automatic\n  effective from 2024-01-01\n  C1 \"c\": person.alive\n}\n"
                .to_string(),
        ),
        ("unknown-name", policy("p", "  C1 \"c\": WAGES > 0\n")),
        (
            "unknown-parameter",
            format!(
                "{WAGE}{}",
                policy(
                    "p",
                    "  accept gap in WAGES \"not published\"\n  C1 \"c\": WAGE > 0\n"
                )
            ),
        ),
        (
            "unknown-period",
            policy(
                "p",
                "  C1 \"c\": person.alive\n  amount per_week CNY: 1.00\n",
            ),
        ),
        (
            "unknown-policy",
            policy("p", "  C1 \"c\": not eligible(senior-allowanse)\n"),
        ),
        (
            "unknown-scale",
            policy("p", "  C1 \"c\": marginal(TAXES, 1000) > 0\n"),
        ),
        (
            "unknown-subject",
            "policy p \"p\" {\n  subject citizen\n  mode apply\n  effective from 2024-01-01\n  C1 \"c\": true\n}\n"
                .to_string(),
        ),
        (
            "unknown-type",
            "function f(x: money2): bool = x > 0\n".to_string(),
        ),
        (
            "unordered-thresholds",
            "scale TAX \"税率表\" {\n  from 2024-01-01: 0 → 0.03, 12000 → 0.20, 3000 → 0.10 \"示例\"\n}\n"
                .to_string(),
        ),
    ]
}

fn check(text: &str) -> Checked {
    let schema_text = std::fs::read_to_string(root().join("rules/schema.yaml")).unwrap();
    let schema = Schema::from_yaml(&schema_text).unwrap();
    check_sources(
        schema,
        &schema_text,
        vec![(PathBuf::from("broken.rules"), text.to_string())],
    )
}

/// Compares `actual` with the golden file, or writes it when MIANSHEN_BLESS is set.
fn golden(path: &Path, actual: &str) {
    if std::env::var_os("MIANSHEN_BLESS").is_some_and(|v| v != "0" && !v.is_empty()) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|e| {
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

#[test]
fn every_diagnostic_code_renders_in_english_and_in_chinese() {
    let sets = broken_rule_sets();
    let covered: BTreeSet<&str> = sets.iter().map(|(c, _)| *c).collect();
    let all: BTreeSet<&str> = DiagnosticCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(covered, all, "one broken rule set per code");
    let mut rendered: BTreeMap<Lang, String> = BTreeMap::new();
    for (code, text) in &sets {
        let checked = check(text);
        assert!(
            checked.diagnostics.iter().any(|d| d.code == *code),
            "{code}: {:?}",
            checked.diagnostics
        );
        for lang in Lang::ALL {
            let out = rendered.entry(lang).or_default();
            out.push_str(&format!("# {code}\n"));
            for d in &checked.diagnostics {
                let text = d.render_in(&checked.sources, lang);
                // Hosts match on codes: the same in both languages.
                assert!(text.contains(&format!("[{}]", d.code)), "{code}: {text}");
                if lang == Lang::En {
                    assert_eq!(text, d.render(&checked.sources));
                    assert_eq!(d.message_in(lang), d.message);
                    assert_eq!(d.hint_in(lang), d.hint);
                } else {
                    // Every text is in Chinese: no message or hint left in English.
                    let message = d.message_in(lang);
                    assert!(
                        message != d.message || !message.contains(' '),
                        "{code}: an English message in Chinese: {message}"
                    );
                    assert_ne!(d.hint_in(lang), d.hint, "{code}: the hint");
                }
                out.push_str(&text);
                out.push('\n');
            }
        }
    }
    for (lang, text) in &rendered {
        golden(
            &root().join(format!("tests/golden/messages/every_code.{lang}.txt")),
            text,
        );
    }
}

// ------------------------------------------------------------------ the command line

/// Runs the command in `dir` with the locale variables given (and no others).
fn mianshen(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (String, String, i32) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mianshen"));
    c.args(args).current_dir(dir);
    for var in ["LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"] {
        c.env_remove(var);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("the binary runs");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// A rules directory with one misspelt enum value.
fn broken_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mianshen-messages-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(root().join("rules/schema.yaml"), dir.join("schema.yaml")).unwrap();
    std::fs::write(
        dir.join("p.rules"),
        policy("demo", "  C1 \"女性\": person.gender == femal\n"),
    )
    .unwrap();
    dir
}

#[test]
fn the_command_line_speaks_the_language_of_lang_and_of_the_locale() {
    let dir = broken_dir();
    let en = "error[unknown-enum-value]: `femal` is not a value of gender";
    let zh = "错误[unknown-enum-value]：`femal` 不是 gender 的值";
    // (arguments, environment, first line, last line of the standard error)
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case] = &[
        // No locale at all: English.
        (&["check", "."], &[], en, ".: 1 error(s)"),
        (&["check", "."], &[("LANG", "C.UTF-8")], en, ".: 1 error(s)"),
        (
            &["check", "."],
            &[("LANG", "zh_CN.UTF-8")],
            zh,
            ".：1 个错误",
        ),
        // LC_ALL before LC_MESSAGES before LANG; an empty one does not count.
        (
            &["check", "."],
            &[("LC_ALL", "en_US.UTF-8"), ("LANG", "zh_CN.UTF-8")],
            en,
            ".: 1 error(s)",
        ),
        (
            &["check", "."],
            &[
                ("LC_ALL", ""),
                ("LC_MESSAGES", "zh_CN.UTF-8"),
                ("LANG", "en_US.UTF-8"),
            ],
            zh,
            ".：1 个错误",
        ),
        // The flag wins over the environment, before or after the command.
        (&["--lang", "zh", "check", "."], &[], zh, ".：1 个错误"),
        (
            &["check", ".", "--lang", "en"],
            &[("LANG", "zh_CN.UTF-8")],
            en,
            ".: 1 error(s)",
        ),
    ];
    for (args, env, first, last) in cases {
        let (_, err, code) = mianshen(&dir, args, env);
        assert_eq!(code, 1, "{args:?} {env:?}");
        assert_eq!(err.lines().next(), Some(*first), "{args:?} {env:?}:\n{err}");
        assert_eq!(err.lines().last(), Some(*last), "{args:?} {env:?}:\n{err}");
    }
    let (_, err, code) = mianshen(&dir, &["check", ".", "--lang", "fr"], &[]);
    assert_eq!(code, 2, "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn eval_speaks_chinese_in_text_and_json_is_the_same_in_every_language() {
    let rules = root().join("rules");
    let dir = std::env::temp_dir().join(format!("mianshen-messages-eval-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let person = dir.join("person.yaml");
    std::fs::write(
        &person,
        "person:\n  id: P-0001\n  gender: female\n  birth_date: 1953-05-02\n  hukou_region: 上海\n  alive: true\n",
    )
    .unwrap();
    let args = |extra: &[&'static str]| -> Vec<String> {
        let mut a: Vec<String> = [
            "eval",
            rules.to_str().unwrap(),
            person.to_str().unwrap(),
            "--date",
            "2025-06-30",
            "--policy",
            "sh-senior-comprehensive-allowance",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let run = |extra: &[&'static str], env: &[(&str, &str)]| {
        let a = args(extra);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        mianshen(&dir, &a, env)
    };
    let (en, _, code) = run(&[], &[]);
    assert_eq!(code, 0);
    assert!(
        en.contains("上海市老年综合津贴 — eligible\n  amount: 150.00 CNY per_month\n  ✓ C0 在有效期内 (in force from 2016-01-01)"),
        "{en}"
    );
    let (zh, _, _) = run(&[], &[("LANG", "zh_CN.UTF-8")]);
    assert!(
        zh.contains("上海市老年综合津贴 — 可办理\n  金额：150.00 CNY per_month\n  ✓ C0 在有效期内（自 2016-01-01 起）"),
        "{zh}"
    );
    assert!(zh.contains("  依据："), "{zh}");
    let (json_en, _, _) = run(&["--json"], &[]);
    let (json_zh, _, _) = run(&["--json", "--lang", "zh"], &[]);
    assert_eq!(json_en, json_zh);
    assert!(json_zh.contains("\"outcome\": \"eligible\""), "{json_zh}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_test_summary_is_in_the_language_of_the_run() {
    let rules = root().join("rules");
    let rules = rules.to_str().unwrap();
    let (en, _, code) = mianshen(root(), &["test", rules], &[]);
    assert_eq!(code, 0, "{en}");
    let last = en.lines().last().unwrap_or_default();
    assert!(last.ends_with(" passed, 0 failed"), "{last}");
    let (zh, _, _) = mianshen(root(), &["test", rules, "--lang", "zh"], &[]);
    let last = zh.lines().last().unwrap_or_default();
    assert!(last.ends_with(" 个通过，0 个未通过"), "{last}");
}

#[test]
fn every_kind_of_evaluation_error_is_described_in_both_languages() {
    use mianshen::{ErrorKind, Lang};
    let kinds = [
        ErrorKind::DivisionByZero,
        ErrorKind::Overflow,
        ErrorKind::InvalidDate,
        ErrorKind::NoItem,
        ErrorKind::SeveralItems,
        ErrorKind::Tie,
        ErrorKind::ParameterWithoutValue,
        ErrorKind::NoAmount,
        ErrorKind::AmountPrecision,
        ErrorKind::InvalidArgument,
        ErrorKind::TooDeep,
        ErrorKind::BudgetExceeded,
        ErrorKind::Internal,
    ];
    for k in kinds {
        let (en, zh) = (k.describe(Lang::En), k.describe(Lang::Zh));
        assert!(
            !en.is_empty() && !en.starts_with("error-kind"),
            "{k:?}: {en}"
        );
        assert!(
            zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "{k:?} in Chinese: {zh}"
        );
    }
}
