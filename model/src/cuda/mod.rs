//! The HyenaDNA forward pass on a CUDA GPU (cargo feature `cuda`), written on cudarc.
//!
//! Route (see `docs/cuda.md`): cudarc with dynamic loading, so `cargo build --features
//! cuda` needs no CUDA toolkit and the binary starts on machines without one; at run time
//! it loads the driver (`libcuda`), NVRTC (which compiles [`KERNELS`] once per process),
//! cuBLAS (the matmuls) and cuFFT (the long convolution). candle's own CUDA backend is not
//! used: it needs nvcc at build time and links a fixed CUDA version.
//!
//! The pass mirrors the CPU fused path step for step: embedding, per layer LayerNorm →
//! `in_proj` (cuBLAS) → short conv and gating into channels-first rows zero padded to the
//! FFT size → real FFT (cuFFT, batched over batch × channels) → product with the cached
//! filter spectra (the filter comes from the CPU model's per-length cache, with the skip
//! term folded into tap 0, and is transformed once per length) → inverse FFT → gate with
//! `x0` → `out_proj` accumulated into the residual → LayerNorm → MLP (cuBLAS, fused bias
//! and tanh GELU) accumulated into the residual; then `ln_f`.
//!
//! Precision: [`CudaPrecision::F32`] runs every matmul in full f32 (no TF32);
//! [`CudaPrecision::Bf16`] stores the matmul weights in bf16 and feeds bf16 copies of the
//! activations to cuBLAS with f32 accumulation and f32 outputs; norms, gating and the FFT stay
//! f32 (the HF port also runs the FFT in f32 for bf16 models).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use candle_core::{DType, Tensor};
use cudarc::cublas::{CudaBlas, sys as blas_sys};
use cudarc::cufft::{CudaFft, sys as fft_sys};
use cudarc::driver::sys::CUdeviceptr;
use cudarc::driver::{
    CudaContext, CudaFunction, CudaModule, CudaSlice, CudaStream, DevicePtr, DevicePtrMut, LaunchConfig, PushKernelArg,
};

use crate::long_conv::kernels::fft_size;
use crate::{HyenaDna, ModelError};

/// The kernels' CUDA C source, compiled by NVRTC at run time.
pub const KERNELS: &str = include_str!("kernels.cu");

/// Names of the kernels in [`KERNELS`].
const KERNEL_NAMES: [&str; 9] =
    ["embed", "layer_norm", "gate_in", "spectral_mul", "gate_out", "add_bias", "bias_gelu", "to_bf16", "mean_pool"];

/// Matmul precision of the CUDA path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CudaPrecision {
    /// f32 everywhere.
    F32,
    /// bf16 matmul inputs (weights and activations), f32 accumulation and everything else f32.
    Bf16,
}

fn cuda_err(what: &str, e: impl std::fmt::Debug) -> ModelError {
    ModelError::Cuda(format!("{what}: {e:?}"))
}

fn candle_err(e: candle_core::Error) -> ModelError {
    ModelError::Cuda(format!("preparing weights: {e}"))
}

/// Compiles [`KERNELS`] to PTX with NVRTC (needs `libnvrtc` at run time, no GPU).
pub fn compile_kernels() -> Result<cudarc::nvrtc::Ptx, ModelError> {
    static PTX: OnceLock<Result<cudarc::nvrtc::Ptx, String>> = OnceLock::new();
    PTX.get_or_init(|| {
        std::panic::catch_unwind(|| cudarc::nvrtc::compile_ptx(KERNELS).map_err(|e| format!("{e:?}")))
            .unwrap_or_else(|_| Err("libnvrtc could not be loaded".to_string()))
    })
    .clone()
    .map_err(|e| ModelError::Cuda(format!("compiling the HyenaDNA kernels with NVRTC: {e}")))
}

/// Opens GPU `ordinal`; an error (never a panic) when there is no driver or device.
pub fn open_device(ordinal: usize) -> Result<Arc<CudaContext>, ModelError> {
    std::panic::catch_unwind(|| CudaContext::new(ordinal))
        .map_err(|_| ModelError::Cuda("the CUDA driver (libcuda) could not be loaded".into()))?
        .map_err(|e| cuda_err(&format!("opening CUDA device {ordinal}"), e))
}

/// A matmul weight `[out, in]` (row-major) in the chosen precision.
enum Weight {
    F32(CudaSlice<f32>),
    Bf16(CudaSlice<u16>),
}

struct LinearW {
    w: Weight,
    bias: Option<CudaSlice<f32>>,
    out: usize,
    inp: usize,
}

struct Layer {
    norm1: (CudaSlice<f32>, CudaSlice<f32>),
    in_proj: LinearW,
    params: CudaSlice<f32>,
    short_k: usize,
    out_proj: LinearW,
    norm2: (CudaSlice<f32>, CudaSlice<f32>),
    fc1: LinearW,
    fc2: LinearW,
}

/// Per-length state: filter spectra per layer and the FFT plans for a batch size.
struct LenState {
    n: usize,
    spectra: Vec<CudaSlice<fft_sys::float2>>,
    plans: HashMap<usize, (CudaFft, CudaFft)>,
}

struct Kernels {
    _module: Arc<CudaModule>,
    funcs: HashMap<&'static str, CudaFunction>,
}

impl Kernels {
    fn get(&self, name: &str) -> &CudaFunction {
        &self.funcs[name]
    }
}

/// HyenaDNA on one GPU: the weights uploaded once, the CPU model kept for its filters.
pub struct CudaHyena {
    cpu: HyenaDna,
    precision: CudaPrecision,
    stream: Arc<CudaStream>,
    blas: CudaBlas,
    kernels: Kernels,
    embeddings: CudaSlice<f32>,
    vocab_rows: usize,
    layers: Vec<Layer>,
    ln_f: (CudaSlice<f32>, CudaSlice<f32>),
    by_len: Mutex<HashMap<usize, LenState>>,
}

fn host_f32(t: &Tensor) -> Result<Vec<f32>, ModelError> {
    t.to_dtype(DType::F32).and_then(|t| t.flatten_all()).and_then(|t| t.to_vec1::<f32>()).map_err(candle_err)
}

/// bf16 bit patterns of `v`, rounded to nearest even (as the `to_bf16` kernel does).
fn bf16_bits(v: &[f32]) -> Vec<u16> {
    v.iter()
        .map(|&x| {
            let u = x.to_bits();
            if u & 0x7fff_ffff > 0x7f80_0000 {
                0x7fc0
            } else {
                ((u + 0x7fff + ((u >> 16) & 1)) >> 16) as u16
            }
        })
        .collect()
}

/// One thread per element, 256 threads a block.
fn grid(total: usize) -> LaunchConfig {
    LaunchConfig { grid_dim: ((total as u64).div_ceil(256).max(1) as u32, 1, 1), block_dim: (256, 1, 1), shared_mem_bytes: 0 }
}

/// Launches kernel `$name` with `$cfg` and the arguments (references to live values).
macro_rules! launch {
    ($self:expr, $name:literal, $cfg:expr; $($arg:expr),* $(,)?) => {{
        let mut b = $self.stream.launch_builder($self.kernels.get($name));
        $( b.arg($arg); )*
        // SAFETY: every kernel bounds-checks its flat index against the sizes passed with
        // it, and the buffers passed are allocated with those sizes by the caller.
        unsafe { b.launch($cfg) }.map(|_| ()).map_err(|e| cuda_err($name, e))
    }};
}

impl CudaHyena {
    /// Uploads `model` (loaded on the CPU in f32) to GPU `ordinal`.
    pub fn new(model: HyenaDna, ordinal: usize, precision: CudaPrecision) -> Result<Self, ModelError> {
        let ctx = open_device(ordinal)?;
        let stream = ctx.default_stream();
        let ptx = compile_kernels()?;
        let module = ctx.load_module(ptx).map_err(|e| cuda_err("loading the kernels", e))?;
        let mut funcs = HashMap::new();
        for name in KERNEL_NAMES.iter() {
            funcs.insert(*name, module.load_function(name).map_err(|e| cuda_err(name, e))?);
        }
        let kernels = Kernels { _module: module, funcs };
        let blas = CudaBlas::new(stream.clone()).map_err(|e| cuda_err("creating a cuBLAS handle", e))?;
        let up = |t: &Tensor| -> Result<CudaSlice<f32>, ModelError> {
            stream.clone_htod(&host_f32(t)?).map_err(|e| cuda_err("uploading weights", e))
        };
        let linear = |l: &candle_nn::Linear| -> Result<LinearW, ModelError> {
            let (out, inp) = l.weight().dims2().map_err(candle_err)?;
            let host = host_f32(l.weight())?;
            let w = match precision {
                CudaPrecision::F32 => Weight::F32(stream.clone_htod(&host).map_err(|e| cuda_err("uploading weights", e))?),
                CudaPrecision::Bf16 => {
                    Weight::Bf16(stream.clone_htod(&bf16_bits(&host)).map_err(|e| cuda_err("uploading weights", e))?)
                }
            };
            let bias = l.bias().map(&up).transpose()?;
            Ok(LinearW { w, bias, out, inp })
        };
        let norm = |n: &candle_nn::LayerNorm| -> Result<(CudaSlice<f32>, CudaSlice<f32>), ModelError> {
            let b = n.bias().ok_or_else(|| ModelError::Cuda("LayerNorm without bias".into()))?;
            Ok((up(n.weight())?, up(b)?))
        };
        let mut layers = Vec::with_capacity(model.layers.len());
        for block in &model.layers {
            let mixer = &block.mixer;
            let (rows, _) = mixer.fused_params.dims2().map_err(candle_err)?;
            layers.push(Layer {
                norm1: norm(&block.norm1)?,
                in_proj: linear(&mixer.in_proj)?,
                params: up(&mixer.fused_params)?,
                short_k: rows - 2,
                out_proj: linear(&mixer.out_proj)?,
                norm2: norm(&block.norm2)?,
                fc1: linear(&block.mlp.fc1)?,
                fc2: linear(&block.mlp.fc2)?,
            });
        }
        let table = model.embeddings.embeddings();
        let vocab_rows = table.dims2().map_err(candle_err)?.0;
        Ok(Self {
            embeddings: up(table)?,
            vocab_rows,
            ln_f: norm(&model.ln_f)?,
            layers,
            cpu: model,
            precision,
            stream,
            blas,
            kernels,
            by_len: Mutex::new(HashMap::new()),
        })
    }

    /// The matmul precision.
    pub fn precision(&self) -> CudaPrecision {
        self.precision
    }

    /// The model's config.
    pub fn config(&self) -> &crate::Config {
        self.cpu.config()
    }

    fn alloc(&self, n: usize) -> Result<CudaSlice<f32>, ModelError> {
        self.stream.alloc_zeros::<f32>(n).map_err(|e| cuda_err("allocating GPU memory", e))
    }

    /// `c[m, out] = beta·c + a[m, inp] · wᵀ` (row-major), f32 output.
    fn matmul(&self, a: &CudaSlice<f32>, m: usize, w: &LinearW, c: &mut CudaSlice<f32>, beta: f32) -> Result<(), ModelError> {
        match &w.w {
            Weight::F32(wd) => {
                let (ap, _ga) = a.device_ptr(&self.stream);
                let (wp, _gw) = wd.device_ptr(&self.stream);
                self.gemm(ap, wp, blas_sys::cudaDataType::CUDA_R_32F, m, w, c, beta)
            }
            Weight::Bf16(wd) => {
                let total = m * w.inp;
                let total_i = total as i64;
                let mut staged = self.stream.alloc_zeros::<u16>(total).map_err(|e| cuda_err("allocating GPU memory", e))?;
                launch!(self, "to_bf16", grid(total); a, &mut staged, &total_i)?;
                let (ap, _ga) = staged.device_ptr(&self.stream);
                let (wp, _gw) = wd.device_ptr(&self.stream);
                self.gemm(ap, wp, blas_sys::cudaDataType::CUDA_R_16BF, m, w, c, beta)
            }
        }
    }

    /// cuBLAS GemmEx on raw pointers of live slices, f32 output and f32 compute.
    #[allow(clippy::too_many_arguments)]
    fn gemm(&self, a: CUdeviceptr, wp: CUdeviceptr, ty: blas_sys::cudaDataType, m: usize, w: &LinearW, c: &mut CudaSlice<f32>, beta: f32) -> Result<(), ModelError> {
        let (n, k) = (w.out as i32, w.inp as i32);
        let alpha = 1.0f32;
        let (c_ptr, _gc) = c.device_ptr_mut(&self.stream);
        // Row-major C = A·Wᵀ is column-major Cᵀ = W·Aᵀ: W is a column-major [k, n] read
        // transposed, A a column-major [k, m].
        // SAFETY: the pointers come from live slices of at least m·k, n·k and m·n elements.
        unsafe {
            cudarc::cublas::result::gemm_ex(
                *self.blas.handle(),
                blas_sys::cublasOperation_t::CUBLAS_OP_T,
                blas_sys::cublasOperation_t::CUBLAS_OP_N,
                n,
                m as i32,
                k,
                (&alpha) as *const f32 as *const _,
                wp as *const _,
                ty,
                k,
                a as *const _,
                ty,
                k,
                (&beta) as *const f32 as *const _,
                c_ptr as *mut _,
                blas_sys::cudaDataType::CUDA_R_32F,
                n,
                blas_sys::cublasComputeType_t::CUBLAS_COMPUTE_32F,
                blas_sys::cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
            )
        }
        .map_err(|e| cuda_err("cuBLAS gemm", e))
    }

    fn layer_norm(&self, x: &CudaSlice<f32>, rows: usize, d: usize, wb: &(CudaSlice<f32>, CudaSlice<f32>), y: &mut CudaSlice<f32>) -> Result<(), ModelError> {
        let eps = self.cpu.config().layer_norm_epsilon as f32;
        let cfg = LaunchConfig { grid_dim: (rows as u32, 1, 1), block_dim: (128, 1, 1), shared_mem_bytes: 0 };
        let d = d as i32;
        launch!(self, "layer_norm", cfg; x, &wb.0, &wb.1, y, &d, &eps)
    }

    /// Builds (once per length) the FFT plans and filter spectra.
    fn len_state<'a>(&self, map: &'a mut HashMap<usize, LenState>, len: usize, batch: usize) -> Result<&'a mut LenState, ModelError> {
        let d = self.cpu.config().d_model;
        if !map.contains_key(&len) {
            let n = fft_size(len);
            let bins = n / 2 + 1;
            let r2c = self.plan(n, d, fft_sys::cufftType::CUFFT_R2C)?;
            let mut spectra = Vec::with_capacity(self.layers.len());
            for block in &self.cpu.layers {
                let k = block.mixer.filter_fn.cached(len).map_err(candle_err)?;
                let k = host_f32(&k.k)?;
                // Zero padded to n, with the inverse FFT's 1/n folded in.
                let mut padded = vec![0f32; d * n];
                for (row, src) in padded.chunks_exact_mut(n).zip(k.chunks_exact(len)) {
                    for (o, &v) in row.iter_mut().zip(src) {
                        *o = v / n as f32;
                    }
                }
                let host = self.stream.clone_htod(&padded).map_err(|e| cuda_err("uploading a filter", e))?;
                let mut spec = self
                    .stream
                    .alloc_zeros::<fft_sys::float2>(d * bins)
                    .map_err(|e| cuda_err("allocating GPU memory", e))?;
                r2c.exec_r2c(&host, &mut spec).map_err(|e| cuda_err("cuFFT R2C (filter)", e))?;
                spectra.push(spec);
            }
            map.insert(len, LenState { n, spectra, plans: HashMap::new() });
        }
        let state = map.get_mut(&len).expect("inserted above");
        if !state.plans.contains_key(&batch) {
            let plans = self.plans(state.n, batch * d)?;
            state.plans.insert(batch, plans);
        }
        Ok(state)
    }

    /// A batched 1-D cuFFT plan of size `n` over `rows` rows.
    fn plan(&self, n: usize, rows: usize, kind: fft_sys::cufftType) -> Result<CudaFft, ModelError> {
        CudaFft::plan_1d(n as i32, kind, rows as i32, self.stream.clone()).map_err(|e| cuda_err("cuFFT plan", e))
    }

    /// The forward (R2C) and inverse (C2R) plans for `rows` rows of size `n`.
    fn plans(&self, n: usize, rows: usize) -> Result<(CudaFft, CudaFft), ModelError> {
        Ok((self.plan(n, rows, fft_sys::cufftType::CUFFT_R2C)?, self.plan(n, rows, fft_sys::cufftType::CUFFT_C2R)?))
    }

    /// The final hidden states (after `ln_f`) of `batch` rows of `len` token ids, on the GPU.
    fn hidden(&self, ids: &[u32], batch: usize, len: usize) -> Result<CudaSlice<f32>, ModelError> {
        let cfg = self.cpu.config();
        let (d, inner) = (cfg.d_model, cfg.d_inner);
        if batch == 0 || len == 0 {
            return Err(ModelError::EmptyInput { what: "a CUDA batch with no rows or no tokens".into() });
        }
        if ids.len() != batch * len {
            return Err(ModelError::Cuda(format!("{} token ids for a batch of {batch} × {len}", ids.len())));
        }
        if len > cfg.max_seq_len {
            return Err(ModelError::SequenceTooLong { len, l_max: cfg.max_seq_len });
        }
        if let Some((pos, &id)) = ids.iter().enumerate().find(|(_, id)| **id as usize >= self.vocab_rows) {
            return Err(ModelError::InvalidTokenId { id: id as i64, row: pos / len, position: pos % len, vocab: self.vocab_rows });
        }
        let rows = batch * len;
        let mut map = self.by_len.lock().unwrap_or_else(|e| e.into_inner());
        let state = self.len_state(&mut map, len, batch)?;
        let (n, bins) = (state.n, state.n / 2 + 1);
        let ids_dev = self.stream.clone_htod(ids).map_err(|e| cuda_err("uploading token ids", e))?;
        let mut r = self.alloc(rows * d)?;
        let (rows_i, d_i, vocab_i) = (rows as i64, d as i32, self.vocab_rows as i32);
        launch!(self, "embed", grid(rows * d); &ids_dev, &self.embeddings, &mut r, &rows_i, &d_i, &vocab_i)?;
        let mut h = self.alloc(rows * d)?;
        let mut p = self.alloc(rows * 3 * d)?;
        let mut u = self.alloc(batch * d * n)?;
        let mut y = self.alloc(batch * d * n)?;
        let mut spec = self
            .stream
            .alloc_zeros::<fft_sys::float2>(batch * d * bins)
            .map_err(|e| cuda_err("allocating GPU memory", e))?;
        let mut z = self.alloc(rows * d)?;
        let mut f = self.alloc(rows * inner)?;
        let (r2c, c2r) = &state.plans[&batch];
        for (layer, filt) in self.layers.iter().zip(&state.spectra) {
            let (bi, li, di, ki, ni) = (batch as i32, len as i32, d as i32, layer.short_k as i32, n as i32);
            let (spec_rows, bins_i) = ((batch * d) as i64, bins as i32);
            let (f_total, inner_i) = ((rows * inner) as i64, inner as i32);
            self.layer_norm(&r, rows, d, &layer.norm1, &mut h)?;
            self.matmul(&h, rows, &layer.in_proj, &mut p, 0.0)?;
            // `u` keeps its zero padding: gate_in writes only the first `len` steps of a row.
            launch!(self, "gate_in", grid(rows * d); &p, &layer.params, &mut u, &bi, &li, &di, &ki, &ni)?;
            r2c.exec_r2c(&u, &mut spec).map_err(|e| cuda_err("cuFFT R2C", e))?;
            launch!(self, "spectral_mul", grid(batch * d * bins); &mut spec, filt, &spec_rows, &di, &bins_i)?;
            c2r.exec_c2r(&mut spec, &mut y).map_err(|e| cuda_err("cuFFT C2R", e))?;
            launch!(self, "gate_out", grid(rows * d); &y, &p, &layer.params, &mut z, &bi, &li, &di, &ki, &ni)?;
            self.residual(&z, rows, &layer.out_proj, &mut r)?;
            self.layer_norm(&r, rows, d, &layer.norm2, &mut h)?;
            self.matmul(&h, rows, &layer.fc1, &mut f, 0.0)?;
            if let Some(bias) = &layer.fc1.bias {
                launch!(self, "bias_gelu", grid(rows * inner); &mut f, bias, &f_total, &inner_i)?;
            }
            self.residual(&f, rows, &layer.fc2, &mut r)?;
        }
        self.layer_norm(&r, rows, d, &self.ln_f, &mut h)?;
        Ok(h)
    }

    /// `r += x·wᵀ + bias`.
    fn residual(&self, x: &CudaSlice<f32>, rows: usize, w: &LinearW, r: &mut CudaSlice<f32>) -> Result<(), ModelError> {
        if let Some(bias) = &w.bias {
            let total = rows * w.out;
            let (total_i, out_i) = (total as i64, w.out as i32);
            launch!(self, "add_bias", grid(total); &mut *r, bias, &total_i, &out_i)?;
        }
        self.matmul(x, rows, w, r, 1.0)
    }

    /// Final hidden states `[batch, len, d_model]` (row-major) of token ids `[batch, len]`.
    pub fn forward_hidden(&self, ids: &[u32], batch: usize, len: usize) -> Result<Vec<f32>, ModelError> {
        let h = self.hidden(ids, batch, len)?;
        self.stream.clone_dtoh(&h).map_err(|e| cuda_err("downloading hidden states", e))
    }

    /// Mean over positions of the final hidden states, `[batch, d_model]` (the pooling of
    /// `hyena_embed`).
    pub fn embed_mean(&self, ids: &[u32], batch: usize, len: usize) -> Result<Vec<f32>, ModelError> {
        let d = self.cpu.config().d_model;
        let h = self.hidden(ids, batch, len)?;
        let mut out = self.alloc(batch * d)?;
        let (bi, li, di) = (batch as i32, len as i32, d as i32);
        launch!(self, "mean_pool", grid(batch * d); &h, &mut out, &bi, &li, &di)?;
        self.stream.clone_dtoh(&out).map_err(|e| cuda_err("downloading embeddings", e))
    }

    /// Waits for the GPU (for timing).
    pub fn synchronize(&self) -> Result<(), ModelError> {
        self.stream.synchronize().map_err(|e| cuda_err("synchronizing", e))
    }
}

#[cfg(test)]
mod tests;
