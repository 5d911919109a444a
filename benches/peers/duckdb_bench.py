"""DuckDB peer for bench_sql: runs the same queries on the same Parquet/BED files.

Usage: duckdb_bench.py SPEC.json   (prints one JSON object of timings in seconds)
SPEC: {"parquet_glob": ..., "region_queries": [[chrom, start, end], ...],
       "joins": [[bed_a, bed_b], ...], "repeat": N}
"""
import json
import statistics
import subprocess
import sys
import time

import duckdb

def bed(path):
    """BED3 to BED12: the first three columns, whatever follows them."""
    return (
        f"(SELECT column0 AS chrom, CAST(column1 AS BIGINT) AS start, CAST(column2 AS BIGINT) AS \"end\" "
        f"FROM read_csv('{path}', delim='\t', header=false, all_varchar=true, null_padding=true))"
    )


def join_count(a, b, threads):
    c = duckdb.connect()
    c.execute("PRAGMA threads=%d" % threads)
    q = f"SELECT count(*) FROM {bed(a)} a JOIN {bed(b)} b " + 'ON a.chrom = b.chrom AND a.start < b."end" AND b.start < a."end"'
    return c.execute(q).fetchone()[0]



if len(sys.argv) > 1 and sys.argv[1] == "--join":
    print(join_count(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    sys.exit(0)

spec = json.load(open(sys.argv[1]))
con = duckdb.connect()
con.execute("PRAGMA threads=%d" % spec.get("threads", 2))
glob = spec["parquet_glob"]
con.execute(f"CREATE VIEW windows AS SELECT * FROM read_parquet('{glob}')")
out = {}

times = []
rows = 0
for chrom, start, end in spec["region_queries"]:
    t = time.perf_counter()
    r = con.execute(
        'SELECT chrom, start, "end", gc FROM windows WHERE chrom = ? AND start >= ? AND "end" <= ?',
        [chrom, start, end],
    ).fetchall()
    times.append(time.perf_counter() - t)
    rows += len(r)
out["region_p50"] = statistics.median(times)
out["region_p99"] = sorted(times)[max(0, -(-len(times) * 99 // 100) - 1)]
out["region_rows"] = rows

times = []
for _ in range(spec.get("repeat", 5)):
    t = time.perf_counter()
    con.execute("SELECT chrom, avg(gc) FROM windows GROUP BY chrom").fetchall()
    times.append(time.perf_counter() - t)
out["aggregate_p50"] = statistics.median(times)

out["joins"] = []
for a, b in spec["joins"]:
    times = []
    n = None
    limit = spec.get("join_timeout_s", 60)
    for _ in range(spec.get("join_repeat", 3)):
        # Each join runs in a child process killed after `limit` seconds: DuckDB plans it
        # as a hash join on chrom plus a filter, quadratic per chromosome on large sets.
        t = time.perf_counter()
        try:
            r = subprocess.run([sys.executable, __file__, "--join", a, b, str(spec.get("threads", 2))],
                               capture_output=True, text=True, timeout=limit, check=True)
            n = int(r.stdout.strip())
        except subprocess.TimeoutExpired:
            n = None
        times.append(time.perf_counter() - t)
        if n is None:
            break
    out["joins"].append({"seconds": statistics.median(times), "pairs": n, "timed_out": n is None, "timeout_s": limit})
print(json.dumps(out))
