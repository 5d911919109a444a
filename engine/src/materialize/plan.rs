//! Planning a run: resolve the model, its tissues and the output columns,
//! reuse or replace the stored materialization, and list the (chromosome,
//! tissue) partitions still to compute.

use std::collections::{HashMap, HashSet};

use datafusion::arrow::datatypes::DataType;
use omicsdb_storage::layout::now_unix;
use omicsdb_storage::models::{self, ModelMeta};

use super::error::{MaterializeError, Result};
use super::meta::{self, ColumnSource, MaterializationMeta, PredictionColumn};
use super::request::{Function, Request, Tissues};
use super::sql::{quote_ident, quote_str};
use crate::Database;

/// Columns every predictions table has; prediction columns never take these names.
pub const FIXED_COLUMNS: [&str; 6] = ["chrom", "start", "end", "tissue", "model", "model_version"];

/// One partition to compute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionTask {
    /// Chromosome.
    pub chrom: String,
    /// Tissue, `None` for tissue-independent functions.
    pub tissue: Option<String>,
    /// Windows of the chromosome in the window set.
    pub rows: u64,
}

/// What a run will do.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The model version.
    pub model: ModelMeta,
    /// The entry to extend (already in the catalog unless `fresh`).
    pub meta: MaterializationMeta,
    /// True when the entry is new and must be committed before the first partition.
    pub fresh: bool,
    /// True when the entry lives under the staging key: it becomes the live
    /// entry (replacing any other of the same key) once every requested
    /// partition is committed. False when the run extends the live entry.
    pub staged: bool,
    /// Why an existing entry of the same model version was replaced, if it was.
    pub replaced: Option<String>,
    /// Window stride in bases (chunk boundaries).
    pub stride: u64,
    /// Partitions requested (done or not).
    pub requested: Vec<PartitionTask>,
    /// Partitions still to compute, in assembly order then tissue order.
    pub todo: Vec<PartitionTask>,
}

impl Plan {
    /// Windows still to compute.
    pub fn todo_windows(&self) -> u64 {
        self.todo.iter().map(|t| t.rows).sum()
    }

    /// Windows of the requested partitions already committed.
    pub fn done_windows(&self) -> u64 {
        self.requested.iter().map(|t| t.rows).sum::<u64>() - self.todo_windows()
    }
}

/// Splits `name` or `name@version`.
pub fn parse_model(text: &str) -> Result<(String, Option<u32>)> {
    match text.split_once('@') {
        None => Ok((text.to_string(), None)),
        Some((name, v)) => {
            let version = v.parse::<u32>().map_err(|_| MaterializeError::Argument {
                option: "--model",
                message: format!("'{text}': the version after '@' must be a number, e.g. {name}@2"),
            })?;
            Ok((name.to_string(), Some(version)))
        }
    }
}

/// The tissues of a model's tracks, in first-seen order.
pub fn model_tissues(db: &Database, model: &ModelMeta) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for t in &model.tracks {
        let tissue = db.store().track(t)?.tissue;
        if !out.contains(&tissue) {
            out.push(tissue);
        }
    }
    Ok(out)
}

/// Plans `req` against the catalog.
pub async fn plan(db: &Database, req: &Request) -> Result<Plan> {
    let store = db.store();
    let (name, version) = parse_model(&req.model)?;
    let model = models::model(store, &name, version)?;
    let label = model.label();
    let ws = store.window_set(&req.window_set)?;
    let functions = choose_functions(req, &model)?;
    let per_tissue = functions.contains(&Function::PredictOmics);
    let all_tissues = if per_tissue { model_tissues(db, &model)? } else { Vec::new() };
    if per_tissue && all_tissues.is_empty() {
        return Err(MaterializeError::Model {
            model: label,
            message: format!(
                "predict_omics needs a model trained on tracks (architecture hyena_omics); this one ({}) predicts none. \
                 Use --functions hyena_embed or hyena_loglik, or train one with `omicsdb train`",
                model.architecture
            ),
        });
    }
    let tissues: Vec<Option<String>> = match (&req.tissues, per_tissue) {
        (Tissues::Only(list), false) if !list.is_empty() => {
            return Err(MaterializeError::Argument {
                option: "--tissues",
                message: format!(
                    "tissues only apply to predict_omics, which is not among the functions ({})",
                    functions.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ")
                ),
            });
        }
        (_, false) => vec![None],
        (Tissues::All, true) => all_tissues.iter().cloned().map(Some).collect(),
        (Tissues::Only(list), true) => {
            let mut out = Vec::new();
            for t in list {
                if !all_tissues.contains(t) {
                    return Err(MaterializeError::Argument {
                        option: "--tissues",
                        message: format!("model {label} knows no tissue '{t}'; its tissues are {}", all_tissues.join(", ")),
                    });
                }
                if !out.contains(&Some(t.clone())) {
                    out.push(Some(t.clone()));
                }
            }
            out
        }
    };
    let assembly = store.assembly(&ws.assembly)?;
    let rows: HashMap<&str, u64> = ws.files.iter().map(|f| (f.chrom.as_str(), f.rows)).collect();
    let chroms: Vec<String> = match &req.chroms {
        None => assembly.chroms.iter().map(|c| c.name.clone()).collect(),
        Some(list) => {
            let known: HashSet<&str> = assembly.chroms.iter().map(|c| c.name.as_str()).collect();
            for c in list {
                if !known.contains(c.as_str()) {
                    let names: Vec<&str> = assembly.chroms.iter().take(30).map(|c| c.name.as_str()).collect();
                    return Err(MaterializeError::Argument {
                        option: "--chroms",
                        message: format!("assembly {} has no chromosome '{c}' (it has {}{})", ws.assembly, names.join(", "),
                            if assembly.chroms.len() > 30 { ", ..." } else { "" }),
                    });
                }
            }
            // Assembly order, whatever the order given.
            assembly.chroms.iter().filter(|c| list.contains(&c.name)).map(|c| c.name.clone()).collect()
        }
    };
    let columns = plan_columns(db, &ws.name, &label, &functions, &all_tissues, &req.pooling).await?;
    let function_names: Vec<String> = functions.iter().map(|f| f.name().to_string()).collect();
    let same = |m: &MaterializationMeta| {
        m.model_sha256 == model.sha256 && m.window_set_dir == ws.dir && m.functions == function_names && m.columns == columns
    };
    let slot = req.slot.as_deref();
    let live = meta::get(store, &model.name, model.version, &ws.name, slot)?;
    let staged = meta::get_staged(store, &model.name, model.version, &ws.name, slot)?;
    let describe_replaced = |other: Option<MaterializationMeta>| {
        other.map(|m| {
            if m.window_set_dir != ws.dir {
                format!("window set {} was recomputed since", ws.name)
            } else if m.model_sha256 != model.sha256 {
                "the model's weights changed since".to_string()
            } else {
                format!("it computed {} (columns {}); this run computes {}", m.functions.join(", "),
                    m.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", "), function_names.join(", "))
            }
        })
    };
    let (entry, fresh, staged, replaced) = match (live, staged) {
        // The live entry computes the same: extend it partition by partition.
        (Some(m), _) if same(&m) => (m, false, false, None),
        // A run of the same request was interrupted: resume the staged entry.
        (live, Some(s)) if same(&s) => (s, false, true, describe_replaced(live)),
        (live, _) => {
            let replaced = describe_replaced(live);
            let (_, dir) = store.new_data_dir("materialization", &model.name)?;
            let now = now_unix();
            let m = MaterializationMeta {
                model: model.name.clone(),
                model_version: model.version,
                model_sha256: model.sha256.clone(),
                window_set: ws.name.clone(),
                window_set_dir: ws.dir.clone(),
                assembly: ws.assembly.clone(),
                functions: function_names.clone(),
                columns: columns.clone(),
                dir,
                partitions: Vec::new(),
                created_at: now,
                updated_at: now,
                slot: req.slot.clone(),
            };
            (m, true, true, replaced)
        }
    };
    let mut requested = Vec::new();
    for chrom in &chroms {
        let n = rows.get(chrom.as_str()).copied().unwrap_or(0);
        if n == 0 {
            continue;
        }
        for tissue in &tissues {
            requested.push(PartitionTask { chrom: chrom.clone(), tissue: tissue.clone(), rows: n });
        }
    }
    let todo = requested.iter().filter(|t| entry.partition(&t.chrom, t.tissue.as_deref()).is_none()).cloned().collect();
    Ok(Plan { model, meta: entry, fresh, staged, replaced, stride: ws.stride, requested, todo })
}

fn choose_functions(req: &Request, model: &ModelMeta) -> Result<Vec<Function>> {
    let mut functions = match &req.functions {
        Some(list) if !list.is_empty() => list.clone(),
        _ if !model.tracks.is_empty() => vec![Function::PredictOmics],
        _ => vec![Function::HyenaEmbed],
    };
    functions.sort();
    functions.dedup();
    Ok(functions)
}

/// The prediction columns: predict_omics's struct fields over all the model's
/// tissues (so adding a tissue later keeps the schema), then loglik, embedding.
async fn plan_columns(db: &Database, window_set: &str, label: &str, functions: &[Function], tissues: &[String], pooling: &str) -> Result<Vec<PredictionColumn>> {
    let mut columns: Vec<PredictionColumn> = Vec::new();
    let mut taken: HashSet<String> = FIXED_COLUMNS.iter().map(|s| s.to_string()).collect();
    for f in functions {
        match f {
            Function::PredictOmics => {
                let mut seen = HashSet::new();
                for t in tissues {
                    let q = format!(
                        "SELECT predict_omics(region, {}, {}) AS p FROM {} LIMIT 0",
                        quote_str(t),
                        quote_str(label),
                        quote_ident(window_set)
                    );
                    let df = db.context().sql(&q).await.map_err(crate::Error::from)?;
                    let field = df.schema().field(0).clone();
                    let DataType::Struct(fields) = field.data_type() else {
                        return Err(MaterializeError::Model {
                            model: label.to_string(),
                            message: format!("predict_omics(region, '{t}') returns {}, not a struct of assays", field.data_type()),
                        });
                    };
                    for sf in fields {
                        if seen.insert(sf.name().clone()) {
                            let name = unique_name(&column_name(sf.name()), &mut taken);
                            columns.push(PredictionColumn { name, source: ColumnSource::PredictOmics { field: sf.name().clone() } });
                        }
                    }
                }
            }
            Function::HyenaLoglik => {
                let name = unique_name("loglik", &mut taken);
                columns.push(PredictionColumn { name, source: ColumnSource::HyenaLoglik });
            }
            Function::HyenaEmbed | Function::Embed => {
                let call = match f {
                    Function::Embed => format!("embed(upper(seq), {}, {})", quote_str(label), quote_str(pooling)),
                    _ => format!("hyena_embed(upper(seq), {})", quote_str(label)),
                };
                let q = format!("SELECT {call} AS e FROM {} LIMIT 0", quote_ident(window_set));
                let df = db.context().sql(&q).await.map_err(crate::Error::from)?;
                let width = match df.schema().field(0).data_type() {
                    DataType::FixedSizeList(_, n) => *n,
                    other => {
                        return Err(MaterializeError::Model {
                            model: label.to_string(),
                            message: format!("{} returns {other}, not a fixed-size list", f.name()),
                        });
                    }
                };
                let name = unique_name("embedding", &mut taken);
                let source = match f {
                    Function::Embed => ColumnSource::Embed { pooling: pooling.to_string(), width },
                    _ => ColumnSource::HyenaEmbed { width },
                };
                columns.push(PredictionColumn { name, source });
            }
        }
    }
    Ok(columns)
}

/// A SQL-friendly column name for a struct field: lowercase letters, digits
/// and `_` (`H3K27ac` → `h3k27ac`, `ATAC-seq` → `atac_seq`).
pub fn column_name(field: &str) -> String {
    let mut out = String::new();
    for c in field.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_matches('_').to_string();
    match out.chars().next() {
        None => "value".to_string(),
        Some(c) if c.is_ascii_digit() => format!("_{out}"),
        _ => out,
    }
}

fn unique_name(base: &str, taken: &mut HashSet<String>) -> String {
    let base = if FIXED_COLUMNS.contains(&base) { format!("pred_{base}") } else { base.to_string() };
    let mut name = base.clone();
    let mut n = 2;
    while !taken.insert(name.clone()) {
        name = format!("{base}_{n}");
        n += 1;
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_fields_become_sql_column_names() {
        assert_eq!(column_name("H3K27ac"), "h3k27ac");
        assert_eq!(column_name("ATAC-seq"), "atac_seq");
        assert_eq!(column_name("ChIP-seq H3K4me3"), "chip_seq_h3k4me3");
        assert_eq!(column_name("5mC"), "_5mc");
        assert_eq!(column_name("--"), "value");
    }

    #[test]
    fn column_names_never_collide_with_fixed_or_earlier_columns() {
        let mut taken: HashSet<String> = FIXED_COLUMNS.iter().map(|s| s.to_string()).collect();
        assert_eq!(unique_name("start", &mut taken), "pred_start");
        assert_eq!(unique_name("dnase", &mut taken), "dnase");
        assert_eq!(unique_name("dnase", &mut taken), "dnase_2");
    }

    #[test]
    fn model_labels_parse() {
        assert_eq!(parse_model("micro").unwrap(), ("micro".to_string(), None));
        assert_eq!(parse_model("micro@3").unwrap(), ("micro".to_string(), Some(3)));
        let msg = parse_model("micro@x").unwrap_err().to_string();
        assert!(msg.contains("--model") && msg.contains("micro@2"), "{msg}");
    }
}
