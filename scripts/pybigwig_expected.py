#!/usr/bin/env python3
"""Expected per-window values of data/tracks/times100.bw, computed by pyBigWig.

The storage crate's test `tracks::tests::matches_pybigwig` compares omicsdb's
aggregation with these numbers. Regenerate with

    pip install pyBigWig numpy
    python3 scripts/pybigwig_expected.py > data/tracks/times100.expected.json

Windows: chr21 from 9,990,000 to 10,020,000 (the file covers
10,000,000-10,010,000, so windows before, across and after the data are
included), tiled with width 1000 / stride 1000 and width 700 / stride 300.
For each window: pyBigWig `stats(..., exact=True)` mean over covered bases
(`mean`, None when uncovered), max, and coverage; `mean0` (uncovered bases
count as 0) is mean * coverage, as bigWigAverageOverBed's mean0.
"""
import json

import pyBigWig

bw = pyBigWig.open("data/tracks/times100.bw")
out = {"file": "data/tracks/times100.bw", "chrom": "chr21", "pyBigWig": pyBigWig.__version__ if hasattr(pyBigWig, "__version__") else "0.3.x", "sets": []}
for width, stride in [(1000, 1000), (700, 300)]:
    rows = []
    start = 9_990_000
    while start < 10_020_000:
        end = start + width
        mean = bw.stats("chr21", start, end, type="mean", exact=True)[0]
        mx = bw.stats("chr21", start, end, type="max", exact=True)[0]
        cov = bw.stats("chr21", start, end, type="coverage", exact=True)[0]
        rows.append({"start": start, "end": end, "mean": mean, "max": mx, "coverage": cov,
                     "mean0": (mean or 0.0) * (cov or 0.0)})
        start += stride
    out["sets"].append({"width": width, "stride": stride, "windows": rows})
print(json.dumps(out, indent=1))
