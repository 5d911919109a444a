#!/usr/bin/env bash
# pgbench: `omicsdb serve` vs PostgreSQL 15 on the same windows table (chr20 of
# the bundled hg19 genome, 61,549 windows of 1024 bp), both on loopback.
# See benches/pgbench/README.md. Settings (environment):
#   OMICSDB_BIN   omicsdb binary [~/.cache/omicsdb-bench-target/release/omicsdb]
#   CLIENTS       pgbench client counts to run ["1 8"]
#   DURATION      seconds per pgbench run [30]
#   MODE          pgbench query mode: simple | extended | prepared [extended]
#   QUERIES       scripts (beside this file, without .sql; empty: none) ["point point_seq region_1mb region_1mb_bounded"]
#   STREAM_ROWS   rows of the streaming test [10000000]; 0 skips it
#   PG_PORT, OMICSDB_PORT  loopback ports [54329, 54330]
#   KEEP=1        keep the work directory (databases, logs)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OMICSDB_BIN="${OMICSDB_BIN:-$HOME/.cache/omicsdb-bench-target/release/omicsdb}"
CLIENTS="${CLIENTS:-1 8}"
DURATION="${DURATION:-30}"
MODE="${MODE:-extended}"
QUERIES="${QUERIES-point point_seq region_1mb region_1mb_bounded}"
STREAM_ROWS="${STREAM_ROWS:-10000000}"
PG_PORT="${PG_PORT:-54329}"
OMICSDB_PORT="${OMICSDB_PORT:-54330}"
PGBIN=/usr/lib/postgresql/15/bin
HOST=127.0.0.1

die() { echo "run.sh: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }

[ -x "$OMICSDB_BIN" ] || die "no omicsdb binary at $OMICSDB_BIN (set OMICSDB_BIN; build with scripts/release-build.sh)"
case "$MODE" in simple|extended|prepared) ;; *) die "MODE must be simple, extended or prepared" ;; esac
for q in $QUERIES; do [ -f "$HERE/$q.sql" ] || die "no script $HERE/$q.sql"; done

# --- PostgreSQL 15 and pgbench from Debian packages --------------------------
# On Debian 12 initdb, pg_ctl, postgres and pgbench are in postgresql-15; psql
# is in postgresql-client-15.
if [ ! -x "$PGBIN/initdb" ] || [ ! -x "$PGBIN/pgbench" ] || [ ! -x "$PGBIN/psql" ]; then
  log "installing postgresql-15 (apt)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    postgresql-15 postgresql-client-15
  [ -x "$PGBIN/initdb" ] && [ -x "$PGBIN/pgbench" ] || die "apt did not install $PGBIN/{initdb,pgbench}"
fi
PSQL="$PGBIN/psql"
PGBENCH="$PGBIN/pgbench"

# initdb refuses to run as root: run the cluster as `postgres` then.
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || die "no postgres user (it comes with postgresql-common)"
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi

for p in "$PG_PORT" "$OMICSDB_PORT"; do
  if (exec 3<>"/dev/tcp/$HOST/$p") 2>/dev/null; then die "port $HOST:$p is in use (set PG_PORT / OMICSDB_PORT)"; fi
done

# --- work directory and cleanup ----------------------------------------------
WORK="$(mktemp -d /tmp/omicsdb-pgbench.XXXXXX)"
chmod 755 "$WORK"
PG_STARTED=""
OMICSDB_PID=""
cleanup() {
  set +e
  if [ -n "$OMICSDB_PID" ]; then kill "$OMICSDB_PID" 2>/dev/null; wait "$OMICSDB_PID" 2>/dev/null; fi
  if [ -n "$PG_STARTED" ]; then as_pg "$PGBIN/pg_ctl" -D "$WORK/pgdata" -m fast -w stop >/dev/null; fi
  if [ "${KEEP:-0}" = 1 ]; then echo "work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_ready() { # name port user db
  local i
  for i in $(seq 1 120); do
    if "$PSQL" -X -h "$HOST" -p "$2" -U "$3" -d "$4" -Atqc "SELECT 1" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  die "$1 did not accept connections on $HOST:$2 within 60 s"
}

# --- omicsdb database and server ---------------------------------------------
log "omicsdb: $OMICSDB_BIN ($("$OMICSDB_BIN" --version))"
log "ingesting data/genome/20.fa.gz"
"$OMICSDB_BIN" --db "$WORK/omics.db" ingest genome --assembly hg19 "$ROOT/data/genome/20.fa.gz" >&2
# The rows for PostgreSQL, exported before the server takes the database's lock.
COLS='chrom, start, "end", region, seq, gc, n_frac, softmask_frac'
"$OMICSDB_BIN" --db "$WORK/omics.db" sql --format csv "SELECT $COLS FROM windows ORDER BY chrom, start" >"$WORK/windows.csv"
"$OMICSDB_BIN" --db "$WORK/omics.db" serve --trust --listen "$HOST:$OMICSDB_PORT" >"$WORK/omicsdb-serve.log" 2>&1 &
OMICSDB_PID=$!
wait_ready omicsdb "$OMICSDB_PORT" omics omics
O_CONN=(-h "$HOST" -p "$OMICSDB_PORT" -U omics -d omics)

# --- PostgreSQL cluster with the same table ----------------------------------
log "PostgreSQL: $("$PGBIN/postgres" --version)"
mkdir "$WORK/pgdata" "$WORK/pgsock"
chown postgres "$WORK/pgdata" "$WORK/pgsock" 2>/dev/null || true
as_pg "$PGBIN/initdb" -D "$WORK/pgdata" -U postgres -A trust -E UTF8 --locale=C >"$WORK/initdb.log"
cat >>"$WORK/pgdata/postgresql.conf" <<EOF
listen_addresses = '$HOST'
port = $PG_PORT
unix_socket_directories = '$WORK/pgsock'
fsync = off
EOF
as_pg "$PGBIN/pg_ctl" -D "$WORK/pgdata" -l "$WORK/pgdata/server.log" -w start >/dev/null
PG_STARTED=1
wait_ready PostgreSQL "$PG_PORT" postgres postgres
P_CONN=(-h "$HOST" -p "$PG_PORT" -U postgres -d postgres)

log "copying the windows table into PostgreSQL"
"$PSQL" -X -q -v ON_ERROR_STOP=1 "${P_CONN[@]}" <<EOF
CREATE TABLE windows (chrom text NOT NULL, start bigint NOT NULL, "end" bigint NOT NULL,
  region text NOT NULL, seq text NOT NULL, gc real, n_frac real NOT NULL, softmask_frac real NOT NULL);
\copy windows ($COLS) FROM '$WORK/windows.csv' WITH (FORMAT csv, HEADER true)
CREATE INDEX windows_chrom_start ON windows USING btree (chrom, start);
VACUUM ANALYZE windows;
EOF
N_O=$("$PSQL" -X -At "${O_CONN[@]}" -c "SELECT count(*) FROM windows")
N_P=$("$PSQL" -X -At "${P_CONN[@]}" -c "SELECT count(*) FROM windows")
[ "$N_O" = "$N_P" ] || die "row counts differ: omicsdb $N_O, PostgreSQL $N_P"
log "windows: $N_O rows on both"

# Each script's query with s = 30000128, e = s + 1 Mb: the same rows on both
# sides (sorted: neither query has an ORDER BY), and PostgreSQL's plan.
sample_sql() { sed -n 's/^\(SELECT .*\);$/\1/p' "$HERE/$1.sql" | sed 's/:s/30000128/g; s/:e/31000128/g'; }
for q in $QUERIES; do
  sql=$(sample_sql "$q")
  [ -n "$sql" ] || die "$q.sql: no one-line SELECT ...; found"
  a=$("$PSQL" -X -At "${O_CONN[@]}" -c "$sql" | sort) || die "omicsdb failed on: $sql"
  b=$("$PSQL" -X -At "${P_CONN[@]}" -c "$sql" | sort) || die "PostgreSQL failed on: $sql"
  [ -n "$a" ] || die "no rows from: $sql"
  [ "$a" = "$b" ] || die "omicsdb and PostgreSQL answer differently: $sql"
  plan=$("$PSQL" -X -At "${P_CONN[@]}" -c "EXPLAIN $sql" | head -1 | sed 's/  (cost.*//')
  log "$q: $(printf '%s\n' "$a" | wc -l) rows at s=30000128, identical on both; PostgreSQL plan: $plan"
done

# --- pgbench -----------------------------------------------------------------
# Prints "tps latency_ms failed"; the full output is kept in $WORK.
bench() { # name port user db script clients
  local out="$WORK/pgbench-$1-$5-c$6.log" rc=0
  "$PGBENCH" -n -h "$HOST" -p "$2" -U "$3" -M "$MODE" -f "$HERE/$5.sql" \
    -c "$6" -j "$6" -T "$DURATION" "$4" >"$out" 2>&1 || rc=$?
  local tps lat failed processed
  tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' "$out")
  lat=$(sed -n 's/^latency average = \([0-9.]*\) ms$/\1/p' "$out")
  failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out")
  processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
  if [ "$rc" -ne 0 ] || [ -z "$tps" ] || [ "${failed:-0}" != 0 ]; then
    echo "pgbench against $1 ($5, $6 clients) exited $rc; its output:" >&2
    grep -v '^pgbench (' "$out" | head -20 >&2
  fi
  echo "${tps:-NA} ${lat:-NA} ${failed:-NA} ${processed:-NA}"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "NA" || b == "NA" || b == 0) print "NA"; else printf "%.2f", a / b }'; }

echo
echo "machine: $(nproc) cores; $(uptime)"
echo "pgbench -n -M $MODE -T $DURATION -c N -j N; omicsdb $("$OMICSDB_BIN" --version) ($OMICSDB_BIN); $("$PGBIN/postgres" --version)"
RESULTS="$WORK/results.txt"
printf '%-19s %7s %12s %12s %8s %12s %12s %8s %6s\n' query clients "TPS omicsdb" "TPS pg" "TPS o/p" \
  "lat ms omics" "lat ms pg" "lat o/p" load1 | tee "$RESULTS"
for q in $QUERIES; do
  for c in $CLIENTS; do
    read -r o_tps o_lat o_fail o_n <<<"$(bench omicsdb "$OMICSDB_PORT" omics omics "$q" "$c")"
    read -r p_tps p_lat p_fail p_n <<<"$(bench postgres "$PG_PORT" postgres postgres "$q" "$c")"
    load1=$(cut -d' ' -f1 /proc/loadavg)
    printf '%-19s %7s %12s %12s %8s %12s %12s %8s %6s\n' "$q" "$c" "$o_tps" "$p_tps" "$(ratio "$o_tps" "$p_tps")" \
      "$o_lat" "$p_lat" "$(ratio "$o_lat" "$p_lat")" "$load1" | tee -a "$RESULTS"
    if [ "$o_fail" != 0 ] || [ "$p_fail" != 0 ]; then
      echo "  failed transactions: omicsdb $o_fail of $o_n, PostgreSQL $p_fail of $p_n" | tee -a "$RESULTS"
    fi
  done
done

# --- streaming a large result to psql ----------------------------------------
# The windows table crossed with generate_series(1, 163) (10,032,487 rows),
# cut to STREAM_ROWS: the same five columns per row on both sides. psql reads
# the whole result (libpq collects it) and prints it unaligned.
stream() { # name sql conn...
  local name="$1" sql="$2"; shift 2
  local t0 t1 n
  t0=$(date +%s.%N)
  n=$("$PSQL" -X -At "$@" -c "$sql" | wc -l) || die "psql against $name failed"
  t1=$(date +%s.%N)
  echo "$n $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
}
if [ "$STREAM_ROWS" -gt 0 ]; then
  echo
  printf '%-30s %10s %9s %9s %12s %12s %8s %6s\n' "stream to psql" rows "s omics" "s pg" "rows/s omics" "rows/s pg" "o/p" load1 | tee -a "$RESULTS"
  reps=$(( (STREAM_ROWS + N_O - 1) / N_O ))
  declare -A SQL=(
    [windows_x_generate_series]="SELECT w.chrom, w.start, w.\"end\", w.region, w.gc FROM windows w CROSS JOIN generate_series(1, $reps) LIMIT $STREAM_ROWS"
    [generate_series]="SELECT * FROM generate_series(1, $STREAM_ROWS)"
  )
  for name in windows_x_generate_series generate_series; do
    read -r o_n o_s <<<"$(stream omicsdb "${SQL[$name]}" "${O_CONN[@]}")"
    read -r p_n p_s <<<"$(stream postgres "${SQL[$name]}" "${P_CONN[@]}")"
    [ "$o_n" = "$STREAM_ROWS" ] || echo "  omicsdb returned $o_n rows, not $STREAM_ROWS" | tee -a "$RESULTS"
    [ "$p_n" = "$STREAM_ROWS" ] || echo "  PostgreSQL returned $p_n rows, not $STREAM_ROWS" | tee -a "$RESULTS"
    o_r=$(awk -v n="$o_n" -v s="$o_s" 'BEGIN { printf "%.0f", n / s }')
    p_r=$(awk -v n="$p_n" -v s="$p_s" 'BEGIN { printf "%.0f", n / s }')
    printf '%-30s %10s %9s %9s %12s %12s %8s %6s\n' "$name" "$STREAM_ROWS" "$o_s" "$p_s" "$o_r" "$p_r" \
      "$(ratio "$o_r" "$p_r")" "$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$RESULTS"
  done
fi
echo
echo "ratios are omicsdb / PostgreSQL (TPS: higher is better for omicsdb; latency: lower is)"
echo "machine after the run: $(uptime)"
if [ -n "${RESULTS_OUT:-}" ]; then cp "$RESULTS" "$RESULTS_OUT"; fi
