use mianshen::testing::generate::*;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use std::path::Path;

#[test]
fn debug_focus() {
    let rules = mianshen::load::load_dir(Path::new("rules")).unwrap();
    let pid = std::env::var("POL").unwrap_or("ui-unemployment-benefit".into());
    let pi = rules.policy_index[&pid];
    let subject = rules.program.policies[pi].subject;
    let mut c = Constraints::default().with_policy_hints(&rules, &[pi]);
    c.required = Mix {
        value: 18,
        absent: 1,
        null: 1,
    };
    c.defaulted = Mix {
        value: 8,
        absent: 1,
        null: 1,
    };
    c.hint_weight = 12;
    let s = case_strategy(
        &rules.schema,
        subject,
        &c,
        ref_date_strategy(&rules, Some(pi)),
    )
    .unwrap();
    let mut runner = TestRunner::deterministic();
    let mut fails = std::collections::BTreeMap::<String, u32>::new();
    let mut outs = std::collections::BTreeMap::<String, u32>::new();
    let mut shown = 0;
    for _ in 0..1000 {
        let (r, j) = s.new_tree(&mut runner).unwrap().current();
        let rec = mianshen::record::read_record(&rules.schema, subject, &j).unwrap();
        let d = mianshen::eval::evaluate_policy(&rules, pi, &rec, r, Default::default());
        *outs.entry(d.outcome.as_str().into()).or_default() += 1;
        for f in &d.failed {
            *fails.entry(f.clone()).or_default() += 1;
        }
        if let Some((_, items)) = &d.per_item {
            for (_, it) in items {
                for f in &it.failed {
                    *fails.entry(format!("item {f}")).or_default() += 1;
                }
            }
        }
        if shown < 1 && std::env::var("SHOW").is_ok() {
            shown += 1;
            println!("{r} {}", serde_json::to_string_pretty(&j).unwrap());
        }
    }
    println!("{outs:?}\n{fails:?}");
    if std::env::var("HINTS").is_ok() {
        println!("{c:#?}");
    }
}
#[test]
fn debug_ir() {
    let rules = mianshen::load::load_dir(Path::new("rules")).unwrap();
    let p = rules.policy("ui-unemployment-benefit").unwrap();
    println!("{:#?}", p.clauses[2].condition);
    println!("{:#?}", p.clauses[6].condition);
}
