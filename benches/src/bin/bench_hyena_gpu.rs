//! HyenaDNA forward-pass speed on a CUDA GPU (`omicsdb_model::cuda`): tokens/s for the same
//! shapes as `bench_hyena`, in f32 and bf16, and the achieved GFLOP/s as a fraction of the
//! GPU's measured cuBLAS peak (an 8192³ GEMM in the same precision, same run).
//!
//! ```text
//! cargo build --release -p omicsdb-benches --features cuda --bin bench_hyena_gpu   # any machine
//! LD_LIBRARY_PATH=/usr/local/cuda/lib64 ./bench_hyena_gpu                          # on the GPU host
//! ```
//!
//! Timing: 2 warm-ups, then the median of 5 runs of `forward_hidden` without the download
//! (the stream is synchronized), random weights, random A/C/G/T ids.

use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::Device;
use cudarc::cublas::{CudaBlas, sys};
use omicsdb_model::cuda::{CudaHyena, CudaPrecision, open_device};
use omicsdb_model::{Config, HyenaDna};
use rand::{Rng, SeedableRng};

const CASES: [(&str, usize, usize, usize, usize, usize, usize); 4] = [
    ("tiny-1k 8x1024", 128, 2, 512, 1026, 8, 1024),
    ("tiny-1k 64x1024", 128, 2, 512, 1026, 64, 1024),
    ("tiny 1x32768", 128, 2, 512, 32770, 1, 32768),
    ("small-32k 1x32768", 256, 4, 1024, 32770, 1, 32768),
];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Analytic FLOPs per forward, as bench_hyena counts them.
fn flops(d: usize, n_layer: usize, i: usize, b: usize, l: usize) -> f64 {
    let (b, l, d, i) = (b as f64, l as f64, d as f64, i as f64);
    let n = 2.0 * l;
    n_layer as f64 * (2.0 * b * l * (4.0 * d * d + 2.0 * d * i) + b * d * (5.0 * n * n.log2() + 6.0 * (n / 2.0 + 1.0)))
}

/// GFLOP/s of an 8192³ cuBLAS GEMM, f32 (no TF32) or bf16 inputs with f32 accumulation.
fn gemm_peak(precision: CudaPrecision) -> Result<f64> {
    let ctx = open_device(0)?;
    let stream = ctx.default_stream();
    let blas = CudaBlas::new(stream.clone())?;
    let n = 8192usize;
    let (ty, bytes) = match precision {
        CudaPrecision::F32 => (sys::cudaDataType::CUDA_R_32F, 4),
        CudaPrecision::Bf16 => (sys::cudaDataType::CUDA_R_16BF, 2),
    };
    let a = stream.alloc_zeros::<u8>(n * n * bytes)?;
    let b = stream.alloc_zeros::<u8>(n * n * bytes)?;
    let mut c = stream.alloc_zeros::<f32>(n * n)?;
    let (alpha, beta) = (1.0f32, 0.0f32);
    let mut run = || -> Result<f64> {
        use cudarc::driver::{DevicePtr, DevicePtrMut};
        let start = Instant::now();
        {
            let (ap, _ga) = a.device_ptr(&stream);
            let (bp, _gb) = b.device_ptr(&stream);
            let (cp, _gc) = c.device_ptr_mut(&stream);
            let n = n as i32;
            // SAFETY: all three buffers hold n·n elements of their types.
            unsafe {
                cudarc::cublas::result::gemm_ex(
                    *blas.handle(), sys::cublasOperation_t::CUBLAS_OP_N, sys::cublasOperation_t::CUBLAS_OP_N, n, n, n,
                    (&alpha) as *const f32 as *const _, ap as *const _, ty, n, bp as *const _, ty, n,
                    (&beta) as *const f32 as *const _, cp as *mut _, sys::cudaDataType::CUDA_R_32F, n,
                    sys::cublasComputeType_t::CUBLAS_COMPUTE_32F, sys::cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
                )?;
            }
        }
        stream.synchronize()?;
        Ok(start.elapsed().as_secs_f64())
    };
    run()?;
    let secs = median((0..5).map(|_| run()).collect::<Result<Vec<_>>>()?);
    Ok(2.0 * (n as f64).powi(3) / secs / 1e9)
}

fn main() -> Result<()> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    println!("{:<20} {:>5} {:>12} {:>10} {:>10} {:>9}", "case", "prec", "tokens/s", "GFLOP/s", "peak", "% of peak");
    for precision in [CudaPrecision::F32, CudaPrecision::Bf16] {
        let peak = gemm_peak(precision).context("measuring the cuBLAS peak")?;
        for (idx, &(name, d, n_layer, inner, l_max, batch, len)) in CASES.iter().enumerate() {
            let json = serde_json::json!({"d_model": d, "n_layer": n_layer, "d_inner": inner, "vocab_size": 12, "max_seq_len": l_max});
            let cfg = Config::from_json_str(&json.to_string(), std::path::Path::new("<bench>"))?;
            let model = HyenaDna::random(&cfg, 1000 + idx as u64, &Device::Cpu)?;
            let gpu = CudaHyena::new(model, 0, precision)?;
            let ids: Vec<u32> = (0..batch * len).map(|_| rng.random_range(7..11)).collect();
            for _ in 0..2 {
                gpu.embed_mean(&ids, batch, len)?;
            }
            let mut secs = Vec::new();
            for _ in 0..5 {
                let start = Instant::now();
                gpu.embed_mean(&ids, batch, len)?;
                gpu.synchronize()?;
                secs.push(start.elapsed().as_secs_f64());
            }
            let secs = median(secs);
            let gf = flops(d, n_layer, inner, batch, len) / secs / 1e9;
            println!("{name:<20} {:>5} {:>12.0} {gf:>10.1} {peak:>10.1} {:>8.2}%", format!("{precision:?}"), (batch * len) as f64 / secs, 100.0 * gf / peak);
        }
    }
    println!("peak = cuBLAS 8192³ GEMM in the same precision (f32: no TF32; bf16: f32 accumulation), same run");
    Ok(())
}
