#!/usr/bin/env python3
"""Tables for scripts/bench_train_defaults.sh (standard library only).

  python3 scripts/bench_train_defaults.py OUT NAME...    (NAME: task1 ... task4, gm12878)

Reads, per NAME, from OUT: NAME.times (key=value lines: args, generate, ingest, reference,
train seconds or `skipped`), NAME.metrics.csv (`omicsdb sql --format csv` of
`SELECT [version,] track, method, metric, value FROM model_metrics WHERE model = ...`; absent
or empty: not trained; with several versions the newest), NAME.reference.json and
NAME.ceiling.json (scripts/acceptance_pwm_reference.py and acceptance_ceiling.py --json) and
NAME.inputs/task.json (the generator's). Writes NAME.md and NAME.json per task and
OUT/summary.md, OUT/summary.json over all NAMEs.

Target of a synthetic task: on every peak track the model's held-out AUROC is at least the
4-mer baseline's, and at least MODEL_TARGET where the plain or the soft true-motif reference
reaches REFERENCE_LEVEL. Signal tracks (Pearson r) are reported beside their baseline but
are not part of the target.
"""
import csv
import json
import os
import sys

MODEL_TARGET = 0.90
REFERENCE_LEVEL = 0.92
MODEL, BASELINE = "hyena_omics", "kmer_baseline"


def read_metrics(path):
    """(track, method, metric) -> value of the newest model version in the CSV; {} if absent."""
    if not os.path.exists(path):
        return {}
    rows = list(csv.DictReader(open(path, newline="")))
    if not rows:
        return {}
    newest = max(int(r.get("version") or 0) for r in rows)
    out = {}
    for r in rows:
        if int(r.get("version") or 0) != newest:
            continue
        try:
            value = float(r["value"])
        except ValueError:
            value = None
        out[(r["track"], r["method"], r["metric"])] = None if value != value else value  # NaN: none
    return out


def read_times(path):
    out = {}
    if os.path.exists(path):
        for line in open(path):
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                try:
                    out[k] = float(v)
                except ValueError:
                    out[k] = v
    return out


def read_json(path):
    return json.load(open(path)) if os.path.exists(path) else {}


def f3(x):
    return "–" if x is None else f"{x:.3f}"


def secs(x):
    if isinstance(x, float):
        if x < 10:
            return f"{x:.1f} s"
        whole = int(round(x))
        return f"{whole} s" if whole < 120 else f"{whole // 60} min {whole % 60} s"
    return "–" if x is None else str(x)


def yes(b):
    return "–" if b is None else ("yes" if b else "**no**")


def synthetic_task(out, name):
    task = read_json(os.path.join(out, f"{name}.inputs", "task.json"))
    ref = read_json(os.path.join(out, f"{name}.reference.json"))
    ceiling = read_json(os.path.join(out, f"{name}.ceiling.json"))
    metrics = read_metrics(os.path.join(out, f"{name}.metrics.csv"))
    times = read_times(os.path.join(out, f"{name}.times"))
    trained = bool(metrics)
    peaks, signals = [], []
    for t in task.get("tissues", []):
        tissue = t["name"]
        track = f"{tissue}_atac_peaks"
        m = metrics.get((track, MODEL, "auroc"))
        b = metrics.get((track, BASELINE, "auroc"))
        plain, soft = ref.get(tissue, {}).get("plain"), ref.get(tissue, {}).get("soft")
        best_ref = max([x for x in (plain, soft) if x is not None], default=None)
        applies = best_ref is not None and best_ref >= REFERENCE_LEVEL
        holds = None
        if trained:  # a missing metric counts as a miss
            holds = m is not None and b is not None and m >= b and (not applies or m >= MODEL_TARGET)
        peaks.append({
            "track": track, "tissue": tissue, "motifs": [x["name"] for x in t["motifs"]],
            "model_auroc": m, "baseline_auroc": b,
            "model_auprc": metrics.get((track, MODEL, "auprc")),
            "baseline_auprc": metrics.get((track, BASELINE, "auprc")),
            "reference_plain": plain, "reference_soft": soft,
            "oracle_count": ceiling.get(tissue, {}).get("count"),
            "oracle_strength": ceiling.get(tissue, {}).get("strength"),
            "held_out_positives": ref.get(tissue, {}).get("positives"),
            "held_out_windows": ref.get(tissue, {}).get("windows"),
            "target_applies": applies, "target_holds": holds,
        })
        track = f"{tissue}_h3k27ac"
        m, b = metrics.get((track, MODEL, "pearson")), metrics.get((track, BASELINE, "pearson"))
        signals.append({"track": track, "tissue": tissue, "model_pearson": m, "baseline_pearson": b,
                        "model_above_baseline": None if m is None or b is None else m >= b})
    holds = None
    if trained:
        holds = bool(peaks) and all(p["target_holds"] is True for p in peaks)
    return {"name": name, "kind": "synthetic", "generator_args": times.get("args"), "task": task,
            "trained": trained, "times_s": {k: v for k, v in times.items() if k != "args"},
            "peaks": peaks, "signals": signals, "target_holds": holds}


def gm12878_task(out, name):
    metrics = read_metrics(os.path.join(out, f"{name}.metrics.csv"))
    times = read_times(os.path.join(out, f"{name}.times"))
    tracks = sorted({"atac_gm12878", "ctcf_gm12878"} | {k[0] for k in metrics})  # a missing one shows as –
    rows = []
    for track in tracks:
        m, b = metrics.get((track, MODEL, "auroc")), metrics.get((track, BASELINE, "auroc"))
        rows.append({"track": track, "model_auroc": m, "baseline_auroc": b,
                     "model_auprc": metrics.get((track, MODEL, "auprc")),
                     "baseline_auprc": metrics.get((track, BASELINE, "auprc")),
                     "model_above_baseline": None if m is None or b is None else m >= b})
    above = None
    if metrics:
        scored = [r["model_above_baseline"] for r in rows if r["model_above_baseline"] is not None]
        above = bool(scored) and all(scored)
    return {"name": name, "kind": "gm12878", "inputs": times.get("args"), "trained": bool(metrics),
            "times_s": {k: v for k, v in times.items() if k != "args"}, "peaks": rows,
            "model_above_baseline": above}


def task_md(r):
    lines = []
    if r["kind"] == "gm12878":
        lines += [f"### {r['name']}: bundled GM12878 chr20 example (held out 20:50,000,001-63,025,520)", "",
                  f"Inputs: {r['inputs']}.", "",
                  "| track | model AUROC | 4-mer baseline AUROC | model / baseline AUPRC | model ≥ baseline |",
                  "|---|---|---|---|---|"]
        for p in r["peaks"]:
            lines.append(f"| {p['track']} | {f3(p['model_auroc'])} | {f3(p['baseline_auroc'])} | "
                         f"{f3(p['model_auprc'])} / {f3(p['baseline_auprc'])} | {yes(p['model_above_baseline'])} |")
    else:
        t = r["task"]
        lines += [f"### {r['name']}: grammar {t.get('grammar')}, {t.get('n_tissues')} tissues "
                  f"(seed {t.get('seed')}, motif seed {t.get('motif_seed')})", "",
                  f"Generator: `acceptance_omics.py {r['generator_args']}`", ""]
        motifs = []
        for tissue in t.get("tissues", []):
            desc = " + ".join(f"{m['name']} ({m['id']})" for m in tissue["motifs"])
            if "spacing" in tissue:
                desc += f", gap {tissue['spacing']['gap']} bp, orientation {tissue['spacing']['orientation']}"
            motifs.append(f"{tissue['name']}: {desc}")
        lines += ["Motifs: " + "; ".join(motifs) + ".", ""]
        lines += [f"Peak tracks, held-out chr6 AUROC (target: ≥ baseline, and ≥ {MODEL_TARGET:.2f} where the "
                  f"reference reaches {REFERENCE_LEVEL:.2f}):", "",
                  "| track | model | 4-mer baseline | model / baseline AUPRC | reference plain / soft | "
                  "oracle count / strength | target applies | target holds |",
                  "|---|---|---|---|---|---|---|---|"]
        for p in r["peaks"]:
            lines.append(f"| {p['track']} | {f3(p['model_auroc'])} | {f3(p['baseline_auroc'])} | "
                         f"{f3(p['model_auprc'])} / {f3(p['baseline_auprc'])} | "
                         f"{f3(p['reference_plain'])} / {f3(p['reference_soft'])} | "
                         f"{f3(p['oracle_count'])} / {f3(p['oracle_strength'])} | "
                         f"{'yes' if p['target_applies'] else 'no'} | {yes(p['target_holds'])} |")
        lines += ["", "Signal tracks, held-out chr6 Pearson r:", "",
                  "| track | model | 4-mer baseline | model ≥ baseline |", "|---|---|---|---|"]
        for s in r["signals"]:
            lines.append(f"| {s['track']} | {f3(s['model_pearson'])} | {f3(s['baseline_pearson'])} | "
                         f"{yes(s['model_above_baseline'])} |")
    lines += ["", "Times: " + ", ".join(f"{k} {secs(v)}" for k, v in r["times_s"].items()) + ".", ""]
    if not r["trained"]:
        lines += ["Not trained (no metrics).", ""]
    elif r["kind"] == "synthetic":
        lines += [f"Target holds: {yes(r['target_holds'])}.", ""]
    return "\n".join(lines)


def mean(rows, key):
    vals = [p[key] for p in rows if p.get(key) is not None]
    return sum(vals) / len(vals) if vals else None


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    out, names = sys.argv[1], sys.argv[2:]
    results = [gm12878_task(out, n) if n == "gm12878" else synthetic_task(out, n) for n in names]
    for r in results:
        with open(os.path.join(out, f"{r['name']}.md"), "w") as f:
            f.write(task_md(r))
        with open(os.path.join(out, f"{r['name']}.json"), "w") as f:
            json.dump(r, f, indent=1)
            f.write("\n")
    binary_txt = os.path.join(out, "binary.txt")
    binary = open(binary_txt).read().strip() if os.path.exists(binary_txt) else ""
    md = ["# omicsdb train with defaults only", ""]
    if binary:
        md += ["Binary: " + binary.replace("\n", ", commit ") + ".", ""]
    md += ["| task | grammar | tissues | train time | peak tracks meeting the target | "
           "mean AUROC model / baseline / best reference | target |",
           "|---|---|---|---|---|---|---|"]
    for r in results:
        peaks = r["peaks"]
        if r["kind"] == "gm12878":
            md.append(f"| {r['name']} | – | GM12878 | {secs(r['times_s'].get('train'))} | – | "
                      f"{f3(mean(peaks, 'model_auroc'))} / {f3(mean(peaks, 'baseline_auroc'))} / – | "
                      f"model ≥ baseline: {yes(r['model_above_baseline'])} |")
            continue
        t = r["task"]
        best = [max(x for x in (p["reference_plain"], p["reference_soft"]) if x is not None)
                for p in peaks if p["reference_plain"] is not None or p["reference_soft"] is not None]
        held = sum(1 for p in peaks if p["target_holds"])
        md.append(f"| {r['name']} | {t.get('grammar')} | {t.get('n_tissues')} | {secs(r['times_s'].get('train'))} | "
                  f"{f'{held} of {len(peaks)}' if r['trained'] else '–'} | {f3(mean(peaks, 'model_auroc'))} / "
                  f"{f3(mean(peaks, 'baseline_auroc'))} / {f3(sum(best) / len(best) if best else None)} | "
                  f"{yes(r['target_holds'])} |")
    md += ["", f"Target: on every peak track the model's held-out AUROC ≥ the 4-mer baseline's, and "
           f"≥ {MODEL_TARGET:.2f} where the plain or soft true-motif reference reaches {REFERENCE_LEVEL:.2f}.", ""]
    md += [task_md(r) for r in results]
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("\n".join(md))
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump({"binary": binary, "model_target": MODEL_TARGET, "reference_level": REFERENCE_LEVEL,
                   "tasks": results}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
