//! DNABERT forward-pass speed on CPU: tokens/s on 1 and 2 threads at DNABERT-6 base size
//! (12 layers, hidden 768, 12 heads, 3072 feed-forward, 512 tokens), beside the reference
//! (transformers' BertModel, `benches/peers/dnabert_torch.py`) in the same run.
//!
//! cargo run -p omicsdb-benches --features model --bin bench_dnabert [-- --peer PYTHON]
//!
//! Random weights; `Bert::forward_hidden` (embeddings → 12 layers), no padding. Each thread
//! count runs in a child process with `RAYON_NUM_THREADS=n`; 2 warm-ups, then the median of
//! 5 timed runs. An f32 1024³ matmul gives the machine's practical matmul rate beside it.

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use candle_core::{DType, Device, Tensor};
use omicsdb_model::bert::{Bert, BertConfig};

const CASES: [(&str, usize, usize); 2] = [("dnabert6-base 1x512", 1, 512), ("dnabert6-base 4x512", 4, 512)];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn time(mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    let mut secs = Vec::new();
    for i in 0..7 {
        let t0 = Instant::now();
        f()?;
        if i >= 2 {
            secs.push(t0.elapsed().as_secs_f64());
        }
    }
    Ok(median(secs))
}

fn child(threads: usize) -> Result<()> {
    let dev = Device::Cpu;
    let a = Tensor::randn(0f32, 1.0, (1024, 1024), &dev)?;
    let s = time(|| {
        a.matmul(&a)?;
        Ok(())
    })?;
    println!("{}", serde_json::json!({"kind": "matmul", "threads": threads, "gflops": 2.0 * 1024f64.powi(3) / s / 1e9}));
    let cfg: BertConfig = serde_json::from_value(serde_json::json!({
        "vocab_size": 4101, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
        "intermediate_size": 3072, "max_position_embeddings": 512
    }))?;
    let varmap = candle_nn::VarMap::new();
    let vb = candle_nn::VarBuilder::from_varmap(&varmap, DType::F32, &dev);
    let model = Bert::new(&cfg, vb)?;
    for (name, batch, tokens) in CASES {
        let ids: Vec<u32> = (0..batch * tokens).map(|i| 5 + (i as u32).wrapping_mul(2654435761) % 4096).collect();
        let ids = Tensor::from_vec(ids, (batch, tokens), &dev)?;
        let s = time(|| {
            model.forward_hidden(&ids, None)?;
            Ok(())
        })?;
        println!("{}", serde_json::json!({"kind": "model", "case": name, "threads": threads, "seconds": s, "tokens_per_s": (batch * tokens) as f64 / s}));
    }
    Ok(())
}

fn lines(out: std::process::Output, who: &str) -> Result<Vec<serde_json::Value>> {
    if !out.status.success() {
        bail!("{who} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        return child(args[2].parse().context("thread count")?);
    }
    let peer = match args.get(1).map(String::as_str) {
        Some("--peer") => Some(args.get(2).context("--peer needs a python interpreter")?.clone()),
        Some(other) => bail!("unknown argument {other:?}; usage: bench_dnabert [--peer PYTHON]"),
        None => None,
    };
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/dnabert_torch.py");
    println!("| case | threads | omicsdb tokens/s | reference tokens/s | ratio | machine matmul GFLOP/s | omicsdb GFLOP/s |");
    println!("|---|---|---|---|---|---|---|");
    for threads in [1usize, 2] {
        let ours = Command::new(std::env::current_exe()?)
            .args(["--child", &threads.to_string()])
            .env("RAYON_NUM_THREADS", threads.to_string())
            .output()?;
        let ours = lines(ours, "omicsdb child")?;
        let peak = ours.iter().find(|v| v["kind"] == "matmul").and_then(|v| v["gflops"].as_f64()).unwrap_or(f64::NAN);
        let theirs = match &peer {
            Some(python) => lines(Command::new(python).arg(&script).arg(threads.to_string()).output()?, "peer")?,
            None => Vec::new(),
        };
        for (name, batch, tokens) in CASES {
            let o = ours.iter().find(|v| v["case"] == name).and_then(|v| v["tokens_per_s"].as_f64()).unwrap_or(f64::NAN);
            let r = theirs.iter().find(|v| v["case"] == name).and_then(|v| v["tokens_per_s"].as_f64());
            // Forward FLOPs per token: 12 layers × (4·768² + 2·768·3072 matmul MACs + 2·512·768 attention MACs) × 2.
            let t = tokens as f64;
            let flops_per_token = 12.0 * 2.0 * (4.0 * 768.0 * 768.0 + 2.0 * 768.0 * 3072.0 + 2.0 * t * 768.0);
            let _ = batch;
            println!(
                "| {name} | {threads} | {o:.0} | {} | {} | {peak:.1} | {:.1} |",
                r.map(|r| format!("{r:.0}")).unwrap_or_else(|| "–".into()),
                r.map(|r| format!("{:.2}", o / r)).unwrap_or_else(|| "–".into()),
                o * flops_per_token / 1e9
            );
        }
    }
    Ok(())
}
