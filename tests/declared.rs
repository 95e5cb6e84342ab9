//! Declared properties (`property ...` in a policy): the shipped ones hold, and a
//! planted bug is caught with a small counterexample.

use mianshen::internals::testing::declared;
use mianshen::RuleSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn the_shipped_declared_properties_hold() {
    let rules = RuleSet::load_dir(root().join("rules")).unwrap();
    let results = rules.check_declared_properties(1000, 20261124);
    assert!(results.len() >= 10, "{}", declared::render(&results));
    let failures: Vec<_> = results
        .iter()
        .filter(|r| r.counterexample.is_some())
        .collect();
    assert!(failures.is_empty(), "{}", declared::render(&results));
}

#[test]
fn a_planted_monotonicity_bug_is_caught_with_a_counterexample() {
    // 上海老年综合津贴: the 100+ band pays less than the 90–99 band.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("declared-planted");
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&root().join("rules"), &dir);
    let file = dir.join("social-assistance/sh-senior-comprehensive-allowance.rules");
    let text = std::fs::read_to_string(&file).unwrap();
    let broken = text.replace("years >= 100 => 600.00", "years >= 100 => 60.00");
    assert_ne!(text, broken);
    std::fs::write(&file, broken).unwrap();
    let rules = RuleSet::load_dir(&dir).unwrap();
    let results = rules.check_declared_properties(1000, 7);
    let r = results
        .iter()
        .find(|r| r.policy == "sh-senior-comprehensive-allowance" && r.name == "older_keeps")
        .expect("the property is declared");
    eprintln!("{}", declared::render(std::slice::from_ref(r)));
    let c = r
        .counterexample
        .as_ref()
        .unwrap_or_else(|| panic!("not caught:\n{}", declared::render(&results)));
    assert!(c.message.contains("amount"), "{}", c.message);
    assert!(c.record_yaml.contains("birth_date"), "{}", c.record_yaml);
    // Shrunk: a small record, ready to paste.
    assert!(c.record_yaml.lines().count() < 40, "{}", c.record_yaml);
}
