#!/usr/bin/env bash
# The main job on the bundled example: build omicsdb, ingest human chr20
# (GRCh37) into ./example-db, create a second window set, and query it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$OMICSDB_ROOT"
cargo build --locked -p omicsdb-server --bin omicsdb
OMICSDB="$CARGO_TARGET_DIR/debug/omicsdb"
DB="${1:-example-db}"
export OMICSDB_DB="$DB"
set -x
"$OMICSDB" ingest genome --assembly hg19 --replace data/genome/20.fa.gz
"$OMICSDB" windows create --assembly hg19 --name windows_10k --width 10000 --stride 5000 --replace
"$OMICSDB" info
"$OMICSDB" sql "SELECT chrom, start, \"end\", region, gc, n_frac, softmask_frac FROM windows WHERE chrom = '20' AND start >= 1000000 AND \"end\" <= 1008192"
"$OMICSDB" sql "SELECT region, substr(seq, 1, 40) AS seq_head, gc_content(seq) AS gc FROM windows WHERE chrom = '20' AND start BETWEEN 30000000 AND 30003000"
"$OMICSDB" sql "SELECT chrom, count(*) AS windows, round(avg(gc), 4) AS mean_gc, round(avg(n_frac), 4) AS mean_n FROM windows GROUP BY chrom"
