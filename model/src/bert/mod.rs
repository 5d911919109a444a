//! DNABERT (Ji et al. 2021): a BERT encoder over overlapping k-mer tokens, loaded from a
//! Hugging Face checkpoint directory (`config.json`, `vocab.txt`, `model.safetensors` or
//! `pytorch_model.bin`), numerically equal to `transformers`' `BertForMaskedLM`
//! (fixture parity tests in `parity_tests.rs`).
//!
//! Written here rather than taken from candle-transformers because its `BertModel`
//! returns only the last hidden state and has no masked-LM head, and the parity tests
//! and the pseudo-log-likelihood need both.

mod config;
pub mod model;
#[cfg(test)]
mod parity_tests;
mod tokenizer;

pub use config::BertConfig;
pub use model::Bert;
pub use tokenizer::KmerTokenizer;
