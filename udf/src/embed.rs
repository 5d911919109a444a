//! `hyena_embed(seq [, model [, pooling]])`: a fixed-size embedding per sequence.
//!
//! The sequence is tokenized with the HyenaDNA character tokenizer **without
//! special tokens** (as the HyenaDNA data loaders feed the model; uppercase
//! `ACGTN` are bases, lowercase soft-masked bases become `[UNK]` exactly as in
//! the reference tokenizer, so use `upper(seq)` to embed soft-masked bases as
//! bases). The model's final hidden states (after the last LayerNorm `ln_f`),
//! `[L, d_model]`, are pooled:
//!
//! * `'mean'` (default): the mean over all `L` token positions `0..L`, i.e. every
//!   base of the sequence and nothing else. Sequences are batched only with
//!   sequences of the same length, so no padding token ever enters the mean or
//!   influences the hidden states.
//! * `'last'`: the hidden state at position `L - 1`, which (the model being
//!   causal) has seen the whole sequence.
//!
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
use omicsdb_model::{HyenaDna, ModelError};

use crate::args;
use crate::batching::{Task, evaluate};
use crate::cache::{decode_f32, encode_f32};
use crate::error::UdfError;
use crate::registry::ModelRegistry;

/// The SQL name.
pub const NAME: &str = "hyena_embed";
const ARGS: [&str; 3] = ["seq", "model", "pooling"];

/// How the per-token hidden states become one vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pooling {
    /// Mean over all token positions of the sequence.
    Mean,
    /// The last token position.
    Last,
}

impl Pooling {
    /// Parses `'mean'` or `'last'` (case-insensitive).
    pub fn parse(text: &str) -> Result<Self, UdfError> {
        match text.to_ascii_lowercase().as_str() {
            "mean" => Ok(Pooling::Mean),
            "last" => Ok(Pooling::Last),
            _ => Err(UdfError::Argument {
                function: NAME,
                argument: "pooling",
                message: format!("'{text}' is not a pooling; use 'mean' or 'last'"),
            }),
        }
    }
}

/// Pools final hidden states `[B, L, D]` to `[B, D]` as documented in this module.
pub fn pool(hidden: &Tensor, pooling: Pooling) -> candle_core::Result<Tensor> {
    let len = hidden.dim(1)?;
    match pooling {
        Pooling::Mean => hidden.mean(1),
        Pooling::Last => hidden.narrow(1, len - 1, 1)?.squeeze(1),
    }
}

/// The embedding computation run by the batcher.
#[derive(Debug, Clone, Copy)]
pub struct EmbedTask {
    /// Pooling of the hidden states.
    pub pooling: Pooling,
}

impl Task for EmbedTask {
    type Out = Vec<f32>;

    fn function(&self) -> &'static str {
        NAME
    }
    fn tag(&self) -> &'static str {
        match self.pooling {
            Pooling::Mean => "embed-mean",
            Pooling::Last => "embed-last",
        }
    }
    fn run(&self, model: &HyenaDna, ids: &Tensor, _side: &[&[u8]]) -> Result<Vec<Vec<f32>>, ModelError> {
        let hidden = model.forward_hidden(ids)?;
        Ok(pool(&hidden, self.pooling)?
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

/// `hyena_embed` as a DataFusion scalar function over a [`ModelRegistry`].
#[derive(Debug)]
pub struct HyenaEmbedFunc {
    registry: Arc<ModelRegistry>,
    signature: Signature,
}

impl HyenaEmbedFunc {
    /// The function, running models from `registry`.
    pub fn new(registry: Arc<ModelRegistry>) -> Self {
        Self {
            registry,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl PartialEq for HyenaEmbedFunc {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.registry, &other.registry)
    }
}
impl Eq for HyenaEmbedFunc {}
impl Hash for HyenaEmbedFunc {
    fn hash<H: Hasher>(&self, state: &mut H) {
        NAME.hash(state);
        (Arc::as_ptr(&self.registry) as usize).hash(state);
    }
}

/// Model width of the resolved model, as an error when the config lacks it.
fn d_model(meta: &omicsdb_storage::models::ModelMeta) -> Result<usize, UdfError> {
    meta.d_model().ok_or_else(|| UdfError::Argument {
        function: NAME,
        argument: "model",
        message: format!("{} has no d_model in its config", meta.label()),
    })
}

impl ScalarUDFImpl for HyenaEmbedFunc {
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
        internal_err!("{NAME}: return_field_from_args should be called instead")
    }
    fn return_field_from_args(&self, a: ReturnFieldArgs) -> Result<FieldRef> {
        let scalar = |i: usize| a.scalar_arguments.get(i).copied().flatten();
        let model = args::plan_constant(NAME, "model", a.arg_fields.len() > 1, scalar(1))?;
        if let Some(p) = args::plan_constant(NAME, "pooling", a.arg_fields.len() > 2, scalar(2))? {
            Pooling::parse(&p)?;
        }
        let meta = self.registry.resolve(NAME, model.as_deref())?;
        Ok(Arc::new(Field::new(
            NAME,
            embedding_type(d_model(&meta)?),
            true,
        )))
    }
    fn invoke_with_args(&self, a: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = args::all_scalar(&a.args);
        let model = args::exec_constant(NAME, "model", a.args.get(1))?;
        let pooling = match args::exec_constant(NAME, "pooling", a.args.get(2))? {
            Some(p) => Pooling::parse(&p)?,
            None => Pooling::Mean,
        };
        let meta = self.registry.resolve(NAME, model.as_deref())?;
        let d = d_model(&meta)?;
        if a.return_type() != &embedding_type(d) {
            return Err(UdfError::Argument {
                function: NAME,
                argument: "model",
                message: format!(
                    "{} (d_model {d}) changed since the query was planned; run it again",
                    meta.label()
                ),
            }
            .into());
        }
        let seq = a.args[0].to_array(a.number_rows)?;
        let seqs = args::string_rows(NAME, "seq", &seq)?;
        let out = evaluate(&self.registry, &EmbedTask { pooling }, &meta, &seqs, &crate::interrupt::StatementInterrupt::of(&a.config_options))?;
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
                    "{NAME}: embedding of width {} where d_model is {d}",
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
