//! HyenaDNA forward-pass speed on CPU: tokens/s on 1 and 2 threads for the tiny-1k,
//! tiny-at-32k and small-32k shapes, the machine's f32 matmul peak, and the model's
//! achieved GFLOP/s as a fraction of that peak, next to the reference PyTorch figures.
//!
//! ```text
//! cargo run --release -p omicsdb-benches --features model --bin bench_hyena [-- --peer PYTHON]
//! ```
//!
//! With `--peer PYTHON` it also times the reference PyTorch forward
//! (`benches/peers/hyena_torch.py`, run by that interpreter, which needs `torch`) on the same
//! machine, interleaved with its own runs, and reports the ratio to it.
//!
//! Each thread count runs in a child process started with `RAYON_NUM_THREADS=n` (candle's
//! matmul and the long convolution both size their thread use from it), so thread pools
//! are never shared between the 1- and 2-thread measurements. Timing: 2 warm-up runs, then
//! the median of 5 timed runs of `forward_hidden` (embedding → blocks → final LayerNorm),
//! random weights, random A/C/G/T ids: the reference's protocol (fixtures README).
//!
//! FLOPs are counted analytically per forward pass, as the fixtures README does:
//! matmuls `2·B·L·(3D² + D² + 2·D·I)` per layer, plus the FFT long convolution
//! `B·D·(2 · 2.5·n·log2 n + 6·(n/2 + 1))` per layer with `n = 2L` (a forward and an
//! inverse real FFT and the complex product; the filter spectrum is per weights, not per
//! token). LayerNorms, GELU, gating and the short conv are not counted.

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use candle_core::{Device, Tensor};
use omicsdb_model::{Config, HyenaDna};
use rand::{Rng, SeedableRng};

struct Case {
    name: &'static str,
    d_model: usize,
    n_layer: usize,
    d_inner: usize,
    l_max: usize,
    batch: usize,
    len: usize,
    /// Reference PyTorch tokens/s on this machine kind: 1 thread, 2 threads (low, high).
    reference: (f64, f64, f64),
}

const CASES: [Case; 3] = [
    Case { name: "tiny-1k 8x1024", d_model: 128, n_layer: 2, d_inner: 512, l_max: 1026, batch: 8, len: 1024, reference: (43_900.0, 84_600.0, 91_700.0) },
    Case { name: "tiny 1x32768", d_model: 128, n_layer: 2, d_inner: 512, l_max: 32770, batch: 1, len: 32768, reference: (28_400.0, 46_600.0, 49_900.0) },
    Case { name: "small-32k 1x32768", d_model: 256, n_layer: 4, d_inner: 1024, l_max: 32770, batch: 1, len: 32768, reference: (4_680.0, 7_900.0, 9_630.0) },
];

const REFERENCE_PEAK: (f64, f64) = (95.5, 181.7);
const WARMUP: usize = 2;
const TIMED: usize = 5;

fn config(case: &Case) -> Result<Config> {
    let json = serde_json::json!({
        "d_model": case.d_model, "n_layer": case.n_layer, "d_inner": case.d_inner,
        "vocab_size": 12, "max_seq_len": case.l_max,
    });
    Ok(Config::from_json_str(&json.to_string(), std::path::Path::new("<bench>"))?)
}

fn flops(case: &Case) -> f64 {
    let (b, l, d, i) = (case.batch as f64, case.len as f64, case.d_model as f64, case.d_inner as f64);
    let matmul = 2.0 * b * l * (3.0 * d * d + d * d + 2.0 * d * i);
    let n = 2.0 * l;
    let conv = b * d * (2.0 * 2.5 * n * n.log2() + 6.0 * (n / 2.0 + 1.0));
    case.n_layer as f64 * (matmul + conv)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time_runs(warmup: usize, timed: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    for _ in 0..warmup {
        f()?;
    }
    let mut secs = Vec::with_capacity(timed);
    for _ in 0..timed {
        let start = Instant::now();
        f()?;
        secs.push(start.elapsed().as_secs_f64());
    }
    Ok(median(secs))
}

/// Runs every measurement on the current process's thread setting; prints JSON lines.
fn child(threads: usize) -> Result<()> {
    // As the `omicsdb` binary does: large tensors come from the heap, not fresh mmaps.
    omicsdb_model::malloc::tune();
    let dev = Device::Cpu;
    // `OMICSDB_BENCH_CASE=i` runs only case `i` (no matmul), e.g. under a profiler.
    let only: Option<usize> = std::env::var("OMICSDB_BENCH_CASE").ok().and_then(|v| v.parse().ok());
    let n = if only.is_some() { 256 } else { 4096 };
    let a = Tensor::randn(0f32, 1.0, (n, n), &dev)?;
    let b = Tensor::randn(0f32, 1.0, (n, n), &dev)?;
    let secs = time_runs(1, 3, || {
        a.matmul(&b)?;
        Ok(())
    })?;
    let peak = 2.0 * (n as f64).powi(3) / secs / 1e9;
    println!("{}", serde_json::json!({"kind": "matmul", "threads": threads, "gflops": peak}));
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    for (idx, case) in CASES.iter().enumerate() {
        if only.is_some_and(|i| i != idx) {
            continue;
        }
        let model = HyenaDna::random(&config(case)?, 1000 + idx as u64, &dev)?;
        let ids: Vec<u32> = (0..case.batch * case.len).map(|_| rng.random_range(7..11)).collect();
        let ids = Tensor::from_vec(ids, (case.batch, case.len), &dev)?;
        let secs = time_runs(WARMUP, TIMED, || {
            model.forward_hidden(&ids)?;
            Ok(())
        })?;
        let tokens = (case.batch * case.len) as f64;
        println!(
            "{}",
            serde_json::json!({"kind": "model", "case": idx, "threads": threads,
                "tokens_per_s": tokens / secs, "gflops": flops(case) / secs / 1e9, "secs": secs})
        );
    }
    Ok(())
}

/// Runs `cmd`, which prints one JSON object per line, and tags each with `source`.
fn json_lines(mut cmd: Command, source: &str, rows: &mut Vec<serde_json::Value>) -> Result<()> {
    let out = cmd.output().with_context(|| format!("starting {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut row: serde_json::Value = serde_json::from_str(line).with_context(|| format!("output line {line:?}"))?;
        row["source"] = source.into();
        rows.push(row);
    }
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 3 && args[1] == "--child" {
        return child(args[2].parse().context("thread count")?);
    }
    // `--peer PYTHON`: also time the PyTorch reference (benches/peers/hyena_torch.py) with
    // that interpreter, interleaved with our runs, and report same-machine ratios.
    let peer = match args.get(1).map(String::as_str) {
        Some("--peer") => Some(args.get(2).context("--peer needs a python interpreter")?.clone()),
        Some(other) => bail!("unknown argument {other:?}; usage: bench_hyena [--peer PYTHON]"),
        None => None,
    };
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/hyena_torch.py");
    let exe = std::env::current_exe()?;
    let mut rows: Vec<serde_json::Value> = Vec::new();
    if let Some(python) = &peer {
        // The peer must compute the reference forward pass: it loads the tiny-1k fixture
        // checkpoint and must reproduce the fixture's expected hidden states (< 1e-4).
        let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/fixtures/hyenadna/tiny-1k");
        let mut check = Command::new(python);
        check.arg(&script).arg("--check-fixture").arg(&fixture);
        json_lines(check, "torch", &mut rows)?;
    }
    for threads in [1usize, 2] {
        eprintln!("measuring on {threads} thread(s)...");
        let mut ours = Command::new(&exe);
        ours.args(["--child", &threads.to_string()])
            .env("RAYON_NUM_THREADS", threads.to_string())
            .env("CANDLE_NUM_THREADS", threads.to_string());
        json_lines(ours, "omicsdb", &mut rows)?;
        if let Some(python) = &peer {
            eprintln!("measuring the PyTorch reference on {threads} thread(s)...");
            let mut torch = Command::new(python);
            torch.arg(&script).arg(threads.to_string());
            json_lines(torch, "torch", &mut rows)?;
        }
    }
    let get = |source: &str, kind: &str, case: Option<usize>, threads: usize, field: &str| -> f64 {
        rows.iter()
            .find(|r| r["source"] == source && r["kind"] == kind && r["threads"] == threads && case.is_none_or(|c| r["case"] == c))
            .and_then(|r| r[field].as_f64())
            .unwrap_or(f64::NAN)
    };
    println!("\nHyenaDNA forward (embedding → blocks → ln_f), f32 CPU, median of {TIMED} runs after {WARMUP} warm-ups");
    println!(
        "{:<20} {:>3} {:>10} {:>11} {:>7} {:>14} {:>7} {:>8} {:>7} {:>9}",
        "case", "thr", "tokens/s", "torch here", "ratio", "README ref", "ratio", "GFLOP/s", "peak", "% of peak"
    );
    for (idx, case) in CASES.iter().enumerate() {
        for threads in [1usize, 2] {
            let tps = get("omicsdb", "model", Some(idx), threads, "tokens_per_s");
            let torch = get("torch", "model", Some(idx), threads, "tokens_per_s");
            let gf = get("omicsdb", "model", Some(idx), threads, "gflops");
            let peak = get("omicsdb", "matmul", None, threads, "gflops");
            let (reference, ref_text) = if threads == 1 {
                (case.reference.0, format!("{:.0}", case.reference.0))
            } else {
                ((case.reference.1 + case.reference.2) / 2.0, format!("{:.0}-{:.0}", case.reference.1, case.reference.2))
            };
            println!(
                "{:<20} {:>3} {:>10.0} {:>11.0} {:>6.2}x {:>14} {:>6.2}x {:>8.1} {:>7.1} {:>8.1}%",
                case.name, threads, tps, torch, tps / torch, ref_text, tps / reference, gf, peak, 100.0 * gf / peak
            );
        }
    }
    println!(
        "matmul 4096^3 f32: candle/gemm {:.1} GFLOP/s on 1 thread, {:.1} on 2; PyTorch/MKL here {:.1} / {:.1} (README reference machine: {} / {})",
        get("omicsdb", "matmul", None, 1, "gflops"),
        get("omicsdb", "matmul", None, 2, "gflops"),
        get("torch", "matmul", None, 1, "gflops"),
        get("torch", "matmul", None, 2, "gflops"),
        REFERENCE_PEAK.0,
        REFERENCE_PEAK.1
    );
    if let Some(diff) = rows.iter().find(|r| r["kind"] == "fixture_check").and_then(|r| r["max_abs_diff"].as_f64()) {
        println!("PyTorch peer on the tiny-1k fixture checkpoint: max |Δ| {diff:.1e} from the fixture's expected hidden states");
    }
    println!("ratio = tokens/s ÷ torch here (same run, same machine), and ÷ the fixtures README's figure (its machine; 2 threads: midpoint)");
    println!("% of peak = the model's analytic GFLOP/s ÷ candle's own matmul peak on the same thread count");
    for case in &CASES {
        println!("FLOPs per forward, {}: {:.3} GFLOP ({:.0} per token)", case.name, flops(case) / 1e9, flops(case) / (case.batch * case.len) as f64);
    }
    Ok(())
}
