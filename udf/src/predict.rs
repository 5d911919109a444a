//! `predict_omics`: a trained omics model's per-track predictions for genomic regions.
//!
//! Forms (all arguments strings; `tissue`, `assay` and `model` constant):
//!
//! * `predict_omics(region, tissue)` and `predict_omics(region, tissue, model)` →
//!   `Struct` with one `Float32` field per track of that tissue in the model, named
//!   `assay` or `assay_target` lowercased with `_` for other characters (e.g.
//!   `atac_seq`, `chip_seq_ctcf`; a name used twice gets `_<track>` appended).
//! * `predict_omics(region, tissue, assay)` and `predict_omics(region, tissue, assay, model)`
//!   → `Float32` for one track; `assay` matches a field name, an assay, or a track name
//!   (case-insensitive). With three arguments the third is a model if the catalog has a
//!   model of that name (`name` or `name@version`), else an assay.
//!
//! `region` is a region string `chrom:start-end` (1-based, closed; commas allowed), e.g.
//! the window set's `region` column. In its place three arguments `chrom, start, end`
//! (0-based, half-open integers, as in the window table's columns) give the same region:
//! `predict_omics(chrom, start, "end", tissue [, assay] [, model])`; a NULL in any of them
//! gives NULL. The region's chromosome must exist in the model's
//! assembly (a region string carries no assembly, so this is the assembly check).
//! Values are in the track's units: probabilities for peak tracks, the predicted
//! window value (`expm1` of the `log1p` output) for signal tracks.
//!
//! A region of at most the model's window width is predicted from one input of
//! `window_bp + 2·flank_bp` bases centred on it (`N` past the chromosome ends); a longer
//! region is tiled with windows of `window_bp` from its start (the last one ending at its
//! end), each with its flanks, and the per-tile predictions are averaged. Tiles go through
//! the shared [`crate::batching`] machinery: deduplicated, cached by model sha256 and
//! sequence hash, and run in token-budget micro-batches. The default model is the catalog
//! setting `default_omics_model`, else the newest `hyena_omics` model.
//!
//! `impute_omics(region, tissue, assay [, model])` (also `chrom, start, "end"` in place of
//! `region`) → `Float32`: the same track predicted by a model trained with `--impute`
//! from the sequence *and* the measured values of every other track of the model in
//! each tile's window ([`crate::observed`]; a NULL value is not measured), so a
//! track can be filled in where it is missing, or checked against what the other
//! assays say. Every argument form, tiling and error is as for `predict_omics`; a
//! model trained without `--impute` is an error.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use arrow::array::{Array, ArrayRef, Float32Array, StructArray};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Field, FieldRef, Fields};
use candle_core::Tensor;
use datafusion::common::{Result, internal_err};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use omicsdb_model::omics::impute::observed_row;
use omicsdb_model::omics::spec::{context_sequence, tile_centres};
use omicsdb_model::omics::{ARCHITECTURE, OmicsHead, OmicsSpec};
use omicsdb_model::zoo::GenomicModel;
use omicsdb_model::{HyenaDna, ModelError};
use omicsdb_storage::Genome;
use omicsdb_storage::models::{self, ModelMeta};

use crate::args;
use crate::batching::{Task, evaluate};
use crate::cache::{decode_f32, encode_f32};
use crate::error::UdfError;
use crate::observed::{BatchObserved, TrackColumns};
use crate::registry::ModelRegistry;

/// The SQL name.
pub const NAME: &str = "predict_omics";
/// The SQL name of the imputing form.
pub const IMPUTE_NAME: &str = "impute_omics";
/// Catalog setting naming the default omics model.
pub const DEFAULT_OMICS_MODEL: &str = "default_omics_model";
/// Longest region accepted (bp).
pub const MAX_REGION_BP: u64 = 10_000_000;
const ARGS: [&str; 4] = ["region", "tissue", "assay", "model"];
const COORD_ARGS: [&str; 6] = ["chrom", "start", "end", "tissue", "assay", "model"];

/// True for the `chrom, start, end, tissue, ...` form: integer second and third arguments.
fn coordinate_form<'a>(types: impl IntoIterator<Item = &'a DataType>) -> bool {
    let types: Vec<&DataType> = types.into_iter().take(4).collect();
    types.len() >= 4 && types[1].is_integer() && types[2].is_integer()
}

/// What a function of this file computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// `predict_omics`: from the sequence alone.
    Predict,
    /// `impute_omics`: from the sequence and the other tracks' measured values.
    Impute,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Predict => NAME,
            Mode::Impute => IMPUTE_NAME,
        }
    }
}

/// Every track's prediction for one model input (the batcher's task). With
/// imputation an input is the sequence followed by its observed values, `2·T`
/// little-endian f32 ([`omicsdb_model::omics::impute::observed_input`]'s row).
#[derive(Debug, Clone)]
pub struct PredictTask {
    head: Arc<OmicsHead>,
    mode: Mode,
}

impl PredictTask {
    /// `predict_omics`'s task for `head` (the tissue-independent per-track outputs).
    pub(crate) fn predict(head: Arc<OmicsHead>) -> Self {
        Self { head, mode: Mode::Predict }
    }
}

impl Task for PredictTask {
    type Out = Vec<f32>;
    fn function(&self) -> &'static str {
        self.mode.name()
    }
    fn tag(&self) -> &'static str {
        match (self.mode, self.head.spec.rc_average) {
            (Mode::Predict, false) => "omics",
            (Mode::Predict, true) => "omics-rc",
            (Mode::Impute, false) => "omics-impute",
            (Mode::Impute, true) => "omics-impute-rc",
        }
    }
    fn split<'a>(&self, input: &'a [u8]) -> (&'a [u8], &'a [u8]) {
        match self.mode {
            Mode::Predict => (input, &[]),
            Mode::Impute => input.split_at(self.head.spec.input_len().min(input.len())),
        }
    }
    fn run(&self, model: &dyn GenomicModel, ids: &Tensor, side: &[&[u8]]) -> Result<Vec<Vec<f32>>, ModelError> {
        let model: &HyenaDna = model
            .as_hyena()
            .ok_or(ModelError::NotSupported { family: model.facts().family, what: "omics heads (only HyenaDNA-backbone omics models do)" })?;
        if self.mode == Mode::Predict {
            return self.head.predict(model, ids);
        }
        let width = 2 * self.head.spec.tracks.len();
        let mut values = Vec::with_capacity(side.len() * width);
        for bytes in side {
            match decode_f32(bytes, width) {
                Some(v) => values.extend(v),
                None => {
                    return Err(ModelError::BadShape {
                        what: "observed values".into(),
                        expected: format!("{width} f32"),
                        got: vec![bytes.len()],
                    });
                }
            }
        }
        let observed = Tensor::from_vec(values, (side.len(), width), ids.device())?;
        self.head.predict_observed(model, ids, Some(&observed))
    }
    fn encode(&self, out: &Vec<f32>) -> Vec<u8> {
        encode_f32(out)
    }
    fn decode(&self, bytes: &[u8]) -> Option<Vec<f32>> {
        decode_f32(bytes, self.head.spec.tracks.len())
    }
}

/// Parses `chrom:start-end` (1-based closed, commas allowed) to 0-based half-open.
pub fn parse_region(text: &str) -> std::result::Result<(String, u64, u64), String> {
    omicsdb_storage::region::Region::parse(text).map(|r| (r.chrom, r.start, r.end))
}

/// `predict_omics` (or `impute_omics`) over a [`ModelRegistry`].
#[derive(Debug)]
pub struct PredictOmicsFunc {
    registry: Arc<ModelRegistry>,
    heads: Mutex<HashMap<(String, u32), Arc<OmicsHead>>>,
    mode: Mode,
    /// The SQL function errors name (`predict_omics`, or a function that resolves its
    /// model and tracks through this one, e.g. `score_variant`).
    function: &'static str,
    observed: TrackColumns,
    signature: Signature,
}

impl PredictOmicsFunc {
    /// `predict_omics`, running models from `registry`.
    pub fn new(registry: Arc<ModelRegistry>) -> Self {
        Self::with_mode(registry, Mode::Predict)
    }

    /// `impute_omics`, running models from `registry`.
    pub fn impute(registry: Arc<ModelRegistry>) -> Self {
        Self::with_mode(registry, Mode::Impute)
    }

    fn with_mode(registry: Arc<ModelRegistry>, mode: Mode) -> Self {
        Self {
            registry,
            heads: Mutex::new(HashMap::new()),
            mode,
            function: mode.name(),
            observed: TrackColumns::default(),
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    /// `predict_omics`'s model and track resolution for another function, whose
    /// errors name `function`.
    pub(crate) fn for_function(registry: Arc<ModelRegistry>, function: &'static str) -> Self {
        Self { function, ..Self::new(registry) }
    }

    fn arg_err(&self, argument: &'static str, message: String) -> UdfError {
        UdfError::Argument { function: self.function, argument, message }
    }

    /// Resolves the model: named, the `default_omics_model` setting, or the newest omics model.
    pub(crate) fn resolve(&self, name: Option<&str>) -> Result<ModelMeta, UdfError> {
        let store = self.registry.store();
        let name = match name {
            Some(n) => Some(n.to_string()),
            None => models::setting(store, DEFAULT_OMICS_MODEL)?.and_then(|v| v.as_str().map(String::from)),
        };
        let meta = match name {
            Some(n) => self.registry.resolve(self.function, Some(&n))?,
            None => models::list_models(store)?
                .into_iter()
                .filter(|m| m.architecture == ARCHITECTURE)
                .max_by_key(|m| (m.created_at, m.version))
                .ok_or_else(|| {
                    self.arg_err("model", "no hyena_omics model in the catalog; train one with `omicsdb train`".into())
                })?,
        };
        if meta.architecture != ARCHITECTURE {
            return Err(self.arg_err(
                "model",
                format!("{} has architecture '{}', not '{ARCHITECTURE}'", meta.label(), meta.architecture),
            ));
        }
        Ok(meta)
    }

    pub(crate) fn spec(&self, meta: &ModelMeta) -> Result<OmicsSpec, UdfError> {
        let spec = OmicsSpec::from_config_json(&meta.config, std::path::Path::new(&meta.config_file))
            .map_err(|source| UdfError::Model { model: meta.label(), source })?;
        if self.mode == Mode::Impute && spec.impute.is_none() {
            return Err(self.arg_err(
                "model",
                format!("{} was trained without observed tracks as an input: train with `omicsdb train --impute`, or use {NAME}", meta.label()),
            ));
        }
        Ok(spec)
    }

    pub(crate) fn head(&self, meta: &ModelMeta) -> Result<Arc<OmicsHead>, UdfError> {
        let key = (meta.name.clone(), meta.version);
        let mut heads = self.heads.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = heads.get(&key) {
            return Ok(Arc::clone(h));
        }
        let spec = self.spec(meta)?;
        let d = meta.d_model().ok_or_else(|| self.arg_err("model", format!("{} has no d_model", meta.label())))?;
        let file = self.registry.store().path(&meta.dir).join(&meta.weights_file);
        let head = OmicsHead::load(&file, spec, d, self.registry.device())
            .map_err(|source| UdfError::Model { model: meta.label(), source })?;
        let head = Arc::new(head);
        heads.insert(key, Arc::clone(&head));
        Ok(head)
    }

    /// Splits the arguments after `tissue` into (assay, model) per the module docs.
    pub(crate) fn assay_and_model(&self, third: Option<String>, fourth: Option<String>) -> (Option<String>, Option<String>) {
        if self.mode == Mode::Impute {
            return (third, fourth);
        }
        match (third, fourth) {
            (Some(t), Some(m)) => (Some(t), Some(m)),
            (Some(t), None) => {
                let base = t.rsplit_once('@').map_or(t.as_str(), |(b, _)| b);
                let is_model = models::model_names(self.registry.store()).unwrap_or_default().iter().any(|n| n == base);
                if is_model { (None, Some(t)) } else { (Some(t), None) }
            }
            (None, _) => (None, None),
        }
    }

    /// The head outputs a call returns, with their field names.
    pub(crate) fn outputs(&self, spec: &OmicsSpec, tissue: &str, assay: Option<&str>) -> Result<Vec<(usize, String)>, UdfError> {
        let idx = spec.tissue_tracks(tissue);
        if idx.is_empty() {
            return Err(self.arg_err("tissue", format!("'{tissue}' is not a tissue of this model; known: {}", spec.tissues().join(", "))));
        }
        let mut named: Vec<(usize, String)> = Vec::new();
        for &i in &idx {
            let mut name = spec.tracks[i].field_name();
            if named.iter().any(|(_, n)| *n == name) {
                name = format!("{name}_{}", spec.tracks[i].name);
            }
            named.push((i, name));
        }
        let Some(assay) = assay else { return Ok(named) };
        let hit = named.iter().find(|(i, n)| {
            let t = &spec.tracks[*i];
            n.eq_ignore_ascii_case(assay) || t.assay.eq_ignore_ascii_case(assay) || t.name.eq_ignore_ascii_case(assay)
        });
        match hit {
            Some(h) => Ok(vec![h.clone()]),
            None => Err(self.arg_err(
                "assay",
                format!(
                    "'{assay}' is not an assay of tissue '{tissue}' in this model; known: {}",
                    named.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>().join(", ")
                ),
            )),
        }
    }

    fn return_type_for(outputs: &[(usize, String)], single: bool) -> DataType {
        if single {
            DataType::Float32
        } else {
            DataType::Struct(Fields::from(
                outputs.iter().map(|(_, n)| Field::new(n, DataType::Float32, true)).collect::<Vec<_>>(),
            ))
        }
    }

    /// Model inputs of a region (one per tile); `label` names it in errors. With
    /// imputation (`hide`: the predicted track) each input is followed by its observed values.
    #[allow(clippy::too_many_arguments)]
    fn region_inputs(
        &self,
        spec: &OmicsSpec,
        hide: Option<(usize, &BatchObserved)>,
        genome: &Genome,
        row: usize,
        label: &str,
        chrom: &str,
        start: u64,
        end: u64,
    ) -> Result<Vec<Vec<u8>>, UdfError> {
        if end < start {
            return Err(self.arg_err("region", format!("row {row}: '{label}' ends before it starts")));
        }
        if end - start > MAX_REGION_BP {
            return Err(self.arg_err("region", format!("row {row}: '{label}' is longer than {MAX_REGION_BP} bp")));
        }
        let chrom_len = genome.chrom_length(chrom).ok_or_else(|| {
            self.arg_err("region", format!("row {row}: chromosome '{chrom}' is not in the model's assembly '{}'", spec.assembly))
        })?;
        if end > chrom_len {
            return Err(self.arg_err("region", format!("row {row}: '{label}' ends past {chrom} ({chrom_len} bp)")));
        }
        tile_centres(start, end, spec.window_bp)
            .into_iter()
            .map(|c| -> Result<Vec<u8>, UdfError> {
                let mut seq = context_sequence(c, spec.input_len(), chrom_len, |s, e| genome.sequence(chrom, s, e, false))?;
                seq.iter_mut().filter(|b| !matches!(b, b'A' | b'C' | b'G' | b'T')).for_each(|b| *b = b'N');
                if let Some((hide, batch)) = hide {
                    let observed = batch.observed(chrom, c, hide)?;
                    seq.extend(encode_f32(&observed_row(&observed, spec.tracks.len())));
                }
                Ok(seq)
            })
            .collect()
    }

    /// Per row, the region's model inputs, or `None` for a NULL region. `off` is 0 for
    /// the region-string form and 2 for `chrom, start, end`.
    fn row_inputs(
        &self,
        spec: &OmicsSpec,
        hide: Option<usize>,
        args: &[ColumnarValue],
        rows: usize,
        off: usize,
    ) -> Result<Vec<Option<Vec<Vec<u8>>>>> {
        let first = args[0].to_array(rows)?;
        let texts = args::string_rows(self.mode.name(), if off == 0 { "region" } else { "chrom" }, &first)?;
        // The window set and tracks the observed values come from, once per batch.
        let observed = match hide {
            Some(t) => Some((t, self.observed.for_batch(self.registry.store(), spec)?)),
            None => None,
        };
        let hide = observed.as_ref().map(|(t, b)| (*t, b));
        // One catalog lookup per batch (at the first non-NULL row), not per row.
        let mut cached: Option<Arc<Genome>> = None;
        let mut genome = || -> Result<Arc<Genome>, UdfError> {
            if let Some(g) = &cached {
                return Ok(Arc::clone(g));
            }
            let g = self.registry.store().genome(&spec.assembly)?;
            cached = Some(Arc::clone(&g));
            Ok(g)
        };
        let mut out = Vec::with_capacity(texts.len());
        if off == 0 {
            for (row, text) in texts.iter().enumerate() {
                out.push(match text {
                    None => None,
                    Some(t) => {
                        let label = String::from_utf8_lossy(t);
                        let (chrom, start, end) =
                            parse_region(&label).map_err(|m| self.arg_err("region", format!("row {row}: {m}")))?;
                        Some(self.region_inputs(spec, hide, genome()?.as_ref(), row, &label, &chrom, start, end)?)
                    }
                });
            }
            return Ok(out);
        }
        let int64 = |i: usize| -> Result<arrow::array::Int64Array> {
            let a = arrow::compute::cast(&args[i].to_array(rows)?, &DataType::Int64)?;
            Ok(a.as_any().downcast_ref::<arrow::array::Int64Array>().cloned().unwrap_or_else(|| arrow::array::Int64Array::new_null(rows)))
        };
        let (starts, ends) = (int64(1)?, int64(2)?);
        for (row, chrom) in texts.iter().enumerate() {
            let (Some(chrom), true, true) = (chrom, starts.is_valid(row), ends.is_valid(row)) else {
                out.push(None);
                continue;
            };
            let chrom = String::from_utf8_lossy(chrom);
            let (start, end) = (starts.value(row), ends.value(row));
            let label = format!("{chrom}:{start}-{end} (0-based)");
            if start < 0 || end < 0 {
                return Err(self.arg_err("start", format!("row {row}: '{label}' has a negative coordinate")).into());
            }
            out.push(Some(self.region_inputs(spec, hide, genome()?.as_ref(), row, &label, &chrom, start as u64, end as u64)?));
        }
        Ok(out)
    }
}

impl PartialEq for PredictOmicsFunc {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.registry, &other.registry) && self.mode == other.mode
    }
}
impl Eq for PredictOmicsFunc {}
impl Hash for PredictOmicsFunc {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.mode.name().hash(state);
        (Arc::as_ptr(&self.registry) as usize).hash(state);
    }
}

impl ScalarUDFImpl for PredictOmicsFunc {
    fn name(&self) -> &str {
        self.mode.name()
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        // impute_omics needs the assay too.
        let extra = usize::from(self.mode == Mode::Impute);
        let name = self.mode.name();
        if coordinate_form(arg_types) {
            let mut out = args::coerce(name, &COORD_ARGS[..1], 1, &arg_types[..1])?;
            out.extend([DataType::Int64, DataType::Int64]);
            out.extend(args::coerce(name, &COORD_ARGS[3..], 1 + extra, &arg_types[3..])?);
            return Ok(out);
        }
        args::coerce(name, &ARGS, 2 + extra, arg_types)
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        internal_err!("{}: return_field_from_args should be called instead", self.mode.name())
    }
    fn return_field_from_args(&self, a: ReturnFieldArgs) -> Result<FieldRef> {
        let off = if coordinate_form(a.arg_fields.iter().map(|f| f.data_type())) { 2 } else { 0 };
        let n = a.arg_fields.len();
        let scalar = |i: usize| a.scalar_arguments.get(i + off).copied().flatten();
        let name = self.mode.name();
        let tissue = args::plan_constant(name, "tissue", true, scalar(1))?.unwrap_or_default();
        let third = args::plan_constant(name, "assay", n > 2 + off, scalar(2))?;
        let fourth = args::plan_constant(name, "model", n > 3 + off, scalar(3))?;
        let (assay, model) = self.assay_and_model(third, fourth);
        let meta = self.resolve(model.as_deref())?;
        let spec = self.spec(&meta)?;
        let outputs = self.outputs(&spec, &tissue, assay.as_deref())?;
        Ok(Arc::new(Field::new(name, Self::return_type_for(&outputs, assay.is_some()), true)))
    }
    fn invoke_with_args(&self, a: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = args::all_scalar(&a.args);
        let types: Vec<DataType> = a.args.iter().map(|c| c.data_type()).collect();
        let off = if coordinate_form(&types) { 2 } else { 0 };
        let name = self.mode.name();
        let tissue = args::exec_constant(name, "tissue", a.args.get(1 + off))?.unwrap_or_default();
        let third = args::exec_constant(name, "assay", a.args.get(2 + off))?;
        let fourth = args::exec_constant(name, "model", a.args.get(3 + off))?;
        let (assay, model) = self.assay_and_model(third, fourth);
        let meta = self.resolve(model.as_deref())?;
        let head = self.head(&meta)?;
        let spec = &head.spec;
        let outputs = self.outputs(spec, &tissue, assay.as_deref())?;
        let expected = Self::return_type_for(&outputs, assay.is_some());
        if a.return_type() != &expected {
            return Err(self.arg_err("model", format!("{} changed since the query was planned; run it again", meta.label())).into());
        }
        // Every tile of every region, then one batched, cached evaluation.
        let hide = match self.mode {
            Mode::Impute => outputs.first().map(|(t, _)| *t),
            Mode::Predict => None,
        };
        let per_row = self.row_inputs(spec, hide, &a.args, a.number_rows, off)?;
        let n_rows = per_row.len();
        let mut seqs: Vec<Vec<u8>> = Vec::new();
        let mut spans: Vec<Option<(usize, usize)>> = Vec::with_capacity(n_rows);
        for inputs in per_row {
            match inputs {
                None => spans.push(None),
                Some(inputs) => {
                    spans.push(Some((seqs.len(), inputs.len())));
                    seqs.extend(inputs);
                }
            }
        }
        let refs: Vec<Option<&[u8]>> = seqs.iter().map(|s| Some(s.as_slice())).collect();
        let task = PredictTask { head: Arc::clone(&head), mode: self.mode };
        let results = evaluate(&self.registry, &task, &meta, &refs, &crate::interrupt::StatementInterrupt::of(&a.config_options))?;
        let mut columns: Vec<Vec<f32>> = vec![Vec::with_capacity(n_rows); outputs.len()];
        let mut valid = Vec::with_capacity(n_rows);
        for span in &spans {
            valid.push(span.is_some());
            for (c, (t, _)) in outputs.iter().enumerate() {
                let v = match span {
                    Some((first, count)) => {
                        let sum: f32 = results[*first..first + count].iter().map(|r| r.as_ref().map_or(0.0, |r| r[*t])).sum();
                        sum / (*count).max(1) as f32
                    }
                    None => 0.0,
                };
                columns[c].push(v);
            }
        }
        let nulls = Some(NullBuffer::from(valid));
        let arrays: Vec<ArrayRef> =
            columns.into_iter().map(|c| Arc::new(Float32Array::new(c.into(), nulls.clone())) as ArrayRef).collect();
        let out: ArrayRef = if assay.is_some() {
            Arc::clone(&arrays[0])
        } else {
            let DataType::Struct(fields) = expected else { return internal_err!("{name}: struct type expected") };
            Arc::new(StructArray::try_new(fields, arrays, nulls)?)
        };
        args::finish(out, scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_parse_one_based_closed() {
        assert_eq!(parse_region("chr1:1,001-2,000").unwrap(), ("chr1".into(), 1000, 2000));
        assert_eq!(parse_region("HLA:A:1-1").unwrap(), ("HLA:A".into(), 0, 1));
        assert!(parse_region("chr1:0-5").is_err());
        assert!(parse_region("chr1:9-5").is_err());
        assert!(parse_region("chr1").is_err());
    }
}
