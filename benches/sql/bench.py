#!/usr/bin/env python3
"""The same rules three ways: `mianshen run`, the SQL on PostgreSQL, the SQL on Spark.

    bench.py [options] RULES POPULATION.jsonl DATE LABEL

Times, on one population (see docs/performance.md, "The same rules in the warehouse"):

  run     `mianshen run` (read, decide, write grants/pushes): wall, CPU, peak RSS;
  pg      `mianshen export --format csv`, then the load (the DDL of `mianshen sql --ddl`
          and `load.psql`: \\copy and ANALYZE), then the script of `mianshen sql
          --dialect postgres` (the `decisions` table and the views), on a throwaway
          server (initdb into the work directory, Unix socket, fsync off; as `nobody`
          when run as root);
  spark   `mianshen export --format parquet`, then in a fresh Spark (local[CORES]):
          start, register the Parquet as the view `person` (load), the script of
          `mianshen sql --dialect spark` (its CREATE VIEWs are where Spark analyses the
          plan), optimising and planning `decisions`, and writing `decisions` to
          Parquet (the materialising action; it plans again, then executes).
          With `--partition region` the population is first written by Spark as a
          table partitioned by `hukou.district` (one directory a district, a one-off
          step timed apart) and the job reads that table.

Every engine's decisions are counted per policy and outcome (with the sum of the
amounts) and compared with `mianshen run`'s summary, and the `grants` and `pushes` views
with the lines of grants.jsonl and pushes.jsonl: a cheap consistency check (the
record-by-record check is tests/sql.rs). A difference is printed and makes the exit
status 1. Every figure is also appended as a JSON line to --log, with the load average.

CPU seconds: the process's own (wait4) for mianshen and psql; PostgreSQL's server
processes through the postmaster's reaped children (each psql session's backend ends
with it); the JVM's own CPU time for Spark.
"""

import argparse
import json
import os
import pwd
import shutil
import subprocess
import sys
import time
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PG_BIN = "/usr/lib/postgresql/15/bin"
# The throwaway server's settings (over initdb's defaults): no durability, memory for
# sorts and hashes, no checkpoints in the middle of a load, no autovacuum (the load
# ANALYZEs; a worker's CPU time would be counted in whichever step it ran).
PG_CONF = """
listen_addresses = ''
unix_socket_directories = '{sock}'
port = 5432
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 2GB
work_mem = 256MB
maintenance_work_mem = 1GB
max_wal_size = 16GB
autovacuum = off
timezone = 'UTC'
lc_messages = 'C'
"""
# The server's own processes (any other child of the postmaster is a session's).
PG_BACKGROUND = tuple(b"postgres: " + p for p in (
    b"checkpointer", b"background writer", b"walwriter", b"autovacuum launcher",
    b"logical replication launcher"))
OUTCOMES = ("eligible", "not_eligible", "undetermined", "error")
COUNT_SQL = (
    "SELECT policy, outcome, count(*) AS n, sum(amount) AS amount "
    "FROM decisions GROUP BY policy, outcome"
)


# ---------------------------------------------------------------- measuring

def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def proc_cpu(pid, children=False):
    """CPU seconds of process `pid` (user + system), or of its reaped children."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state): utime is field 14, cutime field 16.
    i = 13 if children else 11
    return (int(fields[i]) + int(fields[i + 1])) / os.sysconf("SC_CLK_TCK")


class Log:
    """Collects the figures, prints the table, appends them to a JSON Lines file."""

    def __init__(self, label, path):
        self.label, self.path, self.rows = label, path, []

    def add(self, engine, step, wall, cpu=None, rss_mib=None, load=None, **extra):
        row = {"label": self.label, "engine": engine, "step": step,
               "wall_s": round(wall, 3),
               "cpu_s": None if cpu is None else round(cpu, 3),
               "peak_rss_mib": None if rss_mib is None else round(rss_mib, 1),
               "load1": load if load is not None else loadavg(),
               "at": time.strftime("%Y-%m-%dT%H:%M:%S"), **extra}
        self.rows.append(row)
        if self.path:
            with open(self.path, "a") as f:
                f.write(json.dumps(row) + "\n")
        print(f"  {engine:6} {step:42} {wall:9.2f} s", file=sys.stderr, flush=True)

    def table(self):
        out = [f"| engine | step | wall s | CPU s | peak RSS MiB | load avg |",
               "|---|---|---:|---:|---:|---:|"]
        for r in self.rows:
            cpu = "" if r["cpu_s"] is None else f"{r['cpu_s']:.2f}"
            rss = "" if r["peak_rss_mib"] is None else f"{r['peak_rss_mib']:.0f}"
            out.append(f"| {r['engine']} | {r['step']} | {r['wall_s']:.2f} | {cpu} | "
                       f"{rss} | {r['load1']:.2f} |")
        return "\n".join(out)


def timed(argv, cwd=None, stdout=None):
    """Runs argv; (wall s, CPU s, peak RSS MiB, load avg at start). Fails loudly."""
    load = loadavg()
    t = time.monotonic()
    p = subprocess.Popen(argv, cwd=cwd, stdout=stdout or subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t
    if status != 0:
        sys.exit(f"failed ({status}): {' '.join(argv)}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, load


# ---------------------------------------------------------------- mianshen run

def bench_run(a, log):
    out = os.path.join(a.work, "run")
    shutil.rmtree(out, ignore_errors=True)
    wall, cpu, rss, load = timed([a.mianshen, "run", a.rules, "--input", a.population,
                                  "--date", a.date, "--out", out, "--quiet"])
    log.add("run", "read + decide + write grants/pushes", wall, cpu, rss, load)
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    expected = {}
    errors = summary["run"]["evaluation_errors"]
    for policy, s in summary["policies"].items():
        for outcome in OUTCOMES[:3]:
            expected[(policy, outcome)] = s[outcome]
        expected[(policy, "error")] = errors.get(policy, 0)
        expected[(policy, "amount")] = Decimal(s["amount"])
    expected["grants"] = count_lines(os.path.join(out, "grants.jsonl"))
    expected["pushes"] = count_lines(os.path.join(out, "pushes.jsonl"))
    expected["records"] = summary["run"]["evaluated"]
    return expected


def count_lines(path):
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def compare(engine, counts, expected):
    """Differences between an engine's counts and run's; printed, returned."""
    got = {}
    for policy, outcome, n, amount in counts["outcomes"]:
        got[(policy, outcome)] = n
        if outcome == "eligible":
            got[(policy, "amount")] = Decimal(str(amount or 0))
    got["grants"], got["pushes"] = counts["grants"], counts["pushes"]
    bad = [(k, expected[k], got.get(k, 0)) for k in expected
           if k != "records" and got.get(k, 0) != expected[k]]
    bad += [(k, 0, v) for k, v in got.items() if k not in expected and v]
    for k, want, have in bad:
        print(f"MISMATCH {engine}: {k}: run {want}, {engine} {have}", file=sys.stderr)
    print(f"  check {engine}: {'agrees with run' if not bad else f'{len(bad)} differences'}"
          f" ({len(counts['outcomes'])} policy/outcome groups, grants {got['grants']},"
          f" pushes {got['pushes']})", file=sys.stderr)
    return bad


# ---------------------------------------------------------------- PostgreSQL

class Postgres:
    """A throwaway server in WORK/pg."""

    def __init__(self, work):
        self.dir = os.path.join(work, "pg")
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.as_user = []
        if os.geteuid() == 0:  # initdb refuses root: the server runs as nobody
            nobody = pwd.getpwnam("nobody")
            os.chown(self.dir, nobody.pw_uid, nobody.pw_gid)
            self.as_user = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
                            "--clear-groups"]
        data = os.path.join(self.dir, "data")
        subprocess.run(self.as_user + [f"{PG_BIN}/initdb", "-D", data, "-U", "postgres",
                                       "-A", "trust", "-E", "UTF8", "--locale=C", "-N"],
                       check=True, stdout=subprocess.DEVNULL, cwd=self.dir)
        with open(os.path.join(data, "postgresql.conf"), "a") as f:
            f.write(PG_CONF.format(sock=self.dir))
        subprocess.run(self.as_user + [f"{PG_BIN}/pg_ctl", "-D", data, "-l",
                                       os.path.join(self.dir, "server.log"), "-w", "start"],
                       check=True, stdout=subprocess.DEVNULL, cwd=self.dir)
        with open(os.path.join(data, "postmaster.pid")) as f:
            self.postmaster = int(f.readline())

    def stop(self):
        subprocess.run(self.as_user + [f"{PG_BIN}/pg_ctl", "-D",
                                       os.path.join(self.dir, "data"), "-m", "fast", "stop"],
                       stdout=subprocess.DEVNULL, cwd=self.dir)

    def psql(self, *args):
        return ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.dir,
                "-U", "postgres", "-d", "postgres", *args]

    def timed(self, *args, cwd=None):
        """A psql run: wall, CPU (psql's and the server's), load at start."""
        server = proc_cpu(self.postmaster, children=True)
        wall, cpu, _, load = timed(self.psql(*args), cwd=cwd)
        self.wait_for_backends()
        return wall, cpu + proc_cpu(self.postmaster, children=True) - server, load

    def wait_for_backends(self):
        """Until the session's backend (and parallel workers) have ended and been
        reaped, so that their CPU time is in the postmaster's children's (5 s at most)."""
        end = time.monotonic() + 5
        while time.monotonic() < end and any(self.sessions()):
            time.sleep(0.02)

    def sessions(self):
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    ppid = f.read().rsplit(")", 1)[1].split()[1]
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read()
            except (OSError, ValueError):
                continue
            # An ending backend has no command line until the postmaster reaps it.
            if int(ppid) == self.postmaster and not cmd.startswith(PG_BACKGROUND):
                yield pid

    def query(self, sql):
        out = subprocess.run(self.psql("-A", "-t", "-F", "\t", "-c", sql),
                             check=True, capture_output=True, text=True).stdout
        return [line.split("\t") for line in out.splitlines() if line]


def bench_pg(a, log, pg, expected):
    csv_dir = os.path.join(a.work, "csv")
    shutil.rmtree(csv_dir, ignore_errors=True)
    wall, cpu, rss, load = timed([a.mianshen, "export", a.rules, "--input", a.population,
                                  "--format", "csv", "--out", csv_dir])
    log.add("pg", "export CSV (mianshen export)", wall, cpu, rss, load)
    ddl, script = sql_files(a, "postgres")
    pg.query("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    w1, c1, load = pg.timed("-f", ddl)
    w2, c2, _ = pg.timed("-f", "load.psql", cwd=csv_dir)
    log.add("pg", "load (DDL, \\copy, ANALYZE)", w1 + w2, c1 + c2, load=load)
    wall, cpu, load = pg.timed("-f", script)
    log.add("pg", "decide (script: decisions table, views)", wall, cpu, load=load)
    rows = pg.query(COUNT_SQL)
    counts = {"outcomes": [(p, o, int(n), amount or None) for p, o, n, amount in rows],
              "grants": int(pg.query("SELECT count(*) FROM grants")[0][0]),
              "pushes": int(pg.query("SELECT count(*) FROM pushes")[0][0])}
    size = pg.query("SELECT pg_size_pretty(pg_database_size('postgres'))")[0][0]
    print(f"  pg database size: {size}", file=sys.stderr)
    return compare("pg", counts, expected)


def sql_files(a, dialect):
    """Writes the DDL and the script of `mianshen sql` for the dialect; their paths."""
    paths = []
    for kind, extra in (("ddl", ["--ddl"]), ("script", ["--date", a.date])):
        path = os.path.join(a.work, f"{dialect}-{kind}.sql")
        with open(path, "w") as f:
            p = subprocess.run([a.mianshen, "sql", a.rules, "--dialect", dialect, *extra],
                               stdout=f, stderr=subprocess.PIPE, text=True, check=True)
        if kind == "script" and p.stderr.strip():
            print(f"  mianshen sql: {p.stderr.strip()}", file=sys.stderr)
        paths.append(path)
    return paths


# ---------------------------------------------------------------- Spark

def bench_spark(a, log, expected, export=True):
    pq_dir = os.path.join(a.work, "parquet")
    if export:
        shutil.rmtree(pq_dir, ignore_errors=True)
        wall, cpu, rss, load = timed([a.mianshen, "export", a.rules, "--input",
                                      a.population, "--format", "parquet", "--out", pq_dir])
        log.add("spark", "export Parquet (mianshen export)", wall, cpu, rss, load)
    _, script = sql_files(a, "spark")
    person = os.path.join(pq_dir, "person.parquet")
    if a.partition == "region":
        table = os.path.join(a.work, "person-by-region")
        if export or not os.path.exists(table):
            result = spark_job(a, {"partition": {"from": person, "to": table}})
            log.add("spark", "one-off: partition by region (Spark write)",
                    result["seconds"]["partition"], result["cpu"]["partition"],
                    result["peak_rss_mib"], result["load"],
                    files=result["files"])
        person = table
    result = spark_job(a, {"person": person, "script": script,
                           "out": os.path.join(a.work, "spark-decisions")})
    steps = [("start", "start (JVM, session)"), ("load", "load (register Parquet)"),
             ("analyse", "analyse (script: CREATE VIEWs)"),
             ("optimise", "optimise decisions (apart)"),
             ("plan", "physical plan (apart)"),
             ("write", "write decisions (plan again + execute)")]
    for key, name in steps:
        log.add("spark", name, result["seconds"][key], result["cpu"][key],
                result["peak_rss_mib"] if key == "write" else None, result["load"],
                tasks=result.get("tasks"))
    print(f"  spark plan of decisions: {result['plan']}", file=sys.stderr)
    return compare("spark", result["counts"], expected)


def spark_job(a, job):
    """Runs a job in a fresh Python + JVM (this file, `_spark-job`); its result."""
    job = {**job, "cores": a.cores, "memory": a.spark_memory, "work": a.work,
           "shuffle_partitions": a.shuffle_partitions}
    result_path = os.path.join(a.work, "spark-result.json")
    if os.path.exists(result_path):
        os.remove(result_path)
    job["result"] = result_path
    subprocess.run([sys.executable, os.path.abspath(__file__), "_spark-job", json.dumps(job)],
                   check=True, stdout=sys.stderr)
    with open(result_path) as f:
        return json.load(f)


def run_spark_job(job):
    """In the child process: one SparkSession, the steps timed one by one."""
    from pyspark.sql import SparkSession, functions as F

    seconds, cpu, load = {}, {}, loadavg()
    t = time.monotonic()
    builder = SparkSession.builder.master(f"local[{job['cores']}]").appName("mianshen-bench")
    for k, v in {
        "spark.driver.memory": job["memory"],
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.ansi.enabled": "false",
        "spark.sql.shuffle.partitions": str(job["shuffle_partitions"]),
        "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
        "spark.local.dir": os.path.join(job["work"], "spark-local"),
        "spark.sql.warehouse.dir": os.path.join(job["work"], "spark-warehouse"),
    }.items():
        builder = builder.config(k, v)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    jvm = spark._jvm.java.lang.ProcessHandle.current().pid()
    clock = {"t": t, "cpu": 0.0}

    def lap(name):
        now, c = time.monotonic(), proc_cpu(jvm)
        seconds[name], cpu[name] = now - clock["t"], c - clock["cpu"]
        clock.update(t=now, cpu=c)

    lap("start")
    result = {"load": load, "seconds": seconds, "cpu": cpu}
    if "partition" in job:
        src, dst = job["partition"]["from"], job["partition"]["to"]
        df = spark.read.parquet(src).withColumn("region", F.col("hukou__district"))
        df.repartition("region").write.mode("overwrite").partitionBy("region").parquet(dst)
        lap("partition")
        result["files"] = sum(f.endswith(".parquet") for _, _, fs in os.walk(dst) for f in fs)
    else:
        person = spark.read.parquet(job["person"])
        person.createOrReplaceTempView("person")
        lap("load")
        with open(job["script"]) as f:
            statements = split_statements(f.read())
        for sql in statements:
            spark.sql(sql)
        lap("analyse")
        qe = spark.table("decisions")._jdf.queryExecution()
        qe.optimizedPlan()
        lap("optimise")
        plan = qe.executedPlan().toString()
        lap("plan")
        with open(os.path.join(job["work"], "spark-plan.txt"), "w") as f:
            f.write(plan)
        result["plan"] = {op: plan.count(op) for op in (
            "Exchange hashpartitioning", "SortMergeJoin", "BroadcastHashJoin",
            "HashAggregate", "ObjectHashAggregate", "SortAggregate", "Generate")}
        spark.table("decisions").write.mode("overwrite").parquet(job["out"])
        lap("write")
        # The checks read what was written (cheap next to deciding it again).
        spark.read.parquet(job["out"]).createOrReplaceTempView("decisions")
        for sql in statements:
            if "VIEW grants" in sql or "VIEW pushes" in sql:
                spark.sql(sql)
        rows = spark.sql(COUNT_SQL).collect()
        result["counts"] = {
            "outcomes": [(r.policy, r.outcome, r.n, None if r.amount is None else str(r.amount))
                         for r in rows],
            "grants": spark.table("grants").count(),
            "pushes": spark.table("pushes").count(),
        }
        result["tasks"] = person.rdd.getNumPartitions()
    with open(f"/proc/{jvm}/status") as f:
        hwm = next(line for line in f if line.startswith("VmHWM"))
    result["peak_rss_mib"] = int(hwm.split()[1]) / 1024
    with open(job["result"], "w") as f:
        json.dump(result, f)
    spark.stop()


def split_statements(script):
    """The script's statements: each ends with `;` at the end of a line that is not a
    `--` comment (the contract of tests/support/engines.rs)."""
    out, current = [], []
    for line in script.splitlines():
        current.append(line)
        s = line.strip()
        if s.endswith(";") and not s.startswith("--"):
            text = "\n".join(current).rstrip()[:-1]
            current = []
            if any(l.strip() and not l.strip().startswith("--") for l in text.splitlines()):
                out.append(text)
    return out


# ---------------------------------------------------------------- main

def main():
    if len(sys.argv) == 3 and sys.argv[1] == "_spark-job":
        return run_spark_job(json.loads(sys.argv[2]))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rules")
    ap.add_argument("population")
    ap.add_argument("date")
    ap.add_argument("label", help="the size's label in the table and the log (1M, 10M, …)")
    ap.add_argument("--engines", default="run,pg,spark")
    ap.add_argument("--repeat", type=int, default=1,
                    help="how many times run and PostgreSQL are measured (Spark once)")
    ap.add_argument("--partition", choices=["none", "region"], default="none")
    ap.add_argument("--cores", type=int, default=2, help="Spark local[CORES]")
    ap.add_argument("--spark-memory", default="8g")
    ap.add_argument("--shuffle-partitions", type=int, default=200)
    ap.add_argument("--mianshen", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target")), "release", "mianshen"))
    ap.add_argument("--work", help="scratch directory (default /tmp/sqlbench-LABEL)")
    ap.add_argument("--log", help="append every figure as a JSON line to this file")
    a = ap.parse_args()
    a.work = os.path.abspath(a.work or f"/tmp/sqlbench-{a.label}")
    a.population, a.rules = os.path.abspath(a.population), os.path.abspath(a.rules)
    os.makedirs(a.work, exist_ok=True)
    engines = a.engines.split(",")
    log = Log(a.label, a.log)
    print(f"{a.label}: {a.population}, {a.date}, engines {a.engines}", file=sys.stderr)
    bad = []
    expected = None
    for k in range(a.repeat):
        expected = bench_run(a, log)  # always: the reference counts
        if k == 0:
            print(f"  {expected['records']} records", file=sys.stderr)
        if "pg" in engines:
            pg = Postgres(a.work)
            try:
                bad += bench_pg(a, log, pg, expected)
            finally:
                pg.stop()
    if "spark" in engines:
        bad += bench_spark(a, log, expected)
    print(f"\n### {a.label} ({expected['records']:,} records)\n\n{log.table()}\n")
    print_outcomes(expected)
    sys.exit(1 if bad else 0)


def print_outcomes(expected):
    policies = sorted({k[0] for k in expected if isinstance(k, tuple)})
    print("| policy | eligible | not eligible | undetermined | error | amount |")
    print("|---|---:|---:|---:|---:|---:|")
    for p in policies:
        n = [expected[(p, o)] for o in OUTCOMES]
        print(f"| {p} | " + " | ".join(f"{x:,}" for x in n) + f" | {expected[(p, 'amount')]} |")
    print(f"\ngrants {expected['grants']:,}, pushes {expected['pushes']:,}")


if __name__ == "__main__":
    main()
