"""DuckDB peer for bench_sql: runs the same queries on the same Parquet/BED files.

Usage: duckdb_bench.py SPEC.json   (prints one JSON object of timings in seconds)
SPEC: {"parquet_glob": ..., "region_queries": [[chrom, start, end], ...],
       "joins": [[bed_a, bed_b], ...], "repeat": N}
"""
import json
import statistics
import sys
import time

import duckdb

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
out["region_rows"] = rows

times = []
for _ in range(spec.get("repeat", 5)):
    t = time.perf_counter()
    con.execute("SELECT chrom, avg(gc) FROM windows GROUP BY chrom").fetchall()
    times.append(time.perf_counter() - t)
out["aggregate_p50"] = statistics.median(times)

out["joins"] = []
for a, b in spec["joins"]:
    cols = "columns={'chrom':'VARCHAR','start':'BIGINT','end':'BIGINT'}"
    q = (
        f"SELECT count(*) FROM read_csv('{a}', delim='\t', header=false, {cols}, ignore_errors=true) a "
        f"JOIN read_csv('{b}', delim='\t', header=false, {cols}, ignore_errors=true) b "
        'ON a.chrom = b.chrom AND a.start < b."end" AND b.start < a."end"'
    )
    times = []
    n = None
    for _ in range(spec.get("join_repeat", 3)):
        t = time.perf_counter()
        n = con.execute(q).fetchone()[0]
        times.append(time.perf_counter() - t)
    out["joins"].append({"seconds": statistics.median(times), "pairs": n})
print(json.dumps(out))
