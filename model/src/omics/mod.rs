//! The Hyena omics model: a HyenaDNA backbone over a window's tokens (plus flanking
//! context), pooled over every position (mean, or mean and max: [`Pooling`]), and a linear multi-task head with one
//! output per training track.
//!
//! * [`spec`]: what the head predicts ([`OmicsSpec`], [`OmicsTrack`]), the input
//!   geometry (window, flanks, tiling of long regions) and the output scaling.
//! * [`net`]: [`OmicsNet`], the trainable network (candle `Var`s, autograd through the
//!   long convolution's custom-op backward).
//! * [`bins`]: optional per-bin outputs inside the window and their window-level
//!   aggregate.
//! * [`loss`]: the multi-task loss (MSE on `log1p` signal, BCE on peaks).
//! * [`impute`]: observed track values as a further input (imputation).
//! * [`seed`]: stem filters seeded from k-mers enriched in the training set's active
//!   bins.
//! * [`predictor`]: [`OmicsPredictor`], inference with the fused HyenaDNA kernels.
//!
//! A saved model directory holds `model.safetensors` (`hyena.backbone.*` as in the HF
//! port, plus `head.weight` `[T, D]` (`[T, 2D]` for mean-max pooling) and `head.bias` `[T]`) and `config.json`: the flat
//! HyenaDNA config with an extra `"omics"` object ([`OmicsSpec`]), so the backbone also
//! loads with [`crate::HyenaDna::load`].

pub mod bins;
pub mod gelu;
pub mod impute;
pub mod loss;
pub mod net;
pub mod predictor;
pub mod seed;
pub mod spec;
pub mod stem;

pub use impute::ImputeSpec;
pub use net::OmicsNet;
pub use predictor::{OmicsHead, OmicsPredictor};
pub use spec::{OmicsSpec, OmicsTrack, Pooling, TrackKind};
pub use stem::{ConvStem, StemActivation, StemSpec};

/// Architecture name recorded in the model catalog for omics models.
pub const ARCHITECTURE: &str = "hyena_omics";
