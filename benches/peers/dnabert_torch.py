#!/usr/bin/env python3
"""The peer for bench_dnabert: Hugging Face transformers' BertModel (the reference DNABERT
implementation) forward pass at DNABERT-6 base size, timed on this machine.

Random weights (fixed seed), eval mode under torch.inference_mode(), float32, random k-mer
ids framed by [CLS] ... [SEP], no padding (attention mask all ones). Timing protocol as
bench_dnabert's: 2 warm-ups, then the median of 5 timed runs.

    python3 dnabert_torch.py THREADS     # one JSON line per case

Needs torch and transformers (scripts/fixtures/venv.sh).
"""
import json
import statistics
import sys
import time

import torch
from transformers import BertConfig, BertModel

CASES = [
    # name, layers, hidden, heads, intermediate, tokens, batch
    ("dnabert6-base 1x512", 12, 768, 12, 3072, 512, 1),
    ("dnabert6-base 4x512", 12, 768, 12, 3072, 512, 4),
]


def main():
    threads = int(sys.argv[1])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    for name, layers, hidden, heads, inter, tokens, batch in CASES:
        cfg = BertConfig(vocab_size=4101, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                         intermediate_size=inter, max_position_embeddings=512, attn_implementation="eager")
        model = BertModel(cfg, add_pooling_layer=False).eval()
        ids = torch.randint(5, 4101, (batch, tokens))
        ids[:, 0], ids[:, -1] = 2, 3
        times = []
        with torch.inference_mode():
            for i in range(7):
                t0 = time.perf_counter()
                model(input_ids=ids)
                if i >= 2:
                    times.append(time.perf_counter() - t0)
        sec = statistics.median(times)
        print(json.dumps({"case": name, "threads": threads, "seconds": sec, "tokens_per_s": batch * tokens / sec}), flush=True)


if __name__ == "__main__":
    main()
