#!/usr/bin/env bash
# Variant scoring speed through SQL, against the naive form, in one run on one machine:
#   OMICSDB=BIN DB=DIR TASK=DIR [MODEL=syn_omics] [TISSUE=liver] [N=10000] bash scripts/bench_variants.sh OUT_DIR
# DB: a database with the acceptance task ingested and MODEL trained (scripts/acceptance_omics.sh);
# it is copied, never changed. TASK: the task's inputs (genome.fa). For two sets of N SNVs on the
# held-out chr6 (random positions; and "3 ALTs per site", N/3 positions with every other base), it
# times, with the model result cache off (--model-cache-limit 1: a 1-byte budget keeps nothing),
# so every window is computed:
#   score_variant  SELECT score_variant(chrom, pos, ref, alt, T, 'atac_seq') over the variants table
#   naive          (random set only) two predict_omics calls per variant, on the windows centred
#                  at pos-1 and at pos: the same model work per variant as a ref/alt pair (two
#                  distinct windows), each call batched on its own. predict_omics cannot take an
#                  alternate allele, so this is the closest SQL form; on the per-site set it would
#                  share windows between the ALTs of a site and compute no alternate window at
#                  all, so it is not run there
#   score-variants the CLI over the same VCF (VCF out)
# and writes OUT_DIR/results.md.
set -euo pipefail
shopt -s inherit_errexit
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$OMICSDB_ROOT"
OUT="${1:?usage: bench_variants.sh OUT_DIR}"
: "${OMICSDB:?set OMICSDB to the omicsdb binary}" "${DB:?set DB to the acceptance database}" "${TASK:?set TASK to the task inputs}"
MODEL="${MODEL:-syn_omics}"; TISSUE="${TISSUE:-liver}"; N="${N:-10000}"
PYTHON="${OMICSDB_VENV:-$HOME/.cache/omicsdb-venv}/bin/python"
mkdir -p "$OUT"
"$PYTHON" - "$TASK/genome.fa" "$OUT" "$N" <<'EOF'
import random, sys
fa, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
seq, name = [], None
for line in open(fa):
    if line.startswith(">"):
        name = line[1:].split()[0]
    elif name == "chr6":
        seq.append(line.strip())
seq = "".join(seq).upper()
rng = random.Random(11)
def write(path, recs):
    with open(path, "w") as f:
        f.write(f"##fileformat=VCFv4.2\n##contig=<ID=chr6,length={len(seq)}>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for p, r, a in sorted(recs):
            f.write(f"chr6\t{p + 1}\t.\t{r}\t{a}\t.\tPASS\t.\n")
def site():
    while True:
        p = rng.randrange(2000, len(seq) - 2000)
        if seq[p] in "ACGT":
            return p
recs, seen = [], set()
while len(recs) < n:
    p = site()
    if p in seen:
        continue
    seen.add(p)
    recs.append((p, seq[p], rng.choice([b for b in "ACGT" if b != seq[p]])))
write(f"{out}/random.vcf", recs)
recs = []
while len(recs) < n:
    p = site()
    recs += [(p, seq[p], b) for b in "ACGT" if b != seq[p]]
write(f"{out}/per_site.vcf", recs[:n])
EOF
REPORT="$OUT/results.md"
{
  echo "# Variant scoring speed ($(date -u +%F), $(nproc) cores, $(uname -m); binary $OMICSDB)"
  echo
  echo "Model $MODEL, tissue $TISSUE, $N SNVs per set on chr6, result cache off."
  echo
  echo "| set | form | seconds | variants/s | ratio vs naive |"
  echo "|---|---|---|---|---|"
} > "$REPORT"
secs() { local s e; s=$(date +%s.%N); "$@" > /dev/null || return 1; e=$(date +%s.%N); awk -v s="$s" -v e="$e" 'BEGIN { print e - s }'; }
for set in random per_site; do
  work="$OUT/db_$set"
  rm -rf "$work"; cp -a "$DB" "$work"
  "$OMICSDB" --db "$work" ingest variants --assembly syn6 --replace "$OUT/$set.vcf" > /dev/null
  # A 1-byte cache budget stores nothing: every window is computed.
  run() { "$OMICSDB" --db "$work" --model-cache-limit 1 "$@"; }
  t_sv=$(secs run sql "SELECT count(*) AS n, avg(s['delta']) AS mean_delta FROM (SELECT score_variant(chrom, pos, ref, alt, '$TISSUE', 'atac_seq', '$MODEL') AS s FROM variants) t")
  t_naive=""
  if [ "$set" = random ]; then
    t_naive=$(secs run sql "SELECT count(*) AS n, avg(predict_omics(chrom, pos, pos + 1, '$TISSUE', 'atac_seq', '$MODEL') - predict_omics(chrom, pos - 1, pos, '$TISSUE', 'atac_seq', '$MODEL')) AS mean_delta FROM variants")
  fi
  rm -f "$OUT/$set.scored.vcf"
  t_cli=$(secs run score-variants --model "$MODEL" --tissues "$TISSUE" --log --out "$OUT/$set.scored.vcf" "$OUT/$set.vcf")
  for pair in "score_variant:$t_sv" "naive:$t_naive" "score-variants CLI:$t_cli"; do
    form="${pair%%:*}"; t="${pair##*:}"
    [ -n "$t" ] || continue
    awk -v set="$set" -v form="$form" -v t="$t" -v n="$N" -v naive="$t_naive" \
      'BEGIN { r = naive == "" ? "-" : sprintf("%.2f", naive / t); printf "| %s | %s | %.1f | %.1f | %s |\n", set, form, t, n / t, r }' >> "$REPORT"
  done
  rm -rf "$work"
done
cat "$REPORT"
