#!/usr/bin/env python3
"""Interval algebra benchmark: omicsdb against bedtools, polars-bio, DuckDB and bioframe, one run,
same files, same machine.

    bench_intervals.py OMICSDB OUT_DIR [--n 1000000] [--ops overlap,nearest,...] [--limit 300]

Data (fixed seed): two sets of N random intervals on the hg38 chromosomes
(data/chrom_sizes/hg38.chrom.sizes, uniform positions, lengths 100-2,000 bp), the
polars-bio benchmark shape; and a real-shaped pair, the bundled GENCODE exons x GM12878
ATAC-seq peaks. Every tool reads the same BED files inside its timed run (the CLI tools
start a process; the Python peers start in this process), and counts its result rows:
bedtools prints them (counted with wc), the others count without printing.

  overlap         omicsdb intersect() and the SQL JOIN; bedtools intersect -wa -wb (and
                  -sorted); polars-bio overlap; DuckDB JOIN ... ON chrom = AND start < end
  nearest         omicsdb nearest(-t first); bedtools closest -d -t first (sorted input);
                  polars-bio nearest
  count_overlaps  omicsdb count_overlaps; bedtools intersect -c (and -sorted); polars-bio
  coverage        omicsdb coverage; bedtools coverage (and -sorted); polars-bio coverage
  merge           omicsdb merge; bedtools merge (sorted input); polars-bio merge

bioframe (pandas, single-threaded: overlap, closest, count_overlaps, coverage, merge) runs
at 1 thread when `pip install bioframe` has put it beside polars-bio (--peers none skips it).

Threads: 1 (taskset -c 0 for the CLI tools; polars-bio target_partitions 1 and
POLARS_MAX_THREADS=1; DuckDB threads=1) and 2 (the machine's cores). Writes
OUT_DIR/results.md and results.json.
"""

import argparse
import json
import os
import random
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_random(path, chroms, n, seed):
    rng = random.Random(seed)
    total = sum(l for _, l in chroms)
    with open(path, "w") as f:
        for i in range(n):
            x = rng.randrange(total)
            for c, l in chroms:
                if x < l:
                    break
                x -= l
            ln = rng.randint(100, 2000)
            s = min(x, l - ln)
            f.write(f"{c}\t{s}\t{s + ln}\n")


def sort_bed(src, dst):
    subprocess.run(f"LC_ALL=C sort -k1,1 -k2,2n {src} > {dst}", shell=True, check=True)


def timed(cmd, limit, env=None):
    t = time.perf_counter()
    # Its own process group, so a run over the limit is stopped whole (the shell and
    # the tool it started), not left running beside the next measurement.
    p = subprocess.Popen(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                         start_new_session=True)
    try:
        stdout, stderr = p.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        return None, f"over {limit} s"
    dt = time.perf_counter() - t
    if p.returncode != 0:
        return None, stderr.strip().splitlines()[-1][:200] if stderr.strip() else f"exit {p.returncode}"
    return dt, stdout.strip()


def omicsdb_cmd(binary, db, allow, sql, threads):
    pin = "taskset -c 0 " if threads == 1 else ""
    q = sql.replace('"', '\\"')
    return f'{pin}{binary} --db {db} sql --format csv --allow-dir {allow} "{q}" | tail -1'


PY_PEER = r'''
import os, sys, time, json
threads = int(sys.argv[1]); tool = sys.argv[2]; op = sys.argv[3]; a = sys.argv[4]; b = sys.argv[5]
import polars as pl
def load(p):
    return pl.read_csv(p, separator="\t", has_header=False, new_columns=["chrom", "start", "end"],
                       schema_overrides={"chrom": pl.Utf8, "start": pl.Int64, "end": pl.Int64})
t = time.perf_counter()
if tool == "polars-bio":
    import polars_bio as pb
    pb.set_option("datafusion.execution.target_partitions", str(threads))
    try:
        pb.set_option("datafusion.bio.coordinate_system_zero_based", "true")
    except Exception:
        pass
    da, db = load(a), load(b)
    if op == "overlap":
        n = pb.overlap(da, db, output_type="polars.DataFrame").height
    elif op == "nearest":
        n = pb.nearest(da, db, output_type="polars.DataFrame").height
    elif op == "count_overlaps":
        r = pb.count_overlaps(da, db, output_type="polars.DataFrame")
        n = int(r["count"].sum())
    elif op == "coverage":
        r = pb.coverage(da, db, output_type="polars.DataFrame")
        n = r.height
    elif op == "merge":
        n = pb.merge(da, output_type="polars.DataFrame").height
elif tool == "bioframe":
    import bioframe as bf
    import pandas as pd
    rd = lambda p: pd.read_csv(p, sep="\t", header=None, names=["chrom", "start", "end"], usecols=[0, 1, 2],
                               dtype={"chrom": str, "start": "int64", "end": "int64"})
    da, db = rd(a), rd(b)
    if op == "overlap":
        n = len(bf.overlap(da, db, how="inner"))
    elif op == "nearest":
        n = len(bf.closest(da, db))
    elif op == "count_overlaps":
        n = int(bf.count_overlaps(da, db)["count"].sum())
    elif op == "coverage":
        n = len(bf.coverage(da, db))
    elif op == "merge":
        n = len(bf.merge(da, min_dist=0))
else:
    import duckdb
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    rd = lambda p: f"read_csv('{p}', delim='\t', header=false, columns={{'chrom': 'VARCHAR', 'start': 'BIGINT', 'end': 'BIGINT'}})"
    if op == "overlap":
        n = con.execute(f'SELECT count(*) FROM {rd(a)} a JOIN {rd(b)} b ON a.chrom = b.chrom AND a.start < b."end" AND b.start < a."end"').fetchone()[0]
    elif op == "count_overlaps":
        n = con.execute(f'SELECT count(b.chrom) FROM {rd(a)} a LEFT JOIN {rd(b)} b ON a.chrom = b.chrom AND a.start < b."end" AND b.start < a."end"').fetchone()[0]
    else:
        raise SystemExit(f"no DuckDB form of {op}")
print(json.dumps({"seconds": time.perf_counter() - t, "rows": int(n)}))
'''


def peer(python, tool, op, a, b, threads, limit):
    env = dict(os.environ)
    if threads == 1:
        env["POLARS_MAX_THREADS"] = "1"
    pin = "taskset -c 0 " if threads == 1 else ""
    script = Path(os.environ.get("TMPDIR", "/tmp")) / "bench_intervals_peer.py"
    script.write_text(PY_PEER)
    t, out = timed(f"{pin}{python} {script} {threads} {tool} {op} {a} {b}", limit, env)
    if t is None:
        return None, out
    try:
        r = json.loads(out.splitlines()[-1])
        return r["seconds"], str(r["rows"])
    except Exception:
        return None, out[-200:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("omicsdb")
    ap.add_argument("out")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--ops", default="overlap,nearest,count_overlaps,coverage,merge")
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--peers", default="bioframe", help="optional peers to run: bioframe (if it is installed) or none")
    args = ap.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    chroms = []
    for line in open(ROOT / "data/chrom_sizes/hg38.chrom.sizes"):
        c, l = line.split()[:2]
        if "_" not in c and c != "chrM":
            chroms.append((c, int(l)))
    sets = {}
    if not (out / "synth_a.bed").exists():
        write_random(out / "synth_a.raw.bed", chroms, args.n, 1)
        write_random(out / "synth_b.raw.bed", chroms, args.n, 2)
        sort_bed(out / "synth_a.raw.bed", out / "synth_a.bed")
        sort_bed(out / "synth_b.raw.bed", out / "synth_b.bed")
    sets["synthetic 1M x 1M" if args.n == 1_000_000 else f"synthetic {args.n} x {args.n}"] = (out / "synth_a.bed", out / "synth_b.bed")
    subprocess.run(
        f"gzip -cd {ROOT}/data/tracks/gencode_human.gtf.gz | awk -F'\\t' -v OFS='\\t' '$3 == \"exon\" {{print $1, $4 - 1, $5}}' | LC_ALL=C sort -k1,1 -k2,2n > {out}/exons.bed",
        shell=True, check=True)
    subprocess.run(f"gzip -cd {ROOT}/data/tracks/SRR891275.peaks.gz | cut -f1-3 | LC_ALL=C sort -k1,1 -k2,2n > {out}/peaks.bed", shell=True, check=True)
    sets["exons x ATAC peaks"] = (out / "exons.bed", out / "peaks.bed")
    db = out / "db"
    results = []
    ops = args.ops.split(",")
    for name, (a, b) in sets.items():
        for op in ops:
            for threads in [int(t) for t in args.threads.split(",")]:
                runs = []
                o = {
                    "overlap": f"SELECT count(*) FROM intersect('{a}', '{b}')",
                    "nearest": f"SELECT count(*) FROM nearest('{a}', '{b}', '-t first')",
                    "count_overlaps": f"SELECT sum(count) FROM count_overlaps('{a}', '{b}')",
                    "coverage": f"SELECT count(*) FROM coverage('{a}', '{b}')",
                    "merge": f"SELECT count(*) FROM merge('{a}')",
                }[op]
                runs.append(("omicsdb", timed(omicsdb_cmd(args.omicsdb, db, out, o, threads), args.limit)))
                if op == "overlap":
                    j = f"SELECT count(*) FROM read_bed('{a}') a JOIN read_bed('{b}') b ON a.chrom = b.chrom AND a.start < b.\"end\" AND b.start < a.\"end\""
                    runs.append(("omicsdb SQL JOIN", timed(omicsdb_cmd(args.omicsdb, db, out, j, threads), args.limit)))
                pin = "taskset -c 0 " if threads == 1 else ""
                bt = {
                    "overlap": [("bedtools", f"bedtools intersect -wa -wb -a {a} -b {b} | wc -l"),
                                ("bedtools -sorted", f"bedtools intersect -sorted -wa -wb -a {a} -b {b} | wc -l")],
                    "nearest": [("bedtools (sorted input)", f"bedtools closest -d -t first -a {a} -b {b} | wc -l")],
                    "count_overlaps": [("bedtools", f"bedtools intersect -c -a {a} -b {b} | awk '{{s += $4}} END {{print s}}'"),
                                       ("bedtools -sorted", f"bedtools intersect -sorted -c -a {a} -b {b} | awk '{{s += $4}} END {{print s}}'")],
                    "coverage": [("bedtools", f"bedtools coverage -a {a} -b {b} | wc -l"),
                                 ("bedtools -sorted", f"bedtools coverage -sorted -a {a} -b {b} | wc -l")],
                    "merge": [("bedtools (sorted input)", f"bedtools merge -i {a} | wc -l")],
                }[op]
                if threads == 1:  # bedtools is single-threaded
                    for tool, cmd in bt:
                        runs.append((tool, timed(pin + "sh -c " + shlex.quote(cmd), args.limit)))
                runs.append(("polars-bio", peer(python, "polars-bio", op, a, b, threads, args.limit)))
                if threads == 1 and "bioframe" in args.peers:  # bioframe (pandas) is single-threaded
                    runs.append(("bioframe", peer(python, "bioframe", op, a, b, threads, args.limit)))
                if op in ("overlap", "count_overlaps"):
                    runs.append(("DuckDB", peer(python, "duckdb", op, a, b, threads, args.limit)))
                for tool, (secs, rows) in runs:
                    r = {"set": name, "op": op, "threads": threads, "tool": tool, "seconds": secs, "result": rows}
                    print(json.dumps(r), flush=True)
                    results.append(r)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    lines = [f"# Interval algebra benchmark ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores; omicsdb {args.omicsdb})", "",
             "Seconds per run, file reading included; ratio = tool seconds / omicsdb seconds (above 1: omicsdb faster).", "",
             "| set | op | threads | tool | seconds | result | ratio |", "|---|---|---|---|---|---|---|"]
    for r in results:
        base = next((x["seconds"] for x in results if x["set"] == r["set"] and x["op"] == r["op"] and x["threads"] == r["threads"] and x["tool"] == "omicsdb"), None)
        ratio = f"{r['seconds'] / base:.2f}" if base and r["seconds"] else "-"
        secs = f"{r['seconds']:.2f}" if r["seconds"] is not None else "-"
        lines.append(f"| {r['set']} | {r['op']} | {r['threads']} | {r['tool']} | {secs} | {r['result']} | {ratio} |")
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
