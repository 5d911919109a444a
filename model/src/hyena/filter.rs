//! The implicit long filter (`HyenaFilter`): positional features → Sin-activated FFN →
//! exponential modulation, cached per input length for inference.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use candle_core::{D, Tensor};
use candle_nn::{Linear, Module, VarBuilder, linear, linear_no_bias};

use crate::Config;
use crate::long_conv::{fold_skip, kernels::SpectrumCache};

/// How many input lengths each layer keeps a ready filter for.
const CACHED_LENGTHS: usize = 16;

/// A filter ready for the long convolution at one input length `L`.
#[derive(Debug)]
pub struct CachedFilter {
    /// `k[:, :L]` with the skip term `Dbias` folded into tap 0, `[D, L]`, contiguous.
    pub k: Tensor,
    /// Spectra of `k` at the FFT size for `L`, filled by the first FFT call.
    pub spectra: Arc<SpectrumCache>,
}

/// `mixer.filter_fn`: the implicit filter and the skip term `bias` (`D`) of one layer.
#[derive(Debug)]
pub struct HyenaFilter {
    z: Tensor,
    t: Tensor,
    hidden: Vec<Linear>,
    out: Linear,
    freq: Tensor,
    deltas: Tensor,
    bias: Tensor,
    shift: f64,
    full: OnceLock<Tensor>,
    by_len: Mutex<HashMap<usize, Arc<CachedFilter>>>,
}

impl HyenaFilter {
    /// Reads `filter_fn.*` (`vb` at `...mixer.filter_fn`). The shared Sin `freq` is read from
    /// `implicit_filter.1.freq`, which every state dict has (`.3`/`.5` are the same tensor and
    /// are absent from de-duplicated safetensors).
    pub fn new(cfg: &Config, vb: VarBuilder) -> candle_core::Result<Self> {
        let (d, e, f, l_max) = (cfg.d_model, cfg.emb_dim, cfg.filter_order, cfg.max_seq_len);
        let mlp = vb.pp("implicit_filter");
        let mut hidden = vec![linear(e, f, mlp.pp("0"))?];
        for i in 0..cfg.num_inner_mlps {
            hidden.push(linear(f, f, mlp.pp(2 * (i + 1)))?);
        }
        let out = linear_no_bias(f, d, mlp.pp(2 * (cfg.num_inner_mlps + 1)))?;
        Ok(Self {
            z: vb.get((1, l_max, e), "pos_emb.z")?,
            t: vb.get((1, l_max, 1), "pos_emb.t")?,
            hidden,
            out,
            freq: mlp.get((1, f), "1.freq")?,
            deltas: vb.get((1, 1, d), "modulation.deltas")?,
            bias: vb.get(d, "bias")?,
            shift: cfg.modulation_shift,
            full: OnceLock::new(),
            by_len: Mutex::new(HashMap::new()),
        })
    }

    /// Positional features `z`, `[1, l_max, E]` (the stored buffer).
    pub fn z(&self) -> &Tensor {
        &self.z
    }

    /// Normalised time `t`, `[1, l_max, 1]` (the stored buffer).
    pub fn t(&self) -> &Tensor {
        &self.t
    }

    /// The skip term `Dbias`, `[D]`.
    pub fn bias(&self) -> &Tensor {
        &self.bias
    }

    /// Filter-MLP output before modulation, `[1, l_max, D]`.
    pub fn h_premod(&self) -> candle_core::Result<Tensor> {
        let mut h = self.z.clone();
        for layer in &self.hidden {
            h = layer.forward(&h)?.broadcast_mul(&self.freq)?.sin()?;
        }
        self.out.forward(&h)
    }

    /// The modulated filter `k = h · (exp(−t·|deltas|) + shift)` on the whole grid,
    /// `[1, l_max, D]` (the reference's `filter_fn.filter(l_max)`); differentiable.
    pub fn filter(&self) -> candle_core::Result<Tensor> {
        let decay = (self.t.broadcast_mul(&self.deltas.abs()?)?.neg()?.exp()? + self.shift)?;
        self.h_premod()?.broadcast_mul(&decay)
    }

    /// `[D, L]` filter for an input of length `len` with the skip term folded into tap 0;
    /// recomputed on every call (for training through autograd).
    pub fn conv_filter(&self, len: usize) -> candle_core::Result<Tensor> {
        let k = self.filter()?.squeeze(0)?.narrow(0, 0, len)?.t()?;
        fold_skip(&k, &self.bias)?.contiguous()
    }

    /// The cached `[D, L]` conv filter for length `len` (inference: the weights never change).
    pub fn cached(&self, len: usize) -> candle_core::Result<Arc<CachedFilter>> {
        let mut map = self.by_len.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(hit) = map.get(&len) {
            return Ok(hit.clone());
        }
        let full = match self.full.get() {
            Some(full) => full.clone(),
            None => {
                let k = self.filter()?.squeeze(0)?.t()?;
                let full = fold_skip(&k, &self.bias)?.detach().contiguous()?;
                self.full.get_or_init(|| full).clone()
            }
        };
        let entry = Arc::new(CachedFilter {
            k: full.narrow(D::Minus1, 0, len)?.contiguous()?,
            spectra: Arc::new(SpectrumCache::default()),
        });
        if map.len() >= CACHED_LENGTHS {
            map.clear();
        }
        map.insert(len, entry.clone());
        Ok(entry)
    }
}
