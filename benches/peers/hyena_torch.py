#!/usr/bin/env python3
"""The peer for bench_hyena: the reference PyTorch HyenaDNA forward pass, timed on this machine.

A faithful copy of the inference path of HazyResearch/hyena-dna `standalone_hyenadna.py`
(HyenaDNAModel without a head: embedding -> blocks -> ln_f), written compactly from
shared/fixtures/hyenadna/ARCHITECTURE.md: the filter MLP and its exponential modulation are
regenerated on every forward call, the long convolution is torch.fft (rfft/irfft at n = 2L),
GELU is the tanh approximation, eval mode under torch.inference_mode(), float32, random
weights and random A/C/G/T ids. The timing protocol is the fixtures README's: 2 warm-ups,
then the median of 5 timed runs; an f32 4096^3 matmul gives the machine's practical peak.

    python3 hyena_torch.py THREADS        # prints one JSON line per measurement
    python3 hyena_torch.py --check-fixture data/fixtures/hyenadna/tiny-1k   # faithfulness

Needs `torch` (e.g. `pip install torch` into a venv of its own); bench_hyena runs it with
`--peer PYTHON`.
"""
import json
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CASES = [
    # name, d_model, n_layer, d_inner, l_max, batch, len
    ("tiny-1k 8x1024", 128, 2, 512, 1026, 8, 1024),
    ("tiny 1x32768", 128, 2, 512, 32770, 1, 32768),
    ("small-32k 1x32768", 256, 4, 1024, 32770, 1, 32768),
]


class Sin(nn.Module):
    def __init__(self, dim, w=10):
        super().__init__()
        self.freq = nn.Parameter(w * torch.ones(1, dim))

    def forward(self, x):
        return torch.sin(self.freq * x)


class PositionalEmbedding(nn.Module):
    def __init__(self, emb_dim, seq_len):
        super().__init__()
        t = torch.linspace(0, 1, seq_len)[None, :, None]
        bands = (emb_dim - 1) // 2
        t_rescaled = torch.linspace(0, seq_len - 1, seq_len)[None, :, None]
        w = 2 * math.pi * t_rescaled / seq_len
        f = torch.linspace(1e-4, bands - 1, bands)[None, None]
        z = torch.exp(-1j * f * w)
        z = torch.cat([t, z.real, z.imag], dim=-1)
        self.register_buffer("z", z)
        self.register_buffer("t", t)

    def forward(self, L):
        return self.z[:, :L], self.t[:, :L]


class ExponentialModulation(nn.Module):
    def __init__(self, d_model, fast=0.3, slow=1.5, target=1e-2, shift=0.05):
        super().__init__()
        self.shift = shift
        deltas = torch.linspace(math.log(target) / slow, math.log(target) / fast, d_model)[None, None]
        self.register_buffer("deltas", deltas)

    def forward(self, t, x):
        return x * (torch.exp(-t * self.deltas.abs()) + self.shift)


def fftconv(u, k, D):
    L = u.shape[-1]
    n = 2 * L
    k_f = torch.fft.rfft(k, n=n) / n
    u_f = torch.fft.rfft(u.to(dtype=k.dtype), n=n)
    y = torch.fft.irfft(u_f * k_f, n=n, norm="forward")[..., :L]
    return y + u * D.unsqueeze(-1)


class HyenaFilter(nn.Module):
    def __init__(self, d_model, l_max, emb_dim=5, order=64):
        super().__init__()
        self.bias = nn.Parameter(torch.randn(d_model))
        self.pos_emb = PositionalEmbedding(emb_dim, l_max)
        act = Sin(order)
        self.implicit_filter = nn.Sequential(
            nn.Linear(emb_dim, order), act, nn.Linear(order, order), act,
            nn.Linear(order, order), act, nn.Linear(order, d_model, bias=False))
        self.modulation = ExponentialModulation(d_model)

    def filter(self, L):
        z, t = self.pos_emb(L)
        return self.modulation(t, self.implicit_filter(z))


class HyenaOperator(nn.Module):
    def __init__(self, d_model, l_max):
        super().__init__()
        self.d_model = d_model
        self.in_proj = nn.Linear(d_model, 3 * d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.short_filter = nn.Conv1d(3 * d_model, 3 * d_model, 3, padding=2, groups=3 * d_model)
        self.filter_fn = HyenaFilter(d_model, l_max)

    def forward(self, u):
        L = u.size(-2)
        u = self.in_proj(u).transpose(1, 2)
        uc = self.short_filter(u)[..., :L]
        x0, x1, v = uc.split(self.d_model, dim=1)
        k = self.filter_fn.filter(L)[0].transpose(0, 1)
        v = fftconv(v * x1, k, self.filter_fn.bias)
        return self.out_proj((v * x0).transpose(1, 2))


class Block(nn.Module):
    def __init__(self, d_model, d_inner, l_max):
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.mixer = HyenaOperator(d_model, l_max)
        self.norm2 = nn.LayerNorm(d_model)
        self.fc1 = nn.Linear(d_model, d_inner)
        self.fc2 = nn.Linear(d_inner, d_model)

    def forward(self, r):
        a = r + self.mixer(self.norm1(r))
        return a + self.fc2(F.gelu(self.fc1(self.norm2(a)), approximate="tanh"))


class HyenaDNA(nn.Module):
    def __init__(self, d_model, n_layer, d_inner, l_max):
        super().__init__()
        self.embeddings = nn.Embedding(16, d_model)
        self.layers = nn.ModuleList([Block(d_model, d_inner, l_max) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(d_model)

    def forward(self, ids):
        r = self.embeddings(ids)
        for layer in self.layers:
            r = layer(r)
        return self.ln_f(r)


def timed(fn, warmup, runs):
    for _ in range(warmup):
        fn()
    secs = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        secs.append(time.perf_counter() - start)
    return statistics.median(secs)


def check_fixture(model_dir):
    """Loads a fixture checkpoint (HF-port key names) into this module and compares its
    last_hidden_state with the fixture's expected outputs: proof that this peer computes
    the reference forward pass."""
    from safetensors.torch import load_file
    cfg = json.load(open(f"{model_dir}/config.json"))
    model = HyenaDNA(cfg["d_model"], cfg["n_layer"], cfg["d_inner"], cfg["max_seq_len"]).eval()
    state = {}
    for key, value in load_file(f"{model_dir}/model.safetensors").items():
        if not key.startswith("hyena.backbone."):
            continue
        key = key[len("hyena.backbone."):].replace("embeddings.word_embeddings", "embeddings").replace("mlp.", "")
        state[key] = value
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    inputs = json.load(open(f"{model_dir}/inputs.json"))
    expected = load_file(f"{model_dir}/outputs.safetensors")
    worst = 0.0
    for i, seq in enumerate(inputs["sequences"]):
        ids = torch.tensor([seq["input_ids"]])
        with torch.inference_mode():
            out = model(ids)
        worst = max(worst, (out - expected[f"last_hidden_state.{i}"]).abs().max().item())
    print(json.dumps({"kind": "fixture_check", "max_abs_diff": worst}))
    assert worst < 1e-4, worst


def main():
    if sys.argv[1] == "--check-fixture":
        return check_fixture(sys.argv[2])
    threads = int(sys.argv[1])
    only = int(sys.argv[2]) if len(sys.argv) > 2 else None
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if only is None:
        a, b = torch.randn(4096, 4096), torch.randn(4096, 4096)
        secs = timed(lambda: a @ b, 1, 3)
        print(json.dumps({"kind": "matmul", "threads": threads, "gflops": 2 * 4096**3 / secs / 1e9}), flush=True)
    for idx, (_, d, n_layer, d_inner, l_max, batch, length) in enumerate(CASES):
        if only is not None and idx != only:
            continue
        model = HyenaDNA(d, n_layer, d_inner, l_max).eval()
        ids = torch.randint(7, 11, (batch, length))
        with torch.inference_mode():
            secs = timed(lambda: model(ids), 2, 5)
        print(json.dumps({"kind": "model", "case": idx, "threads": threads,
                          "tokens_per_s": batch * length / secs, "secs": secs}), flush=True)


if __name__ == "__main__":
    main()
