"""Biology check of an embedding index: are the nearest neighbours of a track's
active windows enriched for active windows?

    python index_biology.py VECTORS.f32 DIM LABELS.csv [K]

VECTORS.f32: a flat cosine index's vectors (omicsdb's `vectors.f32`, unit rows in key
order); LABELS.csv: `omicsdb sql --format csv "SELECT chrom, start, <track> > 0 AS
active FROM <window set> ORDER BY chrom, start"` (the index's key order for a
one-chromosome window set, checked by the row count). For every active window, its
K nearest other windows (exact cosine, as the flat index finds them) are compared with
the labels; precision@K is the share of active neighbours, against the base rate
(the share of active windows). Windows within 5 kb of the query are excluded as
neighbours, so overlap with the query's own peak cannot explain the enrichment.
"""
import csv
import sys

import numpy as np


def main():
    vec_path, dim, labels_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    k = int(sys.argv[4]) if len(sys.argv) > 4 else 10
    v = np.fromfile(vec_path, dtype="<f4").reshape(-1, dim)
    rows = list(csv.DictReader(open(labels_path)))
    if len(rows) != len(v):
        sys.exit(f"{len(rows)} labelled windows but {len(v)} vectors: not the index's window set")
    active = np.array([r["active"].lower() == "true" for r in rows])
    starts = np.array([int(r["start"]) for r in rows])
    queries = np.flatnonzero(active)
    base = active.mean()
    hits = total = 0
    for chunk in np.array_split(queries, max(1, len(queries) // 256)):
        sims = v[chunk] @ v.T
        near = np.abs(starts[None, :] - starts[chunk][:, None]) < 5000
        sims[near] = -np.inf
        top = np.argpartition(-sims, k, axis=1)[:, :k]
        hits += active[top].sum()
        total += top.size
    p = hits / total
    print(f"windows {len(v)}, active {int(active.sum())} (base rate {base:.4f}); "
          f"precision@{k} of active windows' neighbours {p:.4f} ({p / base:.2f}x the base rate)")


if __name__ == "__main__":
    main()
