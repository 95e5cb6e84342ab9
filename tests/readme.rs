//! The README's tour is what the commands print: every `$ cargo run --release -- …`
//! block is run with the built binary on a copy of the shipped files, and its output
//! must match the block (a line `...` stands for any number of lines). A version hash, a
//! count of cases or an amount that drifts from the engine fails here, not in a
//! reader's terminal.

use std::path::{Path, PathBuf};
use std::process::Command;

const README: &str = include_str!("../README.md");

/// One command of the tour and the output the README shows for it.
struct Shown {
    line: usize,
    args: Vec<String>,
    output: Vec<String>,
}

/// Every fenced block that starts with `$ cargo run --release -- `.
fn shown_commands() -> Vec<Shown> {
    let mut out = vec![];
    let lines: Vec<&str> = README.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let Some(args) = lines[i].strip_prefix("$ cargo run --release -- ") else {
            i += 1;
            continue;
        };
        let line = i + 1;
        let mut output = vec![];
        i += 1;
        while i < lines.len() && !lines[i].starts_with("```") {
            output.push(lines[i].trim_end().to_string());
            i += 1;
        }
        out.push(Shown {
            line,
            args: args.split_whitespace().map(str::to_string).collect(),
            output,
        });
    }
    out
}

/// The YAML block the tour asks the reader to save as `name`.
fn saved_file(name: &str) -> String {
    let marker = format!("Save this as `{name}`");
    let at = README.find(&marker).expect("the tour names the file");
    let rest = &README[at..];
    let start = rest.find("```yaml\n").expect("a yaml block follows") + "```yaml\n".len();
    let end = rest[start..].find("```").expect("the block ends");
    rest[start..start + end].to_string()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A scratch directory laid out as the reader's checkout after following the tour:
/// the rules, the fixtures, `person.yaml`, and `broken/` (the rules with the typo the
/// tour describes).
fn workspace() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("mianshen-readme-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&root.join("rules"), &dir.join("rules"));
    copy_dir(
        &root.join("tests/fixtures/forms"),
        &dir.join("tests/fixtures/forms"),
    );
    std::fs::write(dir.join("person.yaml"), saved_file("person.yaml")).expect("write");
    std::fs::write(dir.join("near.yaml"), saved_file("near.yaml")).expect("write");
    copy_dir(&root.join("examples/reform"), &dir.join("examples/reform"));
    std::fs::copy(
        root.join("examples/population.jsonl"),
        dir.join("examples/population.jsonl"),
    )
    .expect("copy");
    copy_dir(&root.join("rules"), &dir.join("broken"));
    let typo = dir.join("broken/unemployment-insurance/ui-stable-employment-refund.rules");
    let text = std::fs::read_to_string(&typo).expect("the rule file of the diagnostic");
    let broken = text.replacen(
        "enterprise.business_status == active",
        "enterprise.business_status == actve",
        1,
    );
    assert_ne!(text, broken, "the tour's typo applies");
    std::fs::write(&typo, broken).expect("write");
    dir
}

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

#[test]
fn every_command_of_the_tour_prints_what_the_readme_shows() {
    let dir = workspace();
    let commands = shown_commands();
    assert!(commands.len() >= 5, "the tour shows its commands");
    let mut wrong = vec![];
    for c in &commands {
        // The language is the block's (`--lang`), not the locale of the machine.
        let out = Command::new(env!("CARGO_BIN_EXE_mianshen"))
            .args(&c.args)
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .env_remove("LANG")
            .current_dir(&dir)
            .output()
            .expect("the binary runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let actual: Vec<String> = text.lines().map(|l| l.trim_end().to_string()).collect();
        let shown = &c.output;
        if !matches(shown, &actual) {
            wrong.push(format!(
                "README.md:{}: `{}` prints\n{}\n--- the README shows\n{}",
                c.line,
                c.args.join(" "),
                actual.join("\n"),
                c.output.join("\n")
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

#[test]
fn the_matcher_skips_only_where_told() {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert!(matches(&s(&["a", "...", "d"]), &s(&["a", "b", "c", "d"])));
    assert!(matches(&s(&["a", "  ...", "d"]), &s(&["a", "d"])));
    assert!(!matches(&s(&["a", "d"]), &s(&["a", "b", "d"])));
    assert!(!matches(&s(&["a", "...", "e"]), &s(&["a", "b", "d"])));
}
