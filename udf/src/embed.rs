//! `embed(seq [, model [, pooling]])` for a model of any family of the model zoo, and
//! `hyena_embed(seq [, model [, pooling]])`, the same function restricted to HyenaDNA
//! models: a fixed-size embedding per sequence.
//!
//! The sequence is tokenized with the model family's tokenizer, with the special tokens
//! its reference pipeline adds (HyenaDNA: characters, **no** special tokens, as the
//! HyenaDNA data loaders feed the model; DNABERT: overlapping k-mers framed by `[CLS]` and
//! `[SEP]`). Lowercase soft-masked bases are read as `[UNK]` as in the references (for
//! DNABERT every k-mer holding one), so use `upper(seq)` to embed them as bases. The
//! final hidden states, `[T, d_model]`, are pooled:
//!
//! * `'mean'` (default for every family): the mean over the sequence's token positions,
//!   special tokens excluded (HyenaDNA: all `L` positions; DNABERT: the `L - k + 1`
//!   k-mers between `[CLS]` and `[SEP]`). Sequences are batched only with sequences of
//!   the same length, so no padding token ever enters the mean or the hidden states.
//! * `'last'` (causal families: HyenaDNA): the hidden state of the last base, which has
//!   seen the whole sequence.
//! * `'cls'` (DNABERT): the final hidden state of `[CLS]` (BERT's sequence summary; no
//!   pooler layer is applied, as `BertForMaskedLM` has none).
//!
//! A pooling the family does not have is an error naming the ones it has.
//! Returns `FixedSizeList<Float32, d_model>`; NULL for a NULL sequence.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::array::{ArrayRef, FixedSizeListArray, Float32Array};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Field, FieldRef};
use candle_core::{DType, Tensor};
use datafusion::common::{Result, internal_err};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use omicsdb_model::ModelError;
use omicsdb_model::zoo::{self, GenomicModel};
pub use omicsdb_model::zoo::Pooling;

use crate::args;
use crate::batching::{Task, evaluate};
use crate::cache::{decode_f32, encode_f32};
use crate::error::UdfError;
use crate::registry::ModelRegistry;
use omicsdb_storage::models::{FamilyFacts, ModelMeta};

/// The SQL name of the function for every family.
pub const NAME: &str = "embed";
/// The SQL name of the function for HyenaDNA models.
pub const HYENA_NAME: &str = "hyena_embed";
const ARGS: [&str; 3] = ["seq", "model", "pooling"];

/// The embedding computation run by the batcher.
#[derive(Debug, Clone, Copy)]
pub struct EmbedTask {
    /// The SQL function (for error messages).
    pub function: &'static str,
    /// Pooling of the hidden states.
    pub pooling: Pooling,
}

impl Task for EmbedTask {
    type Out = Vec<f32>;

    fn function(&self) -> &'static str {
        self.function
    }
    fn tag(&self) -> &'static str {
        // The cache key holds the model's sha256 too, so one tag serves every family.
        match self.pooling {
            Pooling::Mean => "embed-mean",
            Pooling::Last => "embed-last",
            Pooling::Cls => "embed-cls",
        }
    }
    fn run(&self, model: &dyn GenomicModel, ids: &Tensor, _side: &[&[u8]]) -> Result<Vec<Vec<f32>>, ModelError> {
        let hidden = model.hidden(ids)?;
        Ok(zoo::pool(model, &hidden, self.pooling)?
            .to_dtype(DType::F32)?
            .to_vec2::<f32>()?)
    }
    fn encode(&self, out: &Vec<f32>) -> Vec<u8> {
        encode_f32(out)
    }
    fn decode(&self, bytes: &[u8]) -> Option<Vec<f32>> {
        decode_f32(bytes, bytes.len() / 4)
    }
}

/// The Arrow type of an embedding of width `d_model`.
pub fn embedding_type(d_model: usize) -> DataType {
    DataType::FixedSizeList(
        Arc::new(Field::new_list_field(DataType::Float32, true)),
        d_model as i32,
    )
}

/// `embed` (any family) or `hyena_embed` (HyenaDNA only) as a DataFusion scalar
/// function over a [`ModelRegistry`].
#[derive(Debug)]
pub struct EmbedFunc {
    registry: Arc<ModelRegistry>,
    signature: Signature,
    name: &'static str,
    /// The one family this function runs (`hyena_embed`), or any (`embed`).
    only: Option<&'static str>,
}

impl EmbedFunc {
    /// `embed`, running models of any family from `registry`.
    pub fn new(registry: Arc<ModelRegistry>) -> Self {
        Self { registry, signature: Signature::user_defined(Volatility::Immutable), name: NAME, only: None }
    }

    /// `hyena_embed`, running HyenaDNA models (and omics models' HyenaDNA backbones).
    pub fn hyena(registry: Arc<ModelRegistry>) -> Self {
        Self { only: Some(omicsdb_storage::models::HYENADNA), name: HYENA_NAME, ..Self::new(registry) }
    }

    /// The model of a call with its pooling (the family's default when not given),
    /// checked against what the family offers.
    fn resolve(&self, model: Option<&str>, pooling: Option<&str>) -> Result<(ModelMeta, Pooling, usize), UdfError> {
        let meta = self.registry.resolve(self.name, model)?;
        let facts = check_family(self.name, self.only, &meta)?;
        let pooling = match pooling {
            Some(p) => p,
            None => facts.poolings.first().map(String::as_str).unwrap_or("mean"),
        };
        let known = Pooling::parse(pooling).filter(|p| facts.poolings.iter().any(|f| f == p.name()));
        let Some(pooling) = known else {
            return Err(UdfError::Argument {
                function: self.name,
                argument: "pooling",
                message: format!(
                    "{} is a {} model, which has no '{pooling}' pooling; use {}",
                    meta.label(),
                    facts.family,
                    facts.poolings.iter().map(|p| format!("'{p}'")).collect::<Vec<_>>().join(" or ")
                ),
            });
        };
        let d = meta.d_model().ok_or_else(|| UdfError::Argument {
            function: self.name,
            argument: "model",
            message: format!("{} has no d_model in its config", meta.label()),
        })?;
        Ok((meta, pooling, d))
    }
}

/// The family facts of a resolved model, or an error when `function` runs only `only`.
pub(crate) fn check_family(function: &'static str, only: Option<&'static str>, meta: &ModelMeta) -> Result<FamilyFacts, UdfError> {
    let facts = meta.family_facts();
    if let Some(family) = only
        && facts.family != family
    {
        let general = function.trim_start_matches("hyena_");
        return Err(UdfError::Argument {
            function,
            argument: "model",
            message: format!("{} is a {} model; {function} runs {family} models, use {general}(seq, '{}')", meta.label(), facts.family, meta.name),
        });
    }
    Ok(facts)
}

impl PartialEq for EmbedFunc {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.registry, &other.registry)
    }
}
impl Eq for EmbedFunc {}
impl Hash for EmbedFunc {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        (Arc::as_ptr(&self.registry) as usize).hash(state);
    }
}

impl ScalarUDFImpl for EmbedFunc {
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
        internal_err!("{}: return_field_from_args should be called instead", self.name)
    }
    fn return_field_from_args(&self, a: ReturnFieldArgs) -> Result<FieldRef> {
        let scalar = |i: usize| a.scalar_arguments.get(i).copied().flatten();
        let model = args::plan_constant(self.name, "model", a.arg_fields.len() > 1, scalar(1))?;
        let pooling = args::plan_constant(self.name, "pooling", a.arg_fields.len() > 2, scalar(2))?;
        let (_, _, d) = self.resolve(model.as_deref(), pooling.as_deref())?;
        Ok(Arc::new(Field::new(self.name, embedding_type(d), true)))
    }
    fn invoke_with_args(&self, a: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = args::all_scalar(&a.args);
        let model = args::exec_constant(self.name, "model", a.args.get(1))?;
        let pooling = args::exec_constant(self.name, "pooling", a.args.get(2))?;
        let (meta, pooling, d) = self.resolve(model.as_deref(), pooling.as_deref())?;
        if a.return_type() != &embedding_type(d) {
            return Err(UdfError::Argument {
                function: self.name,
                argument: "model",
                message: format!(
                    "{} (d_model {d}) changed since the query was planned; run it again",
                    meta.label()
                ),
            }
            .into());
        }
        let seq = a.args[0].to_array(a.number_rows)?;
        let seqs = args::string_rows(self.name, "seq", &seq)?;
        let task = EmbedTask { function: self.name, pooling };
        let out = evaluate(&self.registry, &task, &meta, &seqs, &crate::interrupt::StatementInterrupt::of(&a.config_options))?;
        args::finish(embeddings_array(out, d)?, scalar)
    }
}

/// Packs per-row embeddings (NULL rows as `None`) into a `FixedSizeList` array.
fn embeddings_array(rows: Vec<Option<Vec<f32>>>, d: usize) -> Result<ArrayRef> {
    let mut values = Vec::with_capacity(rows.len() * d);
    let mut valid = Vec::with_capacity(rows.len());
    for row in rows {
        match row {
            Some(v) if v.len() == d => {
                values.extend_from_slice(&v);
                valid.push(true);
            }
            Some(v) => {
                return internal_err!(
                    "embed: embedding of width {} where d_model is {d}",
                    v.len()
                );
            }
            None => {
                values.extend(std::iter::repeat_n(0.0f32, d));
                valid.push(false);
            }
        }
    }
    let field = Arc::new(Field::new_list_field(DataType::Float32, true));
    let array = FixedSizeListArray::try_new(
        field,
        d as i32,
        Arc::new(Float32Array::from(values)),
        Some(NullBuffer::from(valid)),
    )?;
    Ok(Arc::new(array))
}
