#!/bin/sh
# The warehouse benchmark of docs/performance.md ("The same rules in the warehouse:
# PostgreSQL and Spark"): city-10 decided by `mianshen run`, by its SQL on PostgreSQL and
# by its SQL on Spark local[2], then on Spark alone at growing sizes, the population
# partitioned by region. Figures go to $OUT/figures.jsonl and the tables to $OUT/*.out.
#
#   benches/sql/run.sh [SIZES]     # SIZES: Spark series, default "100000 1000000 2000000 9999999"
#
# Needs PostgreSQL 15 (/usr/lib/postgresql/15/bin), psql, python3 with pyspark 3.5 and a
# Java runtime. The populations come from the workload's generator (at most 9,999,999
# records: its ids have seven digits); each size is a prefix of the largest.
set -eu
cd "$(dirname "$0")/../.."
RULES=benches/city-10
DATE=2026-07-01
GEN=${GEN:-/work/shared/bench/gen_population.py}
OUT=${OUT:-/tmp/sqlbench}
SIZES=${1:-"100000 1000000 2000000 9999999"}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
mkdir -p "$OUT"
cargo build --release --quiet

bench() { python3 benches/sql/bench.py --log "$OUT/figures.jsonl" "$@"; }

# Sanity: the sample population, every engine's counts equal run's.
bench $RULES tests/fixtures/city10-3000.jsonl $DATE 3k > "$OUT/3k.out"

# The largest population once; the others are its prefixes.
largest=0
for n in $SIZES; do [ "$n" -gt "$largest" ] && largest=$n; done
pop="$OUT/c10-$largest.jsonl"
[ -s "$pop" ] || python3 "$GEN" "$largest" 42 > "$pop"
population() { # the first $1 records
    if [ "$1" = "$largest" ]; then echo "$pop"; return; fi
    [ -s "$OUT/c10-$1.jsonl" ] || head -n "$1" "$pop" > "$OUT/c10-$1.jsonl"
    echo "$OUT/c10-$1.jsonl"
}

# 1,000,000 records, the three side by side; run and PostgreSQL twice.
bench $RULES "$(population 1000000)" $DATE 1M --repeat 2 > "$OUT/1M.out"

# Spark alone, partitioned by region, at growing sizes.
for n in $SIZES; do
    bench $RULES "$(population "$n")" $DATE "spark-$n" --engines spark --partition region \
        > "$OUT/spark-$n.out"
done
cat "$OUT"/*.out
