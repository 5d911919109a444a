//! The two sequential CPU kernels of a Mamba layer, on `[B, L, C]` float32 tensors: the
//! causal depthwise convolution with SiLU, and the selective scan (the reference's
//! `selective_scan_ref` with `delta_softplus`, `D` and the `z` gate). Both split their rows
//! over [`kernel_threads`] threads; other devices' tensors are computed on the host.

use candle_core::{DType, Device, Tensor};

use crate::long_conv::kernels::par_rows;
use crate::threads::kernel_threads;

fn host(t: &Tensor) -> candle_core::Result<Vec<f32>> {
    t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()
}

fn silu(x: f32) -> f32 {
    x / (1.0 + (-x).exp())
}

/// PyTorch's `softplus` (threshold 20: the identity above it).
fn softplus(x: f32) -> f32 {
    if x > 20.0 { x } else { x.exp().ln_1p() }
}

/// `silu(conv1d(x))` of `x: [B, L, C]` with a depthwise kernel `weight: [C, 1, K]` (or
/// `[C, K]`) and `bias: [C]`, causal: output `l` sees inputs `l-K+1 ..= l` (zeros before
/// the start), as `nn.Conv1d(padding=K-1)` cut to the first `L` outputs.
pub fn causal_conv_silu(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> candle_core::Result<Tensor> {
    let (b, l, c) = x.dims3()?;
    let k = weight.elem_count() / c.max(1);
    let (xs, w) = (host(x)?, host(weight)?);
    let bias = match bias {
        Some(t) => host(t)?,
        None => vec![0.0; c],
    };
    let mut out = vec![0f32; b * l * c];
    par_rows(&mut out, c, kernel_threads(), || (), |row, y, _| {
        let (batch, pos) = (row / l, row % l);
        y.copy_from_slice(&bias);
        for tap in 0..k {
            // Tap `tap` reads input position pos + tap - (k - 1).
            let Some(src) = (pos + tap).checked_sub(k - 1) else { continue };
            let xr = &xs[(batch * l + src) * c..(batch * l + src + 1) * c];
            for ch in 0..c {
                y[ch] += w[ch * k + tap] * xr[ch];
            }
        }
        for v in y.iter_mut() {
            *v = silu(*v);
        }
    });
    Tensor::from_vec(out, (b, l, c), &Device::Cpu)?.to_device(x.device())
}

/// The inputs of one selective scan, all `[B, L, ·]` float32-convertible tensors.
pub struct ScanInputs<'a> {
    /// `u: [B, L, D]`, the convolved input.
    pub u: &'a Tensor,
    /// `dt: [B, L, D]` before its bias and softplus.
    pub delta: &'a Tensor,
    /// `A: [D, N]` (already `-exp(A_log)`).
    pub a: &'a Tensor,
    /// `B: [B, L, N]`.
    pub b: &'a Tensor,
    /// `C: [B, L, N]`.
    pub c: &'a Tensor,
    /// The skip `D: [D]`.
    pub d: &'a Tensor,
    /// The gate `z: [B, L, D]`.
    pub z: &'a Tensor,
    /// The `dt` bias `[D]`.
    pub delta_bias: &'a Tensor,
}

/// `y = (scan + D * u) * silu(z)`, `[B, L, D]` float32, where per channel `d` the state
/// `h[n]` runs `h = exp(delta * A[d, n]) * h + delta * B[n] * u` from zero along the
/// sequence and `scan = sum_n h[n] * C[n]`, with `delta = softplus(dt + dt_bias)`.
pub fn selective_scan(inp: &ScanInputs) -> candle_core::Result<Tensor> {
    let (batch, len, dim) = inp.u.dims3()?;
    let n = inp.a.dim(1)?;
    let (u, dt, a, bm, cm, dd, z, bias) =
        (host(inp.u)?, host(inp.delta)?, host(inp.a)?, host(inp.b)?, host(inp.c)?, host(inp.d)?, host(inp.z)?, host(inp.delta_bias)?);
    // One row per (batch, channel), laid out [B, D, L]; transposed back below.
    let mut out = vec![0f32; batch * dim * len];
    par_rows(&mut out, len, kernel_threads(), || vec![0f32; n], |row, y, h| {
        let (b, d) = (row / dim, row % dim);
        h.iter_mut().for_each(|v| *v = 0.0);
        let a_row = &a[d * n..(d + 1) * n];
        for (t, yt) in y.iter_mut().enumerate() {
            let at = (b * len + t) * dim + d;
            let delta = softplus(dt[at] + bias[d]);
            let ut = u[at];
            let du = delta * ut;
            let bt = &bm[(b * len + t) * n..(b * len + t + 1) * n];
            let ct = &cm[(b * len + t) * n..(b * len + t + 1) * n];
            let mut acc = 0f32;
            for s in 0..n {
                h[s] = (delta * a_row[s]).exp() * h[s] + du * bt[s];
                acc += h[s] * ct[s];
            }
            *yt = (acc + ut * dd[d]) * silu(z[at]);
        }
    });
    Tensor::from_vec(out, (batch, dim, len), &Device::Cpu)?.transpose(1, 2)?.contiguous()?.to_device(inp.u.device())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_convolution_is_causal_and_depthwise() {
        // One batch row, 3 positions, 2 channels, kernel 2: y[l] = w0 x[l-1] + w1 x[l] + b.
        let x = Tensor::from_vec(vec![1f32, 10., 2., 20., 3., 30.], (1, 3, 2), &Device::Cpu).unwrap();
        let w = Tensor::from_vec(vec![0.5f32, 1.0, -1.0, 2.0], (2, 1, 2), &Device::Cpu).unwrap();
        let b = Tensor::from_vec(vec![0f32, 1.0], 2, &Device::Cpu).unwrap();
        let y = causal_conv_silu(&x, &w, Some(&b)).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let pre = [1.0f32, 21.0, 2.5, 31.0, 4.0, 41.0];
        for (got, p) in y.iter().zip(pre) {
            assert!((got - silu(p)).abs() < 1e-6, "{got} vs silu({p})");
        }
    }
}
