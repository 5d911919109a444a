//! Caduceus (Schiff et al. 2024): bidirectional, optionally reverse-complement equivariant
//! (Caduceus-PS) Mamba language models of DNA, loaded from a Hugging Face checkpoint
//! directory of the reference's `CaduceusForMaskedLM` (`config.json`, `model.safetensors`
//! or `pytorch_model.bin`, `tokenizer_config.json`), numerically equal to the reference
//! (kuleshov-group/caduceus with mamba-ssm 1.2; fixture parity tests in
//! `parity_tests.rs`).
//!
//! Caduceus is pre-trained with a masked-LM objective (BERT-style, 15% of the bases), so
//! its log-likelihood in the zoo is a pseudo-log-likelihood; see `zoo/caduceus.rs`.
//!
//! * [`CaduceusConfig`]: the config, field names as the reference's;
//! * [`CharTokenizer`]: the reference's character vocabulary;
//! * [`Caduceus`]: the network (module docs of `model.rs` say how each RCPS piece is
//!   computed); `mamba.rs` the Mamba layer and its bidirectional wrapper; `scan.rs` the
//!   sequential CPU kernels (causal convolution, selective scan).

mod config;
mod mamba;
pub mod model;
#[cfg(test)]
mod parity_tests;
mod scan;
mod tokenizer;

pub use config::{CaduceusConfig, DtRank, SsmConfig, Strategy};
pub use model::Caduceus;
pub use tokenizer::{CharTokenizer, DEFAULT_MAX_LEN, MASK_ID, UNK_ID};
