#!/usr/bin/env bash
# `omicsdb train` with its defaults only, as a new user runs it, on several synthetic tasks
# (scripts/acceptance_omics.py: other grammars, tissue counts, motifs and noise than the
# acceptance benchmark) and optionally on the bundled GM12878 chr20 example. Per task it
# generates the inputs, ingests them (`ingest genome` with 1 kb windows, `ingest track` per
# tissue; no `windows create`), times `omicsdb train --model syn_defaults --holdout-chroms
# chr6 --valid-chroms chr5` (no other options), reads model_metrics through `omicsdb sql`,
# runs the true-motif reference (scripts/acceptance_pwm_reference.py) and the oracle
# (scripts/acceptance_ceiling.py), and writes OUT/taskN.md; then OUT/summary.md and
# OUT/summary.json (scripts/bench_train_defaults.py).
#
#   [TASKS="1 2 3 4"] [OMICSDB=/path/to/omicsdb] [EXTRA_TRAIN_ARGS=] [SKIP_TRAIN=]
#     scripts/bench_train_defaults.sh [OUT]   (OUT default: ./bench-train-defaults; 4 tasks ~100 MB)
#
# TASKS: any of 1 2 3 4 gm12878 (default "1 2 3 4"):
#   1        --grammar any     --tissues 3 --seed 11 --motif-seed 11
#   2        --grammar pair    --tissues 4 --seed 12 --motif-seed 12
#   3        --grammar spacing --tissues 3 --seed 13 --motif-seed 13
#   4        --grammar any     --tissues 5 --seed 14 --motif-seed 14 --peak-drop 0.2
#            --false-peaks-per-100kb 2 --signal-noise 1.5
#   (all with --min-site-score 0.8 --windows-tsv)
#   gm12878  data/genome/20.fa.gz with the example's ATAC (SRR891275) and CTCF tracks, ingested
#            as scripts/example.sh does (the default 1024 bp windows it trains on), trained with
#            --holdout-chroms 20:50000001-63025520 --valid-chroms 20:45000001-50000000 only.
# Target (synthetic tasks): on every peak track the model's held-out AUROC is at least the
# 4-mer baseline's, and at least 0.90 where the plain or soft true-motif reference reaches 0.92.
# OMICSDB: the binary to run (default: the release build of scripts/release-build.sh).
# EXTRA_TRAIN_ARGS: appended to every `omicsdb train` (empty: defaults only).
# SKIP_TRAIN=1: everything but training and the metrics (a dry run of the pipeline).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${1:-bench-train-defaults}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"  # relative to the caller's directory
if [[ -n "${OMICSDB:-}" ]]; then
  source "$HERE/env.sh"
  OMICSDB="$(cd "$(dirname "$OMICSDB")" && pwd)/$(basename "$OMICSDB")"
else
  source "$HERE/release-build.sh"
  OMICSDB="$RELEASE_DIR/omicsdb"
fi
cd "$OMICSDB_ROOT"
TASKS="${TASKS:-1 2 3 4}"
read -r -a EXTRA <<< "${EXTRA_TRAIN_ARGS:-}"
PYTHON="${OMICSDB_VENV:-$HOME/.cache/omicsdb-venv}/bin/python"
if ! "$PYTHON" -c "import numpy" 2>/dev/null; then
  PYTHON=python3
  "$PYTHON" -c "import numpy" 2>/dev/null || { echo "bench_train_defaults.sh: numpy is needed; run scripts/setup.sh first" >&2; exit 1; }
fi
echo "omicsdb: $OMICSDB ($("$OMICSDB" --version 2>/dev/null || echo '?'))" | tee "$OUT/binary.txt"
git -C "$OMICSDB_ROOT" rev-parse HEAD >> "$OUT/binary.txt" 2>/dev/null || true

task_args() {
  case "$1" in
    1) echo "--grammar any --tissues 3 --seed 11 --motif-seed 11" ;;
    2) echo "--grammar pair --tissues 4 --seed 12 --motif-seed 12" ;;
    3) echo "--grammar spacing --tissues 3 --seed 13 --motif-seed 13" ;;
    4) echo "--grammar any --tissues 5 --seed 14 --motif-seed 14 --peak-drop 0.2 --false-peaks-per-100kb 2 --signal-noise 1.5" ;;
    *) echo "bench_train_defaults.sh: unknown task '$1' (1 2 3 4 gm12878)" >&2; return 1 ;;
  esac
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Trains MODEL on DB with the defaults plus the given split options and writes the metrics CSV.
train_and_metrics() {
  local name="$1" db="$2" model="$3"; shift 3
  if [[ -n "${SKIP_TRAIN:-}" ]]; then
    echo "train=skipped" >> "$OUT/$name.times"
    return
  fi
  local t0; t0="$(now)"
  ( set -x; time "$OMICSDB" --db "$db" train --model "$model" "$@" ${EXTRA[@]+"${EXTRA[@]}"} ) 2>&1 | tee "$OUT/$name.train.log"
  echo "train=$(elapsed "$t0")" >> "$OUT/$name.times"
  "$OMICSDB" --db "$db" sql --format csv \
    "SELECT version, track, method, metric, value FROM model_metrics WHERE model = '$model'" > "$OUT/$name.metrics.csv"
  cat "$OUT/$name.metrics.csv"
}

run_synthetic() {
  local name="task$1" args; args="$(task_args "$1")"
  local data="$OUT/$name.inputs" db="$OUT/$name.db"
  rm -rf "$data" "$db" "$OUT/$name".{times,metrics.csv,train.log,reference.json,ceiling.json,md,json}
  echo "args=$args --min-site-score 0.8 --windows-tsv" > "$OUT/$name.times"
  local t0; t0="$(now)"
  # shellcheck disable=SC2086
  "$PYTHON" scripts/acceptance_omics.py "$data" $args --min-site-score 0.8 --windows-tsv
  echo "generate=$(elapsed "$t0")" >> "$OUT/$name.times"
  t0="$(now)"
  ( set -x; "$OMICSDB" --db "$db" ingest genome --assembly syn --window 1000 --stride 1000 "$data/genome.fa" )
  for t in $("$PYTHON" -c "import json,sys; print(' '.join(t['name'] for t in json.load(open(sys.argv[1]))['tissues']))" "$data/task.json"); do
    ( set -x
      "$OMICSDB" --db "$db" ingest track --assembly syn --name "${t}_atac_peaks" --assay ATAC-seq --tissue "$t" --kind peaks "$data/$t.peaks.bed"
      "$OMICSDB" --db "$db" ingest track --assembly syn --name "${t}_h3k27ac" --assay ChIP-seq --target H3K27ac --tissue "$t" --kind signal "$data/$t.signal.bedGraph" )
  done
  echo "ingest=$(elapsed "$t0")" >> "$OUT/$name.times"
  t0="$(now)"
  "$PYTHON" scripts/acceptance_pwm_reference.py "$data" --json "$OUT/$name.reference.json"
  echo "reference=$(elapsed "$t0")" >> "$OUT/$name.times"
  "$PYTHON" scripts/acceptance_ceiling.py "$data" --json "$OUT/$name.ceiling.json"
  train_and_metrics "$name" "$db" syn_defaults --holdout-chroms chr6 --valid-chroms chr5
}

run_gm12878() {
  local name=gm12878 db="$OUT/gm12878.db"
  rm -rf "$db" "$OUT/$name".{times,metrics.csv,train.log,md,json}
  echo "args=data/genome/20.fa.gz + data/tracks/SRR891275.peaks.gz (ATAC) + data/tracks/Gm12878.CTCF.top500.w200.bed (CTCF)" > "$OUT/$name.times"
  local t0; t0="$(now)"
  ( set -x
    "$OMICSDB" --db "$db" ingest genome --assembly hg19 data/genome/20.fa.gz
    "$OMICSDB" --db "$db" ingest track --assembly hg19 --name atac_gm12878 --assay ATAC-seq --tissue GM12878 data/tracks/SRR891275.peaks.gz
    "$OMICSDB" --db "$db" ingest track --assembly hg19 --name ctcf_gm12878 --assay ChIP-seq --target CTCF --tissue GM12878 data/tracks/Gm12878.CTCF.top500.w200.bed )
  echo "ingest=$(elapsed "$t0")" >> "$OUT/$name.times"
  train_and_metrics "$name" "$db" gm12878_defaults --holdout-chroms 20:50000001-63025520 --valid-chroms 20:45000001-50000000
}

done_tasks=()
for task in $TASKS; do
  echo "=== task $task"
  if [[ "$task" == gm12878 ]]; then run_gm12878; done_tasks+=(gm12878); else run_synthetic "$task"; done_tasks+=("task$task"); fi
  # The summary so far, so a long run can be read while it goes on.
  "$PYTHON" scripts/bench_train_defaults.py "$OUT" "${done_tasks[@]}"
done
echo "=== $OUT/summary.md"
cat "$OUT/summary.md"
