//! CUDA path tests. Without a GPU (or without NVRTC) they print why they skip and pass;
//! on a GPU host they check the GPU forward pass against the CPU one.

use candle_core::{DType, Device, Tensor};
use rand::{Rng, SeedableRng};

use super::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/fixtures/hyenadna");

/// Compiles the kernels when NVRTC can be loaded (e.g. `LD_LIBRARY_PATH` pointing at the
/// `nvidia-cuda-nvrtc` wheel's lib dir); a compile error fails the test.
#[test]
fn kernels_compile_with_nvrtc() {
    match compile_kernels() {
        Ok(ptx) => {
            let text = ptx.to_src();
            for name in KERNEL_NAMES {
                assert!(text.contains(&format!(".entry {name}(")), "PTX lacks kernel {name}");
            }
        }
        Err(e) if e.to_string().contains("could not be loaded") => eprintln!("skipped: {e}"),
        Err(e) => panic!("{e}"),
    }
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> (f32, f32) {
    assert_eq!(a.len(), b.len());
    let mut worst = 0f32;
    let mut sum = 0f64;
    for (x, y) in a.iter().zip(b) {
        let d = (x - y).abs();
        worst = worst.max(d);
        sum += d as f64;
    }
    (worst, (sum / a.len() as f64) as f32)
}

/// The GPU forward pass against the CPU one on the tiny-1k fixture model: f32 within 1e-3
/// (FFT and summation order differ), bf16 matmuls within 0.25 (max) and 0.03 (mean) on
/// LayerNorm-scaled outputs; lengths that are and are not powers of two; clear errors.
#[test]
fn gpu_forward_matches_cpu() {
    let ctx = match open_device(0) {
        Ok(ctx) => ctx,
        Err(e) => {
            eprintln!("skipped (no GPU): {e}");
            return;
        }
    };
    drop(ctx);
    let dir = std::path::Path::new(FIXTURES).join("tiny-1k");
    let cpu = HyenaDna::load(&dir, &Device::Cpu, DType::F32).expect("fixture model");
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let cases = [(2usize, 1024usize), (3, 777), (1, 64)];
    for precision in [CudaPrecision::F32, CudaPrecision::Bf16] {
        let gpu = CudaHyena::new(HyenaDna::load(&dir, &Device::Cpu, DType::F32).expect("fixture model"), 0, precision).expect("upload");
        for (batch, len) in cases {
            let ids: Vec<u32> = (0..batch * len).map(|_| rng.random_range(7..12)).collect();
            let t = Tensor::from_vec(ids.clone(), (batch, len), &Device::Cpu).unwrap();
            let want = cpu.forward_hidden(&t).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let got = gpu.forward_hidden(&ids, batch, len).expect("gpu forward");
            let (worst, mean) = max_abs_diff(&got, &want);
            eprintln!("{precision:?} {batch}x{len}: max |Δ| {worst:.2e}, mean {mean:.2e}");
            match precision {
                CudaPrecision::F32 => assert!(worst < 1e-3, "{batch}x{len}: max |Δ| {worst}"),
                CudaPrecision::Bf16 => assert!(worst < 0.25 && mean < 0.03, "{batch}x{len}: max {worst}, mean {mean}"),
            }
            let pooled = gpu.embed_mean(&ids, batch, len).expect("gpu embed");
            let d = cpu.config().d_model;
            for b in 0..batch {
                for c in 0..d {
                    let mean_cpu: f32 = (0..len).map(|t| want[(b * len + t) * d + c]).sum::<f32>() / len as f32;
                    let tol = if precision == CudaPrecision::F32 { 1e-3 } else { 0.05 };
                    assert!((pooled[b * d + c] - mean_cpu).abs() < tol, "pooled row {b} channel {c}");
                }
            }
        }
        let l_max = cpu.config().max_seq_len;
        let long = vec![7u32; l_max + 1];
        assert!(matches!(gpu.forward_hidden(&long, 1, l_max + 1), Err(ModelError::SequenceTooLong { .. })));
        assert!(matches!(gpu.forward_hidden(&[7, 99, 8], 1, 3), Err(ModelError::InvalidTokenId { id: 99, position: 1, .. })));
    }
}
