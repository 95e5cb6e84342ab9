//! The real SQL engines the SQL backend is tested on: a throwaway PostgreSQL server and
//! a Spark in local mode, started and stopped by the tests themselves. Tests spawn the
//! engines' programs only through this module, and every call has a time limit.
//!
//! # The script's contract
//!
//! `mianshen sql RULES --dialect postgres|spark --date D [--policies a,b]` prints one
//! SQL script:
//!
//! - plain SQL statements, each ending with `;` at the end of a line; no literal
//!   contains a newline (so a statement ends exactly where a line ends in `;`, which
//!   is how the Spark runner splits the script; a line that is a `--` comment ends
//!   none);
//! - PostgreSQL: it (re)creates a table `decisions` and views `grants` and `pushes`,
//!   reading the subject tables of `mianshen sql --ddl` (loaded by `load.psql` of
//!   `mianshen export --format csv`);
//! - Spark: the same, where `decisions`, `grants` and `pushes` are temporary views
//!   (`CREATE OR REPLACE TEMPORARY VIEW`) and the subject tables are temporary views
//!   named as the subject kind (`person`): the runner registers `DIR/<name>.parquet`
//!   (of `mianshen export --format parquet`) as the temporary view `<name>`;
//! - `decisions` has the columns `subject` (text: the subject's id), `policy` (text),
//!   `outcome` (text: `eligible`, `not_eligible`, `undetermined` or `error`),
//!   `amount` (numeric / decimal: null unless eligible with an amount), `unit`
//!   (text), `period` (text), `extras` (text: a JSON object, or null), `failed`
//!   (`text[]` / `array<string>`: the failed clause ids in clause order), `missing`
//!   (`text[]` / `array<string>`: the missing field paths, sorted), `error_clause`
//!   (text), `error_kind` (text: the engine's `ErrorKind` code) and `version` (text).
//!
//! # The engines
//!
//! - [`Postgres::start`]: `initdb` into a fresh directory under `/tmp`, then the
//!   server on a Unix socket in that directory only (no TCP), `fsync` off, time zone
//!   UTC, collation C (byte order, as Rust sorts strings), superuser `postgres`
//!   trusted. As root (CI is), the server runs as `nobody` (through `setpriv`, else
//!   `runuser`): `initdb` refuses root. Starting one takes under a second here, so
//!   each test may have its own; [`Postgres::shared`] gives one server per test
//!   process to one test at a time, and [`Postgres::reset`] empties a server for the
//!   next case. Rows come back through `row_to_json`: numerics as JSON numbers whose
//!   text is kept exactly (`serde_json`'s `arbitrary_precision`, on in this crate),
//!   arrays as arrays. psql runs as the test's user, so `load.psql` reads its CSV
//!   files with psql's `\copy` (the server's `COPY … FROM 'file'` runs as the
//!   server's user, who cannot read them).
//! - [`Spark::shared`]: one Python process per test process running
//!   `tests/support/spark_runner.py` (its doc states the protocol), Spark `local[2]`
//!   with UTC session time zone and ANSI mode off; jobs run one at a time, each in a
//!   fresh session. Decimals come back as JSON strings (exact), arrays as arrays;
//!   [`Spark::job`] also writes `grants` and `pushes` (`views`), or only counts
//!   `decisions` (for timing), and reports the seconds spent loading, running the
//!   script and writing.
//!
//! Nothing is left running: dropping a [`Postgres`] stops the server and removes its
//! directory, through a guard process that also does it when the test process dies
//! (its standard input, a pipe from the test process, closes); the Spark runner and
//! its JVM end when their standard input closes. Directories left by a test process
//! that was killed anyway are swept at the next start.
//!
//! # Skipping
//!
//! An engine that cannot be found or started gives a [`Skip`] saying why;
//! [`require_or_skip`] prints `SKIPPED: <test>: <why>` and lets the test return, or,
//! when `MIANSHEN_SQL_REQUIRE=1` (set by `.ci/run` once `.ci/install-sql-engines`
//! reports both engines installed), fails the test.

#![allow(dead_code)]

use serde_json::{json, Value as Json};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// The variable that turns a skip into a failure (`1`).
pub const REQUIRE_VAR: &str = "MIANSHEN_SQL_REQUIRE";
/// The time limit of starting a PostgreSQL server (initdb, then start).
pub const PG_START_LIMIT: Duration = Duration::from_secs(60);
/// The time limit of one psql run.
pub const PSQL_LIMIT: Duration = Duration::from_secs(120);
/// The time limit of starting Spark.
pub const SPARK_START_LIMIT: Duration = Duration::from_secs(180);
/// The time limit of one Spark job.
pub const SPARK_JOB_LIMIT: Duration = Duration::from_secs(1200);
/// The port in the name of the server's socket (`.s.PGSQL.5432`; no TCP).
const PG_PORT: &str = "5432";

// ------------------------------------------------------------------ skipping

/// Why an engine is not available to a test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip(pub String);

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The engine, or `None` after a loud `SKIPPED:` line (the test then returns); a
/// failure instead when `MIANSHEN_SQL_REQUIRE=1`.
pub fn require_or_skip<T>(engine: Result<T, Skip>) -> Option<T> {
    let why = match engine {
        Ok(e) => return Some(e),
        Err(Skip(why)) => why,
    };
    let test = std::thread::current().name().unwrap_or("?").to_string();
    if std::env::var(REQUIRE_VAR).is_ok_and(|v| v == "1") {
        panic!("{test}: {REQUIRE_VAR}=1, but {why}");
    }
    // Past libtest's capture of `eprintln!`, so that the line shows in a passing run.
    let line = format!("SKIPPED: {test}: {why}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    None
}

// ------------------------------------------------------------------ programs

/// What a program that finished gave.
#[derive(Debug)]
pub struct Finished {
    /// The exit code (`None`: ended by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Finished {
    /// Standard output when the program succeeded; what it said otherwise.
    pub fn ok(self, what: &str) -> Result<String, String> {
        if self.code == Some(0) {
            return Ok(self.stdout);
        }
        Err(format!(
            "{what} failed (exit {:?})\n{}{}",
            self.code,
            tail(&self.stderr, 4000),
            tail(&self.stdout, 2000)
        ))
    }
}

/// Runs `cmd` with no standard input, killing it after `limit` (an error then).
pub fn run_limited(cmd: &mut Command, limit: Duration) -> Result<Finished, String> {
    let name = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {name}: {e}"))?;
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let status = wait_limited(&mut child, limit);
    // A grandchild that keeps a pipe open must not hold the test up.
    let grace = Duration::from_secs(5);
    let stdout = out.recv_timeout(grace).unwrap_or_default();
    let stderr = err.recv_timeout(grace).unwrap_or_default();
    match status {
        Some(s) => Ok(Finished {
            code: s.code(),
            stdout,
            stderr,
        }),
        None => Err(format!(
            "{name} did not finish within {limit:?} and was killed\n{}",
            tail(&stderr, 4000)
        )),
    }
}

/// Reads a pipe to its end on a thread of its own.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut bytes);
        }
        let _ = tx.send(String::from_utf8_lossy(&bytes).into_owned());
    });
    rx
}

/// Waits for `child` at most `limit`; kills it then (`None`).
fn wait_limited(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let started = Instant::now();
    while started.elapsed() < limit {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// The last `n` bytes of `s` (at a character boundary).
fn tail(s: &str, n: usize) -> &str {
    let mut start = s.len().saturating_sub(n);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    s.get(start..).unwrap_or_default()
}

/// The last lines of a log file, for an error message.
fn log_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    format!("--- {}:\n{}", path.display(), tail(&text, 3000))
}

/// An executable file named `name` on `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

// ------------------------------------------------------------------ directories

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A directory of the test's own, removed when dropped.
pub struct Scratch(PathBuf);

impl Scratch {
    /// A new empty directory `mianshen-sql-<kind>-<pid>-<n>` under the scratch base.
    pub fn new(kind: &str) -> Result<Scratch, String> {
        let base = scratch_base();
        sweep_stale(&base, kind);
        let pid = std::process::id();
        for _ in 0..1000 {
            let n = SEQ.fetch_add(1, Ordering::Relaxed);
            let dir = base.join(format!("mianshen-sql-{kind}-{pid}-{n}"));
            match fs::create_dir(&dir) {
                Ok(()) => return Ok(Scratch(dir)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
            }
        }
        Err(format!("no free directory name under {}", base.display()))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A path in the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Gives the directory up: no longer removed when dropped.
    fn keep(mut self) -> PathBuf {
        std::mem::take(&mut self.0)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.0.as_os_str().is_empty() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// Where scratch directories go: `/tmp` as root (the server's user must reach it,
/// and a socket's path is short), else the temporary directory when its path is short.
fn scratch_base() -> PathBuf {
    let tmp = std::env::temp_dir();
    let root = fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if root || tmp.as_os_str().len() > 60 {
        PathBuf::from("/tmp")
    } else {
        tmp
    }
}

/// Removes the directories of `kind` left by test processes that no longer run
/// (stopping a server still running in one first).
fn sweep_stale(base: &Path, kind: &str) {
    if !Path::new("/proc/self").exists() {
        return; // Which process is alive cannot be told.
    }
    let prefix = format!("mianshen-sql-{kind}-");
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(&prefix).and_then(|r| r.split('-').next()) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            if kind == "pg" {
                stop_stale_server(&entry.path());
            }
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

// ------------------------------------------------------------------ the server's user

/// How the server's programs run: as ourselves, or (as root) as `nobody`.
#[derive(Clone, Debug)]
enum User {
    Same,
    Setpriv { uid: u32, gid: u32 },
    Runuser { uid: u32, gid: u32 },
}

impl User {
    /// The user for a server whose files are under `dir` (which it is given).
    fn for_dir(dir: &Path) -> Result<User, Skip> {
        let owner = fs::metadata(dir).map_err(|e| Skip(e.to_string()))?.uid();
        if owner != 0 {
            return Ok(User::Same);
        }
        let (uid, gid) =
            nobody().ok_or_else(|| Skip("running as root and no user `nobody`".into()))?;
        std::os::unix::fs::chown(dir, Some(uid), Some(gid))
            .map_err(|e| Skip(format!("chown {}: {e}", dir.display())))?;
        if on_path("setpriv").is_some() {
            Ok(User::Setpriv { uid, gid })
        } else if on_path("runuser").is_some() {
            Ok(User::Runuser { uid, gid })
        } else {
            Err(Skip(
                "running as root, and neither setpriv nor runuser to run the server as nobody"
                    .into(),
            ))
        }
    }

    /// The command line running `program` as this user.
    fn argv(&self, program: &Path) -> Vec<OsString> {
        let mut argv: Vec<OsString> = match self {
            User::Same => vec![],
            User::Setpriv { uid, gid } => vec![
                "setpriv".into(),
                format!("--reuid={uid}").into(),
                format!("--regid={gid}").into(),
                "--clear-groups".into(),
            ],
            User::Runuser { .. } => {
                vec!["runuser".into(), "-u".into(), "nobody".into(), "--".into()]
            }
        };
        argv.push(program.into());
        argv
    }

    /// A command running `program` as this user.
    fn command(&self, program: &Path) -> Command {
        let argv = self.argv(program);
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]);
        cmd
    }
}

/// The uid and gid of `nobody`.
fn nobody() -> Option<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    let line = passwd.lines().find(|l| l.starts_with("nobody:"))?;
    let mut fields = line.split(':').skip(2);
    Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
}

// ------------------------------------------------------------------ PostgreSQL

/// A throwaway PostgreSQL server (see the module's doc).
pub struct Postgres {
    /// Its directory: `data/`, `server.log` and the socket.
    dir: PathBuf,
    /// The directory of initdb, pg_ctl and postgres.
    bin: PathBuf,
    /// The psql client.
    psql: PathBuf,
    /// Stops the server and removes `dir` when its standard input closes.
    guard: Option<Child>,
}

impl Postgres {
    /// The server of this test process, started at the first call, for one test at
    /// a time (the guard holds the lock); [`Postgres::reset`] it before use. It is
    /// never dropped: its guard process stops it when the test process ends.
    pub fn shared() -> Result<MutexGuard<'static, Postgres>, Skip> {
        static PG: OnceLock<Result<Mutex<Postgres>, Skip>> = OnceLock::new();
        let pg = PG.get_or_init(|| Postgres::start().map(Mutex::new));
        let pg = pg.as_ref().map_err(Clone::clone)?;
        Ok(pg.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// A new server, running; a [`Skip`] when PostgreSQL is not installed or does
    /// not start.
    pub fn start() -> Result<Postgres, Skip> {
        let bin = pg_bin()?;
        let psql = Some(bin.join("psql"))
            .filter(|p| is_executable(p))
            .or_else(|| on_path("psql"))
            .ok_or_else(|| Skip("no psql (Debian package postgresql-client)".into()))?;
        let dir = Scratch::new("pg").map_err(Skip)?;
        let user = User::for_dir(dir.path())?;
        let guard = spawn_guard(dir.path(), &user, &bin).map_err(Skip)?;
        let pg = Postgres {
            dir: dir.keep(),
            bin,
            psql,
            guard: Some(guard),
        };
        pg.initdb(&user).map_err(Skip)?;
        pg.configure().map_err(Skip)?;
        pg.pg_ctl_start(&user).map_err(Skip)?;
        Ok(pg)
    }

    /// The server's directory (its socket is there).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn initdb(&self, user: &User) -> Result<(), String> {
        let mut cmd = user.command(&self.bin.join("initdb"));
        cmd.arg("-D").arg(self.data());
        cmd.args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "-N",
        ]);
        run_limited(cmd.current_dir(&self.dir), PG_START_LIMIT)?
            .ok("initdb")
            .map(drop)
    }

    /// The settings of a throwaway server, after initdb's.
    fn configure(&self) -> Result<(), String> {
        let socket_dir = self.dir.to_string_lossy().replace('\'', "''");
        let settings = format!(
            "\n# mianshen tests\nlisten_addresses = ''\nunix_socket_directories = '{socket_dir}'\n\
             port = {PG_PORT}\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n\
             timezone = 'UTC'\nlc_messages = 'C'\nmax_connections = 50\n"
        );
        let conf = self.data().join("postgresql.conf");
        fs::OpenOptions::new()
            .append(true)
            .open(&conf)
            .and_then(|mut f| f.write_all(settings.as_bytes()))
            .map_err(|e| format!("{}: {e}", conf.display()))
    }

    fn pg_ctl_start(&self, user: &User) -> Result<(), String> {
        let log = self.dir.join("server.log");
        let mut cmd = user.command(&self.bin.join("pg_ctl"));
        cmd.arg("-D").arg(self.data()).arg("-l").arg(&log);
        cmd.args(["-w", "-t", "50", "start"]);
        run_limited(cmd.current_dir(&self.dir), PG_START_LIMIT)?
            .ok("pg_ctl start")
            .map(drop)
            .map_err(|e| format!("{e}\n{}", log_tail(&log)))
    }

    /// Runs psql (`-X -q -v ON_ERROR_STOP=1`, as superuser on database `postgres`)
    /// with `args` in `cwd`; its standard output.
    pub fn psql<I, S>(&self, args: I, cwd: &Path) -> Result<String, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.psql_within(args, cwd, PSQL_LIMIT)
    }

    /// [`Postgres::psql`] with a time limit of its own.
    pub fn psql_within<I, S>(&self, args: I, cwd: &Path, limit: Duration) -> Result<String, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(&self.psql);
        cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(&self.dir)
            .args(["-p", PG_PORT, "-U", "postgres", "-d", "postgres"])
            .args(args)
            .env("PGCLIENTENCODING", "UTF8")
            .env("PGTZ", "UTC");
        for var in [
            "PGSERVICE",
            "PGSERVICEFILE",
            "PGOPTIONS",
            "PGSYSCONFDIR",
            "PGPASSWORD",
        ] {
            cmd.env_remove(var);
        }
        run_limited(cmd.current_dir(cwd), limit)?.ok("psql")
    }

    /// Runs the psql script `file` from `cwd` (where a `\copy` finds its files).
    pub fn run_script(&self, file: &Path, cwd: &Path) -> Result<String, String> {
        self.psql([OsStr::new("-f"), file.as_os_str()], cwd)
    }

    /// Runs `sql` (one or more statements).
    pub fn execute(&self, sql: &str) -> Result<String, String> {
        self.psql(["-c", sql], &self.dir)
    }

    /// The rows of the query `sql` (no trailing `;`), one JSON object each
    /// (`row_to_json`).
    pub fn query_json_lines(&self, sql: &str) -> Result<Vec<Json>, String> {
        let sql = sql.trim().trim_end_matches(';');
        let wrapped = format!("SELECT row_to_json(t)::text FROM ({sql}\n) t");
        let out = self.psql(["-A", "-t", "-c", &wrapped], &self.dir)?;
        parse_json_lines(&out)
    }

    /// Drops everything the tests created (the schema `public`, anew).
    pub fn reset(&self) -> Result<(), String> {
        self.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
            .map(drop)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(mut guard) = self.guard.take() {
            drop(guard.stdin.take());
            if wait_limited(&mut guard, Duration::from_secs(60)).is_none() {
                eprintln!("warning: the server in {} did not stop", self.dir.display());
            }
        }
    }
}

/// The directory of initdb, pg_ctl and postgres: initdb's on `PATH` (links
/// followed), else the highest version's `/usr/lib/postgresql/<version>/bin`.
fn pg_bin() -> Result<PathBuf, Skip> {
    let complete = |d: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|p| is_executable(&d.join(p)))
    };
    let from_path = on_path("initdb")
        .and_then(|p| fs::canonicalize(p).ok())
        .and_then(|p| p.parent().map(Path::to_path_buf));
    let mut versions: Vec<(Vec<u32>, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            (
                version_key(&e.file_name().to_string_lossy()),
                e.path().join("bin"),
            )
        })
        .collect();
    versions.sort();
    from_path
        .into_iter()
        .chain(versions.into_iter().rev().map(|(_, d)| d))
        .find(|d| complete(d))
        .ok_or_else(|| Skip("no PostgreSQL server (initdb, pg_ctl, postgres) on PATH or in /usr/lib/postgresql/*/bin: Debian package postgresql".into()))
}

/// `15` → `[15]`, `9.6` → `[9, 6]`, for ordering versions.
fn version_key(name: &str) -> Vec<u32> {
    name.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// A process that, when its standard input closes (the [`Postgres`] is dropped, or
/// the test process ends however it ends), stops the server in `dir` and removes
/// `dir`. In a process group of its own, so that an interrupt of the tests does not
/// reach it first.
fn spawn_guard(dir: &Path, user: &User, bin: &Path) -> Result<Child, String> {
    let mut stop = user.argv(&bin.join("pg_ctl"));
    stop.extend([
        "-D".into(),
        dir.join("data").into(),
        "-m".into(),
        "immediate".into(),
    ]);
    stop.extend(["-t".into(), "30".into(), "stop".into()]);
    Command::new("sh")
        .arg("-c")
        .arg(r#"read _ ; "$@" >/dev/null 2>&1 ; rm -rf -- "$MIANSHEN_PG_DIR""#)
        .arg("mianshen-pg-guard")
        .args(stop)
        .env("MIANSHEN_PG_DIR", dir)
        .current_dir(dir)
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the server's guard (sh): {e}"))
}

/// Stops a server left running in `dir` by a test process that died without its
/// guard (killed along with it).
fn stop_stale_server(dir: &Path) {
    let data = dir.join("data");
    if !data.join("postmaster.pid").exists() {
        return;
    }
    let (Ok(bin), Ok(user)) = (pg_bin(), User::for_dir(dir)) else {
        return;
    };
    let mut cmd = user.command(&bin.join("pg_ctl"));
    cmd.arg("-D")
        .arg(&data)
        .args(["-m", "immediate", "-t", "30", "stop"]);
    let _ = run_limited(cmd.current_dir(dir), Duration::from_secs(40));
}

// ------------------------------------------------------------------ Spark

/// A Spark in local mode behind the runner (see the module's doc).
pub struct Spark {
    /// The runner, `None` once it has died or was killed.
    runner: Mutex<Option<Runner>>,
    /// Spark's version.
    pub version: String,
    /// The runner's directory (its log, Spark's warehouse and local files).
    dir: PathBuf,
}

/// The runner process and its two pipes.
struct Runner {
    child: Child,
    stdin: ChildStdin,
    replies: Receiver<String>,
}

impl Spark {
    /// The Spark of this test process, started at the first call (about 5 s here).
    pub fn shared() -> Result<&'static Spark, Skip> {
        static SPARK: OnceLock<Result<Spark, Skip>> = OnceLock::new();
        SPARK
            .get_or_init(Spark::start)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// A new runner with its own Spark; a [`Skip`] when pyspark or Java is missing
    /// or Spark does not start.
    pub fn start() -> Result<Spark, Skip> {
        Spark::start_with(&json!({}))
    }

    /// [`Spark::start`] with settings of its own (`{"spark.driver.memory": "8g"}`,
    /// for a benchmark), over the runner's.
    pub fn start_with(conf: &Json) -> Result<Spark, Skip> {
        let python = find_python()?;
        find_java()?;
        let dir = Scratch::new("spark").map_err(Skip)?;
        let runner = spawn_runner(&python, dir.path(), conf).map_err(Skip)?;
        let mut spark = Spark {
            runner: Mutex::new(Some(runner)),
            version: String::new(),
            dir: dir.keep(),
        };
        let hello = spark.exchange(None, SPARK_START_LIMIT).map_err(Skip)?;
        if hello["ready"] != json!(true) {
            return Err(Skip(format!("Spark did not start: {}", hello["error"])));
        }
        spark.version = hello["spark"].as_str().unwrap_or("?").to_string();
        Ok(spark)
    }

    /// Runs `script` on the Parquet files of `data` (each a temporary view named by
    /// its stem) and writes `decisions` to `out` as JSON lines; the runner's report
    /// (`rows`, `seconds`).
    pub fn run(&self, data: &Path, script: &Path, out: &Path) -> Result<Json, String> {
        self.job(
            &json!({"data": data, "script": script, "out": out}),
            SPARK_JOB_LIMIT,
        )
    }

    /// Runs a job as `spark_runner.py` reads it; its report, or its error.
    pub fn job(&self, job: &Json, limit: Duration) -> Result<Json, String> {
        let reply = self.exchange(Some(job), limit)?;
        if reply["ok"] == json!(true) {
            return Ok(reply);
        }
        let error = reply["error"].as_str().unwrap_or("?");
        match reply["statement"].as_u64() {
            Some(k) => Err(format!(
                "statement {k} failed: {error}\n--- statement:\n{}",
                reply["sql"].as_str().unwrap_or("")
            )),
            None => Err(format!("Spark job failed: {error}")),
        }
    }

    /// Sends `job` (if any) and reads one reply within `limit`; a runner that does not
    /// answer in time, or dies, is killed and the error says so.
    fn exchange(&self, job: Option<&Json>, limit: Duration) -> Result<Json, String> {
        let mut slot = self.runner.lock().unwrap_or_else(PoisonError::into_inner);
        let runner = slot
            .as_mut()
            .ok_or("the Spark runner was stopped by an earlier failure")?;
        match runner.ask(job, limit) {
            Ok(reply) => Ok(reply),
            Err(e) => {
                if let Some(mut dead) = slot.take() {
                    let _ = dead.child.kill();
                    let _ = dead.child.wait();
                }
                Err(format!("{e}\n{}", log_tail(&self.dir.join("runner.log"))))
            }
        }
    }
}

impl Runner {
    fn ask(&mut self, job: Option<&Json>, limit: Duration) -> Result<Json, String> {
        if let Some(job) = job {
            writeln!(self.stdin, "{job}")
                .and_then(|()| self.stdin.flush())
                .map_err(|e| format!("the Spark runner is gone: {e}"))?;
        }
        let line = self.replies.recv_timeout(limit).map_err(|e| match e {
            std::sync::mpsc::RecvTimeoutError::Timeout => {
                format!("the Spark runner did not answer within {limit:?}")
            }
            std::sync::mpsc::RecvTimeoutError::Disconnected => "the Spark runner died".into(),
        })?;
        serde_json::from_str(&line).map_err(|e| format!("the Spark runner said {line:?}: {e}"))
    }
}

impl Drop for Spark {
    fn drop(&mut self) {
        let slot = self
            .runner
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(Runner {
            mut child, stdin, ..
        }) = slot.take()
        {
            drop(stdin);
            if wait_limited(&mut child, Duration::from_secs(30)).is_none() {
                eprintln!("warning: the Spark runner did not end; killed");
            }
        }
        if !self.dir.as_os_str().is_empty() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Starts `spark_runner.py` in `dir` with the settings `conf` (its standard error
/// goes to `dir/runner.log`).
fn spawn_runner(python: &Path, dir: &Path, conf: &Json) -> Result<Runner, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/spark_runner.py");
    let log = fs::File::create(dir.join("runner.log")).map_err(|e| e.to_string())?;
    let mut child = Command::new(python)
        .arg(&script)
        .arg(dir)
        .arg(conf.to_string())
        .current_dir(dir)
        .env("SPARK_LOCAL_IP", "127.0.0.1")
        .env("PYSPARK_PYTHON", python)
        .env("PYTHONUNBUFFERED", "1")
        .env_remove("SPARK_HOME")
        .env_remove("PYSPARK_SUBMIT_ARGS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", python.display()))?;
    let stdin = child.stdin.take().ok_or("no stdin")?;
    let replies = lines_of(child.stdout.take().ok_or("no stdout")?);
    Ok(Runner {
        child,
        stdin,
        replies,
    })
}

/// The lines of a pipe, as they come, on a thread of its own.
fn lines_of<R: Read + Send + 'static>(pipe: R) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// A Python with pyspark importable: `$MIANSHEN_PYTHON`, `python3` on `PATH`, then
/// `/usr/bin/python3`.
fn find_python() -> Result<PathBuf, Skip> {
    let candidates: Vec<PathBuf> = std::env::var_os("MIANSHEN_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain(on_path("python3"))
        .chain(Some(PathBuf::from("/usr/bin/python3")))
        .filter(|p| is_executable(p))
        .fold(vec![], |mut seen, p| {
            if !seen.contains(&p) {
                seen.push(p);
            }
            seen
        });
    let imports = |p: &PathBuf| {
        let mut cmd = Command::new(p);
        cmd.args(["-c", "import pyspark"]);
        run_limited(&mut cmd, Duration::from_secs(60)).is_ok_and(|f| f.code == Some(0))
    };
    candidates.iter().find(|p| imports(p)).cloned().ok_or_else(|| {
        Skip(format!(
            "no Python with pyspark importable (tried {candidates:?}; .ci/install-sql-engines installs it)"
        ))
    })
}

/// A Java runtime that runs: `$JAVA_HOME/bin/java`, else `java` on `PATH`.
fn find_java() -> Result<PathBuf, Skip> {
    let java = std::env::var_os("JAVA_HOME")
        .map(|h| PathBuf::from(h).join("bin/java"))
        .filter(|p| is_executable(p))
        .or_else(|| on_path("java"))
        .ok_or_else(|| Skip("no Java runtime (Debian package default-jre-headless)".into()))?;
    let mut cmd = Command::new(&java);
    cmd.arg("-version");
    match run_limited(&mut cmd, Duration::from_secs(60)).map(|f| f.ok("java -version")) {
        Ok(Ok(_)) => Ok(java),
        Ok(Err(e)) | Err(e) => Err(Skip(e)),
    }
}

// ------------------------------------------------------------------ JSON lines

/// The JSON value of every non-empty line of `text`.
pub fn parse_json_lines(text: &str) -> Result<Vec<Json>, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| format!("{e}: {l}")))
        .collect()
}

/// The JSON values of the lines of the file `path`.
pub fn read_json_lines(path: &Path) -> Result<Vec<Json>, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_json_lines(&text)
}
