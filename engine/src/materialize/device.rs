//! Where the model functions run during a materialization: the database's
//! CPU registry, or a CUDA device (builds with the `cuda` feature) with larger
//! batches to keep the GPU busy.

use std::sync::Arc;

use candle_core::{DType, Device};
use omicsdb_udf::{ModelRegistry, register_model_functions};

use super::error::{MaterializeError, Result};
use crate::Database;

/// Token budget per model call on CUDA unless given: large batches keep the GPU busy.
pub const CUDA_BATCH_TOKENS: usize = 256 * 1024;

/// A device for the model functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The CPU (the database's own registry).
    Cpu,
    /// CUDA device `ordinal`.
    Cuda(usize),
}

/// Makes `db`'s session run the model functions on `device` with
/// `batch_tokens` per call, and returns the registry they now use.
pub fn prepare(db: &Database, device: DeviceChoice, batch_tokens: Option<usize>) -> Result<Arc<ModelRegistry>> {
    let registry = match device {
        DeviceChoice::Cpu => Arc::clone(db.models()),
        DeviceChoice::Cuda(ordinal) => {
            let dev = Device::new_cuda(ordinal).map_err(|e| MaterializeError::Argument {
                option: "--device",
                message: format!("cannot use CUDA device {ordinal}: {e} (CUDA needs a build with `--features cuda` and a GPU)"),
            })?;
            let registry = Arc::new(ModelRegistry::with_device(Arc::clone(db.store()), dev, DType::F32).map_err(crate::Error::from)?);
            register_model_functions(db.context(), Arc::clone(&registry));
            registry.set_batch_tokens(CUDA_BATCH_TOKENS);
            registry
        }
    };
    if let Some(tokens) = batch_tokens {
        if tokens == 0 {
            return Err(MaterializeError::Argument { option: "--batch-tokens", message: "must be at least 1".into() });
        }
        registry.set_batch_tokens(tokens);
    }
    Ok(registry)
}
