//! Hostile input, tried as an attacker would: a rules directory that loops, blocks or
//! points outside itself; record text that tries to draw fake lines into what a case
//! worker reads; rules that try to print sensitive values.
//!
//! Every command runs the built binary with a time limit: a hang fails the test instead
//! of blocking the suite.

#[path = "support/command.rs"]
mod command;
use command::{run_within, Run};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);
const ON: &str = "2025-06-30";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str]) -> Run {
    run_within(args, LIMIT)
}

/// A fresh scratch directory under the target directory.
fn scratch(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "hostile-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// A copy of the shipped rules.
fn rules_copy(name: &str) -> PathBuf {
    let dir = scratch(name).join("rules");
    copy_dir(&root().join("rules"), &dir);
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// No raw control or bidi character, other than line ends, anywhere in the output.
fn assert_clean(what: &str, out: &str) {
    for c in out.chars() {
        if c == '\n' {
            continue;
        }
        assert!(
            !mianshen::internals::escape::is_dangerous(c),
            "{what}: raw U+{:04X} in the output:\n{out}",
            c as u32
        );
    }
}

// ---------------------------------------------------------------- rule directories

#[cfg(unix)]
#[test]
fn symlink_loops_do_not_make_check_loop() {
    let rules = rules_copy("loops");
    std::os::unix::fs::symlink(".", rules.join("x")).unwrap();
    std::os::unix::fs::symlink(".", rules.join("y")).unwrap();
    std::os::unix::fs::symlink("..", rules.join("employment").join("up")).unwrap();
    let r = run(&["check", s(&rules)]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("14 policies"), "{r:?}");
}

#[cfg(unix)]
#[test]
fn a_link_loop_named_rules_is_an_error_naming_it() {
    let rules = rules_copy("linkloop");
    std::os::unix::fs::symlink("b.rules", rules.join("a.rules")).unwrap();
    std::os::unix::fs::symlink("a.rules", rules.join("b.rules")).unwrap();
    let r = run(&["check", s(&rules)]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("a.rules") || r.stderr.contains("b.rules"),
        "{r:?}"
    );
}

#[cfg(unix)]
#[test]
fn a_fifo_named_rules_does_not_block() {
    let rules = rules_copy("fifo");
    let fifo = rules.join("x.rules");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("mkfifo unavailable: skipped");
        return;
    }
    let r = run(&["check", s(&rules)]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("x.rules") && r.stderr.contains("FIFO"),
        "{r:?}"
    );
    // The case files are listed the same way.
    let cases_fifo = rules.join("cases").join("z.yaml");
    std::fs::remove_file(&fifo).unwrap();
    Command::new("mkfifo").arg(&cases_fifo).status().unwrap();
    let r = run(&["test", s(&rules)]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("z.yaml"), "{r:?}");
}

#[cfg(target_os = "linux")]
#[test]
fn a_device_named_rules_is_refused_by_name() {
    let rules = rules_copy("device");
    std::os::unix::fs::symlink("/dev/null", rules.join("null.rules")).unwrap();
    let r = run(&["check", s(&rules)]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("null.rules"), "{r:?}");
}

#[cfg(unix)]
#[test]
fn a_link_to_a_system_file_is_refused_before_reading() {
    let rules = rules_copy("passwd");
    let outside = scratch("outside").join("secret.txt");
    std::fs::write(&outside, "root:SECRET-LINE:0:0\n").unwrap();
    std::os::unix::fs::symlink(&outside, rules.join("passwd.rules")).unwrap();
    let r = run(&["check", s(&rules)]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("passwd.rules"), "{r:?}");
    assert!(r.stderr.contains("outside the rules directory"), "{r:?}");
    assert!(
        !r.stderr.contains("SECRET") && !r.stdout.contains("SECRET"),
        "{r:?}"
    );
}

#[cfg(unix)]
#[test]
fn links_inside_the_directory_are_followed_once() {
    let rules = rules_copy("inside");
    // A second path to a directory of rules: its files are read once, not twice (which
    // would define every policy twice).
    std::os::unix::fs::symlink("employment", rules.join("employment-again")).unwrap();
    let r = run(&["check", s(&rules)]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("14 policies"), "{r:?}");
}

#[test]
fn a_byte_order_mark_is_accepted_with_spans_still_right() {
    let rules = rules_copy("bom");
    for f in ["schema.yaml", "common.rules"] {
        let p = rules.join(f);
        let text = std::fs::read(&p).unwrap();
        let mut with = b"\xEF\xBB\xBF".to_vec();
        with.extend(text);
        std::fs::write(&p, with).unwrap();
    }
    let r = run(&["check", s(&rules)]);
    assert_eq!(r.code, 0, "{r:?}");
    // An error on line 1 of a file with a BOM is still at column 1.
    let p = rules.join("broken.rules");
    std::fs::write(&p, "\u{feff}polcy x-y \"t\" {}\n").unwrap();
    let r = run(&["check", s(&rules)]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("broken.rules:1:1"), "{r:?}");
}

#[test]
fn invalid_utf8_is_reported_with_its_line_and_column() {
    let rules = rules_copy("utf8");
    std::fs::write(
        rules.join("latin1.rules"),
        b"# one\n# two\n# caf\xE9\n".as_slice(),
    )
    .unwrap();
    let r = run(&["check", s(&rules)]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("latin1.rules:3:6"), "{r:?}");
    assert!(r.stderr.contains("not UTF-8"), "{r:?}");
}

#[test]
fn an_unterminated_string_is_reported_where_it_starts() {
    let rules = rules_copy("string");
    let p = rules.join("social-assistance/sh-senior-comprehensive-allowance.rules");
    let text = std::fs::read_to_string(&p).unwrap();
    let line = text
        .lines()
        .position(|l| l.contains("C1 \""))
        .expect("a clause C1");
    let broken: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == line {
                // Drop the label's closing quote.
                let close = l.rfind('"').unwrap();
                format!("{}{}", &l[..close], &l[close + 1..])
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(&p, broken.join("\n")).unwrap();
    let r = run(&["check", s(&rules)]);
    assert_eq!(r.code, 1, "{r:?}");
    let at = format!("sh-senior-comprehensive-allowance.rules:{}:", line + 1);
    assert!(r.stderr.contains("string is not closed"), "{r:?}");
    assert!(r.stderr.contains(&at), "expected {at}: {r:?}");
}

// ---------------------------------------------------------------- forged output

/// A record whose text fields try to draw lines of their own.
fn forged_record(dir: &Path) -> PathBuf {
    let p = dir.join("forged.json");
    let record = serde_json::json!({
        "person": {
            "id": "P-1\u{1b}[2J\u{1b}[31m",
            "name": "张三\r\nseparation_date 离职日期: 1999-01-01\u{0}",
            "id_number": "110101199001011234",
            "phone": "138\u{202e}0000\u{2066}0000",
            "gender": "female",
            "female_retirement_category": "cadre55",
            "birth_date": "1985-05-02",
            "hukou_region": "上海"
        },
        "employment": {
            "status": "unemployed",
            "separation_date": "2025-03-31",
            "separation_reason": "contract_expired"
        },
        "unemployment_registration": {"registered": true, "job_seeking": true}
    });
    std::fs::write(&p, serde_json::to_string(&record).unwrap()).unwrap();
    p
}

#[test]
fn record_text_cannot_draw_lines_in_eval_or_prefill() {
    let dir = scratch("forged");
    let rec = forged_record(&dir);
    let html = dir.join("form.html");
    for args in [
        vec!["eval", "rules/", s(&rec), "--date", ON],
        vec!["eval", "rules/", s(&rec), "--date", ON, "--json"],
        vec![
            "prefill",
            "rules/",
            "--bundle",
            "bundle-unemployment",
            s(&rec),
            "--date",
            ON,
            "--html",
            s(&html),
        ],
        vec![
            "prefill",
            "rules/",
            "--bundle",
            "bundle-unemployment",
            s(&rec),
            "--date",
            ON,
            "--json",
        ],
    ] {
        let r = run(&args);
        assert_eq!(r.code, 0, "{args:?}: {r:?}");
        assert_clean(&format!("{args:?} stdout"), &r.stdout);
        assert_clean(&format!("{args:?} stderr"), &r.stderr);
        // No line of the output starts with the forged text.
        assert!(
            !r.stdout
                .lines()
                .any(|l| l.trim_start().starts_with("separation_date 离职日期")),
            "{args:?}: {r:?}"
        );
    }
    let r = run(&[
        "prefill",
        "rules/",
        "--bundle",
        "bundle-unemployment",
        s(&rec),
        "--date",
        ON,
    ]);
    assert!(r.stdout.contains("\\u{d}\\u{a}separation_date"), "{r:?}");
    assert!(r.stdout.contains("P-1\\u{1b}[2J"), "{r:?}");
    // The pre-filled form keeps the citizen's own values (masked nowhere).
    assert!(r.stdout.contains("110101199001011234"), "{r:?}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert_clean("the HTML page", &page.replace('\n', ""));
    assert!(
        page.contains("\\u{202e}") && page.contains("\\u{0}"),
        "{page}"
    );
}

#[test]
fn record_text_cannot_forge_the_batch_outputs() {
    let dir = scratch("forged-run");
    let rec = forged_record(&dir);
    let line = std::fs::read_to_string(&rec).unwrap();
    let input = dir.join("in.jsonl");
    std::fs::write(&input, format!("{line}\n")).unwrap();
    let out = dir.join("out");
    let r = run(&[
        "run",
        "rules/",
        "--input",
        s(&input),
        "--date",
        ON,
        "--out",
        s(&out),
        "--quiet",
        "--bundle",
        "bundle-unemployment",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    for f in [
        "grants.jsonl",
        "pushes.jsonl",
        "forms.jsonl",
        "summary.json",
    ] {
        let text = std::fs::read_to_string(out.join(f)).unwrap();
        assert_clean(f, &text);
        for l in text
            .lines()
            .filter(|l| !l.is_empty() && f != "summary.json")
        {
            let _: serde_json::Value = serde_json::from_str(l).expect("valid JSON");
        }
    }
    let forms = std::fs::read_to_string(out.join("forms.jsonl")).unwrap();
    assert!(forms.contains("\\u202e"), "{forms}");
}

// ---------------------------------------------------------------- sensitive values

const LEAK_RULES: &str = r#"
policy leak-test "泄露测试" {
  subject   person
  mode      push_and_confirm
  effective from 2020-01-01

  let idn = person.id_number
  let acct = social_security_card.financial_account otherwise "none"

  C1 "有身份证号": person.id_number is not none

  amount one_time CNY: 100.00
    with account = acct, plain = 1

  report idnum = idn
  report bank = social_security_card.financial_account
  report via_function = echo(person.phone)
  report counted = count c in household.members where c.birth_certificate_no is not none
  report chosen = if person.phone is none then 0 else 1
  report birth = person.birth_date
}

function echo(s: string): string {
  s
}

policy leak-compiled "泄露测试2" {
  subject   person
  mode      no_application
  effective from 2020-01-01

  C1 "有卡": social_security_card.has_card

  amount one_time CNY: 100.00
    with account = social_security_card.financial_account, plain = 1
}
"#;

fn leak_rules() -> PathBuf {
    let dir = scratch("leak").join("rules");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(root().join("rules/schema.yaml"), dir.join("schema.yaml")).unwrap();
    std::fs::write(dir.join("leak.rules"), LEAK_RULES).unwrap();
    dir
}

fn leak_record(dir: &Path) -> PathBuf {
    let p = dir.join("p.json");
    let record = serde_json::json!({
        "person": {
            "id": "P-1",
            "id_number": "110101199001011234",
            "phone": "13800000000",
            "gender": "female",
            "birth_date": "1953-05-02",
            "hukou_region": "上海"
        },
        "social_security_card": {"has_card": true, "financial_account": "6222020200112233445"}
    });
    std::fs::write(&p, serde_json::to_string(&record).unwrap()).unwrap();
    p
}

const SECRETS: [&str; 3] = ["110101199001011234", "6222020200112233445", "13800000000"];

#[test]
fn values_derived_from_sensitive_fields_are_masked_everywhere() {
    let rules = leak_rules();
    let check = run(&["check", s(&rules)]);
    assert_eq!(check.code, 0, "{check:?}");
    let rec = leak_record(rules.parent().unwrap());
    let text = run(&["eval", s(&rules), s(&rec), "--date", ON]);
    let json = run(&["eval", s(&rules), s(&rec), "--date", ON, "--json"]);
    for r in [&text, &json] {
        assert_eq!(r.code, 0, "{r:?}");
        for secret in SECRETS {
            assert!(!r.stdout.contains(secret), "{secret} leaked: {r:?}");
        }
    }
    assert!(text.stdout.contains("idnum: ***"), "{text:?}");
    assert!(text.stdout.contains("via_function: ***"), "{text:?}");
    assert!(text.stdout.contains("chosen: ***"), "{text:?}");
    assert!(text.stdout.contains("counted: ***"), "{text:?}");
    assert!(text.stdout.contains("account ***, plain 1"), "{text:?}");
    // What is not derived from a sensitive field is shown.
    assert!(text.stdout.contains("birth: 1953-05-02"), "{text:?}");
    let decisions: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let d = &decisions[0];
    assert_eq!(d["bank"], "***");
    assert_eq!(d["amount"]["account"], "***");
    assert_eq!(d["amount"]["plain"], 1);

    // Both tiers of the batch.
    let input = rules.parent().unwrap().join("in.jsonl");
    let line = std::fs::read_to_string(&rec).unwrap();
    std::fs::write(&input, format!("{line}\n")).unwrap();
    let out = rules.parent().unwrap().join("out");
    let r = run(&[
        "run",
        s(&rules),
        "--input",
        s(&input),
        "--date",
        ON,
        "--out",
        s(&out),
        "--quiet",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let grants = std::fs::read_to_string(out.join("grants.jsonl")).unwrap();
    let pushes = std::fs::read_to_string(out.join("pushes.jsonl")).unwrap();
    assert!(grants.contains("\"account\":\"***\""), "{grants}");
    assert!(pushes.contains("\"account\":\"***\""), "{pushes}");
    for secret in SECRETS {
        assert!(
            !grants.contains(secret) && !pushes.contains(secret),
            "{secret}"
        );
    }
}
