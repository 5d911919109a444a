"""FAISS on the vectors `bench_index run` wrote (the peer of omicsdb's embedding
indexes): IndexHNSWFlat (inner product on the same unit vectors, M and
efConstruction as omicsdb's defaults) and IndexFlatIP (exact), built and searched
in the same way: build on 2 threads; search at k on 1 and 2 threads (FAISS's batch
search, OpenMP over queries); recall@k against omicsdb's exact top-k (truth.u64), and
the agreement of FAISS's own exact search with it.

    python faiss_index.py WORK_DIR DIM K
writes WORK_DIR/faiss.json.
"""
import json
import sys
import time

import faiss
import numpy as np

EF = [16, 32, 64, 128, 256, 512]


def main():
    work, dim, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    base = np.fromfile(f"{work}/base.f32", dtype="<f4").reshape(-1, dim)
    queries = np.fromfile(f"{work}/queries.f32", dtype="<f4").reshape(-1, dim)
    truth = np.fromfile(f"{work}/truth.u64", dtype="<u8").reshape(len(queries), k).astype(np.int64)
    nq = len(queries)

    def recall(found):
        return float(np.mean([len(set(f[:k]) & set(t)) / k for f, t in zip(found, truth)]))

    out = {"faiss_version": faiss.__version__, "n": len(base), "dim": dim, "k": k}
    exact = []
    for threads in (1, 2):
        faiss.omp_set_num_threads(threads)
        flat = faiss.IndexFlatIP(dim)
        flat.add(base)
        t = time.perf_counter()
        _, ids = flat.search(queries, k)
        s = time.perf_counter() - t
        exact.append({"threads": threads, "seconds": s, "qps": nq / s, "agreement_with_omicsdb_exact": recall(ids)})
        del flat
    out["exact"] = exact

    faiss.omp_set_num_threads(2)
    index = faiss.IndexHNSWFlat(dim, 16, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 128
    t = time.perf_counter()
    index.add(base)
    build = time.perf_counter() - t
    out["hnsw"] = {"connectivity": 16, "ef_construction": 128, "build_threads": 2, "build_seconds": build,
                   "bytes": int(faiss.serialize_index(index).nbytes), "curve": []}
    for ef in EF:
        index.hnsw.efSearch = ef
        row = {"ef_search": ef}
        for threads in (1, 2):
            faiss.omp_set_num_threads(threads)
            t = time.perf_counter()
            _, ids = index.search(queries, k)
            s = time.perf_counter() - t
            row[f"qps_{threads}t"] = nq / s
            row["recall"] = recall(ids)
        print(f"  faiss hnsw ef={ef}: recall@{k} {row['recall']:.4f}, {row['qps_1t']:.0f} q/s (1 thread), {row['qps_2t']:.0f} q/s (2 threads)", file=sys.stderr)
        out["hnsw"]["curve"].append(row)
    for e in exact:
        print(f"  faiss exact, {e['threads']} thread(s): {e['qps']:.1f} queries/s", file=sys.stderr)
    print(f"  faiss hnsw build: {build:.1f} s", file=sys.stderr)
    with open(f"{work}/faiss.json", "w") as f:
        json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
