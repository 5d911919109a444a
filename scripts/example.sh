#!/usr/bin/env bash
# The main job on the bundled example: build omicsdb, ingest human chr20
# (GRCh37) into ./example-db, create a second window set, and query it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$OMICSDB_ROOT"
cargo build --workspace --bins --locked
OMICSDB="$CARGO_TARGET_DIR/debug/omicsdb"
DB="${1:-example-db}"
rm -rf "$DB"
export OMICSDB_DB="$DB"
set -x
"$OMICSDB" ingest genome --assembly hg19 --replace data/genome/20.fa.gz
"$OMICSDB" windows create --assembly hg19 --name windows_10k --width 10000 --stride 5000 --replace
"$OMICSDB" ingest track --assembly hg19 --name atac_gm12878 --assay ATAC-seq --tissue GM12878 --replace data/tracks/SRR891275.peaks.gz
"$OMICSDB" ingest track --assembly hg19 --name ctcf_gm12878 --assay ChIP-seq --target CTCF --tissue GM12878 --replace data/tracks/Gm12878.CTCF.top500.w200.bed
"$OMICSDB" model import --name hyenadna_tiny_1k --note "random weights (test fixture), not a trained model" data/fixtures/hyenadna/tiny-1k
"$OMICSDB" info
"$OMICSDB" sql "SELECT chrom, start, \"end\", region, gc, n_frac, softmask_frac FROM windows WHERE chrom = '20' AND start >= 1000000 AND \"end\" <= 1008192"
"$OMICSDB" sql "SELECT region, substr(seq, 1, 40) AS seq_head, gc_content(seq) AS gc FROM windows WHERE chrom = '20' AND start BETWEEN 30000000 AND 30003000"
"$OMICSDB" sql "SELECT chrom, count(*) AS windows, round(avg(gc), 4) AS mean_gc, round(avg(n_frac), 4) AS mean_n FROM windows GROUP BY chrom"
"$OMICSDB" sql "SELECT region, round(gc, 3) AS gc, atac_gm12878, ctcf_gm12878 FROM windows WHERE chrom = '20' AND (atac_gm12878 > 0 OR ctcf_gm12878 > 0) ORDER BY start LIMIT 10"
"$OMICSDB" sql "SELECT region, round(hyena_loglik(seq), 2) AS loglik, hyena_embed(seq)[1] AS embed_dim1 FROM windows WHERE chrom = '20' AND start >= 30000000 LIMIT 3"
