//! `mianshen diff`: who a change of the rules (or of the date) reaches, over a
//! population, written to an output directory.

use super::run::{
    bad_input, failed_run, open_input, quiet_worker_panics, tmp_name, write_json, Progress, RunArgs,
};
use mianshen::internals::batch::{self, ChunkOutput, DiffConfig, Impact, RunConfig, Sink};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Options of `mianshen diff`.
pub struct DiffArgs<'a> {
    pub rules: &'a Path,
    pub new_rules: Option<&'a Path>,
    pub overlay: Option<&'a Path>,
    pub input: &'a str,
    pub date: &'a str,
    pub to_date: Option<&'a str>,
    pub out: &'a Path,
    pub threads: Option<usize>,
    pub quiet: bool,
    pub subject: Option<&'a str>,
    pub format: Option<&'a str>,
}

const CHANGES: &str = "changes.jsonl";
const REJECTED: &str = "rejected.jsonl";
const IMPACT: &str = "impact.json";

/// changes.jsonl and rejected.jsonl under temporary names, renamed with impact.json
/// when the diff completes.
struct DiffSink {
    dir: PathBuf,
    changes: BufWriter<File>,
    rejected: BufWriter<File>,
}

impl DiffSink {
    fn create(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        for name in [CHANGES, REJECTED, IMPACT] {
            let p = dir.join(name);
            if p.exists() {
                std::fs::remove_file(p)?;
            }
        }
        let open = |n: &str| File::create(tmp_name(dir, n)).map(BufWriter::new);
        Ok(DiffSink {
            dir: dir.to_path_buf(),
            changes: open(CHANGES)?,
            rejected: open(REJECTED)?,
        })
    }

    fn abandon(self) {
        let dir = self.dir.clone();
        drop(self);
        for name in [CHANGES, REJECTED] {
            let _ = std::fs::remove_file(tmp_name(&dir, name));
        }
    }

    fn finish(mut self, impact: &serde_json::Value) -> std::io::Result<()> {
        self.changes.flush()?;
        self.rejected.flush()?;
        std::fs::write(
            tmp_name(&self.dir, IMPACT),
            serde_json::to_string_pretty(impact).unwrap_or_default() + "\n",
        )?;
        for name in [CHANGES, REJECTED, IMPACT] {
            std::fs::rename(tmp_name(&self.dir, name), self.dir.join(name))?;
        }
        Ok(())
    }
}

impl Sink for DiffSink {
    fn write(&mut self, chunk: &ChunkOutput) -> std::io::Result<()> {
        write_json(&mut self.changes, &chunk.changes)?;
        write_json(&mut self.rejected, &chunk.rejected)
    }
}

pub fn diff(args: DiffArgs) -> ExitCode {
    match diff_checked(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

fn diff_checked(args: &DiffArgs) -> Result<(), ExitCode> {
    if args.new_rules.is_none() && args.overlay.is_none() && args.to_date.is_none() {
        return Err(bad_input(
            "nothing to compare: give NEW_RULES, --overlay DIR or --to-date DATE",
        ));
    }
    let before = super::load_rules(args.rules)?;
    let after = match (args.new_rules, args.overlay) {
        (None, None) => None,
        (Some(dir), None) => Some(super::load_rules(dir)?),
        (dir, Some(overlay)) => Some(super::load_rules_with(
            dir.unwrap_or(args.rules),
            Some(overlay),
        )?),
    };
    let after_rules = after.as_ref().unwrap_or(&before);
    let date = super::parse_date(args.date)?;
    let to_date = match args.to_date {
        Some(d) => super::parse_date(d)?,
        None => date,
    };
    let run_args = RunArgs {
        rules: args.rules,
        input: args.input,
        date: args.date,
        out: args.out,
        threads: args.threads,
        quiet: args.quiet,
        subject: args.subject,
        format: args.format,
        bundle: None,
        overlay: None,
        near_miss: None,
        report: None,
        visits_by: None,
    };
    let (input, total) = open_input(&run_args, &before)?;
    let mut sink = DiffSink::create(args.out)
        .map_err(|e| bad_input(format!("cannot write to {}: {e}", args.out.display())))?;
    let config = DiffConfig {
        run: RunConfig {
            subject: args.subject.map(str::to_string),
            threads: args.threads,
            read: super::record_args().read(),
            budget: super::record_args().budget,
            ..RunConfig::new(date)
        },
        after_date: to_date,
    };
    let shown = Progress::start(args.quiet, total);
    quiet_worker_panics();
    let progress = |done: u64, bytes: Option<u64>| shown.update(done, bytes);
    let result = match input {
        Ok(rows) => batch::diff(&before, after_rules, rows, &config, &mut sink, &mut |d| {
            progress(d, None)
        }),
        Err(reader) => batch::diff_json_lines(
            &before,
            after_rules,
            reader,
            &config,
            &mut sink,
            &mut |d, b| progress(d, Some(b)),
        ),
    };
    shown.finish();
    let impact = match result {
        Ok(i) => i,
        Err(e) => {
            sink.abandon();
            return Err(failed_run(&e, args.out));
        }
    };
    let elapsed = shown.elapsed();
    sink.finish(&impact.to_json(Some(elapsed))).map_err(|e| {
        bad_input(format!(
            "cannot write the outputs to {}: {e}",
            args.out.display()
        ))
    })?;
    let name = |rules: &Path, overlay: Option<&Path>| match overlay {
        Some(o) => format!("{} + {}", rules.display(), o.display()),
        None => rules.display().to_string(),
    };
    println!(
        "{} on {date} → {} on {to_date}",
        name(args.rules, None),
        name(args.new_rules.unwrap_or(args.rules), args.overlay)
    );
    print!("{}", table(&impact));
    let out = args.out.display().to_string();
    let out = out.trim_end_matches('/');
    println!(
        "{} records read: {} evaluated, {} rejected; {} decisions changed, {} to notify",
        impact.read,
        impact.evaluated,
        impact.rejected,
        impact.changes(),
        impact.to_notify()
    );
    println!("changes → {out}/{CHANGES}, impact → {out}/{IMPACT}, rejected → {out}/{REJECTED}");
    println!(
        "in {elapsed:.2} s ({:.0} records/s)",
        impact.read as f64 / elapsed.max(1e-9)
    );
    Ok(())
}

/// The impact as a table: one row per policy.
fn table(impact: &Impact) -> String {
    let head = [
        "policy",
        "+eligible",
        "-eligible",
        "+undetermined",
        "up",
        "down",
        "unchanged",
        "amount before",
        "amount after",
    ];
    let rows: Vec<[String; 9]> = impact
        .policies
        .iter()
        .map(|(id, p)| {
            let money = |d| mianshen::internals::value::money(d).to_string();
            let id = match p.presence {
                mianshen::internals::reach::Presence::Both => id.clone(),
                mianshen::internals::reach::Presence::New => format!("{id} (new)"),
                mianshen::internals::reach::Presence::Gone => format!("{id} (gone)"),
            };
            [
                mianshen::internals::escape::text(&id).into_owned(),
                p.newly_eligible.to_string(),
                p.no_longer_eligible.to_string(),
                p.newly_undetermined.to_string(),
                p.amount_up.to_string(),
                p.amount_down.to_string(),
                p.unchanged.to_string(),
                money(p.amount_before),
                money(p.amount_after),
            ]
        })
        .collect();
    let mut widths = head.map(|h| h.chars().count());
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        let mut text = String::new();
        for (k, (cell, w)) in cells.iter().zip(widths).enumerate() {
            let pad = w.saturating_sub(cell.chars().count());
            if k == 0 {
                text.push_str(cell);
                text.push_str(&" ".repeat(pad));
            } else {
                text.push_str("  ");
                text.push_str(&" ".repeat(pad));
                text.push_str(cell);
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&head.map(str::to_string));
    for r in &rows {
        line(r);
    }
    out
}
