//! GELU (tanh approximation) as one fused custom op for training. candle's own
//! `gelu` computes the same forward values, but its backward pass builds the
//! derivative from about fourteen whole-tensor operations (powers, affines,
//! tanh, products), which made it the largest cost of a training step on the
//! MLP's `[B, L, 4D]` activations. Here forward and backward are one pass each, on all
//! of candle's threads, with a rational `tanh` ([`fast_tanh`], within 5e-7 of libm's,
//! whose `tanhf` cost a tenth of a training step).

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};

use crate::hyena::fused::{f32_slice, fast_tanh};
use crate::long_conv::kernels::par_rows;

const SQRT_TWO_OVER_PI: f32 = 0.797_884_6;

/// GELU of `x`, with a fused backward pass; the values of `Tensor::gelu` within 1e-6
/// relative.
pub fn gelu(x: &Tensor) -> Result<Tensor> {
    if x.dtype() != candle_core::DType::F32 || !x.device().is_cpu() {
        return x.gelu();
    }
    x.contiguous()?.apply_op1(Gelu)
}

#[inline(always)]
fn forward(v: f32) -> f32 {
    // The expression candle uses, with a rational tanh.
    0.5 * v * (1.0 + fast_tanh(SQRT_TWO_OVER_PI * v * (1.0 + 0.044715 * v * v)))
}

#[inline(always)]
fn derivative(v: f32) -> f32 {
    let inner = SQRT_TWO_OVER_PI * v * (1.0 + 0.044715 * v * v);
    let t = fast_tanh(inner);
    let d_inner = SQRT_TWO_OVER_PI * (1.0 + 3.0 * 0.044715 * v * v);
    0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * d_inner
}

/// Elements per task when the element-wise passes are split over threads.
const CHUNK: usize = 16 * 1024;

/// `out[i] = f(i)` over all of `out`, split over candle's threads.
fn fill(out: &mut [f32], f: impl Fn(usize) -> f32 + Sync) {
    let threads = if out.len() >= 2 * CHUNK { candle_core::utils::get_num_threads().max(1) } else { 1 };
    par_rows(out, CHUNK, threads, || (), |r, row, _| {
        for (j, o) in row.iter_mut().enumerate() {
            *o = f(r * CHUNK + j);
        }
    });
}

struct Gelu;

impl CustomOp1 for Gelu {
    fn name(&self) -> &'static str {
        "gelu-fused"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(storage, layout, "gelu input")?;
        let mut out = vec![0f32; x.len()];
        fill(&mut out, |i| forward(x[i]));
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(arg.contiguous()?.apply_op2_no_bwd(&grad_res.contiguous()?, &GeluGrad)?))
    }
}

/// `grad · gelu'(x)` in one pass.
struct GeluGrad;

impl CustomOp2 for GeluGrad {
    fn name(&self) -> &'static str {
        "gelu-fused-grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        if l1.shape() != l2.shape() {
            candle_core::bail!("gelu grad: shapes {:?} and {:?} differ", l1.shape(), l2.shape());
        }
        let (x, g) = (f32_slice(s1, l1, "gelu grad input")?, f32_slice(s2, l2, "gelu grad")?);
        let mut out = vec![0f32; x.len()];
        fill(&mut out, |i| g[i] * derivative(x[i]));
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn fused_gelu_matches_candle_forward_and_backward() {
        let dev = Device::Cpu;
        // More than three chunks, so the threaded path runs too.
        let n = 101 * 500;
        let vals: Vec<f32> = (0..n).map(|i| (i % 303) as f32 / 25.0 - 6.04).collect();
        let x = Var::from_vec(vals.clone(), (n / 101, 101), &dev).unwrap();
        let y = Var::from_vec(vals, (n / 101, 101), &dev).unwrap();
        let w = Tensor::arange(0f32, n as f32, &dev).unwrap().reshape((n / 101, 101)).unwrap().affine(1e-4, -1.0).unwrap();
        let a = gelu(x.as_tensor()).unwrap();
        let b = y.as_tensor().gelu().unwrap();
        for (u, v) in a.flatten_all().unwrap().to_vec1::<f32>().unwrap().iter().zip(b.flatten_all().unwrap().to_vec1::<f32>().unwrap()) {
            assert!((u - v).abs() <= 1e-6 * (1.0 + v.abs()), "{u} vs {v}");
        }
        let ga = (a * &w).unwrap().sum_all().unwrap().backward().unwrap();
        let gb = (b * &w).unwrap().sum_all().unwrap().backward().unwrap();
        let (ga, gb) = (ga.get(&x).unwrap().flatten_all().unwrap(), gb.get(&y).unwrap().flatten_all().unwrap());
        // candle rounds its constants to 6 digits; the exact derivative differs by < 1e-4.
        let diff: f32 = (ga - gb).unwrap().abs().unwrap().max(0).unwrap().to_scalar().unwrap();
        assert!(diff < 2e-4, "max gradient difference {diff}");
        // And against a central finite difference of the forward.
        for &v in &[-3.0f32, -0.7, 0.0, 0.4, 2.5] {
            let h = 1e-2f32;
            let fd = (forward(v + h) - forward(v - h)) / (2.0 * h);
            assert!((fd - derivative(v)).abs() < 1e-3, "at {v}: {fd} vs {}", derivative(v));
        }
    }
}
