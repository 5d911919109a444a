//! One SQL result batch → one batch of the predictions table: the
//! predict_omics struct spread into one Float32 column per assay (NULL where
//! the tissue has no such assay), constant tissue/model columns added.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, FixedSizeListArray, Int32Array, RecordBatch, StringArray, new_null_array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::error::ArrowError;

use super::meta::{ColumnSource, MaterializationMeta, embedding_item};

/// Flattens batches of one partition.
#[derive(Debug, Clone)]
pub struct Flattener {
    schema: SchemaRef,
    meta: MaterializationMeta,
    tissue: Option<String>,
}

impl Flattener {
    /// A flattener for the partition of `tissue` of `meta`.
    pub fn new(meta: &MaterializationMeta, tissue: Option<&str>) -> Self {
        Self { schema: meta.schema(), meta: meta.clone(), tissue: tissue.map(str::to_string) }
    }

    /// The output schema.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Converts one batch of [`super::sql::chunk_query`]'s result.
    pub fn flatten(&self, batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
        let n = batch.num_rows();
        let column = |name: &str| {
            batch
                .column_by_name(name)
                .cloned()
                .ok_or_else(|| ArrowError::SchemaError(format!("the partition query returned no column {name}")))
        };
        let mut out: Vec<ArrayRef> = vec![column("chrom")?, column("start")?, column("end")?];
        out.push(Arc::new(StringArray::from(vec![self.tissue.as_deref(); n])));
        let structs = batch.column_by_name("p").map(|p| p.as_struct_opt().cloned());
        for c in &self.meta.columns {
            let array: ArrayRef = match &c.source {
                ColumnSource::PredictOmics { field } => match &structs {
                    Some(Some(s)) => match s.column_by_name(field) {
                        // A NULL struct row makes each of its assays NULL.
                        Some(values) => with_parent_nulls(&cast(values, &DataType::Float32)?, s.nulls())?,
                        None => new_null_array(&DataType::Float32, n),
                    },
                    Some(None) => return Err(ArrowError::SchemaError("predict_omics did not return a struct".into())),
                    None => new_null_array(&DataType::Float32, n),
                },
                ColumnSource::HyenaLoglik => cast(&column("loglik")?, &DataType::Float32)?,
                ColumnSource::HyenaEmbed { width } | ColumnSource::Embed { width, .. } => {
                    let e = column("embedding")?;
                    let list = e
                        .as_fixed_size_list_opt()
                        .ok_or_else(|| ArrowError::SchemaError(format!("hyena_embed returned {}", e.data_type())))?;
                    let values = cast(list.values(), &DataType::Float32)?;
                    Arc::new(FixedSizeListArray::try_new(Arc::new(embedding_item()), *width, values, list.nulls().cloned())?)
                }
            };
            out.push(array);
        }
        out.push(Arc::new(StringArray::from(vec![self.meta.model.as_str(); n])));
        out.push(Arc::new(Int32Array::from(vec![self.meta.model_version as i32; n])));
        RecordBatch::try_new(Arc::clone(&self.schema), out)
    }
}

fn with_parent_nulls(values: &ArrayRef, parent: Option<&datafusion::arrow::buffer::NullBuffer>) -> Result<ArrayRef, ArrowError> {
    let Some(parent) = parent else { return Ok(Arc::clone(values)) };
    let merged = datafusion::arrow::buffer::NullBuffer::union(values.nulls(), Some(parent));
    let data = values.to_data().into_builder().nulls(merged).build()?;
    Ok(datafusion::arrow::array::make_array(data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::materialize::meta::PredictionColumn;
    use datafusion::arrow::array::{Float32Array, Float64Array, Int64Array, StructArray};
    use datafusion::arrow::buffer::NullBuffer;
    use datafusion::arrow::datatypes::{Field, Float32Type, Schema};

    fn meta() -> MaterializationMeta {
        MaterializationMeta {
            model: "omics".into(),
            model_version: 3,
            model_sha256: String::new(),
            window_set: "windows".into(),
            window_set_dir: String::new(),
            assembly: "hg38".into(),
            functions: vec!["predict_omics".into()],
            columns: vec![
                PredictionColumn { name: "dnase".into(), source: ColumnSource::PredictOmics { field: "DNase".into() } },
                PredictionColumn { name: "h3k27ac".into(), source: ColumnSource::PredictOmics { field: "H3K27ac".into() } },
            ],
            dir: String::new(),
            partitions: Vec::new(),
            created_at: 0,
            updated_at: 0,
            slot: None,
        }
    }

    #[test]
    fn the_struct_becomes_one_float32_column_per_assay_with_nulls_for_missing_assays() {
        // This tissue has DNase only (as Float64), and its second window's prediction is NULL.
        let dnase: ArrayRef = Arc::new(Float64Array::from(vec![0.5, 0.25]));
        let p = StructArray::try_new(
            vec![Field::new("DNase", DataType::Float64, true)].into(),
            vec![dnase],
            Some(NullBuffer::from(vec![true, false])),
        )
        .unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("chrom", DataType::Utf8, false),
            Field::new("start", DataType::Int64, false),
            Field::new("end", DataType::Int64, false),
            Field::new("p", p.data_type().clone(), true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec!["chr1", "chr1"])),
                Arc::new(Int64Array::from(vec![0, 100])),
                Arc::new(Int64Array::from(vec![100, 200])),
                Arc::new(p),
            ],
        )
        .unwrap();
        let out = Flattener::new(&meta(), Some("liver")).flatten(&batch).unwrap();
        let schema = out.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["chrom", "start", "end", "tissue", "dnase", "h3k27ac", "model", "model_version"]);
        let dnase = out.column(4).as_primitive::<Float32Type>();
        assert_eq!((dnase.value(0), dnase.is_null(1)), (0.5, true));
        assert_eq!(out.column(5).null_count(), 2);
        assert_eq!(out.column(3).as_string::<i32>().value(1), "liver");
        assert_eq!(out.column(6).as_string::<i32>().value(0), "omics");
        assert_eq!(out.column(7).as_primitive::<datafusion::arrow::datatypes::Int32Type>().value(0), 3);
        let _: &Float32Array = dnase;
    }
}
