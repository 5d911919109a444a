//! Fused CPU ops with hand-written backward passes for the training path: bias add,
//! LayerNorm and the causal short convolution. Built from plain candle ops, each of these
//! broadcasts a `[C]` parameter over `[B, L, C]` activations, and candle's backward pass
//! reduces such broadcasts over the leading dimensions with a per-element index
//! computation on one thread, which was about a sixth of a training step. Here the
//! parameter gradients are column sums over rows on all of candle's threads, and the
//! forward passes are one pass each. Other devices and dtypes fall back to the plain ops.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, DType, Layout, Result, Shape, Tensor};

use super::fused::f32_slice;

/// Whether the fused ops apply: every tensor f32 on the CPU.
pub fn is_cpu_f32(ts: &[&Tensor]) -> bool {
    ts.iter().all(|t| t.dtype() == DType::F32 && t.device().is_cpu())
}

/// Runs `f(first_row, row_count, out_rows, partial)` over chunks of `rows` rows on
/// candle's threads, handing each chunk its rows of `out` (`width` values per row; `out`
/// may be empty with `width` 0 when nothing is written per row). Each chunk's `partial`
/// (`sums` long) starts at zero, and their sum is returned: the column sums that
/// parameter gradients need.
fn rows_and_sums(
    out: &mut [f32],
    rows: usize,
    width: usize,
    sums: usize,
    f: impl Fn(usize, usize, &mut [f32], &mut [f32]) + Sync,
) -> Vec<f32> {
    // Below ~32 k values (rows of output, or rows read when nothing is written) a thread
    // costs more than it saves.
    let work = rows * width.max(1);
    let threads = candle_core::utils::get_num_threads().clamp(1, (work / 32_768).max(1));
    let per = rows.div_ceil(threads).max(1);
    let partials: Vec<Vec<f32>> = if threads == 1 {
        let mut p = vec![0f32; sums];
        f(0, rows, out, &mut p);
        vec![p]
    } else {
        std::thread::scope(|scope| {
            let mut rest = out;
            let handles: Vec<_> = (0..rows.div_ceil(per))
                .map(|i| {
                    let first = i * per;
                    let count = per.min(rows - first);
                    let at = (count * width).min(rest.len());
                    let (chunk, tail) = std::mem::take(&mut rest).split_at_mut(at);
                    rest = tail;
                    let f = &f;
                    scope.spawn(move || {
                        let mut p = vec![0f32; sums];
                        f(first, count, chunk, &mut p);
                        p
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
        })
    };
    let mut total = vec![0f32; sums];
    for p in partials {
        total.iter_mut().zip(p).for_each(|(t, v)| *t += v);
    }
    total
}

/// `x + bias` over the last dimension (`x: [..., C]`, `bias: [C]`); the bias gradient is
/// the column sum of the output gradient.
pub fn add_bias(x: &Tensor, bias: &Tensor) -> Result<Tensor> {
    if !is_cpu_f32(&[x, bias]) {
        return x.broadcast_add(bias);
    }
    x.contiguous()?.apply_op2(bias, AddBias)
}

/// A linear layer `x·Wᵀ + b` over the last dimension, with the bias through [`add_bias`]
/// and the product as one 2-D matmul (whose backward is two plain matmuls).
pub fn linear(layer: &candle_nn::Linear, x: &Tensor) -> Result<Tensor> {
    let dims = x.dims().to_vec();
    let k = dims.last().copied().unwrap_or(0);
    let rows = x.elem_count() / k.max(1);
    let y = x.contiguous()?.reshape((rows, k))?.matmul(&layer.weight().t()?)?;
    let y = match layer.bias() {
        Some(b) => add_bias(&y, b)?,
        None => y,
    };
    let mut out = dims;
    if let Some(last) = out.last_mut() {
        *last = y.dim(1)?;
    }
    y.reshape(out)
}

struct AddBias;

impl CustomOp2 for AddBias {
    fn name(&self) -> &'static str {
        "train_add_bias"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (x, b) = (f32_slice(s1, l1, "add_bias x")?, f32_slice(s2, l2, "add_bias bias")?);
        if b.is_empty() || x.len() % b.len() != 0 {
            candle_core::bail!("add_bias: bias of {} does not divide {:?}", b.len(), l1.shape());
        }
        let mut out = x.to_vec();
        rows_and_sums(&mut out, x.len() / b.len(), b.len(), 0, |_, _, rows, _| {
            for row in rows.chunks_mut(b.len()) {
                row.iter_mut().zip(b).for_each(|(o, &v)| *o += v);
            }
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(&self, _x: &Tensor, bias: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let sums = grad.contiguous()?.apply_op1_no_bwd(&ColumnSums(bias.elem_count()))?;
        Ok((Some(grad.clone()), Some(sums)))
    }
}

/// Column sums of a contiguous `[..., C]` tensor, as `[C]`.
struct ColumnSums(usize);

impl CustomOp1 for ColumnSums {
    fn name(&self) -> &'static str {
        "train_column_sums"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = f32_slice(s, l, "column sums")?;
        let c = self.0;
        if c == 0 || g.len() % c != 0 {
            candle_core::bail!("column sums: {c} columns do not divide {:?}", l.shape());
        }
        // Nothing is written per row: the chunks are of an empty output.
        let sums = rows_and_sums(&mut [], g.len() / c, 0, c, |first, rows, _, acc| {
            for r in first..first + rows {
                acc.iter_mut().zip(&g[r * c..(r + 1) * c]).for_each(|(a, &v)| *a += v);
            }
        });
        Ok((CpuStorage::F32(sums), Shape::from(c)))
    }
}

/// LayerNorm over the last dimension, `(x − μ)/√(σ² + eps) · weight + bias`, the same
/// function as `candle_nn::ops::layer_norm_slow`, with the analytic backward pass.
pub fn layer_norm(x: &Tensor, weight: &Tensor, bias: &Tensor, eps: f32) -> Result<Tensor> {
    if !is_cpu_f32(&[x, weight, bias]) {
        return candle_nn::ops::layer_norm_slow(x, weight, bias, eps);
    }
    x.contiguous()?.apply_op3(weight, bias, LayerNorm { eps })
}

struct LayerNorm {
    eps: f32,
}

/// Mean and `√(σ² + eps)` of one row.
#[inline]
fn moments(row: &[f32], eps: f32) -> (f32, f32) {
    let n = row.len() as f32;
    let mean = row.iter().sum::<f32>() / n;
    let var = row.iter().map(|&v| (v - mean) * (v - mean)).sum::<f32>() / n;
    (mean, (var + eps).sqrt())
}

impl CustomOp3 for LayerNorm {
    fn name(&self) -> &'static str {
        "train_layer_norm"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout, s3: &CpuStorage, l3: &Layout) -> Result<(CpuStorage, Shape)> {
        let (x, w, b) = (f32_slice(s1, l1, "layer_norm x")?, f32_slice(s2, l2, "layer_norm weight")?, f32_slice(s3, l3, "layer_norm bias")?);
        let c = w.len();
        if c == 0 || b.len() != c || x.len() % c != 0 {
            candle_core::bail!("layer_norm: weight {} and bias {} do not fit {:?}", c, b.len(), l1.shape());
        }
        let mut out = vec![0f32; x.len()];
        rows_and_sums(&mut out, x.len() / c, c, 0, |first, _, rows, _| {
            for (i, o) in rows.chunks_mut(c).enumerate() {
                let row = &x[(first + i) * c..(first + i + 1) * c];
                let (mean, sd) = moments(row, self.eps);
                for k in 0..c {
                    o[k] = (row[k] - mean) / sd * w[k] + b[k];
                }
            }
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, w: &Tensor, _b: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let c = w.elem_count();
        let rows = x.elem_count() / c.max(1);
        // One pass: rows 0..N the input gradient, row N the weight's, row N+1 the bias's.
        let all = x.contiguous()?.apply_op3_no_bwd(w, &grad.contiguous()?, &LayerNormGrad { eps: self.eps })?;
        let gx = all.narrow(0, 0, rows)?.reshape(x.shape())?;
        Ok((Some(gx), Some(all.get(rows)?), Some(all.get(rows + 1)?)))
    }
}

/// `[N + 2, C]`: `∂/∂x`, then `∂/∂weight` and `∂/∂bias` of LayerNorm, from `x`, `weight`
/// and the output gradient.
struct LayerNormGrad {
    eps: f32,
}

impl CustomOp3 for LayerNormGrad {
    fn name(&self) -> &'static str {
        "train_layer_norm_grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout, s3: &CpuStorage, l3: &Layout) -> Result<(CpuStorage, Shape)> {
        let (x, w, g) = (f32_slice(s1, l1, "layer_norm grad x")?, f32_slice(s2, l2, "layer_norm grad weight")?, f32_slice(s3, l3, "layer_norm grad")?);
        let c = w.len();
        if c == 0 || x.len() != g.len() || x.len() % c != 0 {
            candle_core::bail!("layer_norm grad: shapes do not fit ({} / {} / {c})", x.len(), g.len());
        }
        let rows = x.len() / c;
        let mut out = vec![0f32; (rows + 2) * c];
        let (gx, params) = out.split_at_mut(rows * c);
        let sums = rows_and_sums(gx, rows, c, 2 * c, |first, _, chunk, acc| {
            let mut xhat = vec![0f32; c];
            let mut gw = vec![0f32; c];
            for (i, o) in chunk.chunks_mut(c).enumerate() {
                let r = first + i;
                let (xr, gr) = (&x[r * c..(r + 1) * c], &g[r * c..(r + 1) * c]);
                let (mean, sd) = moments(xr, self.eps);
                let (mut m1, mut m2) = (0f32, 0f32);
                for k in 0..c {
                    xhat[k] = (xr[k] - mean) / sd;
                    gw[k] = gr[k] * w[k];
                    m1 += gw[k];
                    m2 += gw[k] * xhat[k];
                    acc[k] += gr[k] * xhat[k];
                    acc[c + k] += gr[k];
                }
                let (m1, m2) = (m1 / c as f32, m2 / c as f32);
                for k in 0..c {
                    o[k] = (gw[k] - m1 - xhat[k] * m2) / sd;
                }
            }
        });
        params.copy_from_slice(&sums);
        Ok((CpuStorage::F32(out), Shape::from((rows + 2, c))))
    }
}

/// Causal depthwise convolution on channels-last `p: [B, L, C]` with `taps: [K, C]` (tap
/// `K−1` multiplies the current step) and `bias: [C]`:
/// `s[t] = p[t]·w[K−1] + bias + Σ_{j<K−1} p[t − (K−1) + j]·w[j]` (zero before the start),
/// summed in that order. CPU f32 only (see [`is_cpu_f32`]).
pub fn short_conv(p: &Tensor, taps: &Tensor, bias: &Tensor) -> Result<Tensor> {
    p.contiguous()?.apply_op3(&taps.contiguous()?, bias, ShortConv)
}


struct ShortConv;

/// `(batch, length, channels, taps)` of a short-conv call, checked.
fn conv_dims(p: &Layout, taps: &Layout, bias_len: usize) -> Result<(usize, usize, usize, usize)> {
    let (b, l, c) = p.shape().dims3()?;
    let (k, c2) = taps.shape().dims2()?;
    if c2 != c || bias_len != c || k == 0 {
        candle_core::bail!("short_conv: taps {:?} and bias {bias_len} do not fit {:?}", taps.shape(), p.shape());
    }
    Ok((b, l, c, k))
}

impl CustomOp3 for ShortConv {
    fn name(&self) -> &'static str {
        "train_short_conv"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout, s3: &CpuStorage, l3: &Layout) -> Result<(CpuStorage, Shape)> {
        let (p, w, bias) = (f32_slice(s1, l1, "short_conv input")?, f32_slice(s2, l2, "short_conv taps")?, f32_slice(s3, l3, "short_conv bias")?);
        let (_, l, c, k) = conv_dims(l1, l2, bias.len())?;
        let mut out = vec![0f32; p.len()];
        rows_and_sums(&mut out, p.len() / c, c, 0, |first, _, rows, _| {
            for (i, o) in rows.chunks_mut(c).enumerate() {
                let r = first + i;
                let t = r % l;
                let cur = &p[r * c..(r + 1) * c];
                let last = &w[(k - 1) * c..k * c];
                for ch in 0..c {
                    o[ch] = cur[ch] * last[ch] + bias[ch];
                }
                for j in 0..k - 1 {
                    let back = k - 1 - j;
                    if t >= back {
                        let src = &p[(r - back) * c..(r - back + 1) * c];
                        let tap = &w[j * c..(j + 1) * c];
                        for ch in 0..c {
                            o[ch] += src[ch] * tap[ch];
                        }
                    }
                }
            }
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(&self, p: &Tensor, taps: &Tensor, _bias: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (b, l, c) = p.dims3()?;
        let k = taps.dim(0)?;
        let all = p.contiguous()?.apply_op3_no_bwd(&taps.contiguous()?, &grad.contiguous()?, &ShortConvGrad)?;
        let gp = all.narrow(0, 0, b * l)?.reshape((b, l, c))?;
        let gw = all.narrow(0, b * l, k)?;
        let gb = all.get(b * l + k)?;
        Ok((Some(gp), Some(gw), Some(gb)))
    }
}

/// `[B·L + K + 1, C]`: `∂/∂p`, then `∂/∂taps` (K rows) and `∂/∂bias` of the short
/// convolution, from `p`, the taps and the output gradient.
struct ShortConvGrad;

impl CustomOp3 for ShortConvGrad {
    fn name(&self) -> &'static str {
        "train_short_conv_grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout, s3: &CpuStorage, l3: &Layout) -> Result<(CpuStorage, Shape)> {
        let (p, w, g) = (f32_slice(s1, l1, "short_conv grad input")?, f32_slice(s2, l2, "short_conv grad taps")?, f32_slice(s3, l3, "short_conv grad")?);
        let (c, k) = (l1.shape().dims3()?.2, l2.shape().dims2()?.0);
        let (_, l, _, _) = conv_dims(l1, l2, c)?;
        if g.len() != p.len() {
            candle_core::bail!("short_conv grad: gradient of {} for an input of {}", g.len(), p.len());
        }
        let rows = p.len() / c;
        let mut out = vec![0f32; (rows + k + 1) * c];
        let (gp, params) = out.split_at_mut(rows * c);
        let sums = rows_and_sums(gp, rows, c, (k + 1) * c, |first, _, chunk, acc| {
            for (i, o) in chunk.chunks_mut(c).enumerate() {
                let r = first + i;
                let t = r % l;
                let gr = &g[r * c..(r + 1) * c];
                // Output t reads p[t − (K−1) + j] through tap j.
                for j in 0..k {
                    let back = k - 1 - j;
                    if t >= back {
                        let src = &p[(r - back) * c..(r - back + 1) * c];
                        let a = &mut acc[j * c..(j + 1) * c];
                        for ch in 0..c {
                            a[ch] += gr[ch] * src[ch];
                        }
                    }
                }
                acc[k * c..].iter_mut().zip(gr).for_each(|(a, &v)| *a += v);
                // Input t feeds output t + (K−1) − j through tap j.
                o.fill(0.0);
                for j in 0..k {
                    let ahead = k - 1 - j;
                    if t + ahead < l {
                        let gsrc = &g[(r + ahead) * c..(r + ahead + 1) * c];
                        let tap = &w[j * c..(j + 1) * c];
                        for ch in 0..c {
                            o[ch] += gsrc[ch] * tap[ch];
                        }
                    }
                }
            }
        });
        params.copy_from_slice(&sums);
        Ok((CpuStorage::F32(out), Shape::from((rows + k + 1, c))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn var(shape: &[usize], seed: u64) -> Var {
        let n: usize = shape.iter().product();
        let vals: Vec<f32> = (0..n).map(|i| (((i as u64 * 2654435761 + seed * 97) % 1000) as f32 / 500.0) - 1.0).collect();
        Var::from_vec(vals, shape, &Device::Cpu).unwrap()
    }

    /// Largest difference relative to `1 + max |b|`.
    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        let abs_max = |t: &Tensor| -> f32 { t.abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar().unwrap() };
        abs_max(&(a - b).unwrap()) / (1.0 + abs_max(b))
    }

    /// Values and gradients (w.r.t. every input) of `fused` and `plain` under a fixed
    /// random projection of the output agree.
    fn check(vars: &[Var], fused: impl Fn(&[Tensor]) -> Tensor, plain: impl Fn(&[Tensor]) -> Tensor, tol: f32) {
        let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
        let (a, b) = (fused(&ts), plain(&ts));
        assert!(max_diff(&a, &b) < tol, "values differ by {}", max_diff(&a, &b));
        let proj = var(a.dims(), 7).as_tensor().detach();
        let ga = (&a * &proj).unwrap().sum_all().unwrap().backward().unwrap();
        let gb = (&b * &proj).unwrap().sum_all().unwrap().backward().unwrap();
        for (i, v) in vars.iter().enumerate() {
            let d = max_diff(ga.get(v).unwrap(), gb.get(v).unwrap());
            assert!(d < tol, "gradient of input {i} differs by {d}");
        }
    }

    #[test]
    fn add_bias_and_linear_match_candle() {
        // 2·64·160 rows of 8: large enough for the threaded path.
        let (x, b) = (var(&[2, 4160, 8], 1), var(&[8], 2));
        check(&[x.clone(), b.clone()], |t| add_bias(&t[0], &t[1]).unwrap(), |t| t[0].broadcast_add(&t[1]).unwrap(), 1e-4);
        let w = var(&[5, 8], 3);
        let layer = candle_nn::Linear::new(w.as_tensor().clone(), Some(var(&[5], 4).as_tensor().clone()));
        let plain = candle_nn::Module::forward(&layer, x.as_tensor()).unwrap();
        assert!(max_diff(&linear(&layer, x.as_tensor()).unwrap(), &plain) < 1e-5);
    }

    #[test]
    fn layer_norm_matches_the_plain_formula_and_its_autograd() {
        let (x, w, b) = (var(&[3, 2000, 24], 4), var(&[24], 5), var(&[24], 6));
        check(
            &[x, w, b],
            |t| layer_norm(&t[0], &t[1], &t[2], 1e-5).unwrap(),
            |t| candle_nn::ops::layer_norm_slow(&t[0], &t[1], &t[2], 1e-5).unwrap(),
            2e-3,
        );
    }

    #[test]
    fn short_conv_matches_the_plain_formula_and_its_autograd() {
        let (p, taps, bias) = (var(&[2, 3000, 12], 8), var(&[3, 12], 9), var(&[12], 10));
        check(
            &[p, taps, bias],
            |t| short_conv(&t[0], &t[1], &t[2]).unwrap(),
            |t| {
                let (p, w, bias) = (&t[0], &t[1], &t[2]);
                let (_, len, _) = p.dims3().unwrap();
                let padded = p.pad_with_zeros(1, 2, 0).unwrap();
                let mut s = p.broadcast_mul(&w.get(2).unwrap()).unwrap().broadcast_add(bias).unwrap();
                for j in 0..2 {
                    s = (s + padded.narrow(1, j, len).unwrap().broadcast_mul(&w.get(j).unwrap()).unwrap()).unwrap();
                }
                s
            },
            5e-3,
        );
        // Wrong shapes are an error, not a panic.
        let bad = short_conv(&Tensor::zeros((1, 4, 3), DType::F32, &Device::Cpu).unwrap(), &Tensor::zeros((2, 5), DType::F32, &Device::Cpu).unwrap(), &Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap());
        assert!(bad.is_err());
    }
}
