#!/usr/bin/env bash
# The main job on the bundled example: build omicsdb, ingest human chr20
# (GRCh37) into ./example-db with two GM12878 tracks, query it, train a small
# omics model, predict with it from SQL, materialize its predictions for all of
# chr20 (Parquet table + bigWig) and plot a region.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$OMICSDB_ROOT"
# usearch (the embedding indexes' HNSW library) is C++: the build needs a compiler.
if ! command -v c++ >/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq g++ >/dev/null
fi
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
# A second model family (DNABERT-6 layout, random weights): family detected from config.json.
"$OMICSDB" model import --name dnabert6_random --note "random weights (test fixture), not a trained model" data/fixtures/dnabert/k6_1k
# A third (Caduceus-PS, reverse-complement equivariant Mamba, random weights).
"$OMICSDB" model import --name caduceus_random --note "random weights (test fixture), not a trained model" data/fixtures/caduceus/ps_small
"$OMICSDB" info
"$OMICSDB" sql "SELECT chrom, start, \"end\", region, gc, n_frac, softmask_frac FROM windows WHERE chrom = '20' AND start >= 1000000 AND \"end\" <= 1008192"
"$OMICSDB" sql "SELECT region, substr(seq, 1, 40) AS seq_head, gc_content(seq) AS gc FROM windows WHERE chrom = '20' AND start BETWEEN 30000000 AND 30003000"
"$OMICSDB" sql "SELECT chrom, count(*) AS windows, round(avg(gc), 4) AS mean_gc, round(avg(n_frac), 4) AS mean_n FROM windows GROUP BY chrom"
"$OMICSDB" sql "SELECT region, round(gc, 3) AS gc, atac_gm12878, ctcf_gm12878 FROM windows WHERE chrom = '20' AND (atac_gm12878 > 0 OR ctcf_gm12878 > 0) ORDER BY start LIMIT 10"
"$OMICSDB" sql "SELECT region, round(hyena_loglik(seq), 2) AS loglik, hyena_embed(seq)[1] AS embed_dim1 FROM windows WHERE chrom = '20' AND start >= 30000000 LIMIT 3"
"$OMICSDB" sql "SELECT name, family, tokenizer, max_len, bidirectional FROM models ORDER BY name"
"$OMICSDB" sql "SELECT region, embed(seq, 'dnabert6_random')[1] AS dnabert_dim1, round(loglik(substr(seq, 1, 64), 'dnabert6_random'), 2) AS dnabert_pll FROM windows WHERE chrom = '20' AND start >= 30000000 LIMIT 3"
"$OMICSDB" sql "SELECT region, embed(substr(seq, 1, 1024), 'caduceus_random')[1] AS caduceus_dim1, round(loglik(substr(seq, 1, 64), 'caduceus_random'), 2) AS caduceus_pll FROM windows WHERE chrom = '20' AND start >= 30000000 LIMIT 3"
# A small omics model on the GM12878 tracks, from random weights. chr20 is the only
# bundled human chromosome, so its last 13 Mbp are held out and 45-50 Mb validates.
"$OMICSDB" train --model gm12878_omics --tissues GM12878 \
  --holdout-chroms 20:50000001-63025520 --valid-chroms 20:45000001-50000000 \
  --max-windows 600 --epochs 2 --batch-size 16 --lr 3e-3 --d-model 16 --n-layer 1 --seed 1 --impute \
  --note "bundled example: 2 epochs on 600 chr20 windows; a demonstration, not a useful model"
"$OMICSDB" model show gm12878_omics
"$OMICSDB" sql "SELECT region, predict_omics(region, 'GM12878') AS prediction FROM windows WHERE chrom = '20' AND start >= 30000000 LIMIT 3"
"$OMICSDB" sql "SELECT round(predict_omics('20:30,000,001-30,010,000', 'GM12878', 'atac_seq'), 4) AS atac_p_10kb"
# Imputation (--impute): CTCF from the sequence and the measured ATAC of each window.
"$OMICSDB" sql "SELECT region, atac_gm12878, ctcf_gm12878, impute_omics(region, 'GM12878', 'chip_seq_ctcf') AS ctcf_imputed, predict_omics(region, 'GM12878', 'chip_seq_ctcf') AS ctcf_from_seq FROM windows WHERE chrom = '20' AND (atac_gm12878 > 0 OR ctcf_gm12878 > 0) ORDER BY start LIMIT 5"
"$OMICSDB" materialize --model gm12878_omics --all-tissues --bigwig-dir "$DB/bigwig"
"$OMICSDB" sql "SELECT chrom, start, \"end\", round(atac_seq, 3) AS atac_p, round(chip_seq_ctcf, 3) AS ctcf_p, atac_gm12878 AS atac_observed FROM predictions_gm12878_omics p JOIN windows w USING (chrom, start, \"end\") ORDER BY atac_seq DESC LIMIT 5"
"$OMICSDB" plot --region 20:30,000,001-30,400,000 --predictions gm12878_omics --out "$DB/plot.svg"
"$OMICSDB" plot --region 20:30,000,001-30,400,000 --predictions gm12878_omics --out "$DB/plot.png"
# Variant effects: the bundled CEU trio calls (chr20), scored in SQL and as a VCF.
"$OMICSDB" ingest variants --assembly hg19 --replace data/tracks/CEUtrio_20.vcf.bgz
"$OMICSDB" sql "SELECT id, pos, ref, alt, score_variant(chrom, pos, ref, alt, 'GM12878', 'atac_seq') AS atac FROM variants ORDER BY pos LIMIT 3"
"$OMICSDB" sql "SELECT v.id, g.score AS gene, v.ref, v.alt, round(s['delta'], 6) AS atac_delta, round(s['log2_ratio'], 4) AS atac_log2 FROM (SELECT *, score_variant(chrom, pos, ref, alt, 'GM12878', 'atac_seq') AS s FROM variants) v JOIN read_bed('data/bed/gencode_v28_hg19.protein_coding_l12_genes.bed.gz') g ON g.chrom = 'chr' || v.chrom AND g.start < v.pos AND v.pos <= g.\"end\" ORDER BY abs(s['delta']) DESC LIMIT 5"
"$OMICSDB" sql "SELECT count(*) AS n, round(min(d), 6) AS min_delta, round(approx_percentile_cont(d, 0.5), 6) AS median_delta, round(max(d), 6) AS max_delta, round(avg(abs(d)), 6) AS mean_abs_delta FROM (SELECT score_variant(chrom, pos, ref, alt, 'GM12878', 'atac_seq')['delta'] AS d FROM variants) t"
"$OMICSDB" score-variants --model gm12878_omics --out "$DB/ceu_scored.vcf.gz" data/tracks/CEUtrio_20.vcf.bgz
"$OMICSDB" sql "SELECT * FROM ism('20:30,000,101-30,000,104', 'GM12878', 'atac_seq', 'gm12878_omics') ORDER BY pos, alt"
"$OMICSDB" plot --region 20:30,000,001-30,000,200 --ism GM12878:atac_seq --ism-model gm12878_omics --tracks atac_gm12878 --out "$DB/ism.svg"
# Similarity search: embed every chr20 window with the omics model's backbone, index
# the embeddings (usearch HNSW), and find the windows most like the strongest ATAC
# peak, joined with the tracks; then the same search restricted to CTCF windows.
"$OMICSDB" index create --model gm12878_omics --name chr20_gm12878
"$OMICSDB" sql "SELECT name, window_set, model, model_version, dim, windows, kind, metric, stale FROM embedding_indexes"
PEAK=$("$OMICSDB" sql --format csv "SELECT region FROM windows WHERE atac_gm12878 > 0 ORDER BY atac_gm12878 DESC, start LIMIT 1" | tail -1)
"$OMICSDB" sql "SELECT s.rank, s.region, round(s.distance, 4) AS distance, w.atac_gm12878, w.ctcf_gm12878, round(w.gc, 3) AS gc FROM similar_regions('chr20_gm12878', '$PEAK', 10) s JOIN windows w USING (chrom, start, \"end\") ORDER BY s.rank"
"$OMICSDB" sql "SELECT s.rank, s.region, round(s.distance, 4) AS distance, w.ctcf_gm12878 FROM similar_regions('chr20_gm12878', '$PEAK', 5, 'ctcf_gm12878 > 0') s JOIN windows w USING (chrom, start, \"end\") ORDER BY s.rank"
