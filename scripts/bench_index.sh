#!/usr/bin/env bash
# Embedding index benchmark, omicsdb (usearch HNSW + exact search) beside FAISS
# (faiss-cpu) on the same vectors, in one run on one machine:
#   OMICSDB=BIN DB=DIR [MODEL=hyenadna_tiny_1k] [N_SYNTH=3000000] bash scripts/bench_index.sh OUT_DIR
# DB: the example database (scripts/example.sh); it gets a flat index named
# bench_<MODEL> of MODEL's mean embeddings of every window (the vectors are read
# from its files). Then a synthetic set of N_SYNTH clustered 128-d vectors (fixed
# seed). For each set: 1,000 held-out queries, exact top-10 by omicsdb's flat
# search (the ground truth; FAISS's IndexFlatIP is checked against it), HNSW built
# on 2 threads with M=16, efConstruction=128 by both, and the efSearch sweep on 1
# and 2 threads. Writes OUT_DIR/results.md (and the JSON of each run).
# Needs faiss-cpu in the venv: $OMICSDB_VENV/bin/pip install faiss-cpu
set -euo pipefail
shopt -s inherit_errexit
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$OMICSDB_ROOT"
OUT="${1:?usage: bench_index.sh OUT_DIR}"
: "${OMICSDB:?set OMICSDB to the omicsdb binary}" "${DB:?set DB to the example database}"
MODEL="${MODEL:-hyenadna_tiny_1k}"; N_SYNTH="${N_SYNTH:-3000000}"
PYTHON="${OMICSDB_VENV:-$HOME/.cache/omicsdb-venv}/bin/python"
mkdir -p "$OUT"
# The bench binary needs only the vector crate: a quick release build of its own.
CARGO_TARGET_DIR="${OMICSDB_RELEASE_TARGET_DIR:-$HOME/.cache/omicsdb-bench-target}" \
  cargo build --release --locked -p omicsdb-benches --features vector --bin bench_index
BENCH="${OMICSDB_RELEASE_TARGET_DIR:-$HOME/.cache/omicsdb-bench-target}/release/bench_index"
lscpu | grep -E "Model name|^CPU\(s\)" > "$OUT/machine.txt"

NAME="bench_$(echo "$MODEL" | tr -c 'a-zA-Z0-9\n' '_')"
/usr/bin/time -f "%e s embedding + flat index" "$OMICSDB" --db "$DB" index create --model "$MODEL" --kind flat --name "$NAME" --log 2>&1 | tail -3 | tee "$OUT/chr20_embed.txt"
VEC=$(ls "$DB"/data/embedding_index/"$NAME"-*/vectors.f32 | head -1)
DIM=$("$OMICSDB" --db "$DB" sql "SELECT dim FROM embedding_indexes WHERE name = '$NAME'" | grep -Eo '[0-9]+' | tail -1)
"$BENCH" run --vectors "$VEC" --dim "$DIM" --queries 1000 --k 10 --work "$OUT/chr20" --label "chr20, every 1 kb window ($MODEL mean embeddings, $DIM-d)"
"$PYTHON" benches/peers/faiss_index.py "$OUT/chr20" "$DIM" 10

"$BENCH" synth --n "$N_SYNTH" --dim 128 --clusters 3000 --seed 1 --out "$OUT/synth.f32"
"$BENCH" run --vectors "$OUT/synth.f32" --dim 128 --queries 1000 --k 10 --work "$OUT/synth" --label "synthetic $N_SYNTH x 128-d (Gaussian mixture, 3,000 clusters, seed 1)"
rm -f "$OUT/synth.f32"
"$PYTHON" benches/peers/faiss_index.py "$OUT/synth" 128 10
rm -f "$OUT"/*/base.f32 "$OUT"/*/queries.f32

"$PYTHON" - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
lines = ["# Embedding index benchmark: omicsdb (usearch HNSW, exact search) vs FAISS", "",
         open(f"{out}/machine.txt").read().strip().replace("\n", "; "), ""]
for name in ("chr20", "synth"):
    o = json.load(open(f"{out}/{name}/omicsdb.json")); f = json.load(open(f"{out}/{name}/faiss.json"))
    lines += [f"## {o['label']}", "",
              f"{o['n']:,} vectors indexed, {o['queries']} held-out queries, k = {o['k']}, cosine; FAISS {f['faiss_version']}, usearch {o['usearch_version']}.", "",
              "| | omicsdb | FAISS | ratio (omicsdb/FAISS) |", "|---|---|---|---|"]
    ob, fb = o["hnsw"]["build_seconds"], f["hnsw"]["build_seconds"]
    lines.append(f"| HNSW build, 2 threads (M=16, efConstruction=128) | {ob:.2f} s | {fb:.2f} s | {ob/fb:.2f}x time |")
    lines.append(f"| HNSW index size | {o['hnsw']['bytes']/2**20:.1f} MiB | {f['hnsw']['bytes']/2**20:.1f} MiB | {o['hnsw']['bytes']/f['hnsw']['bytes']:.2f} |")
    for t in (0, 1):
        oe, fe = o["exact"][t], f["exact"][t]
        lines.append(f"| exact search, {oe['threads']} thread(s), queries/s | {oe['qps']:.1f} | {fe['qps']:.1f} | {oe['qps']/fe['qps']:.2f}x |")
    lines.append(f"| FAISS exact top-{o['k']} agreeing with omicsdb's | | {f['exact'][1]['agreement_with_omicsdb_exact']:.4f} | |")
    lines += ["", "efSearch sweep (recall@10 against exact search; queries/s):", "",
              "| efSearch | omicsdb recall | omicsdb q/s 1t | omicsdb q/s 2t | FAISS recall | FAISS q/s 1t | FAISS q/s 2t |", "|---|---|---|---|---|---|---|"]
    for a, b in zip(o["hnsw"]["curve"], f["hnsw"]["curve"]):
        lines.append(f"| {a['ef_search']} | {a['recall']:.4f} | {a['qps_1t']:.0f} | {a['qps_2t']:.0f} | {b['recall']:.4f} | {b['qps_1t']:.0f} | {b['qps_2t']:.0f} |")
    def at(curve, target=0.95):
        ok = [c for c in curve if c["recall"] >= target]
        return ok[0] if ok else None
    a, b = at(o["hnsw"]["curve"]), at(f["hnsw"]["curve"])
    lines.append("")
    if a and b:
        lines.append(f"At recall@10 >= 0.95 (smallest efSearch reaching it: omicsdb {a['ef_search']}, recall {a['recall']:.4f}; FAISS {b['ef_search']}, recall {b['recall']:.4f}): "
                     f"omicsdb {a['qps_1t']:.0f} vs FAISS {b['qps_1t']:.0f} queries/s on 1 thread ({a['qps_1t']/b['qps_1t']:.2f}x), "
                     f"{a['qps_2t']:.0f} vs {b['qps_2t']:.0f} on 2 threads ({a['qps_2t']/b['qps_2t']:.2f}x).")
    else:
        lines.append(f"recall@10 >= 0.95 reached: omicsdb {'yes' if a else 'no'}, FAISS {'yes' if b else 'no'}.")
    lines.append("")
open(f"{out}/results.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
