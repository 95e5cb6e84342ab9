"""A long-lived Spark SQL runner for the tests (driven by tests/support/engines.rs).

Started as `python3 spark_runner.py WORKDIR [CONF]`. It starts one SparkSession in
local[2] mode (UTC session time zone, ANSI mode off, no UI, 2 shuffle partitions,
2 GB of driver memory; CONF, a JSON object of Spark settings, goes over these),
answers one JSON line `{"ready": true, "spark": VERSION}` (or
`{"ready": false, "error": ...}`), then reads jobs as JSON lines on standard input
and answers each with one JSON line on standard output:

    {"data": DIR, "script": FILE, "out": FILE,          # all optional but script
     "views": {"grants": FILE, ...},                    # further views to write
     "conf": {"spark.sql.ansi.enabled": "true"},        # session settings for this job
     "prepare": [{"sql": "SELECT ...", "parquet": PATH}]}

    {"ok": true, "rows": {"decisions": N, ...}, "seconds": {...}}
    {"ok": false, "error": "...", "statement": K, "sql": "..."}

A job runs in a fresh session (temporary views of earlier jobs are gone): the
`prepare` queries are written as Parquet files first (stand-ins for `mianshen
export`), every `DIR/*.parquet` is registered as a temporary view named by the file's
stem, the script is split into statements (each ends with `;` at the end of a line)
and run in order, then `decisions` (to `out`) and each of `views` are written as JSON
lines: decimals as strings (exact), arrays as JSON arrays, nulls written out. Without
`out` and `views`, `decisions` is only counted (for timing).

At the end of standard input (the test process finished or died) the runner exits at
once; the JVM, which watches its own standard input, follows.
"""

import json
import os
import queue
import shutil
import sys
import threading
import time
import traceback


def main():
    work = sys.argv[1]
    conf = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    # The JVM inherits descriptor 1: keep the protocol on a descriptor of its own and
    # send everything else that is printed to standard error.
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    jobs = queue.Queue()
    threading.Thread(target=serve, args=(work, conf, jobs, proto), daemon=True).start()
    for line in sys.stdin:
        jobs.put(line)
    shutil.rmtree(work, ignore_errors=True)
    os._exit(0)


def serve(work, conf, jobs, proto):
    """Starts Spark, then runs the jobs one after the other."""
    try:
        spark = start(work, conf)
    except Exception as e:  # noqa: BLE001 - the reason goes to the test
        answer(proto, {"ready": False, "error": f"{type(e).__name__}: {e}"})
        os._exit(1)
    answer(proto, {"ready": True, "spark": spark.version})
    while True:
        line = jobs.get()
        if line.strip():
            answer(proto, run_job(spark, line))


def answer(proto, obj):
    proto.write(json.dumps(obj) + "\n")
    proto.flush()


def start(work, conf):
    """The one SparkSession of the process."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master("local[2]").appName("mianshen-tests")
    for key, value in {**base_conf(work), **conf}.items():
        builder = builder.config(key, str(value))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def base_conf(work):
    """The settings of every session (also set again on each job's session)."""
    return {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "2",
        "spark.driver.memory": "2g",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.ansi.enabled": "false",
        "spark.sql.jsonGenerator.ignoreNullFields": "false",
        "spark.sql.warehouse.dir": os.path.join(work, "warehouse"),
        "spark.local.dir": os.path.join(work, "local"),
    }


SESSION_CONF = (
    "spark.sql.shuffle.partitions",
    "spark.sql.session.timeZone",
    "spark.sql.ansi.enabled",
    "spark.sql.jsonGenerator.ignoreNullFields",
)


def run_job(spark, line):
    """One job; never raises."""
    state = {"statement": None, "sql": None}
    try:
        return do_job(spark, json.loads(line), state)
    except Exception as e:  # noqa: BLE001 - the reason goes to the test
        error = f"{type(e).__name__}: {e}"
        if not str(e):
            error += "\n" + traceback.format_exc(limit=3)
        return {"ok": False, "error": error[:8000], **state}


def do_job(spark, job, state):
    t0 = time.monotonic()
    session = fresh_session(spark, job.get("conf") or {})
    for p in job.get("prepare") or []:
        session.sql(p["sql"]).coalesce(1).write.mode("overwrite").parquet(p["parquet"])
    names = register(session, job.get("data"))
    t1 = time.monotonic()
    with open(job["script"], encoding="utf-8") as f:
        script = f.read()
    for k, sql in enumerate(statements(script)):
        state.update(statement=k, sql=sql[:2000])
        session.sql(sql)
    state.update(statement=None, sql=None)
    t2 = time.monotonic()
    rows = write_outputs(session, job)
    t3 = time.monotonic()
    seconds = {"load": t1 - t0, "script": t2 - t1, "write": t3 - t2}
    return {"ok": True, "tables": names, "rows": rows, "seconds": seconds}


def fresh_session(spark, conf):
    session = spark.newSession()
    for key in SESSION_CONF:
        session.conf.set(key, spark.conf.get(key))
    for key, value in conf.items():
        session.conf.set(key, str(value))
    return session


def register(session, data):
    """Registers every DATA/*.parquet (file or directory) as a temporary view."""
    names = []
    if not data:
        return names
    for entry in sorted(os.listdir(data)):
        stem, ext = os.path.splitext(entry)
        if ext == ".parquet":
            session.read.parquet(os.path.join(data, entry)).createOrReplaceTempView(stem)
            names.append(stem)
    return names


def statements(script):
    """The script's statements: each ends with `;` at the end of a line (a line that
    is a `--` comment ends none); statements of comments alone are left out."""
    current = []
    for line in script.splitlines():
        current.append(line)
        stripped = line.strip()
        if stripped.endswith(";") and not stripped.startswith("--"):
            text = "\n".join(current).rstrip()[:-1]
            current = []
            if has_code(text):
                yield text
    if has_code("\n".join(current)):
        yield "\n".join(current)


def has_code(text):
    return any(
        line.strip() and not line.strip().startswith("--") for line in text.splitlines()
    )


def write_outputs(session, job):
    outputs = dict(job.get("views") or {})
    if job.get("out"):
        outputs["decisions"] = job["out"]
    if not outputs:
        return {"decisions": session.table("decisions").count()}
    return {view: write_json_lines(session.table(view), path) for view, path in outputs.items()}


def write_json_lines(df, path):
    """Writes `df` as JSON lines, decimal columns as strings; the number of rows."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DecimalType

    cols = []
    for field in df.schema.fields:
        col = F.col("`" + field.name.replace("`", "``") + "`")
        if isinstance(field.dataType, DecimalType):
            col = col.cast("string").alias(field.name)
        cols.append(col)
    n = 0
    with open(path, "w", encoding="utf-8") as out:
        for line in df.select(cols).toJSON().toLocalIterator():
            out.write(line + "\n")
            n += 1
    return n


if __name__ == "__main__":
    main()
