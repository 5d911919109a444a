//! The BERT encoder and masked-LM head (Devlin et al. 2019) as DNABERT uses them
//! (Ji et al. 2021), key names as in Hugging Face `BertForMaskedLM`.

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Embedding, LayerNorm, Linear, VarBuilder, embedding, linear};

use super::BertConfig;
use crate::ModelError;

/// The feed-forward activation (`hidden_act`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `gelu`: the exact (erf) GELU, BERT's.
    GeluErf,
    /// `gelu_new` / `gelu_pytorch_tanh` / `gelu_fast`: the tanh approximation.
    GeluTanh,
    /// `relu`.
    Relu,
}

impl Activation {
    /// Parses a Hugging Face `hidden_act` name.
    pub fn parse(name: &str) -> Result<Self, ModelError> {
        match name {
            "gelu" => Ok(Self::GeluErf),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Ok(Self::GeluTanh),
            "relu" => Ok(Self::Relu),
            _ => Err(ModelError::Unsupported {
                field: "hidden_act",
                value: name.to_string(),
                reason: "implemented: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu",
            }),
        }
    }

    fn apply(self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Self::GeluErf => x.gelu_erf(),
            Self::GeluTanh => x.gelu(),
            Self::Relu => x.relu(),
        }
    }
}

/// A LayerNorm stored as `weight`/`bias` or, in checkpoints of the TensorFlow era, `gamma`/`beta`.
fn layer_norm(size: usize, eps: f64, vb: VarBuilder) -> candle_core::Result<LayerNorm> {
    let (w, b) = if vb.contains_tensor("gamma") { ("gamma", "beta") } else { ("weight", "bias") };
    Ok(LayerNorm::new(vb.get(size, w)?, vb.get(size, b)?, eps))
}

/// `bert.embeddings`: word + position + token type (all type 0), then LayerNorm.
#[derive(Debug, Clone)]
struct Embeddings {
    word: Embedding,
    position: Embedding,
    token_type: Embedding,
    norm: LayerNorm,
}

impl Embeddings {
    fn new(cfg: &BertConfig, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(Self {
            word: embedding(cfg.vocab_size, cfg.hidden_size, vb.pp("word_embeddings"))?,
            position: embedding(cfg.max_position_embeddings, cfg.hidden_size, vb.pp("position_embeddings"))?,
            token_type: embedding(cfg.type_vocab_size, cfg.hidden_size, vb.pp("token_type_embeddings"))?,
            norm: layer_norm(cfg.hidden_size, cfg.layer_norm_eps, vb.pp("LayerNorm"))?,
        })
    }

    fn forward(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        let (_, len) = ids.dims2()?;
        let positions = Tensor::arange(0u32, len as u32, ids.device())?;
        let types = Tensor::zeros(len, DType::U32, ids.device())?;
        let pos = self.position.forward(&positions)?.broadcast_add(&self.token_type.forward(&types)?)?;
        self.norm.forward(&self.word.forward(ids)?.broadcast_add(&pos)?)
    }
}

/// `attention.self` + `attention.output`.
#[derive(Debug, Clone)]
struct Attention {
    query: Linear,
    key: Linear,
    value: Linear,
    output: Linear,
    norm: LayerNorm,
    heads: usize,
    head_dim: usize,
}

impl Attention {
    fn new(cfg: &BertConfig, vb: VarBuilder) -> candle_core::Result<Self> {
        let h = cfg.hidden_size;
        Ok(Self {
            query: linear(h, h, vb.pp("self.query"))?,
            key: linear(h, h, vb.pp("self.key"))?,
            value: linear(h, h, vb.pp("self.value"))?,
            output: linear(h, h, vb.pp("output.dense"))?,
            norm: layer_norm(h, cfg.layer_norm_eps, vb.pp("output.LayerNorm"))?,
            heads: cfg.num_attention_heads,
            head_dim: cfg.head_dim(),
        })
    }

    /// `bias`: `[B, 1, 1, T]` added to the scores (0 for real keys, the dtype's minimum for padding).
    fn forward(&self, x: &Tensor, bias: Option<&Tensor>) -> candle_core::Result<Tensor> {
        let (b, t, h) = x.dims3()?;
        let split = |l: &Linear| -> candle_core::Result<Tensor> {
            l.forward(x)?.reshape((b, t, self.heads, self.head_dim))?.transpose(1, 2)?.contiguous()
        };
        let (q, k, v) = (split(&self.query)?, split(&self.key)?, split(&self.value)?);
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let mut scores = (q.matmul(&k.t()?)? * scale)?;
        if let Some(bias) = bias {
            scores = scores.broadcast_add(bias)?;
        }
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let context = probs.matmul(&v)?.transpose(1, 2)?.reshape((b, t, h))?;
        self.norm.forward(&(self.output.forward(&context)? + x)?)
    }
}

/// `bert.encoder.layer.{i}`.
#[derive(Debug, Clone)]
struct Layer {
    attention: Attention,
    intermediate: Linear,
    output: Linear,
    norm: LayerNorm,
    act: Activation,
}

impl Layer {
    fn new(cfg: &BertConfig, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(Self {
            attention: Attention::new(cfg, vb.pp("attention"))?,
            intermediate: linear(cfg.hidden_size, cfg.intermediate_size, vb.pp("intermediate.dense"))?,
            output: linear(cfg.intermediate_size, cfg.hidden_size, vb.pp("output.dense"))?,
            norm: layer_norm(cfg.hidden_size, cfg.layer_norm_eps, vb.pp("output.LayerNorm"))?,
            act: Activation::parse(&cfg.hidden_act).map_err(|e| candle_core::Error::Msg(e.to_string()))?,
        })
    }

    fn forward(&self, x: &Tensor, bias: Option<&Tensor>) -> candle_core::Result<Tensor> {
        let a = self.attention.forward(x, bias)?;
        let i = self.act.apply(&self.intermediate.forward(&a)?)?;
        self.norm.forward(&(self.output.forward(&i)? + a)?)
    }
}

/// `cls.predictions`: transform (dense, activation, LayerNorm) and the decoder to the
/// vocabulary, tied to the word embeddings when the checkpoint has no decoder weight.
#[derive(Debug, Clone)]
struct MlmHead {
    dense: Linear,
    norm: LayerNorm,
    act: Activation,
    decoder: Linear,
}

impl MlmHead {
    fn new(cfg: &BertConfig, vb: VarBuilder, word: &Embedding) -> candle_core::Result<Self> {
        let h = cfg.hidden_size;
        let weight = if vb.contains_tensor("decoder.weight") {
            vb.get((cfg.vocab_size, h), "decoder.weight")?
        } else {
            word.embeddings().clone()
        };
        let bias = if vb.contains_tensor("bias") { vb.get(cfg.vocab_size, "bias")? } else { vb.get(cfg.vocab_size, "decoder.bias")? };
        Ok(Self {
            dense: linear(h, h, vb.pp("transform.dense"))?,
            norm: layer_norm(h, cfg.layer_norm_eps, vb.pp("transform.LayerNorm"))?,
            act: Activation::parse(&cfg.hidden_act).map_err(|e| candle_core::Error::Msg(e.to_string()))?,
            decoder: Linear::new(weight, Some(bias)),
        })
    }

    fn forward(&self, hidden: &Tensor) -> candle_core::Result<Tensor> {
        let x = self.norm.forward(&self.act.apply(&self.dense.forward(hidden)?)?)?;
        self.decoder.forward(&x)
    }
}

/// A BERT encoder with its masked-LM head when the checkpoint has one
/// (`BertForMaskedLM`, `BertForPreTraining`); a bare `BertModel` checkpoint embeds only.
#[derive(Debug, Clone)]
pub struct Bert {
    cfg: BertConfig,
    embeddings: Embeddings,
    layers: Vec<Layer>,
    head: Option<MlmHead>,
    device: Device,
}

impl Bert {
    /// Builds the model at the state dict root: keys under `bert.` (with `cls.predictions.`
    /// for the head) or, for a bare encoder, at the root.
    pub fn new(cfg: &BertConfig, vb: VarBuilder) -> candle_core::Result<Self> {
        let encoder = if vb.contains_tensor("bert.embeddings.word_embeddings.weight") { vb.pp("bert") } else { vb.clone() };
        let embeddings = Embeddings::new(cfg, encoder.pp("embeddings"))?;
        let layers = (0..cfg.num_hidden_layers)
            .map(|l| Layer::new(cfg, encoder.pp("encoder.layer").pp(l)))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let head = if vb.contains_tensor("cls.predictions.transform.dense.weight") {
            Some(MlmHead::new(cfg, vb.pp("cls.predictions"), &embeddings.word)?)
        } else {
            None
        };
        Ok(Self { cfg: cfg.clone(), embeddings, layers, head, device: vb.device().clone() })
    }

    /// The configuration.
    pub fn config(&self) -> &BertConfig {
        &self.cfg
    }

    /// The device of the weights.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Whether the checkpoint has the masked-LM head.
    pub fn has_lm_head(&self) -> bool {
        self.head.is_some()
    }

    fn check(&self, ids: &Tensor) -> Result<(), ModelError> {
        let (_, len) = ids.dims2()?;
        if len > self.cfg.max_position_embeddings {
            return Err(ModelError::SequenceTooLong { len, l_max: self.cfg.max_position_embeddings });
        }
        Ok(())
    }

    /// The additive attention bias of a `[B, T]` mask (1 = token, 0 = padding), as
    /// Hugging Face builds it: 0 where attended, the dtype's minimum where not.
    fn mask_bias(mask: &Tensor, dtype: DType) -> candle_core::Result<Tensor> {
        let (b, t) = mask.dims2()?;
        let keep = mask.to_dtype(DType::F32)?;
        let bias = ((keep - 1.0)?.neg()? * f32::MIN as f64)?;
        bias.to_dtype(dtype)?.reshape((b, 1, 1, t))
    }

    /// Every hidden state, `num_hidden_layers + 1` tensors `[B, T, H]`: the embeddings'
    /// output, then each layer's (Hugging Face's `output_hidden_states`). `mask`: `[B, T]`,
    /// 1 for tokens and 0 for padding (`None`: no padding).
    pub fn forward_all(&self, ids: &Tensor, mask: Option<&Tensor>) -> Result<Vec<Tensor>, ModelError> {
        self.check(ids)?;
        let bias = match mask {
            Some(m) => Some(Self::mask_bias(m, self.embeddings.word.embeddings().dtype())?),
            None => None,
        };
        let mut x = self.embeddings.forward(ids)?;
        let mut out = Vec::with_capacity(self.layers.len() + 1);
        for layer in &self.layers {
            let next = layer.forward(&x, bias.as_ref())?;
            out.push(x);
            x = next;
        }
        out.push(x);
        Ok(out)
    }

    /// The last layer's hidden states `[B, T, H]`.
    pub fn forward_hidden(&self, ids: &Tensor, mask: Option<&Tensor>) -> Result<Tensor, ModelError> {
        let mut all = self.forward_all(ids, mask)?;
        Ok(all.pop().expect("at least the embeddings"))
    }

    /// MLM logits `[B, T, vocab_size]` of hidden states.
    pub fn logits_from_hidden(&self, hidden: &Tensor) -> Result<Tensor, ModelError> {
        let head = self.head.as_ref().ok_or(ModelError::NotSupported { family: "dnabert", what: "masked-LM head (cls.predictions) in its checkpoint" })?;
        Ok(head.forward(hidden)?)
    }

    /// MLM logits `[B, T, vocab_size]`.
    pub fn forward_logits(&self, ids: &Tensor, mask: Option<&Tensor>) -> Result<Tensor, ModelError> {
        let hidden = self.forward_hidden(ids, mask)?;
        self.logits_from_hidden(&hidden)
    }
}
