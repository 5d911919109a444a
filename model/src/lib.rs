//! omicsdb models: HyenaDNA (Nguyen et al. 2023) in candle, and the model zoo's other
//! families ([`bert`]: DNABERT, [`caduceus`]: Caduceus).
//!
//! * [`tokenizer`]: the HyenaDNA character tokenizer ([`tokenize`]).
//! * [`HyenaDna`]: backbone and causal LM head, loaded from a Hugging Face style
//!   checkpoint directory (`config.json` + `model.safetensors` or `pytorch_model.bin`),
//!   numerically equal to the reference implementation (fixture parity tests).
//! * `cuda` (cargo feature `cuda`): the HyenaDNA forward pass on a GPU through cudarc
//!   (cuBLAS, cuFFT, NVRTC kernels), loaded dynamically at run time.
//! * [`long_conv`]: the causal long convolution as one candle custom op with a direct
//!   and an FFT CPU path and a backward pass.
//!
//! ```no_run
//! use candle_core::{DType, Device, Tensor};
//! use omicsdb_model::{tokenize, HyenaDna};
//!
//! let model = HyenaDna::load(std::path::Path::new("data/fixtures/hyenadna/micro"), &Device::Cpu, DType::F32)?;
//! let ids = tokenize(b"ACGTACGTNN")?;
//! let ids = Tensor::from_vec(ids, (1, 10), &Device::Cpu)?;
//! let hidden = model.forward_hidden(&ids)?; // [1, 10, d_model]
//! let logits = model.forward_logits(&ids)?; // [1, 10, 16]
//! # Ok::<(), omicsdb_model::ModelError>(())
//! ```

pub mod config;
#[cfg(feature = "cuda")]
pub mod cuda;
mod error;
pub mod hyena;
pub mod long_conv;
pub mod malloc;
pub mod omics;
#[cfg(test)]
mod parity_fixtures;
pub mod simd;
pub mod threads;
pub mod train;
pub mod tokenizer;
pub mod zoo;
pub mod bert;
pub mod caduceus;

pub use config::Config;
pub use error::ModelError;
pub use hyena::HyenaDna;
pub use tokenizer::tokenize;
