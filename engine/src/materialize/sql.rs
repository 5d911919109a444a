//! The SQL a partition runs: the window set's rows of one chromosome, in
//! chunks of windows ordered by start, with the model functions applied.
//! Running through SQL gives materialization the functions' batching,
//! deduplication and result cache.

use super::meta::{ColumnSource, MaterializationMeta};

/// `'text'` with quotes doubled.
pub fn quote_str(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `"name"` with quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The query computing windows `[first, first + count)` (by index) of
/// `chrom` for `tissue`: columns `chrom, start, end`, then `p` (the
/// predict_omics struct) when predicted, `loglik`, `embedding`.
pub fn chunk_query(meta: &MaterializationMeta, chrom: &str, tissue: Option<&str>, stride: u64, first: u64, count: u64) -> String {
    let label = quote_str(&meta.label());
    let mut select = vec!["chrom".to_string(), "start".to_string(), "\"end\"".to_string()];
    if let Some(t) = tissue {
        if meta.columns.iter().any(|c| matches!(c.source, ColumnSource::PredictOmics { .. })) {
            select.push(format!("predict_omics(region, {}, {label}) AS p", quote_str(t)));
        }
    }
    for c in &meta.columns {
        match c.source {
            ColumnSource::PredictOmics { .. } => {}
            ColumnSource::HyenaLoglik => select.push(format!("CAST(hyena_loglik(upper(seq), {label}) AS FLOAT) AS loglik")),
            ColumnSource::HyenaEmbed { .. } => select.push(format!("hyena_embed(upper(seq), {label}) AS embedding")),
            ColumnSource::Embed { ref pooling, .. } => {
                select.push(format!("embed(upper(seq), {label}, {}) AS embedding", quote_str(pooling)))
            }
        }
    }
    let lo = first.saturating_mul(stride);
    let hi = first.saturating_add(count).saturating_mul(stride);
    format!(
        "SELECT {} FROM {} WHERE chrom = {} AND start >= {lo} AND start < {hi} ORDER BY start",
        select.join(", "),
        quote_ident(&meta.window_set),
        quote_str(chrom)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::materialize::meta::PredictionColumn;

    fn meta(columns: Vec<PredictionColumn>, functions: &[&str]) -> MaterializationMeta {
        MaterializationMeta {
            model: "omics".into(),
            model_version: 2,
            model_sha256: String::new(),
            window_set: "windows".into(),
            window_set_dir: String::new(),
            assembly: "hg38".into(),
            functions: functions.iter().map(|s| s.to_string()).collect(),
            columns,
            dir: String::new(),
            partitions: Vec::new(),
            created_at: 0,
            updated_at: 0,
            slot: None,
        }
    }

    #[test]
    fn a_chunk_selects_its_windows_by_start_and_quotes_names() {
        let m = meta(
            vec![PredictionColumn { name: "dnase".into(), source: ColumnSource::PredictOmics { field: "DNase".into() } }],
            &["predict_omics"],
        );
        let q = chunk_query(&m, "chr'1", Some("liver"), 1000, 4, 2);
        assert_eq!(
            q,
            "SELECT chrom, start, \"end\", predict_omics(region, 'liver', 'omics@2') AS p FROM \"windows\" \
             WHERE chrom = 'chr''1' AND start >= 4000 AND start < 6000 ORDER BY start"
        );
    }

    #[test]
    fn sequence_functions_run_on_uppercased_sequence() {
        let m = meta(
            vec![
                PredictionColumn { name: "loglik".into(), source: ColumnSource::HyenaLoglik },
                PredictionColumn { name: "embedding".into(), source: ColumnSource::HyenaEmbed { width: 32 } },
            ],
            &["hyena_loglik", "hyena_embed"],
        );
        let q = chunk_query(&m, "chr1", None, 256, 0, 10);
        assert!(q.contains("CAST(hyena_loglik(upper(seq), 'omics@2') AS FLOAT) AS loglik"), "{q}");
        assert!(q.contains("hyena_embed(upper(seq), 'omics@2') AS embedding"), "{q}");
        assert!(q.contains("start >= 0 AND start < 2560"), "{q}");
    }
}
