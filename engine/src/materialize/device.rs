//! Where the model functions run during a materialization.
//!
//! Today that is the CPU in every build: the SQL model functions run on
//! candle's CPU backend, and no crate enables candle's CUDA backend. The
//! CUDA HyenaDNA forward pass (`omicsdb_model::cuda`, feature
//! `omicsdb-model/cuda`) is a separate kernel route that the model functions
//! do not use yet (see `docs/cuda.md`), so `--device cuda` is refused with
//! that explanation rather than failing deep inside candle.

use std::sync::Arc;

use omicsdb_udf::ModelRegistry;

use super::error::{MaterializeError, Result};
use crate::Database;

/// A device for the model functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The CPU (the database's own registry).
    Cpu,
    /// CUDA device `ordinal`: refused in every build for now (see the module
    /// docs).
    Cuda(usize),
}

/// Makes `db`'s session run the model functions on `device` with
/// `batch_tokens` per call, and returns the registry they now use.
pub fn prepare(db: &Database, device: DeviceChoice, batch_tokens: Option<usize>) -> Result<Arc<ModelRegistry>> {
    let registry = match device {
        DeviceChoice::Cpu => Arc::clone(db.models()),
        DeviceChoice::Cuda(ordinal) => {
            return Err(MaterializeError::Argument {
                option: "--device",
                message: format!(
                    "cannot use CUDA device {ordinal}: the model functions run on the CPU only in every build \
                     of omicsdb so far (no crate enables candle's CUDA backend; the CUDA HyenaDNA forward pass, \
                     omicsdb_model::cuda, is not used by SQL functions or materialization yet); see docs/cuda.md. \
                     Use --device cpu"
                ),
            });
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

#[cfg(test)]
mod tests {
    use super::*;

    /// No crate enables candle's CUDA backend, so `--device cuda` cannot
    /// work in any build; the error says so and where to read more.
    #[test]
    fn cuda_is_refused_with_what_is_true() {
        let dir = std::env::temp_dir().join(format!("omicsdb-device-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let db = Database::open(&dir).unwrap();
        let msg = prepare(&db, DeviceChoice::Cuda(0), None).unwrap_err().to_string();
        assert!(msg.starts_with("--device: "), "{msg}");
        for part in ["run on the CPU only", "omicsdb_model::cuda", "docs/cuda.md"] {
            assert!(msg.contains(part), "{part}: {msg}");
        }
        assert!(!msg.contains("--features cuda`"), "no build makes it work: {msg}");
        prepare(&db, DeviceChoice::Cpu, None).unwrap();
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
