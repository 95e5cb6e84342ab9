//! Built-in properties over the shipped rules.

use mianshen::testing::properties::run_properties;
use std::path::Path;

#[test]
fn shipped_rules_hold_the_builtin_properties() {
    let rules = mianshen::load::load_dir(Path::new("rules")).expect("shipped rules load");
    let report = run_properties(&rules, 1000, 2025);
    println!("{}", report.render());
    assert!(report.passed(), "{}", report.render());
}

fn copy_rules(to: &Path) {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                copy(&p, &to.join(e.file_name()));
            } else {
                std::fs::copy(&p, to.join(e.file_name())).unwrap();
            }
        }
    }
    let _ = std::fs::remove_dir_all(to);
    copy(Path::new("rules"), to);
}

#[test]
fn planted_c6_flip_is_caught() {
    let dir = std::env::temp_dir().join(format!("mianshen-planted-{}", std::process::id()));
    copy_rules(&dir);
    let f = dir.join("unemployment-insurance/ui-unemployment-benefit.rules");
    let text = std::fs::read_to_string(&f).unwrap();
    std::fs::write(&f, text.replace("ref < retirement", "ref >= retirement")).unwrap();
    let rules = mianshen::load::load_dir(&dir).expect("planted rules load");
    let report = run_properties(&rules, 1000, 2025);
    println!("{}", report.render());
}

#[test]
fn generated_coverage_report() {
    let rules = mianshen::load::load_dir(Path::new("rules")).expect("shipped rules load");
    let report = mianshen::testing::properties::generated_coverage(&rules, 1000, 2025);
    println!("{}", report.render());
}
