//! A block's row-local work fused per tile of rows (CPU f32 inference). Everything in a
//! HyenaDNA block except the short and long convolutions works on one position at a time,
//! so it can run on a tile of positions that stays in cache, without the full-size
//! intermediate tensors:
//!
//! - [`BlockHead`]: `norm1` then `in_proj` (without its bias, which the short-conv
//!   parameters carry), `r → p`.
//! - [`BlockTail`]: the output gate `x0 ⊙ y`, `out_proj` with its bias and the residual,
//!   `norm2`, and the MLP (`fc1`, bias and tanh GELU, `fc2`, bias) with its residual.
//!
//! Each step computes what the unfused inference kernels compute, in the same order
//! (gemm's result for a row does not depend on the other rows of the call except through
//! its blocking, within f32 rounding).

use candle_core::{CpuStorage, CustomOp1, CustomOp3, Layout, Shape, Tensor};

use super::fused::{Params, bias_gelu_row, f32_slice, gemm_xwt, params};
use crate::simd::vectorized;
use super::norm::{RowLayerNorm, held_f32, layer_norm_row};
use crate::long_conv::kernels::par_rows;

/// Rows per tile for a widest intermediate of `width` floats: about 1 MiB of it (L2), a
/// multiple of 64 (gemm's AVX-512 row block), 256 to 1024 rows. Smaller tiles keep less in
/// cache but pay gemm's per-call packing more often: on tiny-1k (`width` 512, 1 thread),
/// 128-row tiles ran about 12% slower than 512-row tiles and 64-row tiles 27% slower
/// (one bench_hyena sweep).
fn tile_rows(width: usize) -> usize {
    ((262_144 / width.max(1)) / 64 * 64).clamp(256, 1024)
}

/// An uninitialized f32 buffer of `len`, for outputs that are written in full before any
/// element is read.
fn output(len: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(len);
    // SAFETY: f32 has no invalid bit patterns, and each caller writes every element (in
    // the tile loop) before reading it.
    #[allow(clippy::uninit_vec)]
    unsafe {
        out.set_len(len)
    };
    out
}

/// `p = norm1(r) · in_projᵀ` for `r: [B, L, D]` → `[B, L, 3D]`.
#[derive(Debug, Clone)]
pub struct BlockHead {
    norm: RowLayerNorm,
    in_w: Tensor,
}

impl BlockHead {
    /// The head of a block with LayerNorm `norm` and in-projection weight `in_w` (`[3D, D]`).
    pub fn new(norm: RowLayerNorm, in_w: Tensor) -> Self {
        Self { norm, in_w }
    }

    /// Its LayerNorm (norm1).
    pub(crate) fn norm(&self) -> &RowLayerNorm {
        &self.norm
    }
}

impl CustomOp1 for BlockHead {
    fn name(&self) -> &'static str {
        "hyena_block_head"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (b, len, d) = l.shape().dims3()?;
        let r = f32_slice(s, l, "block head: residual")?;
        let (nw, nb, eps) = self.norm.parts();
        let held = [nw.storage_and_layout(), nb.storage_and_layout(), self.in_w.storage_and_layout()];
        let (alpha, beta, w) = (held_f32(&held[0], "norm1 weight")?, held_f32(&held[1], "norm1 bias")?, held_f32(&held[2], "in_proj weight")?);
        let c3 = w.len() / d.max(1);
        if alpha.len() != d || beta.len() != d || w.len() != c3 * d {
            candle_core::bail!("block head: norm of {} and in_proj of {} over {:?}", alpha.len(), w.len(), l.shape());
        }
        let tt = tile_rows(c3);
        let mut out = output(b * len * c3);
        par_rows(&mut out, tt * c3, crate::threads::kernel_threads(), || vec![0f32; tt * d], |item, chunk, u| {
            let (g0, n) = (item * tt, chunk.len() / c3);
            let u = &mut u[..n * d];
            vectorized(|| norm_rows(&r[g0 * d..(g0 + n) * d], u, alpha, beta, eps));
            gemm_xwt(u, w, c3, d, chunk, false, 1);
        });
        Ok((CpuStorage::F32(out), Shape::from((b, len, c3))))
    }
}

/// The rest of a block after the long convolution: `y: [B, D, L]` (long-conv output),
/// `p: [B, L, 3D]` (the head's output), `r: [B, L, D]` (the block's input) → the block's
/// output `[B, L, D]`.
#[derive(Debug, Clone)]
pub struct BlockTail {
    /// Short-conv taps, short-conv bias and in_proj bias `[K + 2, 3D]` (for `x0`).
    pub(crate) short: Tensor,
    pub(crate) out_w: Tensor,
    pub(crate) out_b: Tensor,
    pub(crate) norm: RowLayerNorm,
    pub(crate) fc1_w: Tensor,
    pub(crate) fc1_b: Tensor,
    pub(crate) fc2_w: Tensor,
    pub(crate) fc2_b: Tensor,
}

impl CustomOp3 for BlockTail {
    fn name(&self) -> &'static str {
        "hyena_block_tail"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (b, d, len) = l1.shape().dims3()?;
        let c3 = 3 * d;
        if l2.shape().dims() != [b, len, c3] || l3.shape().dims() != [b, len, d] {
            candle_core::bail!("block tail: y {:?}, p {:?}, r {:?}", l1.shape(), l2.shape(), l3.shape());
        }
        let y = f32_slice(s1, l1, "block tail: long-conv output")?;
        let p = f32_slice(s2, l2, "block tail: projection")?;
        let r = f32_slice(s3, l3, "block tail: residual")?;
        let (nw, nb, eps) = self.norm.parts();
        let held = [&self.out_w, &self.out_b, nw, nb, &self.fc1_w, &self.fc1_b, &self.fc2_w, &self.fc2_b, &self.short]
            .map(|t| t.storage_and_layout());
        let out_w = held_f32(&held[0], "out_proj weight")?;
        let out_b = held_f32(&held[1], "out_proj bias")?;
        let (alpha, beta) = (held_f32(&held[2], "norm2 weight")?, held_f32(&held[3], "norm2 bias")?);
        let (fc1_w, fc1_b) = (held_f32(&held[4], "fc1 weight")?, held_f32(&held[5], "fc1 bias")?);
        let (fc2_w, fc2_b) = (held_f32(&held[6], "fc2 weight")?, held_f32(&held[7], "fc2 bias")?);
        let prm = match &*held[8].0 {
            candle_core::Storage::Cpu(s) => params(s, held[8].1)?,
            _ => candle_core::bail!("block tail: short-conv params must be on the CPU"),
        };
        let inner = fc1_b.len();
        let shapes_ok = out_w.len() == d * d && out_b.len() == d && alpha.len() == d && beta.len() == d
            && fc1_w.len() == inner * d && fc2_w.len() == d * inner && fc2_b.len() == d && prm.c3 == c3;
        if !shapes_ok || inner == 0 {
            candle_core::bail!("block tail: weights do not fit d_model {d}");
        }
        let tt = tile_rows(inner);
        let mut out = output(b * len * d);
        let scratch = || (vec![0f32; tt * d], vec![0f32; tt * d], vec![0f32; tt * inner], vec![0f32; d]);
        par_rows(&mut out, tt * d, crate::threads::kernel_threads(), scratch, |item, chunk, (z, u, h, x0)| {
            let (g0, n) = (item * tt, chunk.len() / d);
            let (z, u, h) = (&mut z[..n * d], &mut u[..n * d], &mut h[..n * inner]);
            // Every loop runs in code compiled for the CPU's best vector width (the closure
            // itself is too large to be inlined into pulp's dispatch).
            vectorized(|| gate_rows(z, x0, y, p, &prm, g0, d, len));
            // a = r + out_b + z · out_wᵀ, in the output rows.
            vectorized(|| add_rows(chunk, &r[g0 * d..(g0 + n) * d], out_b));
            gemm_xwt(z, out_w, d, d, chunk, true, 1);
            // u = norm2(a); h = gelu(u · fc1ᵀ + fc1_b); out = a + fc2_b + h · fc2ᵀ.
            vectorized(|| norm_rows(chunk, u, alpha, beta, eps));
            gemm_xwt(u, fc1_w, inner, d, h, false, 1);
            vectorized(|| h.chunks_exact_mut(inner).for_each(|row| bias_gelu_row(row, fc1_b)));
            vectorized(|| chunk.chunks_exact_mut(d).for_each(|row| row.iter_mut().zip(fc2_b).for_each(|(o, &bb)| *o += bb)));
            gemm_xwt(h, fc2_w, d, inner, chunk, true, 1);
        });
        Ok((CpuStorage::F32(out), Shape::from((b, len, d))))
    }
}

/// `z = x0 ⊙ y` for the `z.len() / d` rows from global row `g0` (row `g` is position
/// `g % len` of sequence `g / len`): `y` is transposed (channels first → rows) one run of
/// positions of one sequence at a time, and `x0` is the short convolution of `p`'s first
/// `d` channels.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn gate_rows(z: &mut [f32], x0: &mut [f32], y: &[f32], p: &[f32], prm: &Params, g0: usize, d: usize, len: usize) {
    let n = z.len() / d;
    let c3 = prm.c3;
    let mut g = g0;
    while g < g0 + n {
        let (bi, t0) = (g / len, g % len);
        let run = (len - t0).min(g0 + n - g);
        let off = g - g0;
        let yb = &y[bi * d * len..(bi + 1) * d * len];
        for (c, src) in yb.chunks_exact(len).enumerate() {
            for (j, &v) in src[t0..t0 + run].iter().enumerate() {
                z[(off + j) * d + c] = v;
            }
        }
        let seq = &p[bi * len * c3..(bi + 1) * len * c3];
        for j in 0..run {
            prm.row(seq, t0 + j, 0, x0);
            for (o, &gate) in z[(off + j) * d..(off + j + 1) * d].iter_mut().zip(x0.iter()) {
                *o *= gate;
            }
        }
        g += run;
    }
}

/// `dst = src + bias`, row by row (`bias` as wide as a row).
#[inline(always)]
fn add_rows(dst: &mut [f32], src: &[f32], bias: &[f32]) {
    for (row, src) in dst.chunks_exact_mut(bias.len()).zip(src.chunks_exact(bias.len())) {
        row.iter_mut().zip(src).zip(bias).for_each(|((o, &v), &bb)| *o = v + bb);
    }
}

/// `dst = layer_norm(src)`, row by row.
#[inline(always)]
fn norm_rows(src: &[f32], dst: &mut [f32], alpha: &[f32], beta: &[f32], eps: f32) {
    let d = alpha.len();
    for (s, o) in src.chunks_exact(d).zip(dst.chunks_exact_mut(d)) {
        layer_norm_row(s, alpha, beta, eps, o);
    }
}
