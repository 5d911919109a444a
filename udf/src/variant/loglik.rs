//! `variant_loglik`: the zero-shot variant score of a genomic language model.
//!
//! `variant_loglik(chrom, pos, ref, alt [, model])` → `Struct {ref_loglik, alt_loglik,
//! llr}` of `Float64`: `loglik` (see [`crate::loglik`]: the causal log-likelihood for
//! HyenaDNA, the pseudo-log-likelihood for masked families) of the reference window
//! and of the alternate window centred on the variant, and `llr = alt_loglik −
//! ref_loglik` (negative: the model finds the alternate allele less likely). The model
//! is any model with an LM head (`model` a constant string; default: the database's
//! default embedding model).
//!
//! The window is `omicsdb.variant_window_bp` bases (default 1024), capped at the
//! model's maximum input length; indels are re-filled to that length
//! ([`super::allele`]), so both windows always have the same length. The genome is
//! the assembly that has the variant's chromosome (the first by name, alias rule
//! included). Reference and alternate windows of a batch go through one batched,
//! cached [`crate::batching::evaluate`]; NULLs and errors as for `score_variant`.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, StructArray};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};

use super::{OnRefMismatch, VariantColumns, VariantSites, coerce_variant_args, prepare_rows};
use crate::args;
use crate::batching::evaluate;
use crate::loglik::{LoglikFunc, LoglikTask};
use crate::registry::ModelRegistry;

/// The SQL name.
pub const NAME: &str = "variant_loglik";
const ARGS: [&str; 5] = ["chrom", "pos", "ref", "alt", "model"];
/// The result's fields.
pub const FIELDS: [&str; 3] = ["ref_loglik", "alt_loglik", "llr"];

/// The result type.
pub fn result_type() -> DataType {
    DataType::Struct(Fields::from(FIELDS.iter().map(|n| Field::new(*n, DataType::Float64, true)).collect::<Vec<_>>()))
}

/// The window (bases) a session scores: `omicsdb.variant_window_bp`, capped at `max_len`.
pub fn window_bp(config: &datafusion::common::config::ConfigOptions, max_len: Option<usize>) -> usize {
    let wanted = config
        .extensions
        .get::<omicsdb_sql::options::OmicsdbOptions>()
        .map_or(omicsdb_sql::options::DEFAULT_VARIANT_WINDOW_BP, |o| o.variant_window_bp);
    let wanted = usize::try_from(wanted).unwrap_or(usize::MAX).max(1);
    max_len.map_or(wanted, |m| wanted.min(m))
}

/// `variant_loglik` over a [`ModelRegistry`].
#[derive(Debug)]
pub struct VariantLoglikFunc {
    registry: Arc<ModelRegistry>,
    loglik: LoglikFunc,
    signature: Signature,
}

impl VariantLoglikFunc {
    /// `variant_loglik`, running models from `registry`.
    pub fn new(registry: Arc<ModelRegistry>) -> Self {
        Self {
            loglik: LoglikFunc::for_function(Arc::clone(&registry), NAME),
            registry,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl PartialEq for VariantLoglikFunc {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.registry, &other.registry)
    }
}
impl Eq for VariantLoglikFunc {}
impl Hash for VariantLoglikFunc {
    fn hash<H: Hasher>(&self, state: &mut H) {
        NAME.hash(state);
        (Arc::as_ptr(&self.registry) as usize).hash(state);
    }
}

impl ScalarUDFImpl for VariantLoglikFunc {
    fn name(&self) -> &str {
        NAME
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_variant_args(NAME, &ARGS, 4, arg_types)
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(result_type())
    }
    fn invoke_with_args(&self, a: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = args::all_scalar(&a.args);
        let model = args::exec_constant(NAME, "model", a.args.get(4))?;
        let meta = self.loglik.resolve(model.as_deref())?;
        let on_mismatch = OnRefMismatch::of(NAME, &a.config_options)?;
        let len = window_bp(&a.config_options, meta.max_seq_len());
        let store = self.registry.store();
        let sites = store
            .assemblies()
            .map_err(crate::UdfError::from)?
            .iter()
            .map(|asm| VariantSites::new(store, &asm.name, len))
            .collect::<Result<Vec<_>, _>>()?;
        let arrays: Vec<ArrayRef> = a.args[..4].iter().map(|c| c.to_array(a.number_rows)).collect::<Result<_>>()?;
        let columns = VariantColumns::new(NAME, &arrays)?;
        let windows = prepare_rows(NAME, &sites, &columns, a.number_rows, on_mismatch, &self.registry.stats)?;
        let interrupt = crate::interrupt::StatementInterrupt::of(&a.config_options);
        let inputs = super::window_inputs(&windows);
        let results = evaluate(&self.registry, &LoglikTask { function: NAME }, &meta, &inputs, &interrupt)?;
        let pairs: Vec<Option<(f64, f64)>> = results
            .chunks(2)
            .map(|p| match (p[0], p[1]) {
                (Some(r), Some(alt)) => Some((r, alt)),
                _ => None,
            })
            .collect();
        let nulls = Some(NullBuffer::from(pairs.iter().map(Option::is_some).collect::<Vec<_>>()));
        let column = |f: fn((f64, f64)) -> f64| -> ArrayRef {
            let values: Vec<f64> = pairs.iter().map(|p| p.map_or(0.0, f)).collect();
            Arc::new(Float64Array::new(values.into(), nulls.clone()))
        };
        let DataType::Struct(fields) = result_type() else { return datafusion::common::internal_err!("{NAME}: struct type expected") };
        let out = StructArray::try_new(fields, vec![column(|p| p.0), column(|p| p.1), column(|p| p.1 - p.0)], nulls)?;
        args::finish(Arc::new(out), scalar)
    }
}
