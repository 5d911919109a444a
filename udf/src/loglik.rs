//! `hyena_loglik(seq [, model])`: log-likelihood of a sequence under the
//! HyenaDNA causal LM head (natural log, Float64).
//!
//! With ids `x_0 .. x_{L-1}` from the character tokenizer **without special
//! tokens** (as for [`crate::embed`]), the result is
//! `sum_{t=1}^{L-1} log softmax(logits_{t-1})[x_t]`: every token except the
//! first is scored given all tokens before it. The first token is not scored,
//! because the HyenaDNA data loaders add no `[BOS]`/`[CLS]` in front, so there is
//! no position that predicts it; a sequence of one base scores 0. The softmax
//! runs over all rows of the LM head (the padded vocabulary of 16, as in the
//! training loss). Zero-shot variant effect: `hyena_loglik(alt) - hyena_loglik(ref)`
//! for sequences of equal length. NULL for a NULL sequence.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::array::Float64Array;
use arrow::datatypes::DataType;
use candle_core::{DType, Tensor};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use omicsdb_model::{HyenaDna, ModelError};

use crate::args;
use crate::batching::{Task, evaluate};
use crate::registry::ModelRegistry;

/// The SQL name.
pub const NAME: &str = "hyena_loglik";
const ARGS: [&str; 2] = ["seq", "model"];

/// Per-row log-likelihoods from logits `[B, L, V]` and ids `[B, L]` (see the module docs).
pub fn loglik_from_logits(logits: &Tensor, ids: &Tensor) -> candle_core::Result<Vec<f64>> {
    let (b, l, v) = logits.dims3()?;
    let logits = logits
        .to_dtype(DType::F32)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    let ids = ids.to_dtype(DType::U32)?.flatten_all()?.to_vec1::<u32>()?;
    let mut out = Vec::with_capacity(b);
    for row in 0..b {
        let mut total = 0.0f64;
        for t in 1..l {
            let scores = &logits[(row * l + t - 1) * v..(row * l + t) * v];
            let max = scores.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s)) as f64;
            let lse = max
                + scores
                    .iter()
                    .map(|&s| (s as f64 - max).exp())
                    .sum::<f64>()
                    .ln();
            total += scores[ids[row * l + t] as usize] as f64 - lse;
        }
        out.push(total);
    }
    Ok(out)
}

/// The log-likelihood computation run by the batcher.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoglikTask;

impl Task for LoglikTask {
    type Out = f64;

    fn function(&self) -> &'static str {
        NAME
    }
    fn tag(&self) -> &'static str {
        "loglik"
    }
    fn run(&self, model: &HyenaDna, ids: &Tensor, _side: &[&[u8]]) -> Result<Vec<f64>, ModelError> {
        let logits = model.forward_logits(ids)?;
        Ok(loglik_from_logits(&logits, ids)?)
    }
    fn encode(&self, out: &f64) -> Vec<u8> {
        out.to_le_bytes().to_vec()
    }
    fn decode(&self, bytes: &[u8]) -> Option<f64> {
        Some(f64::from_le_bytes(bytes.try_into().ok()?))
    }
}

/// `hyena_loglik` as a DataFusion scalar function over a [`ModelRegistry`].
#[derive(Debug)]
pub struct HyenaLoglikFunc {
    registry: Arc<ModelRegistry>,
    signature: Signature,
}

impl HyenaLoglikFunc {
    /// The function, running models from `registry`.
    pub fn new(registry: Arc<ModelRegistry>) -> Self {
        Self {
            registry,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl PartialEq for HyenaLoglikFunc {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.registry, &other.registry)
    }
}
impl Eq for HyenaLoglikFunc {}
impl Hash for HyenaLoglikFunc {
    fn hash<H: Hasher>(&self, state: &mut H) {
        NAME.hash(state);
        (Arc::as_ptr(&self.registry) as usize).hash(state);
    }
}

impl ScalarUDFImpl for HyenaLoglikFunc {
    fn name(&self) -> &str {
        NAME
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        args::coerce(NAME, &ARGS, 1, arg_types)
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }
    fn invoke_with_args(&self, a: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = args::all_scalar(&a.args);
        let model = args::exec_constant(NAME, "model", a.args.get(1))?;
        let meta = self.registry.resolve(NAME, model.as_deref())?;
        let seq = a.args[0].to_array(a.number_rows)?;
        let seqs = args::string_rows(NAME, "seq", &seq)?;
        let out = evaluate(&self.registry, &LoglikTask, &meta, &seqs, &crate::interrupt::StatementInterrupt::of(&a.config_options))?;
        args::finish(Arc::new(Float64Array::from(out)), scalar)
    }
}
