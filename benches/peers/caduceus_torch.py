#!/usr/bin/env python3
"""The peer for bench_caduceus: the reference Caduceus (kuleshov-group/caduceus'
`CaduceusForMaskedLM.caduceus`, the backbone) forward pass at Caduceus-PS 131k size
(d_model 256, 16 layers, rcps, bidirectional "add" with tied projections, fused add +
RMSNorm, d_state 16), timed on this machine's CPU.

The reference's CPU path: its CUDA/Triton kernels replaced by the pure-PyTorch
`selective_scan_ref` / `rms_norm_ref` shipped in mamba_ssm (imported exactly as
scripts/fixtures/caduceus.py does; see there). Random weights (fixed seed), eval mode
under torch.inference_mode(), float32, random bases, batch 1. Timing protocol as
bench_caduceus's: WARMUP runs, then the median of RUNS timed runs per case.

    python3 caduceus_torch.py CADUCEUS_DIR MAMBA_DIR THREADS TOKENS[,TOKENS...] WARMUP RUNS

One JSON line per case. Needs torch, transformers, einops, triton (scripts/fixtures/venv.sh).
"""
import json
import os
import statistics
import sys
import time
import warnings

import torch

def load_fixture_script():
    """scripts/fixtures/caduceus.py under another module name (the reference's package is
    `caduceus` too)."""
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "fixtures", "caduceus.py")
    spec = importlib.util.spec_from_file_location("caduceus_fixtures", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    caduceus_dir, mamba_dir, threads, lengths, warmup, runs = sys.argv[1:7]
    threads, warmup, runs = int(threads), int(warmup), int(runs)
    torch.set_num_threads(threads)
    warnings.filterwarnings("ignore")
    CaduceusConfig, CaduceusForMaskedLM, _ = load_fixture_script().import_reference(caduceus_dir, mamba_dir)
    torch.manual_seed(0)
    cfg = CaduceusConfig(d_model=256, n_layer=16, vocab_size=12, pad_vocab_size_multiple=8, rcps=True,
                         bidirectional=True, bidirectional_strategy="add", bidirectional_weight_tie=True,
                         rms_norm=True, fused_add_norm=True, residual_in_fp32=True, norm_epsilon=1e-5,
                         complement_map={i: i for i in range(7)} | {7: 10, 8: 9, 9: 8, 10: 7, 11: 11},
                         ssm_cfg=dict(d_state=16, d_conv=4, expand=2))
    model = CaduceusForMaskedLM(cfg).eval()
    for m in model.modules():
        if hasattr(m, "use_fast_path"):
            m.use_fast_path = False
    for tokens in [int(t) for t in lengths.split(",")]:
        ids = torch.randint(7, 11, (1, tokens))
        times = []
        with torch.inference_mode():
            for i in range(warmup + runs):
                t0 = time.perf_counter()
                model.caduceus(input_ids=ids)
                if i >= warmup:
                    times.append(time.perf_counter() - t0)
        sec = statistics.median(times)
        print(json.dumps({"tokens": tokens, "threads": threads, "seconds": sec, "tokens_per_s": tokens / sec}), flush=True)


if __name__ == "__main__":
    main()
