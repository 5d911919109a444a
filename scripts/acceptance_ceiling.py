#!/usr/bin/env python3
"""The ceiling of the omics acceptance task: held-out AUROC of an oracle that knows, for
every window, the planted enhancers of each tissue (truth.tsv from
scripts/acceptance_omics.py) and scores the window by the largest
`motifs + overlap/300` (sequence-knowable: how many motif instances the element has and
how much of it lies in the window) or `strength * overlap/300` (also knows the hidden
noise of the strength). The peak labels are those of windows.tsv. The tissues come from
DATA_DIR/task.json when it is there (else liver, blood, muscle); truth.tsv holds only active
elements, so under --grammar pair/spacing the oracles also know which elements are decoys.

Usage: python3 scripts/acceptance_ceiling.py DATA_DIR [chr6] [--json OUT.json]
(--json: per tissue {"count": AUROC, "strength": AUROC, "positives": n, "windows": n})
"""
import argparse
import json
import os

import numpy as np


def auroc(scores, labels):
    scores, labels = np.asarray(scores, float), np.asarray(labels, bool)
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    s = scores[order]
    i = 0
    while i < len(s):  # average ranks over ties
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    n1 = labels.sum()
    n0 = len(labels) - n1
    return (ranks[labels].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", metavar="DATA_DIR")
    ap.add_argument("held_out", nargs="?", default="chr6", help="held-out chromosomes, comma-separated (chr6)")
    ap.add_argument("--json", metavar="OUT", help="also write the AUROCs per tissue to OUT (JSON)")
    args = ap.parse_args()
    data, held_out = args.data, args.held_out.split(",")
    tissues = ["liver", "blood", "muscle"]
    if os.path.exists(f"{data}/task.json"):
        tissues = [t["name"] for t in json.load(open(f"{data}/task.json"))["tissues"]]
    result = {}
    rows = [l.rstrip("\n").split("\t") for l in open(f"{data}/windows.tsv")]
    header, rows = rows[0], [r for r in rows[1:] if r[0] in held_out]
    truth = [l.split() for l in open(f"{data}/truth.tsv")][1:]
    for tissue in tissues:
        col = header.index(f"{tissue}_atac_peaks")
        labels = [float(r[col]) > 0 for r in rows]
        by_count, by_strength = {}, {}
        for chrom, start, end, t, strength, motifs in truth:
            if t != tissue or chrom not in held_out:
                continue
            s, e = int(start), int(end)
            for w in range(s // 1000, (e - 1) // 1000 + 1):
                overlap = (min(e, (w + 1) * 1000) - max(s, w * 1000)) / 300
                key = (chrom, w)
                by_count[key] = max(by_count.get(key, 0), int(motifs) + overlap)
                by_strength[key] = max(by_strength.get(key, 0), float(strength) * overlap)
        keys = [(r[0], int(r[1]) // 1000) for r in rows]
        count = auroc([by_count.get(k, 0) for k in keys], labels)
        strength = auroc([by_strength.get(k, 0) for k in keys], labels)
        result[tissue] = {"count": float(count), "strength": float(strength),
                          "positives": int(sum(labels)), "windows": len(labels)}
        print(f"{tissue}: {sum(labels)} positive of {len(labels)} windows; AUROC of the motif-count oracle "
              f"{count:.3f}, of the strength oracle {strength:.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
