//! The language reference is written twice, in English (docs/language.md) and in Chinese
//! (docs/language.zh.md, for the policy officers who write and review rule files), and
//! the two are kept in step:
//!
//! * their `##` and `###` sections correspond one to one, by number and in order;
//! * every rule example of either that is a complete item (a fenced block whose first
//!   line, after comments, starts with `policy `, `parameter `, `function ` or
//!   `bundle `) checks without errors in a copy of the shipped rules, where it takes
//!   the place of a shipped item of the same name;
//! * the worked example (§16: the blocks marked `<!-- file: PATH -->`) is a rules
//!   directory of its own that checks, whose cases pass, and whose commands print
//!   what the reference shows (`$ mianshen …` lines, and blocks marked
//!   `<!-- output of: mianshen … -->`).
//!
//! Markers, an HTML comment on the line before a fence (invisible when rendered):
//! `<!-- example: in DIR -->` for an example about another schema (checked in that
//! rules directory), `<!-- example: fails -->` for an example that is wrong on purpose (it must then fail
//! the check), `<!-- file: PATH -->` and `<!-- output of: mianshen ARGS -->` as above.
//! A block containing `...` or `…` is a fragment and is not checked.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const EN: (&str, &str) = ("docs/language.md", include_str!("../docs/language.md"));
const ZH: (&str, &str) = (
    "docs/language.zh.md",
    include_str!("../docs/language.zh.md"),
);

/// Sections the Chinese reference already has and the English one receives from
/// another branch (§5.1 Scales, §5.2 A value abolished from a date). While one is
/// absent from the English file it is not reported; once there, it is paired like any
/// other. Empty this list when that branch has landed.
const AWAITING_ENGLISH: &[&str] = &[];

/// Records the worked example's commands read, by the case whose record they are.
const WORKED_RECORDS: &[(&str, &str)] = &[("g1.yaml", "GJS-001")];

// ------------------------------------------------------------------------ headings

/// A `##` or `###` heading.
#[derive(Debug, Clone)]
struct Heading {
    line: usize,
    /// `4`, `4.1`.
    number: String,
    title: String,
}

/// The lines of a document that are not inside a fenced block, with their numbers.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut fenced = false;
    let mut out = vec![];
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            out.push((i + 1, line));
        }
    }
    out
}

/// The numbered sections of a document; every `##` / `###` heading must be numbered
/// (`## 4. Policies`, `### 4.1 …`), a `###` within its `##`, in ascending order.
fn headings((name, text): (&str, &str)) -> Result<Vec<Heading>, Vec<String>> {
    let mut out: Vec<Heading> = vec![];
    let mut errors = vec![];
    let mut chapter: Option<String> = None;
    for (line, l) in prose_lines(text) {
        let (level, rest) = if let Some(r) = l.strip_prefix("### ") {
            (3, r)
        } else if let Some(r) = l.strip_prefix("## ") {
            (2, r)
        } else {
            continue;
        };
        let number: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let title = rest[number.len()..].trim().to_string();
        let number = number.trim_end_matches('.').to_string();
        let parts: Vec<&str> = number.split('.').collect();
        let well_formed = !number.is_empty()
            && parts.iter().all(|p| !p.is_empty())
            && parts.len() == level - 1
            && rest[number.len()..]
                .trim_start_matches('.')
                .starts_with(' ');
        if !well_formed {
            errors.push(format!(
                "{name}:{line}: heading `{l}` is not numbered as a {} (`{}`): number it so \
                 that the two references can be paired",
                if level == 2 { "chapter" } else { "section" },
                if level == 2 {
                    "## 4. Title"
                } else {
                    "### 4.1 Title"
                }
            ));
            continue;
        }
        if level == 2 {
            chapter = Some(number.clone());
        } else if chapter.as_deref() != parts.first().copied() {
            errors.push(format!(
                "{name}:{line}: section {number} follows chapter {}, not chapter {}",
                chapter.as_deref().unwrap_or("(none)"),
                parts[0]
            ));
        }
        if let Some(prev) = out.last() {
            if key(&prev.number) >= key(&number) {
                errors.push(format!(
                    "{name}:{line}: section {number} comes after {} (line {}): out of order",
                    prev.number, prev.line
                ));
            }
        }
        out.push(Heading {
            line,
            number,
            title,
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// `4.10` after `4.9`: numbers compared part by part.
fn key(number: &str) -> Vec<u32> {
    number
        .split('.')
        .map(|p| p.parse().unwrap_or(u32::MAX))
        .collect()
}

#[test]
fn the_two_references_have_the_same_sections() {
    let (en, zh) = match (headings(EN), headings(ZH)) {
        (Ok(en), Ok(zh)) => (en, zh),
        (en, zh) => {
            let mut errors = en.err().unwrap_or_default();
            errors.extend(zh.err().unwrap_or_default());
            panic!("{}", errors.join("\n"));
        }
    };
    let en_numbers: BTreeSet<&str> = en.iter().map(|h| h.number.as_str()).collect();
    let zh_numbers: BTreeSet<&str> = zh.iter().map(|h| h.number.as_str()).collect();
    let mut wrong = vec![];
    for h in &en {
        if !zh_numbers.contains(h.number.as_str()) {
            wrong.push(format!(
                "§{} “{}” ({}:{}) has no counterpart in {}",
                h.number, h.title, EN.0, h.line, ZH.0
            ));
        }
    }
    for h in &zh {
        let awaited = AWAITING_ENGLISH.contains(&h.number.as_str());
        if !en_numbers.contains(h.number.as_str()) && !awaited {
            wrong.push(format!(
                "§{} “{}” ({}:{}) has no counterpart in {}",
                h.number, h.title, ZH.0, h.line, EN.0
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "the references differ in their sections:\n{}",
        wrong.join("\n")
    );
    // Both are in ascending order (checked above), so the same numbers are the same
    // order; the pairing, for the record:
    let paired = en.len();
    assert!(
        paired >= 50,
        "only {paired} numbered sections found in {}",
        EN.0
    );
    println!(
        "{paired} sections paired ({} in {}, awaiting English: {:?})",
        zh.len(),
        ZH.0,
        AWAITING_ENGLISH
            .iter()
            .filter(|n| !en_numbers.contains(*n))
            .collect::<Vec<_>>()
    );
}

#[test]
fn an_unnumbered_or_misplaced_heading_is_named() {
    let doc =
        "## 1. One\n### 1.1 A\n### Glossary\n## 3. Three\n### 4.1 B\n```\n## not a heading\n```\n";
    let errors = headings(("x.md", doc)).unwrap_err();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].contains("x.md:3") && errors[0].contains("not numbered"));
    assert!(errors[1].contains("x.md:5") && errors[1].contains("follows chapter 3, not chapter 4"));
    let unordered = headings(("x.md", "## 2. Two\n## 1. One\n")).unwrap_err();
    assert!(unordered[0].contains("out of order"), "{unordered:?}");
}

// ------------------------------------------------------------------------ blocks

/// A fenced block and the marker on the line before its fence, if any.
#[derive(Debug)]
struct Block {
    /// The line of the opening fence.
    line: usize,
    text: String,
    marker: Option<String>,
}

fn blocks(text: &str) -> Vec<Block> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = vec![];
    let mut i = 0;
    while i < lines.len() {
        if !lines[i].trim_start().starts_with("```") {
            i += 1;
            continue;
        }
        let indent = lines[i].len() - lines[i].trim_start().len();
        let marker = i
            .checked_sub(1)
            .and_then(|p| lines.get(p))
            .map(|l| l.trim())
            .and_then(|l| l.strip_prefix("<!--"))
            .and_then(|l| l.strip_suffix("-->"))
            .map(|l| l.trim().to_string());
        let start = i;
        i += 1;
        let mut body = vec![];
        while i < lines.len() && !lines[i].trim_start().starts_with("```") {
            body.push(lines[i].get(indent..).unwrap_or(lines[i].trim_start()));
            i += 1;
        }
        out.push(Block {
            line: start + 1,
            text: body.join("\n") + "\n",
            marker,
        });
        i += 1;
    }
    out
}

const ITEM_WORDS: &[&str] = &["policy", "parameter", "function", "bundle", "scale"];

/// The name an item line defines at the start of a line (`policy x "…" {`), if it is
/// one: (kind, name).
fn item_at(line: &str) -> Option<(&str, &str)> {
    let mut words = line.splitn(2, ' ');
    let kind = words.next()?;
    if !ITEM_WORDS.contains(&kind) {
        return None;
    }
    let rest = words.next()?.trim_start();
    let name = rest
        .split(|c: char| c.is_whitespace() || c == '(' || c == '"' || c == ':')
        .next()?;
    (!name.is_empty()).then_some((kind, name))
}

/// Whether a block is a rule example: its first line that is not blank or a comment
/// starts an item.
fn is_rule_example(text: &str) -> bool {
    text.lines()
        .map(str::trim_end)
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .is_some_and(|l| {
            ["policy ", "parameter ", "function ", "bundle ", "scale "]
                .iter()
                .any(|w| l.starts_with(w))
        })
}

fn is_fragment(text: &str) -> bool {
    text.contains("...") || text.contains('…')
}

/// `text` without the items (kind, name) it defines at the start of a line: an item
/// runs to the next item or the end of the file.
fn without_items(text: &str, names: &BTreeSet<(String, String)>) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        if let Some((kind, name)) = item_at(line) {
            skipping = names.contains(&(kind.to_string(), name.to_string()));
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn defined_items(text: &str) -> BTreeSet<(String, String)> {
    text.lines()
        .filter_map(item_at)
        .map(|(k, n)| (k.to_string(), n.to_string()))
        .collect()
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mianshen-langref-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the scratch directory");
    dir
}

/// The shipped rules (schema and rule files, not the cases) copied to `to`, without
/// the items `replaced` names.
fn copy_rules(from: &Path, to: &Path, replaced: &BTreeSet<(String, String)>) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        let path = entry.path();
        if entry.file_type().expect("file type").is_dir() {
            if entry.file_name() != "cases" {
                copy_rules(&path, &target, replaced);
            }
        } else if path.extension().is_some_and(|e| e == "rules") {
            let text = std::fs::read_to_string(&path).expect("read a rule file");
            std::fs::write(&target, without_items(&text, replaced)).expect("write");
        } else {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}

/// The diagnostics of loading `dir`, rendered; `None` when it loads.
fn load_errors(dir: &Path) -> Option<String> {
    match mianshen::RuleSet::load_dir(dir) {
        Ok(_) => None,
        Err(mianshen::LoadError::Diagnostics {
            diagnostics,
            sources,
        }) => Some(
            diagnostics
                .iter()
                .filter(|d| d.severity == mianshen::Severity::Error)
                .map(|d| d.render(&sources))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        Err(e) => Some(e.to_string()),
    }
}

/// What checking the rule examples of one document found.
#[derive(Default)]
struct Report {
    checked: Vec<usize>,
    fragments: Vec<usize>,
    failing_on_purpose: Vec<usize>,
    wrong: Vec<String>,
}

fn check_rule_examples((name, text): (&str, &str)) -> Report {
    let mut report = Report::default();
    for b in blocks(text) {
        let marker = b.marker.as_deref().unwrap_or("");
        if marker.starts_with("file:") || !is_rule_example(&b.text) {
            continue;
        }
        if is_fragment(&b.text) {
            report.fragments.push(b.line);
            continue;
        }
        let must_fail = marker == "example: fails";
        // `<!-- example: in DIR -->`: an example about another schema, checked in that
        // rules directory instead of the shipped one.
        let base = marker.strip_prefix("example: in ").unwrap_or("rules");
        let replaced = defined_items(&b.text);
        let dir = scratch(&format!("{}-{}", name.replace(['/', '.'], "_"), b.line));
        let rules = dir.join("rules");
        copy_rules(&root().join(base), &rules, &replaced);
        std::fs::write(rules.join("zz-language-reference-example.rules"), &b.text)
            .expect("write the example");
        let errors = load_errors(&rules);
        let _ = std::fs::remove_dir_all(&dir);
        match (errors, must_fail) {
            (None, false) => report.checked.push(b.line),
            (Some(_), true) => report.failing_on_purpose.push(b.line),
            (Some(e), false) => report.wrong.push(format!(
                "{name}:{}: the example does not check in the shipped rules:\n{e}",
                b.line
            )),
            (None, true) => report.wrong.push(format!(
                "{name}:{}: the example marked `<!-- example: fails -->` checks without errors",
                b.line
            )),
        }
    }
    report
}

fn rule_examples_check(doc: (&str, &str)) {
    let r = check_rule_examples(doc);
    let summary = format!(
        "{}: {} rule examples checked in the shipped rules (lines {:?}), {} fragments not \
         checked (lines {:?}), {} failing on purpose (lines {:?})",
        doc.0,
        r.checked.len(),
        r.checked,
        r.fragments.len(),
        r.fragments,
        r.failing_on_purpose.len(),
        r.failing_on_purpose
    );
    println!("{summary}");
    assert!(r.wrong.is_empty(), "{summary}\n\n{}", r.wrong.join("\n\n"));
    assert!(
        r.checked.len() >= 4,
        "{summary}: fewer rule examples than expected were found and checked"
    );
}

#[test]
fn the_english_rule_examples_check() {
    rule_examples_check(EN);
}

#[test]
fn the_chinese_rule_examples_check() {
    rule_examples_check(ZH);
}

#[test]
fn an_example_replaces_the_shipped_item_of_its_name() {
    let shipped = "# head\npolicy a \"A\" {\n  x\n}\n\n# b\nparameter B \"B\": int {\n  from 2020-01-01 = 1\n}\nfunction f(x: int): int = x\n";
    let names = defined_items("parameter B \"b\": int {\n}\n");
    assert_eq!(
        without_items(shipped, &names),
        "# head\npolicy a \"A\" {\n  x\n}\n\n# b\nfunction f(x: int): int = x\n"
    );
    let f = defined_items("function f(x: int): int = x\n");
    assert!(f.contains(&("function".to_string(), "f".to_string())));
    assert!(is_rule_example("# comment\n\npolicy a \"A\" {\n}\n"));
    assert!(!is_rule_example("C1 \"…\": x\n"));
}

// ------------------------------------------------------------------------ worked example

/// Whether `actual` matches `shown`, where a line `...` matches any run of lines.
fn matches(shown: &[String], actual: &[String]) -> bool {
    match shown.split_first() {
        None => actual.is_empty(),
        Some((first, rest)) if first.trim() == "..." => {
            (0..=actual.len()).any(|skip| matches(rest, &actual[skip..]))
        }
        Some((first, rest)) => actual
            .split_first()
            .is_some_and(|(a, more)| a == first && matches(rest, more)),
    }
}

fn run(dir: &Path, args: &[&str]) -> Vec<String> {
    // The language is the command's (`--lang`), not the locale of the machine.
    let out = Command::new(env!("CARGO_BIN_EXE_mianshen"))
        .args(args)
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LANG")
        .current_dir(dir)
        .output()
        .expect("the binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines().map(|l| l.trim_end().to_string()).collect()
}

fn worked_example((name, text): (&str, &str)) {
    let dir = scratch(&format!("worked-{}", name.replace(['/', '.'], "_")));
    let all = blocks(text);
    let mut files = vec![];
    for b in &all {
        if let Some(path) = b.marker.as_deref().and_then(|m| m.strip_prefix("file:")) {
            let path = dir.join(path.trim());
            std::fs::create_dir_all(path.parent().expect("a file path")).expect("create dir");
            std::fs::write(&path, &b.text).expect("write a file of the worked example");
            files.push(b.line);
        }
    }
    assert!(
        dir.join("rules/schema.yaml").exists() && files.len() >= 4,
        "{name}: the worked example's files (schema, parameter, policy, cases) are marked \
         `<!-- file: PATH -->`; found {} (lines {files:?})",
        files.len()
    );
    if let Some(e) = load_errors(&dir.join("rules")) {
        panic!("{name}: the worked example does not check:\n{e}");
    }
    // The records its commands read.
    let cases_dir = dir.join("rules/cases");
    for (file, case) in WORKED_RECORDS {
        let mut record = None;
        for entry in std::fs::read_dir(&cases_dir).expect("the worked example has cases") {
            let text = std::fs::read_to_string(entry.expect("entry").path()).expect("read");
            let yaml: serde_yaml::Value = serde_yaml::from_str(&text).expect("a case file");
            for c in yaml["cases"].as_sequence().into_iter().flatten() {
                if c["id"].as_str() == Some(case) {
                    record = Some(c["record"].clone());
                }
            }
        }
        let record =
            record.unwrap_or_else(|| panic!("{name}: no case {case} in the worked example"));
        std::fs::write(
            dir.join(file),
            serde_yaml::to_string(&record).expect("yaml"),
        )
        .expect("write");
    }
    let mut shown: Vec<(usize, String, Vec<String>)> = vec![];
    for b in &all {
        if let Some(cmd) = b
            .marker
            .as_deref()
            .and_then(|m| m.strip_prefix("output of:"))
        {
            let output = b.text.lines().map(|l| l.trim_end().to_string()).collect();
            shown.push((b.line, cmd.trim().to_string(), output));
        } else if b.text.starts_with("$ mianshen ") {
            for l in b.text.lines() {
                if let Some(cmd) = l.strip_prefix("$ ") {
                    shown.push((b.line, cmd.to_string(), vec![]));
                } else if let Some(last) = shown.last_mut() {
                    last.2.push(l.trim_end().to_string());
                }
            }
        }
    }
    assert!(
        shown.len() >= 3,
        "{name}: the worked example shows its commands (`$ mianshen check rules/`, \
         `$ mianshen test rules/`, the output of `eval`); found {}",
        shown.len()
    );
    let mut wrong = vec![];
    for (line, cmd, output) in &shown {
        let args: Vec<&str> = cmd.split_whitespace().collect();
        assert_eq!(args.first(), Some(&"mianshen"), "{name}:{line}: `{cmd}`");
        let actual = run(&dir, &args[1..]);
        if !matches(output, &actual) {
            wrong.push(format!(
                "{name}:{line}: `{cmd}` prints\n{}\n--- the reference shows\n{}",
                actual.join("\n"),
                output.join("\n")
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
    println!(
        "{name}: the worked example ({} files) checks; {} commands print what is shown",
        files.len(),
        shown.len()
    );
}

#[test]
fn the_english_worked_example_runs_as_shown() {
    worked_example(EN);
}

#[test]
fn the_chinese_worked_example_runs_as_shown() {
    worked_example(ZH);
}

// ------------------------------------------------------------------------ codes

/// The Chinese reference's §14 gives the meaning of every check code, as the English
/// one lists them (tests/diagnostics.rs): the engine's messages are English, the code is
/// what a reader looks up.
#[test]
fn the_chinese_reference_explains_every_diagnostic_code() {
    let section =
        ZH.1.split("\n## 14. ")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .expect("§14 of the Chinese reference");
    let unexplained: Vec<&str> = mianshen::DiagnosticCode::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !section.contains(&format!("| `{c}` |")))
        .collect();
    assert!(
        unexplained.is_empty(),
        "codes without a row in §14 of {}: {unexplained:?}",
        ZH.0
    );
}
