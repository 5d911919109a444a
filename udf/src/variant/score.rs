//! `score_variant`: what a variant does to a trained omics model's predictions.
//!
//! `score_variant(chrom, pos, ref, alt, tissue [, assay] [, model])`, with `pos` the
//! VCF's 1-based position (an integer) and `tissue`, `assay`, `model` constant strings
//! resolved exactly as for `predict_omics` (a sixth argument is the model if the catalog
//! has a model of that name, else an assay):
//!
//! * with an assay → `Struct {ref, alt, delta, log2_ratio}` of `Float32`;
//! * without → a `Struct` with one such struct per track of the tissue, named as
//!   `predict_omics` names its fields (`atac_seq`, `chip_seq_h3k27ac`, ...).
//!
//! `ref` is `predict_omics` of the reference window centred on the variant (the
//! model's `window_bp` plus its flanks, see [`super::allele`]), `alt` the same model
//! on the alternate window, `delta = alt − ref`, and
//! `log2_ratio = log2((alt + c) / (ref + c))` with the pseudocount `c = 1` for signal
//! tracks (values are counts-like, as Borzoi/Enformer scores take them) and
//! `c = 1e-6` for peak tracks (probabilities). A model trained with `--rc-average`
//! averages both strands for both windows, as `predict_omics` does.
//!
//! Every reference and alternate window of an Arrow batch goes through one
//! [`crate::batching::evaluate`]: identical windows (the reference window shared by
//! the ALTs of one site, or by repeated rows) run once, results are cached in the
//! database, and the rest run in token-budget micro-batches. A NULL argument, a
//! symbolic ALT, or a REF mismatch under `omicsdb.variant_ref_mismatch = 'null'`
//! gives NULL; other bad variants are errors naming them ([`super`]).

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float32Array, StructArray};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::common::{Result, internal_err};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use omicsdb_model::omics::spec::TrackKind;
use omicsdb_model::omics::OmicsSpec;

use super::{OnRefMismatch, VariantColumns, VariantSites, coerce_variant_args, prepare_rows};
use crate::args;
use crate::batching::evaluate;
use crate::predict::{PredictOmicsFunc, PredictTask};
use crate::registry::ModelRegistry;

/// The SQL name.
pub const NAME: &str = "score_variant";
const ARGS: [&str; 7] = ["chrom", "pos", "ref", "alt", "tissue", "assay", "model"];
/// The fields of one track's score.
pub const SCORE_FIELDS: [&str; 4] = ["ref", "alt", "delta", "log2_ratio"];

/// The pseudocount of `log2_ratio` for a track (module docs).
pub fn pseudocount(kind: TrackKind) -> f32 {
    match kind {
        TrackKind::Signal => 1.0,
        TrackKind::Peaks => 1e-6,
    }
}

/// One track's score of one variant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackScore {
    /// Prediction on the reference window.
    pub reference: f32,
    /// Prediction on the alternate window.
    pub alt: f32,
    /// `alt − ref`.
    pub delta: f32,
    /// `log2((alt + c) / (ref + c))`.
    pub log2_ratio: f32,
}

impl TrackScore {
    /// The score of predictions `reference` and `alt` for a track of `kind`.
    pub fn new(reference: f32, alt: f32, kind: TrackKind) -> Self {
        let c = pseudocount(kind);
        Self { reference, alt, delta: alt - reference, log2_ratio: ((alt + c) / (reference + c)).log2() }
    }
}

/// The struct type of one track's score.
pub fn score_type() -> DataType {
    DataType::Struct(Fields::from(SCORE_FIELDS.iter().map(|n| Field::new(*n, DataType::Float32, true)).collect::<Vec<_>>()))
}

/// `score_variant` over a [`ModelRegistry`].
#[derive(Debug)]
pub struct ScoreVariantFunc {
    registry: Arc<ModelRegistry>,
    omics: PredictOmicsFunc,
    signature: Signature,
}

impl ScoreVariantFunc {
    /// `score_variant`, running models from `registry`.
    pub fn new(registry: Arc<ModelRegistry>) -> Self {
        Self {
            omics: PredictOmicsFunc::for_function(Arc::clone(&registry), NAME),
            registry,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    fn return_type_for(outputs: &[(usize, String)], single: bool) -> DataType {
        if single {
            score_type()
        } else {
            DataType::Struct(Fields::from(
                outputs.iter().map(|(_, n)| Field::new(n, score_type(), true)).collect::<Vec<_>>(),
            ))
        }
    }

    /// (tissue, assay, model) from the constant arguments.
    fn constants(
        &self,
        tissue: Option<String>,
        fifth: Option<String>,
        sixth: Option<String>,
    ) -> (String, Option<String>, Option<String>) {
        let (assay, model) = self.omics.assay_and_model(fifth, sixth);
        (tissue.unwrap_or_default(), assay, model)
    }
}

impl PartialEq for ScoreVariantFunc {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.registry, &other.registry)
    }
}
impl Eq for ScoreVariantFunc {}
impl Hash for ScoreVariantFunc {
    fn hash<H: Hasher>(&self, state: &mut H) {
        NAME.hash(state);
        (Arc::as_ptr(&self.registry) as usize).hash(state);
    }
}

/// The per-track struct column of `scores` (one entry per row, `None` for NULL).
fn track_struct(scores: &[Option<TrackScore>]) -> Result<ArrayRef> {
    let nulls = Some(NullBuffer::from(scores.iter().map(Option::is_some).collect::<Vec<_>>()));
    let column = |f: fn(&TrackScore) -> f32| -> ArrayRef {
        let values: Vec<f32> = scores.iter().map(|s| s.as_ref().map_or(0.0, f)).collect();
        Arc::new(Float32Array::new(values.into(), nulls.clone()))
    };
    let arrays = vec![column(|s| s.reference), column(|s| s.alt), column(|s| s.delta), column(|s| s.log2_ratio)];
    let DataType::Struct(fields) = score_type() else { return internal_err!("{NAME}: struct type expected") };
    Ok(Arc::new(StructArray::try_new(fields, arrays, nulls)?))
}

/// Scores every row's windows with `spec`'s tracks `outputs`: one batched evaluation.
pub(crate) fn score_windows(
    registry: &ModelRegistry,
    task: &PredictTask,
    meta: &omicsdb_storage::models::ModelMeta,
    spec: &OmicsSpec,
    windows: &[Option<(Vec<u8>, Vec<u8>)>],
    outputs: &[(usize, String)],
    interrupt: &crate::interrupt::StatementInterrupt,
) -> crate::Result<Vec<Vec<Option<TrackScore>>>> {
    let results = evaluate(registry, task, meta, &super::window_inputs(windows), interrupt)?;
    Ok(outputs
        .iter()
        .map(|(t, _)| {
            let kind = spec.tracks[*t].kind;
            results
                .chunks(2)
                .map(|pair| match (&pair[0], &pair[1]) {
                    (Some(r), Some(a)) => Some(TrackScore::new(r[*t], a[*t], kind)),
                    _ => None,
                })
                .collect()
        })
        .collect())
}

impl ScalarUDFImpl for ScoreVariantFunc {
    fn name(&self) -> &str {
        NAME
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_variant_args(NAME, &ARGS, 5, arg_types)
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        internal_err!("{NAME}: return_field_from_args should be called instead")
    }
    fn return_field_from_args(&self, a: ReturnFieldArgs) -> Result<FieldRef> {
        let n = a.arg_fields.len();
        let scalar = |i: usize| a.scalar_arguments.get(i).copied().flatten();
        let tissue = args::plan_constant(NAME, "tissue", true, scalar(4))?;
        let fifth = args::plan_constant(NAME, "assay", n > 5, scalar(5))?;
        let sixth = args::plan_constant(NAME, "model", n > 6, scalar(6))?;
        let (tissue, assay, model) = self.constants(tissue, fifth, sixth);
        let meta = self.omics.resolve(model.as_deref())?;
        let spec = self.omics.spec(&meta)?;
        let outputs = self.omics.outputs(&spec, &tissue, assay.as_deref())?;
        Ok(Arc::new(Field::new(NAME, Self::return_type_for(&outputs, assay.is_some()), true)))
    }
    fn invoke_with_args(&self, a: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = args::all_scalar(&a.args);
        let tissue = args::exec_constant(NAME, "tissue", a.args.get(4))?;
        let fifth = args::exec_constant(NAME, "assay", a.args.get(5))?;
        let sixth = args::exec_constant(NAME, "model", a.args.get(6))?;
        let (tissue, assay, model) = self.constants(tissue, fifth, sixth);
        let meta = self.omics.resolve(model.as_deref())?;
        let head = self.omics.head(&meta)?;
        let spec = &head.spec;
        let outputs = self.omics.outputs(spec, &tissue, assay.as_deref())?;
        let expected = Self::return_type_for(&outputs, assay.is_some());
        if a.return_type() != &expected {
            return Err(crate::UdfError::Argument {
                function: NAME,
                argument: "model",
                message: format!("{} changed since the query was planned; run it again", meta.label()),
            }
            .into());
        }
        let on_mismatch = OnRefMismatch::of(NAME, &a.config_options)?;
        let arrays: Vec<ArrayRef> = a.args[..4].iter().map(|c| c.to_array(a.number_rows)).collect::<Result<_>>()?;
        let columns = VariantColumns::new(NAME, &arrays)?;
        let sites = VariantSites::new(self.registry.store(), &spec.assembly, spec.input_len())?;
        let windows = prepare_rows(NAME, std::slice::from_ref(&sites), &columns, a.number_rows, on_mismatch, &self.registry.stats)?;
        let task = PredictTask::predict(Arc::clone(&head));
        let interrupt = crate::interrupt::StatementInterrupt::of(&a.config_options);
        let scores = score_windows(&self.registry, &task, &meta, spec, &windows, &outputs, &interrupt)?;
        let out: ArrayRef = if assay.is_some() {
            track_struct(&scores[0])?
        } else {
            let DataType::Struct(fields) = expected else { return internal_err!("{NAME}: struct type expected") };
            let arrays = scores.iter().map(|s| track_struct(s)).collect::<Result<Vec<_>>>()?;
            let nulls = Some(NullBuffer::from(windows.iter().map(Option::is_some).collect::<Vec<_>>()));
            Arc::new(StructArray::try_new(fields, arrays, nulls)?)
        };
        args::finish(out, scalar)
    }
}

/// One track a [`VariantScorer`] scores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoredTrack {
    /// Index in the model's tracks.
    pub index: usize,
    /// Its tissue.
    pub tissue: String,
    /// `predict_omics`'s field name for it within the tissue.
    pub field: String,
    /// Its track name.
    pub track: String,
}

/// `score_variant` outside SQL (the `omicsdb score-variants` job): one omics model,
/// the tracks of some tissues, windows cut by [`VariantScorer::sites`], one batched
/// evaluation per call.
#[derive(Debug)]
pub struct VariantScorer {
    registry: Arc<ModelRegistry>,
    meta: omicsdb_storage::models::ModelMeta,
    head: Arc<omicsdb_model::omics::OmicsHead>,
    tracks: Vec<ScoredTrack>,
    sites: VariantSites,
}

impl VariantScorer {
    /// The omics model `model` (default as for `predict_omics`) over the tracks of
    /// `tissues` (empty: every tissue of the model), an error naming an unknown tissue.
    pub fn new(registry: Arc<ModelRegistry>, model: Option<&str>, tissues: &[String]) -> crate::Result<Self> {
        let omics = PredictOmicsFunc::for_function(Arc::clone(&registry), "score-variants");
        let meta = omics.resolve(model)?;
        let head = omics.head(&meta)?;
        let tissues: Vec<String> = if tissues.is_empty() { head.spec.tissues() } else { tissues.to_vec() };
        let mut tracks = Vec::new();
        for tissue in &tissues {
            for (index, field) in omics.outputs(&head.spec, tissue, None)? {
                tracks.push(ScoredTrack { index, tissue: tissue.clone(), field, track: head.spec.tracks[index].name.clone() });
            }
        }
        let sites = VariantSites::new(registry.store(), &head.spec.assembly, head.spec.input_len())?;
        Ok(Self { registry, meta, head, tracks, sites })
    }

    /// The model.
    pub fn meta(&self) -> &omicsdb_storage::models::ModelMeta {
        &self.meta
    }

    /// The tracks scored, in output order.
    pub fn tracks(&self) -> &[ScoredTrack] {
        &self.tracks
    }

    /// What cuts and checks the windows (the model's assembly and input length).
    pub fn sites(&self) -> &VariantSites {
        &self.sites
    }

    /// The scores of every row's `(reference, alt)` windows, `[track][row]`; `None`
    /// rows stay `None`.
    pub fn score(
        &self,
        windows: &[Option<(Vec<u8>, Vec<u8>)>],
        interrupt: &crate::interrupt::StatementInterrupt,
    ) -> crate::Result<Vec<Vec<Option<TrackScore>>>> {
        let task = PredictTask::predict(Arc::clone(&self.head));
        let outputs: Vec<(usize, String)> = self.tracks.iter().map(|t| (t.index, t.field.clone())).collect();
        score_windows(&self.registry, &task, &self.meta, &self.head.spec, windows, &outputs, interrupt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log2_ratio_uses_the_track_kind_pseudocount() {
        let s = TrackScore::new(3.0, 7.0, TrackKind::Signal);
        assert_eq!((s.delta, s.log2_ratio), (4.0, 1.0));
        let p = TrackScore::new(0.5, 0.25, TrackKind::Peaks);
        assert!((p.log2_ratio + 1.0).abs() < 1e-5, "{p:?}");
        assert_eq!(p.delta, -0.25);
        // No infinities at zero.
        assert!(TrackScore::new(0.0, 0.0, TrackKind::Peaks).log2_ratio == 0.0);
    }
}
