//! HyenaDNA: backbone, Hyena operator, implicit filter and causal LM head.
//!
//! Module and field names mirror the checkpoint keys (`backbone.layers.{l}.mixer.filter_fn...`),
//! so each struct's `new(cfg, vb)` reads exactly the tensors of the official state dicts.

mod block;
mod block_fused;
mod filter;
pub(crate) mod fused;
pub(crate) mod train_ops;
pub mod init;
mod model;
mod norm;
mod operator;
#[cfg(test)]
mod parity_tests;

pub use block::{Block, BlockTrace, Mlp};
pub use block_fused::{BlockHead, BlockTail};
pub use norm::RowLayerNorm;
pub use filter::{CachedFilter, HyenaFilter};
pub use model::{ForwardTrace, HyenaDna, WEIGHT_FILES};
pub use operator::{HyenaOperator, MixerTrace};
