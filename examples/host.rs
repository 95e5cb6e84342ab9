//! A host application: a service that loads the shipped rules once, decides records
//! from several threads, tells apart the errors it can get, and runs a batch into
//! its own sink.
//!
//! ```text
//! cargo run --release --example host
//! ```

use mianshen::{
    ChunkOutput, ErrorKind, LoadError, Mode, Outcome, RecordError, RequestError, RuleSet,
    RunConfig, Sink,
};
use std::sync::Arc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Load once: parsing, checking and compiling happen here, never per record.
    let rules = match RuleSet::load_dir("rules") {
        Ok(r) => Arc::new(r),
        Err(LoadError::Diagnostics { diagnostics, .. }) => {
            for d in &diagnostics {
                eprintln!("{}: {}", d.code, d.message);
            }
            return Err("the rule set has errors".into());
        }
        Err(other) => return Err(other.into()),
    };
    let on = chrono::NaiveDate::from_ymd_opt(2025, 7, 1).ok_or("date")?;
    println!("rule set {}:", rules.version());
    for p in rules.policies().filter(|p| p.mode() == Mode::NoApplication) {
        println!("  {} {} ({} records)", p.id(), p.title(), p.subject());
    }

    // Asking for a policy the rule set does not have is the caller's mistake, told apart.
    let someone = rules.read_json(r#"{"person": {"id": "P0"}}"#)?;
    match rules.decide_policy("sh-senior-comprehensive-allowanse", &someone, on) {
        Err(e @ RequestError::UnknownPolicy { .. }) => println!("refused: {e}"),
        Err(other) => return Err(other.into()),
        Ok(d) => println!("{}: {}", d.policy, d.outcome.as_str()),
    }

    // A rule set is Send + Sync: share it and decide from as many threads as you like.
    let records = [
        r#"{"person": {"id": "P1", "birth_date": "1940-03-01", "hukou_region": "上海"}}"#,
        r#"{"person": {"id": "P2", "birth_date": "1990-05-17", "hukou_region": "北京"}}"#,
        r#"{"person": {"id": "P3", "birth_dat": "1950-01-01"}}"#,
    ];
    let workers: Vec<_> = records
        .iter()
        .map(|text| {
            let rules = Arc::clone(&rules);
            let text = text.to_string();
            std::thread::spawn(move || describe(&rules, &text, on))
        })
        .collect();
    for w in workers {
        println!("{}", w.join().map_err(|_| "a worker panicked")?);
    }

    // The batch, into the host's own sink (here: counting lines).
    let population = records[..2].join("\n");
    let mut sink = Counting::default();
    let summary = rules.run_json_lines(population.as_bytes(), &RunConfig::new(on), &mut sink)?;
    println!(
        "batch: {} records read, {} grant lines, {} push lines",
        summary.read, sink.grants, sink.pushes
    );
    Ok(())
}

/// One record's decisions, or why it could not be decided, as a line of text.
fn describe(rules: &RuleSet, text: &str, on: chrono::NaiveDate) -> String {
    let record = match rules.read_json(text) {
        Ok(r) => r,
        // A record that does not fit the schema: the path and the reason.
        Err(RecordError { path, message, .. }) => return format!("rejected: {path}: {message}"),
    };
    let decisions = rules.decide(&record, on);
    let mut eligible = vec![];
    let mut to_ask = vec![];
    for d in &decisions {
        match (&d.outcome, &d.error) {
            (Outcome::Eligible, _) => eligible.push(d.policy.clone()),
            // Hosts match on the kind of an evaluation error, never on its words.
            (_, Some(e)) if e.kind == ErrorKind::BudgetExceeded => {
                to_ask.push(format!("{} (too costly to decide)", d.policy))
            }
            (_, Some(e)) => to_ask.push(format!("{} (error {})", d.policy, e.kind.code())),
            (Outcome::Undetermined, None) => {
                to_ask.push(format!("{} (ask for {})", d.policy, d.missing.join(", ")))
            }
            (Outcome::NotEligible, None) => {}
        }
    }
    format!(
        "{}: eligible for [{}]; undecided: [{}]",
        record.id.as_deref().unwrap_or("?"),
        eligible.join(", "),
        to_ask.join("; ")
    )
}

/// A sink that counts the lines it is given.
#[derive(Default)]
struct Counting {
    grants: usize,
    pushes: usize,
}

impl Sink for Counting {
    fn write(&mut self, chunk: &ChunkOutput) -> std::io::Result<()> {
        self.grants += chunk.grants.lines().count();
        self.pushes += chunk.pushes.lines().count();
        Ok(())
    }
}
