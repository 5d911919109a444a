//! `loglik(seq [, model])` for a model of any family with an LM head, and
//! `hyena_loglik(seq [, model])`, the same function restricted to HyenaDNA models:
//! the log-likelihood of a sequence (natural log, Float64).
//!
//! * Causal families (HyenaDNA): with ids `x_0 .. x_{L-1}` from the character tokenizer
//!   **without special tokens** (as for [`crate::embed`]), the result is
//!   `sum_{t=1}^{L-1} log softmax(logits_{t-1})[x_t]`: every token except the first is
//!   scored given all tokens before it. The first token is not scored, because the
//!   HyenaDNA data loaders add no `[BOS]`/`[CLS]` in front, so there is no position that
//!   predicts it; a sequence of one base scores 0. The softmax runs over all rows of the
//!   LM head (the padded vocabulary of 16, as in the training loss).
//! * Masked families (DNABERT): the pseudo-log-likelihood, one forward pass per token
//!   with that token and every k-mer overlapping it masked (see
//!   `omicsdb_model::zoo`'s DNABERT module), summed over the `L - k + 1` k-mers.
//!
//! Zero-shot variant effect: `loglik(alt) - loglik(ref)` for sequences of equal length.
//! A model without an LM head is an error. NULL for a NULL sequence.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::array::Float64Array;
use arrow::datatypes::DataType;
use candle_core::Tensor;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use omicsdb_model::ModelError;
use omicsdb_model::zoo::GenomicModel;

use crate::args;
use crate::batching::{Task, evaluate};
use crate::registry::ModelRegistry;

/// The SQL name of the function for every family with an LM head.
pub const NAME: &str = "loglik";
/// The SQL name of the function for HyenaDNA models.
pub const HYENA_NAME: &str = "hyena_loglik";
const ARGS: [&str; 2] = ["seq", "model"];

/// The log-likelihood computation run by the batcher.
#[derive(Debug, Clone, Copy)]
pub struct LoglikTask {
    /// The SQL function (for error messages).
    pub function: &'static str,
}

impl Task for LoglikTask {
    type Out = f64;

    fn function(&self) -> &'static str {
        self.function
    }
    fn tag(&self) -> &'static str {
        "loglik"
    }
    fn run(&self, model: &dyn GenomicModel, ids: &Tensor, _side: &[&[u8]]) -> Result<Vec<f64>, ModelError> {
        model.loglik(ids)
    }
    fn encode(&self, out: &f64) -> Vec<u8> {
        out.to_le_bytes().to_vec()
    }
    fn decode(&self, bytes: &[u8]) -> Option<f64> {
        Some(f64::from_le_bytes(bytes.try_into().ok()?))
    }
}

/// `loglik` (any family with an LM head) or `hyena_loglik` (HyenaDNA only) as a
/// DataFusion scalar function over a [`ModelRegistry`].
#[derive(Debug)]
pub struct LoglikFunc {
    registry: Arc<ModelRegistry>,
    signature: Signature,
    name: &'static str,
    only: Option<&'static str>,
}

impl LoglikFunc {
    /// `loglik`, running models of any family from `registry`.
    pub fn new(registry: Arc<ModelRegistry>) -> Self {
        Self { registry, signature: Signature::user_defined(Volatility::Immutable), name: NAME, only: None }
    }

    /// The model resolution of `loglik` (any family with an LM head) for another
    /// function, whose errors name `function`.
    pub(crate) fn for_function(registry: Arc<ModelRegistry>, function: &'static str) -> Self {
        Self { name: function, ..Self::new(registry) }
    }

    /// `hyena_loglik`, running HyenaDNA models.
    pub fn hyena(registry: Arc<ModelRegistry>) -> Self {
        Self { only: Some(omicsdb_storage::models::HYENADNA), name: HYENA_NAME, ..Self::new(registry) }
    }

    pub(crate) fn resolve(&self, model: Option<&str>) -> Result<omicsdb_storage::models::ModelMeta, crate::UdfError> {
        let meta = self.registry.resolve(self.name, model)?;
        let facts = crate::embed::check_family(self.name, self.only, &meta)?;
        if !facts.lm_head {
            return Err(crate::UdfError::Argument {
                function: self.name,
                argument: "model",
                message: format!("{} ({}) has no LM head in its checkpoint, so no log-likelihood; embed(seq, '{}') works", meta.label(), facts.family, meta.name),
            });
        }
        Ok(meta)
    }
}

impl PartialEq for LoglikFunc {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.registry, &other.registry)
    }
}
impl Eq for LoglikFunc {}
impl Hash for LoglikFunc {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        (Arc::as_ptr(&self.registry) as usize).hash(state);
    }
}

impl ScalarUDFImpl for LoglikFunc {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        args::coerce(self.name, &ARGS, 1, arg_types)
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }
    fn invoke_with_args(&self, a: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = args::all_scalar(&a.args);
        let model = args::exec_constant(self.name, "model", a.args.get(1))?;
        let meta = self.resolve(model.as_deref())?;
        let seq = a.args[0].to_array(a.number_rows)?;
        let seqs = args::string_rows(self.name, "seq", &seq)?;
        let out = evaluate(&self.registry, &LoglikTask { function: self.name }, &meta, &seqs, &crate::interrupt::StatementInterrupt::of(&a.config_options))?;
        args::finish(Arc::new(Float64Array::from(out)), scalar)
    }
}
