//! Caduceus forward-pass speed on CPU: tokens/s on 1 and 2 threads at Caduceus-PS 131k
//! size (d_model 256 per strand, 16 layers, RC-equivariant, bidirectional "add" with tied
//! projections, fused RMSNorm, d_state 16) at 1k and 32k tokens, beside the reference
//! (kuleshov-group/caduceus on its pure-PyTorch CPU path, `benches/peers/caduceus_torch.py`)
//! in the same run.
//!
//! cargo build -p omicsdb-benches --features model --bin bench_caduceus
//! $CARGO_TARGET_DIR/debug/bench_caduceus [--peer PYTHON CADUCEUS_DIR MAMBA_DIR] [--tokens 1024,32768]
//!
//! Random weights; `Caduceus::forward_hidden` (embedding → 16 blocks → final norm), batch 1.
//! Each thread count runs in a child process with `RAYON_NUM_THREADS=n`. Up to 4k tokens:
//! 1 warm-up, then the median of 3 timed runs; longer inputs: one timed run, no warm-up
//! (the reference's Python scan takes minutes there), on both sides alike.

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use candle_core::{DType, Device, Tensor};
use omicsdb_model::caduceus::{Caduceus, CaduceusConfig};

/// (warm-ups, timed runs) for an input of `tokens`.
fn protocol(tokens: usize) -> (usize, usize) {
    if tokens <= 4096 { (1, 3) } else { (0, 1) }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn config() -> Result<CaduceusConfig> {
    let json = serde_json::json!({
        "d_model": 256, "n_layer": 16, "vocab_size": 12, "pad_vocab_size_multiple": 8, "rcps": true,
        "bidirectional": true, "bidirectional_strategy": "add", "bidirectional_weight_tie": true,
        "rms_norm": true, "fused_add_norm": true, "residual_in_fp32": true, "norm_epsilon": 1e-5,
        "complement_map": {"0": 0, "1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "6": 6, "7": 10, "8": 9, "9": 8, "10": 7, "11": 11},
        "ssm_cfg": {"d_state": 16, "d_conv": 4, "expand": 2}
    });
    Ok(CaduceusConfig::from_json_str(&json.to_string(), std::path::Path::new("bench_caduceus"))?)
}

fn child(threads: usize, lengths: &[usize]) -> Result<()> {
    let dev = Device::Cpu;
    let varmap = candle_nn::VarMap::new();
    let vb = candle_nn::VarBuilder::from_varmap(&varmap, DType::F32, &dev);
    let model = Caduceus::new(&config()?, vb)?;
    for &tokens in lengths {
        let ids: Vec<u32> = (0..tokens).map(|i| 7 + (i as u32).wrapping_mul(2654435761) % 4).collect();
        let ids = Tensor::from_vec(ids, (1, tokens), &dev)?;
        let (warmup, runs) = protocol(tokens);
        let mut secs = Vec::new();
        for i in 0..warmup + runs {
            let t0 = Instant::now();
            model.forward_hidden(&ids)?;
            if i >= warmup {
                secs.push(t0.elapsed().as_secs_f64());
            }
        }
        let s = median(secs);
        println!("{}", serde_json::json!({"tokens": tokens, "threads": threads, "seconds": s, "tokens_per_s": tokens as f64 / s}));
    }
    Ok(())
}

fn lines(out: std::process::Output, who: &str) -> Result<Vec<serde_json::Value>> {
    if !out.status.success() {
        bail!("{who} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
}

fn parse_lengths(s: &str) -> Result<Vec<usize>> {
    s.split(',').map(|t| t.trim().parse::<usize>().with_context(|| format!("--tokens: {t:?} is not a length"))).collect()
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        return child(args[2].parse().context("thread count")?, &parse_lengths(&args[3])?);
    }
    let (mut peer, mut lengths) = (None, vec![1024usize, 32768]);
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--peer" if i + 3 < args.len() => {
                peer = Some((args[i + 1].clone(), args[i + 2].clone(), args[i + 3].clone()));
                i += 4;
            }
            "--tokens" if i + 1 < args.len() => {
                lengths = parse_lengths(&args[i + 1])?;
                i += 2;
            }
            other => bail!("unexpected argument {other:?}; usage: bench_caduceus [--peer PYTHON CADUCEUS_DIR MAMBA_DIR] [--tokens 1024,32768]"),
        }
    }
    let list = lengths.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/caduceus_torch.py");
    println!("| tokens | threads | omicsdb tokens/s | reference tokens/s | ratio |");
    println!("|---|---|---|---|---|");
    for threads in [1usize, 2] {
        let ours = Command::new(std::env::current_exe()?)
            .args(["--child", &threads.to_string(), &list])
            .env("RAYON_NUM_THREADS", threads.to_string())
            .output()?;
        let ours = lines(ours, "omicsdb child")?;
        let mut theirs = Vec::new();
        if let Some((python, cad, mamba)) = &peer {
            // The reference's protocol per length, as ours.
            for &t in &lengths {
                let (w, r) = protocol(t);
                let out = Command::new(python)
                    .arg(&script)
                    .args([cad, mamba, &threads.to_string(), &t.to_string(), &w.to_string(), &r.to_string()])
                    .output()?;
                theirs.extend(lines(out, "peer")?);
            }
        }
        for &t in &lengths {
            let o = ours.iter().find(|v| v["tokens"] == t).and_then(|v| v["tokens_per_s"].as_f64()).unwrap_or(f64::NAN);
            let r = theirs.iter().find(|v| v["tokens"] == t).and_then(|v| v["tokens_per_s"].as_f64());
            println!(
                "| {t} | {threads} | {o:.0} | {} | {} |",
                r.map(|r| format!("{r:.1}")).unwrap_or_else(|| "–".into()),
                r.map(|r| format!("{:.2}", o / r)).unwrap_or_else(|| "–".into())
            );
        }
    }
    Ok(())
}
