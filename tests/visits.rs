//! Visit lists for grid workers (issue 17 item 3): `mianshen run --visits-by PATH`.
//!
//! The lists are held to the reference evaluator: every record of a population is read
//! and decided (`RuleSet::decide`, as `mianshen eval` does), and the facts each group's
//! list must name — exactly the missing fields of the undetermined decisions of its
//! subjects — are worked out here from those decisions alone. Then the order, the
//! masking (sensitive fields never shown unless `contact: true`), the CSV's shape, and
//! the HTML page: self-contained, escaped, loaded in headless Chromium when one is
//! installed (else "skipped").

#[path = "support/command.rs"]
mod command;

use chrono::NaiveDate;
use mianshen::{Outcome, RuleSet};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SCHEMA: &str = "subjects:
  person:
    id: person.id
    fields:
      person:
        fields:
          id: {type: string}
          name: {type: string, contact: true, doc: 姓名}
          address: {type: string, optional: true, sensitive: true, contact: true, doc: 住址}
          phone: {type: string, optional: true, sensitive: true, doc: 电话}
          grid: {type: string, optional: true, doc: 网格}
          income: {type: decimal}
          savings: {type: decimal}
          age: {type: int}
      household:
        fields:
          members:
            items:
              key: id
              fields:
                id: {type: string}
                income: {type: decimal}
";

const RULES: &str = r#"
policy low-income "低收入补贴" {
  subject person
  mode no_application
  effective from 2025-01-01
  C1 "收入低": person.income < 2000
  C2 "存款少": person.savings < 10000
  amount per_month CNY: 100
}
policy household-low "家庭收入低" {
  subject person
  mode no_application
  effective from 2025-01-01
  C1 "每位成员收入低": all m in household.members: m.income < 1000
  C2 "收入低": person.income < 3000
}
policy senior "高龄津贴" {
  subject person
  mode no_application
  effective from 2025-01-01
  C1 "年满65周岁": person.age >= 65
  amount per_month CNY: 75
}
"#;

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// A scratch directory of this test process.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mianshen-visits-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const GRIDS: [Option<&str>; 4] = [
    Some("四平第1网格"),
    Some("a/../<b>&\"x\""),
    Some("_none"),
    None,
];

/// A population with every field present or absent in turn, over four groups (one a
/// hostile name, one named like the group of records without the field).
fn population(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let mut person = serde_json::Map::new();
            person.insert("id".into(), format!("S{i:03}").into());
            person.insert("name".into(), format!("居民{i}").into());
            person.insert("address".into(), format!("上海市普陀区路{i}号").into());
            person.insert("phone".into(), format!("1390000{i:04}").into());
            if let Some(g) = GRIDS[i % 4] {
                person.insert("grid".into(), g.into());
            }
            if i % 3 != 0 {
                person.insert("income".into(), ((i * 397) % 4000).into());
            }
            if i % 5 != 1 {
                person.insert("savings".into(), ((i * 1231) % 20000).into());
            }
            if i % 7 != 2 {
                person.insert("age".into(), (40 + (i * 13) % 40).into());
            }
            let members: Vec<serde_json::Value> = (0..i % 3)
                .map(|k| {
                    let mut m = serde_json::json!({"id": format!("M{k}")});
                    if (i + k) % 4 != 0 {
                        m["income"] = ((i * 211 + k * 100) % 1500).into();
                    }
                    m
                })
                .collect();
            serde_json::json!({"person": person, "household": {"members": members}}).to_string()
        })
        .collect()
}

/// Per group file name, per subject: the facts the reference decisions say are
/// missing from its undetermined decisions (subjects with none left out).
fn expected(
    rules: &RuleSet,
    lines: &[String],
    on: NaiveDate,
) -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let mut out: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for line in lines {
        let rec = rules.read_json(line).unwrap();
        let raw: serde_json::Value = serde_json::from_str(line).unwrap();
        let facts: BTreeSet<String> = rules
            .decide(&rec, on)
            .into_iter()
            .filter(|d| d.outcome == Outcome::Undetermined && d.error.is_none())
            .flat_map(|d| d.missing)
            .collect();
        if facts.is_empty() {
            continue;
        }
        let group = raw["person"]["grid"].as_str();
        let file = mianshen::internals::reach::group_file_name(group);
        out.entry(file)
            .or_default()
            .insert(rec.id.clone().unwrap(), facts);
    }
    out
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut rdr = csv::Reader::from_path(path).unwrap();
    let head = rdr.headers().unwrap().iter().map(str::to_string).collect();
    let rows = rdr
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    (head, rows)
}

#[test]
fn visit_lists_name_exactly_the_missing_facts_of_each_group() {
    let dir = scratch("exact");
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    std::fs::write(dir.join("rules/schema.yaml"), SCHEMA).unwrap();
    std::fs::write(dir.join("rules/r.rules"), RULES).unwrap();
    let lines = population(120);
    std::fs::write(dir.join("pop.jsonl"), lines.join("\n") + "\n").unwrap();
    let rules = RuleSet::load_dir(dir.join("rules")).unwrap();
    let on = day("2025-07-01");
    let want = expected(&rules, &lines, on);
    assert!(
        want.len() == 4,
        "every group has subjects to visit: {want:?}"
    );

    let out = dir.join("out");
    let run = command::run_within(
        &[
            "run",
            dir.join("rules").to_str().unwrap(),
            "--input",
            dir.join("pop.jsonl").to_str().unwrap(),
            "--date",
            "2025-07-01",
            "--out",
            out.to_str().unwrap(),
            "--visits-by",
            "person.grid",
            "--quiet",
            "--threads",
            "2",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("4 visit lists"), "{run:?}");

    let mut files: BTreeSet<String> = BTreeSet::new();
    for e in std::fs::read_dir(out.join("visits")).unwrap() {
        files.insert(e.unwrap().file_name().to_string_lossy().into_owned());
    }
    let names: BTreeSet<String> = want
        .keys()
        .flat_map(|g| [format!("{g}.csv"), format!("{g}.html")])
        .collect();
    assert_eq!(files, names);
    assert!(files.contains("_none.csv") && files.contains("%5Fnone.csv"));

    for (group, subjects) in &want {
        let (head, rows) = read_csv(&out.join(format!("visits/{group}.csv")));
        assert_eq!(
            head,
            [
                "order",
                "subject",
                "person.name",
                "person.address",
                "decisions",
                "at_stake",
                "fact",
                "unlocks",
                "amounts",
                "near_misses"
            ]
        );
        // Exactly the missing facts, each once per subject.
        let mut got: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for r in &rows {
            assert_eq!(r.len(), head.len());
            assert!(
                got.entry(r[1].clone()).or_default().insert(r[6].clone()),
                "{group}: {} named twice for {}",
                r[6],
                r[1]
            );
        }
        assert_eq!(&got, subjects, "group {group}");

        // The policies each fact unlocks: those whose undetermined decision misses it.
        for r in &rows {
            let line = lines
                .iter()
                .find(|l| l.contains(&format!("\"id\":\"{}\"", r[1])))
                .unwrap();
            let rec = rules.read_json(line).unwrap();
            let want_policies: Vec<String> = rules
                .decide(&rec, on)
                .into_iter()
                .filter(|d| d.outcome == Outcome::Undetermined && d.missing.contains(&r[6]))
                .map(|d| d.policy)
                .collect();
            assert_eq!(r[7].split(';').collect::<Vec<_>>(), want_policies, "{r:?}");
            // The amounts at stake: the constant amounts, known before the visit; none
            // for a policy without an amount.
            let amounts: Vec<&str> = want_policies
                .iter()
                .map(|p| match p.as_str() {
                    "low-income" => "100.00",
                    "senior" => "75.00",
                    _ => "",
                })
                .collect();
            assert_eq!(r[8].split(';').collect::<Vec<_>>(), amounts, "{r:?}");
            // Decisions settled: the subject's undetermined decisions.
            let settled = rules
                .decide(&rec, on)
                .iter()
                .filter(|d| d.outcome == Outcome::Undetermined)
                .count();
            assert_eq!(r[4], settled.to_string(), "{r:?}");
        }

        // Ordered by the decisions a visit settles, then by the amount at stake, then
        // by subject; the order numbers count the subjects.
        let mut seen: Vec<(usize, usize, Decimal, String)> = vec![];
        for r in &rows {
            let stake: Decimal = if r[5].is_empty() {
                Decimal::ZERO
            } else {
                r[5].parse().unwrap()
            };
            let key = (
                r[0].parse().unwrap(),
                r[4].parse().unwrap(),
                stake,
                r[1].clone(),
            );
            if seen.last() != Some(&key) {
                seen.push(key);
            }
        }
        for (i, w) in seen.windows(2).enumerate() {
            assert_eq!(w[1].0, w[0].0 + 1, "order numbers at {i}");
            let (a, b) = (&w[0], &w[1]);
            assert!(
                a.1 > b.1 || (a.1 == b.1 && (a.2 > b.2 || (a.2 == b.2 && a.3 < b.3))),
                "{group}: out of order: {w:?}"
            );
        }
        assert!(
            seen.windows(2).any(|w| w[0].1 == w[1].1 && w[0].2 > w[1].2) || seen.len() < 3,
            "{group}: the amounts never break a tie: {seen:?}"
        );
        assert_eq!(seen.len(), subjects.len());

        // Masking: the contact fields in full, the phone (sensitive) never.
        let csv = std::fs::read_to_string(out.join(format!("visits/{group}.csv"))).unwrap();
        let html = std::fs::read_to_string(out.join(format!("visits/{group}.html"))).unwrap();
        for text in [&csv, &html] {
            assert!(!text.contains("1390000"), "a phone number on the list");
            assert!(text.contains("上海市普陀区路"));
            assert!(text.contains("居民"));
        }
        // The page: self-contained, escaped, every subject and fact on it.
        assert_self_contained(&html);
        for (s, facts) in subjects {
            assert!(html.contains(&format!(". {s} ")), "{s} not on the page");
            for f in facts {
                assert!(
                    html.contains(&format!("<td>{f}</td>"))
                        || html.contains(&format!(" ({f})</td>")),
                    "{f} not on the page"
                );
            }
        }
    }
    let hostile = mianshen::internals::reach::group_file_name(GRIDS[1]);
    let page = std::fs::read_to_string(out.join(format!("visits/{hostile}.html"))).unwrap();
    assert!(page.contains("a/../&lt;b&gt;&amp;&quot;x&quot;"));
    assert!(!page.contains("<b>&"));
    let none = std::fs::read_to_string(out.join("visits/_none.html")).unwrap();
    assert!(none.contains("no group") || none.contains("未分网格"));
    let _ = std::fs::remove_dir_all(&dir);
}

fn assert_self_contained(html: &str) {
    let lower = html.to_lowercase();
    for bad in [
        "http:", "https:", "src=", "<script", "@import", "url(", "<link",
    ] {
        assert!(!lower.contains(bad), "the page holds `{bad}`");
    }
    assert!(lower.starts_with("<!doctype html>"));
    assert!(lower.contains("<style>"));
}

#[test]
fn the_list_follows_lang_and_shows_near_misses() {
    let dir = scratch("lang");
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    std::fs::write(dir.join("rules/schema.yaml"), SCHEMA).unwrap();
    std::fs::write(dir.join("rules/r.rules"), RULES).unwrap();
    // Savings missing (low-income undetermined); aged 64: senior fails one clause.
    let line = r#"{"person": {"id": "N1", "name": "王芳", "grid": "G1", "income": 100, "age": 64}, "household": {"members": []}}"#;
    std::fs::write(dir.join("pop.jsonl"), format!("{line}\n")).unwrap();
    for (lang, words) in [("zh", "走访清单"), ("en", "Visit list")] {
        let out = dir.join(format!("out-{lang}"));
        let run = command::run_within(
            &[
                "run",
                dir.join("rules").to_str().unwrap(),
                "--input",
                dir.join("pop.jsonl").to_str().unwrap(),
                "--date",
                "2025-07-01",
                "--out",
                out.to_str().unwrap(),
                "--visits-by",
                "person.grid",
                "--quiet",
                "--lang",
                lang,
            ],
            Duration::from_secs(60),
        );
        assert_eq!(run.code, 0, "{run:?}");
        let html = std::fs::read_to_string(out.join("visits/G1.html")).unwrap();
        assert!(html.contains(words), "{html}");
        assert!(
            html.contains("高龄津贴 (senior): 年满65周岁 (64 → 65, 1)"),
            "{html}"
        );
        let (_, rows) = read_csv(&out.join("visits/G1.csv"));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0][6], "person.savings");
        assert_eq!(rows[0][7], "low-income");
        assert_eq!(rows[0][9], "senior: 年满65周岁 (64 → 65, 1)");
    }
    // A path that is no field: a usage error, nothing run.
    let run = command::run_within(
        &[
            "run",
            dir.join("rules").to_str().unwrap(),
            "--input",
            dir.join("pop.jsonl").to_str().unwrap(),
            "--date",
            "2025-07-01",
            "--out",
            dir.join("out-bad").to_str().unwrap(),
            "--visits-by",
            "person.nowhere",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("person.nowhere"), "{run:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn one_subject_through_the_library() {
    let rules = RuleSet::from_sources(SCHEMA, &[("r.rules", RULES)]).unwrap();
    let text = r#"{"person": {"id": "L1", "name": "李", "phone": "13900001111", "grid": "G"}, "household": {"members": [{"id": "M1"}]}}"#;
    let rec = rules.read_json(text).unwrap();
    let raw: serde_json::Value = serde_json::from_str(text).unwrap();
    let v = rules
        .visit_plan(&rec, day("2025-07-01"), Some(&raw), Some("person.grid"))
        .unwrap();
    assert_eq!(v.group.as_deref(), Some("G"));
    assert_eq!(
        v.contact,
        vec![("person.name".to_string(), "李".to_string())]
    );
    let facts: Vec<&str> = v.facts.iter().map(|f| f.path.as_str()).collect();
    let mut want: Vec<String> = rules
        .decide(&rec, day("2025-07-01"))
        .into_iter()
        .filter(|d| d.outcome == Outcome::Undetermined)
        .flat_map(|d| d.missing)
        .collect();
    want.sort();
    want.dedup();
    assert_eq!(facts, want);
    assert_eq!(v.decisions, 3);
    // Known facts alone: no visit.
    let known = r#"{"person": {"id": "K", "name": "k", "income": 1, "savings": 1, "age": 70}, "household": {"members": []}}"#;
    let rec = rules.read_json(known).unwrap();
    assert!(rules
        .visit_plan(&rec, day("2025-07-01"), None, None)
        .is_none());
}

// ------------------------------------------------------------------ the browser part

fn find_chromium() -> Option<PathBuf> {
    let fixed = Path::new("/usr/bin/chromium");
    if fixed.is_file() {
        return Some(fixed.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("chromium"))
        .find(|p| p.is_file())
}

#[test]
fn the_page_renders_in_headless_chromium() {
    let Some(browser) = find_chromium() else {
        println!("skipped: no chromium installed");
        return;
    };
    let dir = scratch("browser");
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    std::fs::write(dir.join("rules/schema.yaml"), SCHEMA).unwrap();
    std::fs::write(dir.join("rules/r.rules"), RULES).unwrap();
    std::fs::write(dir.join("pop.jsonl"), population(40).join("\n") + "\n").unwrap();
    let out = dir.join("out");
    let run = command::run_within(
        &[
            "run",
            dir.join("rules").to_str().unwrap(),
            "--input",
            dir.join("pop.jsonl").to_str().unwrap(),
            "--date",
            "2025-07-01",
            "--out",
            out.to_str().unwrap(),
            "--visits-by",
            "person.grid",
            "--quiet",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(run.code, 0, "{run:?}");
    let page = out.join("visits/_none.html");
    let png = dir.join("visits.png");
    let mut child = Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1240,1754",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match child.try_wait().unwrap() {
            Some(status) => {
                assert!(status.success(), "chromium failed: {status}");
                break;
            }
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium did not finish within 120 s");
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    let bytes = std::fs::read(&png).expect("the screenshot was written");
    assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
    assert!(
        bytes.len() > 5_000,
        "a trivially small screenshot: {}",
        bytes.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `mianshen run` on `input` with `--visits-by person.grid`, into `out`.
fn run_visits(rules: &Path, input: &Path, out: &Path) {
    let run = command::run_within(
        &[
            "run",
            rules.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--date",
            "2025-07-01",
            "--out",
            out.to_str().unwrap(),
            "--visits-by",
            "person.grid",
            "--quiet",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(run.code, 0, "{run:?}");
}

/// The files of a visits directory with their text.
fn lists(out: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(out.join("visits"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn many_groups_and_csv_input_give_the_same_lists() {
    let dir = scratch("many");
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    std::fs::write(dir.join("rules/schema.yaml"), SCHEMA).unwrap();
    std::fs::write(dir.join("rules/r.rules"), RULES).unwrap();
    // 150 groups, more than the group files kept open at once: files are closed and
    // reopened to append, and no line is lost. Every record misses its savings.
    let n = 300;
    let mut jsonl = String::new();
    let mut csv = String::from("person.id,person.name,person.address,person.grid,person.income,person.age,household.members\n");
    for i in 0..n {
        let grid = format!("G{:03}", i % 150);
        jsonl.push_str(
            &serde_json::json!({"person": {"id": format!("S{i:03}"), "name": format!("n{i}"), "address": format!("a{i}"), "grid": grid, "income": i, "age": 30 + i % 50}, "household": {"members": []}})
                .to_string(),
        );
        jsonl.push('\n');
        csv.push_str(&format!(
            "S{i:03},n{i},a{i},{grid},{i},{},[]\n",
            30 + i % 50
        ));
    }
    std::fs::write(dir.join("pop.jsonl"), &jsonl).unwrap();
    std::fs::write(dir.join("pop.csv"), &csv).unwrap();
    run_visits(
        &dir.join("rules"),
        &dir.join("pop.jsonl"),
        &dir.join("out-json"),
    );
    run_visits(
        &dir.join("rules"),
        &dir.join("pop.csv"),
        &dir.join("out-csv"),
    );
    let from_json = lists(&dir.join("out-json"));
    assert_eq!(from_json.len(), 300, "a CSV and an HTML page per group");
    for g in 0..150 {
        let (_, rows) = read_csv(&dir.join(format!("out-json/visits/G{g:03}.csv")));
        let subjects: BTreeSet<&str> = rows.iter().map(|r| r[1].as_str()).collect();
        let want: BTreeSet<String> = [g, g + 150].iter().map(|i| format!("S{i:03}")).collect();
        assert_eq!(subjects, want.iter().map(String::as_str).collect());
        assert!(rows.iter().all(|r| r[6] == "person.savings"));
    }
    assert_eq!(lists(&dir.join("out-csv")), from_json);
    // A second run into the same directory replaces the lists, leaving nothing partial.
    run_visits(
        &dir.join("rules"),
        &dir.join("pop.jsonl"),
        &dir.join("out-json"),
    );
    assert_eq!(lists(&dir.join("out-json")), from_json);
    let leftovers: Vec<String> = std::fs::read_dir(dir.join("out-json"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
