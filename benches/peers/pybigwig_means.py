#!/usr/bin/env python3
"""Peer for bench_tracks: per-window means of a bigWig with pyBigWig.

usage: pybigwig_means.py FILE.bw WIDTH

Windows are [i*WIDTH, (i+1)*WIDTH) truncated at each chromosome's end, as in
omicsdb window sets with stride = width. Means are over covered bases
(pyBigWig `stats(type="mean", exact=True)`, None when uncovered), the same as
omicsdb's `--missing skip` mean. One `stats` call per chromosome with
`nBins` covers the whole windows; the truncated last window is one more call.
Prints JSON: seconds, windows, non-null windows, and the sum of the means.
"""
import json
import sys
import time

import pyBigWig

path, width = sys.argv[1], int(sys.argv[2])
t = time.perf_counter()
bw = pyBigWig.open(path)
windows = nonnull = 0
total = 0.0
for chrom, length in bw.chroms().items():
    whole = length // width
    vals = []
    if whole:
        vals = bw.stats(chrom, 0, whole * width, type="mean", nBins=whole, exact=True)
    if length % width:
        vals = list(vals) + bw.stats(chrom, whole * width, length, type="mean", exact=True)
    for v in vals:
        windows += 1
        if v is not None:
            nonnull += 1
            total += v
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "windows": windows, "nonnull": nonnull, "sum": total}))
