//! `mianshen run`: the batch over a population file, written to an output directory.

use super::lang::t;
use mianshen::internals::batch;
use mianshen::{ChunkOutput, InputRecord, RuleSet, RunConfig, Sink, Source};
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Output files written under temporary names and renamed when the run completes, so
/// that an interrupted run leaves nothing that looks complete.
struct DirSink {
    dir: PathBuf,
    grants: BufWriter<File>,
    pushes: BufWriter<File>,
    rejected: BufWriter<File>,
    errors: BufWriter<File>,
    forms: Option<BufWriter<File>>,
    near: Option<BufWriter<File>>,
    visits: Option<VisitGroups>,
}

/// Visit lines sorted into one temporary JSON Lines file per group as the records
/// stream (`DIR/.visits.partial/<group>.jsonl`); at the end each group's file is read
/// alone, ordered and written as its CSV and HTML list. Memory holds one group at a
/// time, never the population.
struct VisitGroups {
    tmp: PathBuf,
    open: std::collections::HashMap<String, BufWriter<File>>,
    /// Group file name → the group's value (`None`: records without the field).
    groups: std::collections::BTreeMap<String, Option<String>>,
}

/// Group files kept open at once; beyond, they are closed and reopened to append.
const OPEN_GROUPS: usize = 64;
const VISITS: &str = "visits";

impl VisitGroups {
    fn write(&mut self, lines: &str) -> std::io::Result<()> {
        for line in lines.lines() {
            let visit: mianshen::internals::reach::Visit = serde_json::from_str(line)
                .map_err(|e| std::io::Error::other(format!("a visit line: {e}")))?;
            let name = mianshen::internals::reach::group_file_name(visit.group.as_deref());
            if !self.open.contains_key(&name) {
                if self.open.len() >= OPEN_GROUPS {
                    for (_, mut f) in self.open.drain() {
                        f.flush()?;
                    }
                }
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.tmp.join(format!("{name}.jsonl")))?;
                self.groups.insert(name.clone(), visit.group.clone());
                self.open.insert(name.clone(), BufWriter::new(f));
            }
            if let Some(f) = self.open.get_mut(&name) {
                writeln!(f, "{line}")?;
            }
        }
        Ok(())
    }

    /// Writes every group's lists into `dir/visits` (replacing an earlier run's).
    fn finish(
        mut self,
        dir: &Path,
        rules: &RuleSet,
        on: chrono::NaiveDate,
    ) -> std::io::Result<usize> {
        for (_, mut f) in self.open.drain() {
            f.flush()?;
        }
        let contact_of =
            |subject: usize| mianshen::internals::reach::contact_paths(rules.schema(), subject);
        let subjects = rules.schema().subjects.len();
        let mut contact: Vec<String> = vec![];
        for s in 0..subjects {
            for p in contact_of(s) {
                if !contact.contains(&p) {
                    contact.push(p);
                }
            }
        }
        let out = tmp_name(dir, VISITS);
        std::fs::create_dir_all(&out)?;
        for (name, group) in &self.groups {
            let path = self.tmp.join(format!("{name}.jsonl"));
            let text = std::fs::read_to_string(&path)?;
            let mut visits = Vec::new();
            for line in text.lines() {
                let v: mianshen::internals::reach::Visit = serde_json::from_str(line)
                    .map_err(|e| std::io::Error::other(format!("a visit line: {e}")))?;
                visits.push(v);
            }
            mianshen::internals::reach::order(&mut visits);
            let csv = mianshen::internals::reach::render_csv(&contact, &visits);
            std::fs::write(out.join(format!("{name}.csv")), csv)?;
            let html = mianshen::internals::reach::render_html(
                rules,
                group.as_deref(),
                on,
                &visits,
                super::lang::lang(),
            );
            std::fs::write(out.join(format!("{name}.html")), html)?;
        }
        let _ = std::fs::remove_dir_all(&self.tmp);
        let done = dir.join(VISITS);
        if done.exists() {
            std::fs::remove_dir_all(&done)?;
        }
        std::fs::rename(out, done)?;
        Ok(self.groups.len())
    }
}

const OUTPUTS: [&str; 4] = [
    "grants.jsonl",
    "pushes.jsonl",
    "rejected.jsonl",
    "errors.jsonl",
];
const FORMS: &str = "forms.jsonl";
const NEAR: &str = "near.jsonl";

pub(super) fn tmp_name(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!(".{name}.partial"))
}

impl DirSink {
    fn create(dir: &Path, forms: bool, near: bool, visits: bool) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let visits = if visits {
            for stale in [tmp_name(dir, VISITS), tmp_name(dir, "visits-groups")] {
                if stale.exists() {
                    std::fs::remove_dir_all(&stale)?;
                }
            }
            let tmp = tmp_name(dir, "visits-groups");
            std::fs::create_dir_all(&tmp)?;
            Some(VisitGroups {
                tmp,
                open: Default::default(),
                groups: Default::default(),
            })
        } else {
            None
        };
        // Outputs of an earlier run must not be mistaken for this one's.
        for name in OUTPUTS.iter().chain([&"summary.json", &FORMS, &NEAR]) {
            let p = dir.join(name);
            if p.exists() {
                std::fs::remove_file(p)?;
            }
        }
        let open = |n: &str| File::create(tmp_name(dir, n)).map(BufWriter::new);
        Ok(DirSink {
            dir: dir.to_path_buf(),
            grants: open(OUTPUTS[0])?,
            pushes: open(OUTPUTS[1])?,
            rejected: open(OUTPUTS[2])?,
            errors: open(OUTPUTS[3])?,
            forms: if forms { Some(open(FORMS)?) } else { None },
            near: if near { Some(open(NEAR)?) } else { None },
            visits,
        })
    }

    /// A failed run: the partial files are removed, so that nothing of it is left.
    fn abandon(self) {
        let dir = self.dir.clone();
        let forms = self.forms.is_some();
        let near = self.near.is_some();
        if let Some(v) = &self.visits {
            let _ = std::fs::remove_dir_all(&v.tmp);
        }
        drop(self);
        for name in OUTPUTS
            .iter()
            .chain(forms.then_some(&FORMS))
            .chain(near.then_some(&NEAR))
        {
            let _ = std::fs::remove_file(tmp_name(&dir, name));
        }
    }

    fn finish(mut self, summary: &serde_json::Value) -> std::io::Result<()> {
        self.grants.flush()?;
        self.pushes.flush()?;
        self.rejected.flush()?;
        self.errors.flush()?;
        if let Some(f) = &mut self.forms {
            f.flush()?;
            std::fs::rename(tmp_name(&self.dir, FORMS), self.dir.join(FORMS))?;
        }
        if let Some(f) = &mut self.near {
            f.flush()?;
            std::fs::rename(tmp_name(&self.dir, NEAR), self.dir.join(NEAR))?;
        }
        let tmp = tmp_name(&self.dir, "summary.json");
        std::fs::write(
            &tmp,
            serde_json::to_string_pretty(summary).unwrap_or_default() + "\n",
        )?;
        for name in OUTPUTS.iter().chain(std::iter::once(&"summary.json")) {
            std::fs::rename(tmp_name(&self.dir, name), self.dir.join(name))?;
        }
        Ok(())
    }
}

/// Writes JSON Lines text with the characters `serde_json` leaves raw (C1 controls,
/// bidi controls, U+2028/U+2029) escaped ([`mianshen::internals::escape::json`]).
pub(super) fn write_json(to: &mut BufWriter<File>, text: &str) -> std::io::Result<()> {
    if mianshen::internals::escape::json_may_need(text.as_bytes()) {
        to.write_all(mianshen::internals::escape::json(text).as_bytes())
    } else {
        to.write_all(text.as_bytes())
    }
}

impl Sink for DirSink {
    fn write(&mut self, chunk: &ChunkOutput) -> std::io::Result<()> {
        write_json(&mut self.grants, &chunk.grants)?;
        write_json(&mut self.pushes, &chunk.pushes)?;
        write_json(&mut self.rejected, &chunk.rejected)?;
        write_json(&mut self.errors, &chunk.errors)?;
        if let Some(f) = &mut self.forms {
            write_json(f, &chunk.forms)?;
        }
        if let Some(f) = &mut self.near {
            write_json(f, &chunk.near)?;
        }
        if let Some(v) = &mut self.visits {
            v.write(&chunk.visits)?;
        }
        Ok(())
    }
}

/// The lines read so far, to name a CSV row by its line in the file. The CSV reader
/// places a row where it began looking for it, before the empty lines it skips, so a
/// row's line is the first line with anything on it from that byte on. (Rows come in
/// order: lines passed are dropped, so memory stays small.)
struct LineIndex {
    /// Complete lines not yet passed: where each starts, and whether it is empty.
    lines: std::collections::VecDeque<(u64, bool)>,
    /// The number (1-based) of the first of them.
    first: u64,
    /// The line being read: where it starts, and whether it has anything on it yet.
    start: u64,
    filled: bool,
    /// Bytes read.
    read: u64,
}

impl Default for LineIndex {
    fn default() -> Self {
        LineIndex {
            lines: Default::default(),
            first: 1,
            start: 0,
            filled: false,
            read: 0,
        }
    }
}

impl LineIndex {
    /// The line of the row the CSV reader places at byte `offset`.
    fn line_of(&mut self, offset: u64) -> u64 {
        // Drop the lines that end before the offset.
        loop {
            let next_start = self.lines.get(1).map_or(self.start, |l| l.0);
            if self.lines.is_empty() || next_start > offset {
                break;
            }
            self.lines.pop_front();
            self.first += 1;
        }
        // Then the empty lines the reader skipped.
        while self.lines.front().is_some_and(|l| l.1) {
            self.lines.pop_front();
            self.first += 1;
        }
        self.first
    }

    fn read(&mut self, bytes: &[u8]) {
        for (at, &b) in (self.read..).zip(bytes) {
            match b {
                b'\n' => {
                    self.lines.push_back((self.start, !self.filled));
                    self.start = at + 1;
                    self.filled = false;
                }
                b'\r' => {}
                _ => self.filled = true,
            }
        }
        self.read += bytes.len() as u64;
    }
}

/// A reader that notes the lines it passes on.
struct CountingLines<R> {
    inner: R,
    lines: std::rc::Rc<std::cell::RefCell<LineIndex>>,
}

impl<R: Read> Read for CountingLines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.lines
            .borrow_mut()
            .read(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

/// CSV with a header row of dotted schema paths.
fn csv_records<'a, R: Read + 'a>(
    rules: &'a RuleSet,
    subject: usize,
    reader: R,
) -> Result<Box<dyn Iterator<Item = InputRecord> + 'a>, String> {
    let lines = std::rc::Rc::new(std::cell::RefCell::new(LineIndex::default()));
    let counted = CountingLines {
        inner: reader,
        lines: lines.clone(),
    };
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(counted);
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| format!("cannot read the CSV header: {e}"))?
        .iter()
        .map(str::to_string)
        .collect();
    // A row is named by the line of the file it starts on (empty lines, which are no
    // rows, and quoted line breaks included).
    let mut line = 1u64;
    Ok(Box::new(rdr.into_records().map(move |row| {
        let at = match &row {
            Ok(r) => r.position().map(csv::Position::byte),
            Err(e) => e.position().map(csv::Position::byte),
        };
        line = match at {
            Some(byte) => lines.borrow_mut().line_of(byte),
            None => line + 1,
        };
        let source = match row {
            Ok(row) => {
                let cells: Vec<(&str, &str)> =
                    headers.iter().map(String::as_str).zip(row.iter()).collect();
                match mianshen::internals::record::from_flat(rules.schema(), subject, &cells) {
                    Ok(v) => Source::Value(v),
                    Err(m) => Source::Unreadable(m),
                }
            }
            Err(e) => Source::Unreadable(format!("not a valid CSV row: {e}")),
        };
        InputRecord { line, source }
    })))
}

/// Options of `mianshen run`.
pub struct RunArgs<'a> {
    pub rules: &'a Path,
    pub input: &'a str,
    pub date: &'a str,
    pub out: &'a Path,
    pub threads: Option<usize>,
    pub quiet: bool,
    pub subject: Option<&'a str>,
    pub format: Option<&'a str>,
    pub bundle: Option<&'a str>,
    pub overlay: Option<&'a Path>,
    pub near_miss: Option<usize>,
    pub report: Option<&'a Path>,
    pub visits_by: Option<&'a str>,
}

/// Where the first panic of the process happened (file:line:column), to report with
/// the run's internal error.
static PANICKED_AT: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Replaces the default panic hook by one that keeps where the first panic happened and
/// prints nothing for a panic in a worker thread: the batch catches those and the run
/// reports them as its error. Elsewhere the default hook prints as before.
pub(super) fn quiet_worker_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Some(at) = info.location() {
            let _ = PANICKED_AT.set(at.to_string());
        }
        if rayon::current_thread_index().is_none() {
            default(info);
        }
    }));
}

/// `MIANSHEN_FAULT_INJECT=panic-at-line:N`, for tests only: deciding the record on
/// input line N panics, as a bug of the engine would.
pub(super) fn fault_injection() -> Result<Option<u64>, ExitCode> {
    let Some(spec) = std::env::var_os("MIANSHEN_FAULT_INJECT") else {
        return Ok(None);
    };
    match spec
        .to_str()
        .and_then(|s| s.strip_prefix("panic-at-line:"))
        .and_then(|n| n.parse().ok())
    {
        Some(line) => Ok(Some(line)),
        None => {
            eprintln!("error: MIANSHEN_FAULT_INJECT: expected panic-at-line:N");
            Err(ExitCode::from(2))
        }
    }
}

/// The exit status of a run stopped by an internal error (a bug of the engine).
const INTERNAL_ERROR: u8 = 3;

pub fn run(args: RunArgs) -> ExitCode {
    match run_checked(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

/// Says what is wrong with the command's input or output: exit status 2.
pub(super) fn bad_input(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("{}", super::error_line(&message.to_string()));
    ExitCode::from(2)
}

/// Where the records come from: CSV rows made records one by one, or JSON Lines the
/// batch reads in blocks.
pub(super) type Input<'r> = Result<Box<dyn Iterator<Item = InputRecord> + 'r>, Box<dyn Read>>;

fn run_checked(args: &RunArgs) -> Result<(), ExitCode> {
    let panic_at_line = fault_injection()?;
    let rules = super::load_rules_with(args.rules, args.overlay)?;
    let ref_date = super::parse_date(args.date)?;
    let (input, total) = open_input(args, &rules)?;
    let bundle = match args.bundle {
        Some(id) => Some(
            rules
                .bundle_index(id)
                .ok_or_else(|| bad_input(format!("unknown bundle `{id}`")))?,
        ),
        None => None,
    };
    if let Some(by) = args.visits_by {
        let schema = rules.schema();
        let field = (0..schema.subjects.len())
            .find_map(|s| mianshen::internals::reach::schema_field(schema, s, by));
        match field {
            Some(f)
                if !matches!(
                    f.ty,
                    mianshen::internals::schema::FieldType::List(_)
                        | mianshen::internals::schema::FieldType::Record(_)
                ) && !by.contains('[') => {}
            _ => {
                return Err(bad_input(format!(
                    "--visits-by: `{by}` is no field of the schema outside lists"
                )))
            }
        }
    }
    let mut sink = DirSink::create(
        args.out,
        bundle.is_some(),
        args.near_miss.is_some(),
        args.visits_by.is_some(),
    )
    .map_err(|e| bad_input(format!("cannot write to {}: {e}", args.out.display())))?;
    let config = RunConfig {
        subject: args.subject.map(str::to_string),
        threads: args.threads,
        bundle,
        panic_at_line,
        read: super::record_args().read(),
        budget: super::record_args().budget,
        near_miss: args.near_miss,
        visits_by: args.visits_by.map(str::to_string),
        ..RunConfig::new(ref_date)
    };
    let shown = Progress::start(args.quiet, total);
    quiet_worker_panics();
    let progress = |done: u64, bytes: Option<u64>| shown.update(done, bytes);
    let result = match input {
        Ok(input) => batch::run(&rules, input, &config, &mut sink, &mut |d| {
            progress(d, None)
        }),
        Err(reader) => batch::run_json_lines(&rules, reader, &config, &mut sink, &mut |d, b| {
            progress(d, Some(b))
        }),
    };
    shown.finish();
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            sink.abandon();
            return Err(failed_run(&e, args.out));
        }
    };
    let elapsed = shown.elapsed();
    let json = summary.to_json(Some(elapsed));
    let visit_groups = match sink.visits.take() {
        Some(v) => Some(v.finish(args.out, &rules, ref_date).map_err(|e| {
            bad_input(format!(
                "cannot write the visit lists to {}: {e}",
                args.out.display()
            ))
        })?),
        None => None,
    };
    sink.finish(&json).map_err(|e| {
        bad_input(format!(
            "cannot write the outputs to {}: {e}",
            args.out.display()
        ))
    })?;
    if let Some(path) = args.report {
        let page = mianshen::internals::reach::render_report(&rules, &summary, super::lang::lang());
        std::fs::write(path, page)
            .map_err(|e| bad_input(format!("cannot write {}: {e}", path.display())))?;
    }
    print_report(&summary, elapsed, args.out, bundle.is_some());
    if args.near_miss.is_some() {
        let out = args.out.display().to_string();
        let total: u64 = summary.near_misses.iter().sum();
        println!("{total} near misses → {}/{NEAR}", out.trim_end_matches('/'));
    }
    if let Some(n) = visit_groups {
        let out = args.out.display().to_string();
        println!(
            "{n} visit lists → {}/{VISITS}/<group>.csv and .html",
            out.trim_end_matches('/')
        );
    }
    if let Some(path) = args.report {
        println!("report → {}", path.display());
    }
    Ok(())
}

/// The input named by `--input` (`-`: standard input) in its format, with its size in
/// bytes when known (for the progress bar).
pub(super) fn open_input<'r>(
    args: &RunArgs,
    rules: &'r RuleSet,
) -> Result<(Input<'r>, Option<u64>), ExitCode> {
    let csv = match args.format {
        Some("csv") => true,
        Some("jsonl") | Some("json") => false,
        Some("parquet") => return parquet_input(args, rules),
        Some(other) => {
            return Err(bad_input(format!(
                "unknown --format `{other}`: use jsonl, csv or parquet"
            )))
        }
        None if args.input.ends_with(".parquet") => return parquet_input(args, rules),
        None => args.input.ends_with(".csv"),
    };
    let (reader, total): (Box<dyn Read>, Option<u64>) = if args.input == "-" {
        (Box::new(std::io::stdin()), None)
    } else {
        let f = File::open(args.input)
            .map_err(|e| bad_input(format!("cannot read the input {}: {e}", args.input)))?;
        let len = f.metadata().ok().map(|m| m.len());
        (Box::new(f), len)
    };
    if !csv {
        // Checked here so that a wrong name is a usage error before anything runs.
        if let Some(s) = args.subject {
            if !rules.schema().subjects.iter().any(|d| d.name == s) {
                return Err(bad_input(format!("unknown subject kind `{s}`")));
            }
        }
        return Ok((Err(reader), total));
    }
    let subject = match args.subject {
        Some(s) => rules
            .schema()
            .subjects
            .iter()
            .position(|d| d.name == s)
            .ok_or_else(|| bad_input(format!("unknown subject kind `{s}`")))?,
        None if rules.schema().subjects.len() == 1 => 0,
        None => {
            return Err(bad_input(
                "CSV input needs --subject (person, enterprise, ...)",
            ))
        }
    };
    let rows = csv_records(rules, subject, reader)
        .map_err(|m| bad_input(format!("{}: {m}", args.input)))?;
    // Rows are counted, not bytes: the bar spins.
    Ok((Ok(rows), None))
}

/// A Parquet file in the layout of `mianshen export --format parquet`: its rows made
/// records one by one (a row that does not fit the layout is rejected).
fn parquet_input<'r>(
    args: &RunArgs,
    rules: &'r RuleSet,
) -> Result<(Input<'r>, Option<u64>), ExitCode> {
    if args.input == "-" {
        return Err(bad_input(
            "a Parquet input is read from a file, not from standard input",
        ));
    }
    let f = File::open(args.input)
        .map_err(|e| bad_input(format!("cannot read the input {}: {e}", args.input)))?;
    let rows =
        mianshen::internals::sql::parquet::ParquetRecords::open(rules.schema(), f, args.subject)
            .map_err(|e| bad_input(format!("{}: {e}", args.input)))?;
    // As JSON text, so that the batch's fast reader and compiled tier take them as
    // they take JSON Lines.
    let records = (1u64..).zip(rows).map(|(line, row)| match row {
        Ok(v) => InputRecord::json(line, v.to_string()),
        Err(e) => InputRecord {
            line,
            source: Source::Unreadable(e.to_string()),
        },
    });
    // Rows are counted, not bytes: the bar spins.
    Ok((Ok(Box::new(records)), None))
}

/// A batch's progress on a terminal, unless `--quiet`: a bar by bytes read when the
/// input's size is known, a spinner otherwise, with the records done and the rate; and
/// the time since the start.
pub(super) struct Progress {
    bar: Option<indicatif::ProgressBar>,
    started: std::time::Instant,
}

impl Progress {
    pub(super) fn start(quiet: bool, total: Option<u64>) -> Progress {
        let shown = !quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
        let bar = shown.then(|| {
            let bar = match total {
                Some(t) => indicatif::ProgressBar::new(t),
                None => indicatif::ProgressBar::new_spinner(),
            };
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {msg} ETA {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        Progress {
            bar,
            started: std::time::Instant::now(),
        }
    }

    /// `done` records decided, `bytes` of the input read (when counted).
    pub(super) fn update(&self, done: u64, bytes: Option<u64>) {
        if let Some(bar) = &self.bar {
            if let Some(b) = bytes {
                bar.set_position(b);
            }
            let secs = self.elapsed().max(1e-9);
            bar.set_message(format!(
                "{done} records, {:.0} records/s",
                done as f64 / secs
            ));
        }
    }

    /// Clears the bar.
    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    /// Seconds since the start.
    pub(super) fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

/// The exit status of a run that failed, having said why: 3 for a bug of the engine
/// (a panic deciding a record), 2 for bad input or output.
pub(super) fn failed_run(e: &batch::BatchError, out: &Path) -> ExitCode {
    let text = e.to_string();
    let message = mianshen::internals::escape::text(&text);
    if !matches!(e, batch::BatchError::Internal { .. }) {
        return bad_input(message);
    }
    match PANICKED_AT.get() {
        Some(at) => eprintln!(
            "{}",
            t("cli-run--panicked", &[("message", &message), ("at", at)])
        ),
        None => eprintln!("{}", super::error_line(&text)),
    }
    eprintln!(
        "{}",
        t("cli-run--stopped", &[("out", &out.display().to_string())])
    );
    ExitCode::from(INTERNAL_ERROR)
}

/// The summary table and where each output went.
fn print_report(summary: &batch::Summary, elapsed: f64, out: &Path, forms: bool) {
    println!(
        "{}",
        serde_json::to_string_pretty(&summary.policies_json()).unwrap_or_default()
    );
    let out = out.display().to_string();
    let out = out.trim_end_matches('/');
    println!(
        "{}",
        t(
            "cli-run--read",
            &[
                ("read", &summary.read.to_string()),
                ("evaluated", &summary.evaluated.to_string()),
                ("rejected", &summary.rejected.to_string()),
                ("seconds", &format!("{elapsed:.2}")),
                (
                    "rate",
                    &format!("{:.0}", summary.read as f64 / elapsed.max(1e-9)),
                ),
            ]
        )
    );
    if summary.blank_lines > 0 {
        println!(
            "{}",
            t(
                "cli-run--blank-lines",
                &[("n", &summary.blank_lines.to_string())]
            )
        );
    }
    println!("{}", t("cli-run--outputs", &[("out", out)]));
    if forms {
        println!("{}", t("cli-run--forms", &[("out", out), ("file", FORMS)]));
    }
}
