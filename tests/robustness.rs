//! No input breaks the engine (issue 5):
//!
//! * the parser and the checker never panic on any text, including mutations of the
//!   shipped rule files (tokens inserted, deleted, swapped), and always give either a
//!   program or an error located in a file;
//! * reading and evaluating never panic on any JSON value as a record, on any date;
//! * the same rules, record and date give the same decisions, byte for byte;
//! * the batch's row reader never panics on damaged text, and accepts only lines that
//!   are JSON and that the reference path reads too.
//!
//! The number of cases is `MIANSHEN_ROBUSTNESS_CASES` (default 400 per test in CI;
//! run with a larger value locally, e.g. 20000, and see `fuzz/` for cargo-fuzz).

use chrono::NaiveDate;
use mianshen::internals::eval;
use mianshen::internals::load;
use mianshen::internals::record;
use mianshen::internals::schema::Schema;
use mianshen::internals::testing::generate::record_strategy;
use mianshen::{Constraints, EvalOptions, RuleSet, Severity};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn cases() -> u32 {
    std::env::var("MIANSHEN_ROBUSTNESS_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400)
}

fn runner(salt: u8) -> TestRunner {
    let mut seed = [7u8; 32];
    seed[0] = salt;
    TestRunner::new_with_rng(
        Config {
            cases: cases(),
            failure_persistence: None,
            max_shrink_iters: 2000,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
    )
}

struct Shipped {
    schema_text: String,
    files: Vec<(PathBuf, String)>,
    rules: RuleSet,
}

fn shipped() -> &'static Shipped {
    static S: OnceLock<Shipped> = OnceLock::new();
    S.get_or_init(|| {
        let dir = Path::new("rules");
        let mut files = vec![];
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).expect("rules dir").flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "rules") {
                    let text = std::fs::read_to_string(&p).expect("rule file");
                    files.push((p, text));
                }
            }
        }
        files.sort();
        Shipped {
            schema_text: std::fs::read_to_string(dir.join("schema.yaml")).expect("schema"),
            files,
            rules: RuleSet::load_dir(dir).expect("shipped rules load"),
        }
    })
}

fn schema() -> Schema {
    Schema::from_yaml(&shipped().schema_text).expect("schema")
}

/// Parses and checks the texts; the outcome must be a program or a located error.
fn check_texts(texts: Vec<(PathBuf, String)>) -> Result<(), TestCaseError> {
    let lens: Vec<usize> = texts.iter().map(|(_, t)| t.len()).collect();
    let checked = load::check_sources(schema(), &shipped().schema_text, texts);
    let errors: Vec<_> = checked
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    // Rendering a diagnostic (source line, caret) must not panic either.
    for d in &checked.diagnostics {
        let _ = d.render(&checked.sources);
    }
    if checked.rules.is_some() {
        prop_assert!(errors.is_empty(), "a program and errors at once");
        return Ok(());
    }
    prop_assert!(!errors.is_empty(), "no program and no error");
    for e in &errors {
        let Some(span) = e.span else {
            return Err(TestCaseError::fail(format!(
                "error without a location: {} ({})",
                e.message, e.code
            )));
        };
        let len = lens.get(span.file).copied();
        prop_assert!(
            len.is_some_and(|l| span.start <= span.end && span.end <= l),
            "error `{}` points outside its file: {:?} (file length {:?})",
            e.message,
            span,
            len
        );
    }
    Ok(())
}

/// Words of the rule language and of the shipped rules, for mutations and token soup.
const VOCAB: &[&str] = &[
    "policy",
    "subject",
    "mode",
    "authority",
    "basis",
    "effective",
    "from",
    "to",
    "let",
    "amount",
    "with",
    "when",
    "otherwise",
    "excludes",
    "report",
    "total",
    "sum",
    "of",
    "for",
    "each",
    "in",
    "where",
    "function",
    "parameter",
    "accept",
    "gap",
    "C1",
    "C2",
    "C99",
    "and",
    "or",
    "not",
    "no",
    "any",
    "all",
    "count",
    "the",
    "latest",
    "earliest",
    "min",
    "max",
    "if",
    "then",
    "else",
    "match",
    "cases",
    "is",
    "none",
    "ref",
    "true",
    "false",
    "person",
    "enterprise",
    "h",
    "c",
    "=>",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    ".",
    "..",
    "|",
    "_",
    "\"",
    "\"上海\"",
    "0",
    "1",
    "12",
    "2025-01-01",
    "2025-02-30",
    "0.5",
    "99999999999999999999999999999",
    "months",
    "years",
    "days",
    "age",
    "add_months",
    "month_diff",
    "round",
    "floor",
    "per_month",
    "one_time",
    "CNY",
    "#",
    "\n",
    " ",
    "年满",
    "🙂",
    "\u{0}",
    "\t",
];

/// A text split into tokens: words, single punctuation characters, whitespace runs.
fn tokens(text: &str) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    let mut cur = String::new();
    let mut kind = 0u8; // 1 word, 2 space
    for ch in text.chars() {
        let k = if ch.is_whitespace() {
            2
        } else if ch.is_alphanumeric() || ch == '_' || ch == '-' {
            1
        } else {
            3
        };
        if k != kind || k == 3 {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            kind = k;
        }
        cur.push(ch);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[derive(Debug, Clone)]
enum Mutation {
    Insert(usize, usize),
    Delete(usize),
    Swap(usize, usize),
    Duplicate(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0..VOCAB.len()).prop_map(|(a, b)| Mutation::Insert(a, b)),
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        any::<usize>().prop_map(Mutation::Duplicate),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(text: &str, ms: &[Mutation]) -> String {
    let mut t = tokens(text);
    for m in ms {
        if t.is_empty() {
            t.push(String::new());
        }
        let n = t.len();
        match *m {
            Mutation::Insert(at, w) => t.insert(at % (n + 1), VOCAB[w].to_string()),
            Mutation::Delete(at) => {
                t.remove(at % n);
            }
            Mutation::Swap(a, b) => t.swap(a % n, b % n),
            Mutation::Duplicate(at) => {
                let x = t[at % n].clone();
                t.insert(at % n, x);
            }
            Mutation::Truncate(at) => t.truncate(at % (n + 1)),
        }
    }
    t.concat()
}

#[test]
fn parser_and_checker_survive_arbitrary_text() {
    let text = prop_oneof![
        any::<String>(),
        "\\PC{0,300}",
        proptest::collection::vec(0..VOCAB.len(), 0..120).prop_map(|ws| ws
            .iter()
            .map(|&w| VOCAB[w])
            .collect::<Vec<_>>()
            .join(" ")),
        proptest::collection::vec(0..VOCAB.len(), 0..120)
            .prop_map(|ws| ws.iter().map(|&w| VOCAB[w]).collect::<String>()),
    ];
    runner(1)
        .run(&text, |t| {
            check_texts(vec![(PathBuf::from("fuzz.rules"), t)])
        })
        .unwrap();
}

#[test]
fn parser_and_checker_survive_mutated_shipped_rules() {
    let n = shipped().files.len();
    let strategy = (0..n, proptest::collection::vec(mutation(), 1..5));
    runner(2)
        .run(&strategy, |(file, ms)| {
            let mut texts = shipped().files.clone();
            texts[file].1 = mutate(&texts[file].1, &ms);
            check_texts(texts)
        })
        .unwrap();
}

#[test]
fn shipped_rules_tokenise_back() {
    for (_, text) in &shipped().files {
        assert_eq!(tokens(text).concat(), *text);
    }
}

// ------------------------------------------------------------------ records

/// Any JSON value, biased towards what records hold: the schema's field names as
/// keys, dates, enum words, numbers at the edges.
fn json_value() -> impl Strategy<Value = Json> {
    let schema = schema();
    let mut names: Vec<String> = schema
        .records
        .iter()
        .flat_map(|r| r.fields.iter().map(|f| f.name.clone()))
        .collect();
    names.sort();
    names.dedup();
    let mut words: Vec<String> = schema.enums.iter().flat_map(|e| e.values.clone()).collect();
    words.extend(
        [
            "2025-01-01",
            "2024-02-29",
            "2025-02-29",
            "0001-01-01",
            "9999-12-31",
            "262143-01-01",
            "1e400",
            "-0",
            "NaN",
            "",
            "上海",
            "北京",
            "true",
            "null",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    let number = prop_oneof![
        any::<i64>().prop_map(Json::from),
        (-1000i64..1000).prop_map(Json::from),
        Just(Json::from(u64::MAX)),
        prop_oneof![
            Just("1e308"),
            Just("-1e-308"),
            Just("0.000000000000000000000000000001"),
            Just("79228162514264337593543950336"),
            Just("-79228162514264337593543950335.5"),
            Just("12.345"),
        ]
        .prop_map(|t| Json::Number(serde_json::from_str(t).expect("number"))),
    ];
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        number,
        proptest::sample::select(words).prop_map(Json::from),
        any::<String>().prop_map(Json::from),
    ];
    let keys = proptest::sample::select(names);
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
            proptest::collection::vec((keys.clone(), inner), 0..8)
                .prop_map(|kv| Json::Object(kv.into_iter().collect())),
        ]
    })
}

/// A record of the schema with some of its values replaced by arbitrary JSON.
fn damaged_record(subject: usize) -> impl Strategy<Value = Json> {
    let schema = schema();
    (
        record_strategy(&schema, subject, &Constraints::new()),
        proptest::collection::vec((any::<usize>(), json_value()), 0..4),
    )
        .prop_map(|(mut rec, damage)| {
            for (at, v) in damage {
                replace_nth(&mut rec, at, v);
            }
            rec
        })
}

/// Replaces the `n`-th node (in pre-order, modulo the node count) by `v`.
fn replace_nth(root: &mut Json, n: usize, v: Json) {
    fn count(j: &Json) -> usize {
        1 + match j {
            Json::Array(a) => a.iter().map(count).sum(),
            Json::Object(m) => m.values().map(count).sum(),
            _ => 0,
        }
    }
    fn go(j: &mut Json, k: &mut usize, v: &mut Option<Json>) {
        if *k == 0 {
            if let Some(v) = v.take() {
                *j = v;
            }
            return;
        }
        *k -= 1;
        match j {
            Json::Array(a) => a.iter_mut().for_each(|x| go(x, k, v)),
            Json::Object(m) => m.values_mut().for_each(|x| go(x, k, v)),
            _ => {}
        }
    }
    let total = count(root);
    let mut k = n % total;
    go(root, &mut k, &mut Some(v));
}

fn any_date() -> impl Strategy<Value = NaiveDate> {
    prop_oneof![
        (1i32..=9999, 1u32..=12, 1u32..=31).prop_filter_map("a calendar date", |(y, m, d)| {
            NaiveDate::from_ymd_opt(y, m, d)
        }),
        (2014i32..=2027, 1u32..=12, 1u32..=28).prop_filter_map("a calendar date", |(y, m, d)| {
            NaiveDate::from_ymd_opt(y, m, d)
        }),
        Just(NaiveDate::MIN),
        Just(NaiveDate::MAX),
    ]
}

/// Reads the value as a record of every subject kind and evaluates what reads, twice:
/// no panic, and the same bytes.
fn read_and_evaluate(json: &Json, date: NaiveDate) -> Result<(), TestCaseError> {
    let rules = &shipped().rules;
    let _ = record::detect_subject(rules.schema(), json, None);
    for subject in 0..rules.schema().subjects.len() {
        let Ok(rec) = record::read_record(rules.schema(), subject, json) else {
            continue;
        };
        let a = eval::evaluate_all(
            rules,
            &rec,
            date,
            EvalOptions {
                trace: true,
                ..Default::default()
            },
        );
        let b = eval::evaluate_all(
            rules,
            &rec,
            date,
            EvalOptions {
                trace: true,
                ..Default::default()
            },
        );
        let (ja, jb) = (
            serde_json::to_string(&a).expect("decisions serialise"),
            serde_json::to_string(&b).expect("decisions serialise"),
        );
        prop_assert_eq!(ja, jb, "two evaluations differ");
    }
    Ok(())
}

#[test]
fn evaluator_survives_arbitrary_json() {
    runner(3)
        .run(&(json_value(), any_date()), |(j, d)| {
            read_and_evaluate(&j, d)
        })
        .unwrap();
}

#[test]
fn evaluator_survives_damaged_records() {
    let n = shipped().rules.schema().subjects.len();
    for subject in 0..n {
        runner(4 + u8::try_from(subject).unwrap_or(0))
            .run(&(damaged_record(subject), any_date()), |(j, d)| {
                read_and_evaluate(&j, d)
            })
            .unwrap();
    }
}

#[test]
fn same_rules_record_and_date_same_bytes_across_loads() {
    let again = RuleSet::load_dir(Path::new("rules")).expect("rules load");
    let first = &shipped().rules;
    assert_eq!(first.version(), again.version());
    let schema = schema();
    for subject in 0..schema.subjects.len() {
        runner(9)
            .run(
                &(
                    record_strategy(&schema, subject, &Constraints::new()),
                    any_date(),
                ),
                |(j, d)| {
                    let (Ok(r1), Ok(r2)) = (
                        record::read_record(first.schema(), subject, &j),
                        record::read_record(again.schema(), subject, &j),
                    ) else {
                        return Err(TestCaseError::fail("a generated record is rejected"));
                    };
                    let a = eval::evaluate_all(
                        first,
                        &r1,
                        d,
                        EvalOptions {
                            trace: true,
                            ..Default::default()
                        },
                    );
                    let b = eval::evaluate_all(
                        &again,
                        &r2,
                        d,
                        EvalOptions {
                            trace: true,
                            ..Default::default()
                        },
                    );
                    prop_assert_eq!(
                        serde_json::to_string(&a).expect("json"),
                        serde_json::to_string(&b).expect("json")
                    );
                    Ok(())
                },
            )
            .unwrap();
    }
}

/// Every number and date of the subject's records free to take extreme values.
fn extreme_constraints(schema: &Schema, subject: usize) -> Constraints {
    use mianshen::internals::schema::FieldType;
    // Build the constraints path by path (a flat list is simpler than threading).
    let mut out = Constraints::new();
    let mut stack = vec![(schema.subjects[subject].root, String::new())];
    while let Some((rec, prefix)) = stack.pop() {
        for f in &schema.records[rec].fields {
            let p = if prefix.is_empty() {
                f.name.clone()
            } else {
                format!("{prefix}.{}", f.name)
            };
            let ty = match &f.ty {
                FieldType::List(inner) => &**inner,
                t => t,
            };
            out = match ty {
                FieldType::Int => out.int_range(&p, i64::MIN, i64::MAX),
                FieldType::Decimal => out.decimal_range(
                    &p,
                    rust_decimal::Decimal::from(-70_000_000_000_000_000i64),
                    rust_decimal::Decimal::from(70_000_000_000_000_000i64),
                ),
                FieldType::Date => out.date_range(
                    &p,
                    NaiveDate::from_ymd_opt(1, 1, 1).expect("date"),
                    NaiveDate::from_ymd_opt(9999, 12, 31).expect("date"),
                ),
                FieldType::Record(r) => {
                    stack.push((*r, p));
                    out
                }
                _ => out,
            };
        }
    }
    out
}

#[test]
fn evaluator_survives_extreme_values() {
    let schema = schema();
    for subject in 0..schema.subjects.len() {
        let c = extreme_constraints(&schema, subject);
        runner(20 + u8::try_from(subject).unwrap_or(0))
            .run(
                &(record_strategy(&schema, subject, &c), any_date()),
                |(j, d)| read_and_evaluate(&j, d),
            )
            .unwrap();
    }
}

/// Deeply nested prefix operators and long operator chains: an error or a program,
/// never a crash (a stack overflow aborts the whole process). Run on a thread with the
/// 8 MiB stack of a main thread, as the command line has.
#[test]
fn parser_and_checker_survive_deep_expressions() {
    let n = 100_000;
    let bodies = [
        format!("{}true", "not ".repeat(n)),
        format!("{}1 > 0", "-".repeat(n)),
        format!("1{} > 0", " + 1".repeat(n)),
        format!("1{} > 0", " * 1".repeat(n)),
        vec!["true"; n].join(" and "),
        format!("{}true{}", "(".repeat(n), ")".repeat(n)),
        format!(
            "{}true{}",
            "if true then ".repeat(n),
            " else false".repeat(n)
        ),
    ];
    for body in bodies {
        let text = format!(
            "policy p \"t\" {{\n  subject person\n  mode apply\n  effective from 2025-01-01\n  C1 \"x\": {body}\n}}\n"
        );
        std::thread::Builder::new()
            .stack_size(8 << 20)
            .spawn(move || check_texts(vec![(PathBuf::from("deep.rules"), text)]))
            .expect("thread")
            .join()
            .expect("no panic")
            .expect("a program or a located error");
    }
}

/// Brackets (at most 64 deep) around chains (at most 512 terms) multiply into an
/// expression 10,000 levels deep: still an error or a program, never a crash.
#[test]
fn parser_and_checker_survive_chains_in_brackets() {
    let mut e = String::from("1");
    for _ in 0..20 {
        e = format!("({e}{})", " + 1".repeat(500));
    }
    let text = format!(
        "policy p \"t\" {{\n  subject person\n  mode apply\n  effective from 2025-01-01\n  C1 \"x\": {e} > 0\n}}\n"
    );
    std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || check_texts(vec![(PathBuf::from("deep.rules"), text)]))
        .expect("thread")
        .join()
        .expect("no panic")
        .expect("a program or a located error");
}

/// A record the reader accepts never gets a negative amount: values outside a field's
/// declared `range` are either rejected (naming the field) or cannot occur.
#[test]
fn accepted_records_never_get_negative_amounts() {
    let schema = schema();
    let rules = &shipped().rules;
    for subject in 0..schema.subjects.len() {
        let c = extreme_constraints(&schema, subject);
        runner(30 + u8::try_from(subject).unwrap_or(0))
            .run(
                &(record_strategy(&schema, subject, &c), any_date()),
                |(j, d)| {
                    let Ok(rec) = record::read_record(rules.schema(), subject, &j) else {
                        return Ok(());
                    };
                    for dec in eval::evaluate_all(rules, &rec, d, EvalOptions::default()) {
                        if let Some(a) = &dec.amount {
                            prop_assert!(
                                !a.value.is_sign_negative() || a.value.is_zero(),
                                "{}: amount {}",
                                dec.policy,
                                a.value
                            );
                        }
                    }
                    Ok(())
                },
            )
            .unwrap();
    }
}

/// Byte-level damage to a JSON line: truncation, deletion, insertion of a character
/// that matters to JSON, duplication of a span.
#[derive(Debug, Clone)]
enum Damage {
    Truncate(usize),
    Delete(usize),
    Insert(usize, char),
    Duplicate(usize, usize),
}

fn damage() -> impl Strategy<Value = Damage> {
    let chars = proptest::sample::select(vec![
        '{', '}', '[', ']', ',', ':', '"', '\\', '0', '7', '-', '.', 'e', 'E', ' ', 'n', 't', 'f',
        'x', '\u{1}', '\u{7f}', 'é', '中',
    ]);
    prop_oneof![
        any::<usize>().prop_map(Damage::Truncate),
        any::<usize>().prop_map(Damage::Delete),
        (any::<usize>(), chars).prop_map(|(a, c)| Damage::Insert(a, c)),
        (any::<usize>(), 1usize..12).prop_map(|(a, n)| Damage::Duplicate(a, n)),
    ]
}

fn apply(text: &str, ds: &[Damage]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for d in ds {
        let n = chars.len().max(1);
        match *d {
            Damage::Truncate(at) => chars.truncate(at % (n + 1)),
            Damage::Delete(at) if !chars.is_empty() => {
                chars.remove(at % n);
            }
            Damage::Delete(_) => {}
            Damage::Insert(at, c) => chars.insert(at % (chars.len() + 1), c),
            Damage::Duplicate(at, len) if !chars.is_empty() => {
                let a = at % n;
                let span: Vec<char> = chars[a..(a + len).min(chars.len())].to_vec();
                for (k, c) in span.into_iter().enumerate() {
                    chars.insert(a + k, c);
                }
            }
            Damage::Duplicate(..) => {}
        }
    }
    chars.into_iter().collect()
}

#[test]
fn row_reader_accepts_only_what_the_reference_path_reads() {
    use mianshen::internals::fast::{FastDecider, FastRules};
    let rules = &shipped().rules;
    let on = NaiveDate::from_ymd_opt(2025, 7, 1).expect("date");
    let compiled = FastRules::new(rules, on);
    let plan = record::fast::ReadPlan::new(rules.schema(), rules.used_fields().to_vec());
    let n = rules.schema().subjects.len();
    for subject in 0..n {
        let lines = (
            prop_oneof![
                record_strategy(rules.schema(), subject, &Constraints::new()),
                damaged_record(subject)
            ],
            proptest::collection::vec(damage(), 0..4),
        )
            .prop_map(|(json, ds)| apply(&json.to_string(), &ds));
        runner(40 + u8::try_from(subject).unwrap_or(0))
            .run(&lines, |text| {
                let mut reader = FastDecider::new(rules, &compiled);
                for given in [Some(subject), None] {
                    if reader.read(&text, given).is_err() {
                        continue;
                    }
                    prop_assert!(
                        serde_json::from_str::<Json>(&text).is_ok(),
                        "the row reader accepted text that is not JSON: {}",
                        text
                    );
                    prop_assert!(
                        record::fast::read_json(
                            rules.schema(),
                            &plan,
                            Some(reader.subject()),
                            &text
                        )
                        .is_some(),
                        "the row reader accepted a record the reference path refuses: {}",
                        text
                    );
                }
                Ok(())
            })
            .unwrap();
    }
}
