//! The search table functions:
//!
//! - `nearest_windows(index, query_vector, k [, filter [, model]])`: the `k` windows whose
//!   embedding is nearest to a vector (an array literal such as `[0.1, 0.2, ...]`, or
//!   text `'0.1, 0.2, ...'` / `'[0.1, ...]'`);
//! - `similar_regions(index, region | seq, k [, filter [, model]])`: the `k` windows nearest
//!   to a region (`chrom:start-end`, 1-based; an indexed window uses its stored
//!   embedding, any other region is embedded on the fly from the genome) or to a literal
//!   DNA sequence (embedded on the fly), with the model version the index was built with.
//!
//! Both return `(chrom, start, "end", region, distance, rank)`: 0-based half-open
//! coordinates and a `region` text exactly as the window set's own, so results join
//! with windows, tracks, genes and predictions; rank 1 is the nearest.
//!
//! `filter` is a SQL predicate over the window set's columns (`chrom = '20'`,
//! `overlaps(chrom, start, "end", '20', 0, 5000000)`, `atac_gm12878 > 0.5`, ...). It is
//! evaluated over the window set first and the allowed windows are pushed into the
//! search: into usearch's graph walk (its filtered search), or, when the filter keeps
//! few windows ([`super::loaded::EXACT_FILTER_SHARE`]), by comparing exactly those, so
//! a filter never makes a search return fewer than `k` rows when `k` windows pass it.
//! `model`, when given, must be the model (and version, if named) the index was built
//! with: a query vector from another model is an error, not a silent wrong answer.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use datafusion::arrow::array::{Array, AsArray, Float32Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Float32Type, Float64Type, Int64Type, Schema, SchemaRef};
use datafusion::catalog::{Session, TableFunctionImpl};
use datafusion::catalog::TableFunctionArgs;
use datafusion::common::ScalarValue;
use datafusion::datasource::{MemTable, TableProvider, TableType};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use omicsdb_storage::Store;
use omicsdb_storage::models;
use omicsdb_storage::region::Region;

use super::error::IndexError;
use omicsdb_vector::prepare_query;
use super::loaded::{LoadedIndex, OpenIndexes};
use super::meta::{self, IndexMeta};
use crate::materialize::sql::{quote_ident, quote_str};

/// Name of the vector search function.
pub const NEAREST_WINDOWS: &str = "nearest_windows";
/// Name of the region / sequence search function.
pub const SIMILAR_REGIONS: &str = "similar_regions";
/// The largest `k` a search returns.
pub const MAX_K: i64 = 10_000;

/// The output schema of both functions.
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("chrom", DataType::Utf8, false),
        Field::new("start", DataType::Int64, false),
        Field::new("end", DataType::Int64, false),
        Field::new("region", DataType::Utf8, false),
        Field::new("distance", DataType::Float32, false),
        Field::new("rank", DataType::Int64, false),
    ]))
}

/// What a search is given.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// A vector (nearest_windows).
    Vector(Vec<f32>),
    /// A region of the assembly (similar_regions).
    Region(Region),
    /// A DNA sequence (similar_regions).
    Seq(String),
}

/// State the functions share: the store and the opened indexes.
#[derive(Debug)]
pub struct SearchState {
    store: Arc<Store>,
    open: OpenIndexes,
    pool: OnceLock<Result<rayon::ThreadPool, String>>,
}

impl SearchState {
    /// State over `store`.
    pub fn new(store: Arc<Store>) -> Arc<Self> {
        Arc::new(Self { store, open: OpenIndexes::default(), pool: OnceLock::new() })
    }

    fn pool(&self) -> Result<&rayon::ThreadPool, IndexError> {
        self.pool
            .get_or_init(|| {
                let n = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
                rayon::ThreadPoolBuilder::new().num_threads(n).thread_name(|i| format!("omicsdb-search-{i}")).build().map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| IndexError::arg("threads", e.clone()))
    }
}

/// Registers `nearest_windows` and `similar_regions` on `ctx`.
pub fn register(ctx: &SessionContext, state: &Arc<SearchState>) {
    ctx.register_udtf(NEAREST_WINDOWS, Arc::new(SearchFunc { name: NEAREST_WINDOWS, state: Arc::clone(state) }));
    ctx.register_udtf(SIMILAR_REGIONS, Arc::new(SearchFunc { name: SIMILAR_REGIONS, state: Arc::clone(state) }));
}

#[derive(Debug)]
struct SearchFunc {
    name: &'static str,
    state: Arc<SearchState>,
}

fn df(e: IndexError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

fn arg_err(function: &'static str, message: String) -> DataFusionError {
    df(IndexError::Argument { what: function.to_string(), message })
}

fn text(v: &ScalarValue) -> Option<&str> {
    match v {
        ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => Some(s),
        _ => None,
    }
}

fn literal<'a>(function: &'static str, args: &'a [Expr], i: usize, name: &str) -> DfResult<&'a ScalarValue> {
    match args.get(i) {
        Some(Expr::Literal(v, _)) => Ok(v),
        Some(other) => Err(arg_err(function, format!("argument `{name}` must be a constant, got {other}"))),
        None => Err(arg_err(function, format!("missing argument `{name}`"))),
    }
}

fn string(function: &'static str, args: &[Expr], i: usize, name: &str) -> DfResult<String> {
    let v = literal(function, args, i, name)?;
    text(v).map(str::to_string).ok_or_else(|| arg_err(function, format!("argument `{name}` must be text, got {v}")))
}

/// Reads a vector: a list literal of numbers (no NULLs) or text of comma-separated numbers.
fn vector(function: &'static str, v: &ScalarValue) -> DfResult<Vec<f32>> {
    let bad = |m: String| arg_err(function, format!("argument `query_vector`: {m}"));
    if let Some(t) = text(v) {
        let t = t.trim().trim_start_matches('[').trim_end_matches(']');
        return t
            .split(',')
            .map(|x| x.trim().parse::<f32>().map_err(|_| bad(format!("'{}' is not a number", x.trim()))))
            .collect();
    }
    let values = match v {
        ScalarValue::List(a) => a.value(0),
        ScalarValue::LargeList(a) => a.value(0),
        ScalarValue::FixedSizeList(a) => a.value(0),
        other => return Err(bad(format!("expected an array of numbers (e.g. [0.1, 0.2]) or text, got {}", other.data_type()))),
    };
    if values.null_count() > 0 {
        return Err(bad("holds NULL".into()));
    }
    let out: Vec<f32> = match values.data_type() {
        DataType::Float32 => values.as_primitive::<Float32Type>().values().to_vec(),
        DataType::Float64 => values.as_primitive::<Float64Type>().values().iter().map(|&x| x as f32).collect(),
        DataType::Int64 => values.as_primitive::<Int64Type>().values().iter().map(|&x| x as f32).collect(),
        other => {
            let cast = datafusion::arrow::compute::cast(&values, &DataType::Float32).map_err(|_| bad(format!("items of type {other} are not numbers")))?;
            cast.as_primitive::<Float32Type>().values().to_vec()
        }
    };
    Ok(out)
}

impl TableFunctionImpl for SearchFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> DfResult<Arc<dyn TableProvider>> {
        let f = self.name;
        let exprs = args.exprs();
        let usage = if f == NEAREST_WINDOWS {
            "nearest_windows(index, query_vector, k [, filter [, model]])"
        } else {
            "similar_regions(index, region | seq, k [, filter [, model]])"
        };
        if !(3..=5).contains(&exprs.len()) {
            return Err(arg_err(f, format!("expects 3 to 5 arguments: {usage}; got {}", exprs.len())));
        }
        let index = string(f, exprs, 0, "index")?;
        let meta = meta::get(&self.state.store, &index).map_err(df)?;
        let query = if f == NEAREST_WINDOWS {
            Query::Vector(vector(f, literal(f, exprs, 1, "query_vector")?)?)
        } else {
            let t = string(f, exprs, 1, "region | seq")?;
            parse_region_or_seq(&t).map_err(|m| arg_err(f, m))?
        };
        let k = match literal(f, exprs, 2, "k")? {
            ScalarValue::Int64(Some(k)) => *k,
            ScalarValue::Int32(Some(k)) => i64::from(*k),
            other => return Err(arg_err(f, format!("argument `k` must be an integer, got {other}"))),
        };
        if !(1..=MAX_K).contains(&k) {
            return Err(arg_err(f, format!("k must be between 1 and {MAX_K}, got {k}")));
        }
        let filter = match exprs.get(3) {
            None => None,
            Some(Expr::Literal(v, _)) if v.is_null() => None,
            Some(_) => Some(string(f, exprs, 3, "filter")?).filter(|s| !s.trim().is_empty()),
        };
        if let Some(model) = exprs.get(4).map(|_| string(f, exprs, 4, "model")).transpose()? {
            check_model(&self.state.store, &meta, &model).map_err(df)?;
        }
        if let Query::Vector(v) = &query {
            if v.len() != meta.dim {
                return Err(arg_err(f, format!(
                    "the query vector has {} dimensions; index {} holds {}-dimensional embeddings of model {} ({}, {} pooling)",
                    v.len(), meta.name, meta.dim, meta.model_label(), meta.function, meta.pooling
                )));
            }
        }
        Ok(Arc::new(SearchTable { function: f, state: Arc::clone(&self.state), meta, query, k: k as usize, filter, schema: schema() }))
    }
}

/// A region (`chrom:start-end`) or a DNA sequence (only A, C, G, T, N, any case).
pub fn parse_region_or_seq(t: &str) -> Result<Query, String> {
    let t = t.trim();
    if t.contains(':') {
        return Region::parse(t).map(Query::Region).map_err(|e| format!("argument `region`: {e}"));
    }
    if !t.is_empty() && t.bytes().all(|b| matches!(b.to_ascii_uppercase(), b'A' | b'C' | b'G' | b'T' | b'N')) {
        return Ok(Query::Seq(t.to_ascii_uppercase()));
    }
    Err(format!("'{}' is neither a region (chrom:start-end, e.g. 20:30,000,001-30,001,024) nor a DNA sequence (A, C, G, T, N)", short(t)))
}

fn short(t: &str) -> String {
    if t.chars().count() > 40 { format!("{}...", t.chars().take(40).collect::<String>()) } else { t.to_string() }
}

/// Checks that `model` (`name` or `name@version`) is the model `meta` was built with.
fn check_model(store: &Store, meta: &IndexMeta, model: &str) -> Result<(), IndexError> {
    let (name, version) = crate::materialize::plan::parse_model(model).map_err(|e| IndexError::arg("model", e.to_string()))?;
    let asked = models::model(store, &name, version)?;
    if asked.name != meta.model || asked.version != meta.model_version || asked.sha256 != meta.model_sha256 {
        return Err(IndexError::arg(
            "model",
            format!("index {} was built with model {}; the query's model is {}", meta.name, meta.model_label(), asked.label()),
        ));
    }
    Ok(())
}

#[derive(Debug)]
struct SearchTable {
    function: &'static str,
    state: Arc<SearchState>,
    meta: IndexMeta,
    query: Query,
    k: usize,
    filter: Option<String>,
    schema: SchemaRef,
}

impl SearchTable {
    /// The query's embedding as the index compares it.
    async fn query_vector(&self, ctx: &SessionContext, index: &LoadedIndex) -> Result<Vec<f32>, DataFusionError> {
        let m = &self.meta;
        let raw = match &self.query {
            Query::Vector(v) => v.clone(),
            Query::Region(r) => {
                let (start, end) = (r.start as i64, r.end as i64);
                if let Some(key) = index.windows.key_of(&r.chrom, start).filter(|&k| index.windows.end[k] == end) {
                    // An indexed window: its stored (already prepared) embedding.
                    return index.vector(key).map_err(df);
                }
                let seq = format!("sequence({}, {start}, {end}, {})", quote_str(&r.chrom), quote_str(&m.assembly));
                self.embed(ctx, &seq).await?
            }
            Query::Seq(s) => self.embed(ctx, &quote_str(s)).await?,
        };
        Ok(prepare_query(m.metric, raw))
    }

    /// `embed(upper(<sql>), model@version, pooling)` run in the session (its batching and cache).
    async fn embed(&self, ctx: &SessionContext, seq_sql: &str) -> Result<Vec<f32>, DataFusionError> {
        let m = &self.meta;
        let q = format!("SELECT {}(upper({seq_sql}), {}, {}) AS e", m.function, quote_str(&m.model_label()), quote_str(&m.pooling));
        let batches = ctx.sql(&q).await?.collect().await?;
        let e = batches.iter().find(|b| b.num_rows() > 0).map(|b| b.column(0).clone());
        let Some(e) = e else { return Err(arg_err(self.function, "the query embedded to nothing".into())) };
        let list = e.as_fixed_size_list();
        if list.is_null(0) {
            return Err(arg_err(self.function, "the query's sequence is NULL (outside the assembly?)".into()));
        }
        Ok(list.value(0).as_primitive::<Float32Type>().values().to_vec())
    }

    /// The keys the filter keeps, or `None` without a filter.
    async fn allowed(&self, ctx: &SessionContext, index: &LoadedIndex) -> Result<Option<Vec<bool>>, DataFusionError> {
        let Some(filter) = &self.filter else { return Ok(None) };
        let table = ctx.table(quote_ident(&self.meta.window_set)).await?;
        let expr = table.parse_sql_expr(filter).map_err(|e| arg_err(self.function, format!("filter '{filter}': {e}")))?;
        let rows = table.filter(expr)?.select_columns(&["chrom", "start"])?.collect().await?;
        let mut allowed = vec![false; index.windows.len()];
        for b in rows {
            let (c, s) = (b.column(0).as_string::<i32>(), b.column(1).as_primitive::<Int64Type>());
            for i in 0..b.num_rows() {
                if let Some(k) = index.windows.key_of(c.value(i), s.value(i)) {
                    allowed[k] = true;
                }
            }
        }
        Ok(Some(allowed))
    }

    async fn rows(&self, state: &dyn Session) -> DfResult<RecordBatch> {
        let session = state
            .as_any()
            .downcast_ref::<SessionState>()
            .ok_or_else(|| DataFusionError::Internal(format!("{} needs a DataFusion SessionState", self.function)))?;
        let ctx = SessionContext::new_with_state(session.clone());
        let index = self.state.open.get(&self.state.store, &self.meta).map_err(df)?;
        let query = self.query_vector(&ctx, &index).await?;
        let allowed = self.allowed(&ctx, &index).await?;
        let pool = self.state.pool().map_err(df)?;
        let found = index.search(&query, self.k, allowed.as_deref(), pool).map_err(df)?;
        let w = &index.windows;
        let keys: Vec<usize> = found.iter().map(|n| n.key as usize).collect();
        let chrom = StringArray::from_iter_values(keys.iter().map(|&k| w.chrom_of(k)));
        let start = Int64Array::from_iter_values(keys.iter().map(|&k| w.start[k]));
        let end = Int64Array::from_iter_values(keys.iter().map(|&k| w.end[k]));
        let region = StringArray::from_iter_values(keys.iter().map(|&k| format!("{}:{}-{}", w.chrom_of(k), w.start[k] + 1, w.end[k])));
        let distance = Float32Array::from_iter_values(found.iter().map(|n| n.distance));
        let rank = Int64Array::from_iter_values(1..=found.len() as i64);
        Ok(RecordBatch::try_new(
            Arc::clone(&self.schema),
            vec![Arc::new(chrom), Arc::new(start), Arc::new(end), Arc::new(region), Arc::new(distance), Arc::new(rank)],
        )?)
    }
}

#[async_trait]
impl TableProvider for SearchTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
    fn table_type(&self) -> TableType {
        TableType::Temporary
    }
    async fn scan(&self, state: &dyn Session, projection: Option<&Vec<usize>>, filters: &[Expr], limit: Option<usize>) -> DfResult<Arc<dyn ExecutionPlan>> {
        let batch = self.rows(state).await?;
        let table = MemTable::try_new(Arc::clone(&self.schema), vec![vec![batch]])?;
        table.scan(state, projection, filters, limit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_and_sequences_are_told_apart_and_anything_else_is_an_error() {
        assert_eq!(
            parse_region_or_seq("20:30,000,001-30,001,024").unwrap(),
            Query::Region(Region { chrom: "20".into(), start: 30_000_000, end: 30_001_024 })
        );
        assert_eq!(parse_region_or_seq(" acgtN ").unwrap(), Query::Seq("ACGTN".into()));
        let msg = parse_region_or_seq("ACGU").unwrap_err();
        assert!(msg.contains("neither a region") && msg.contains("'ACGU'"), "{msg}");
        assert!(parse_region_or_seq("20:5-1").unwrap_err().contains("start must be"));
    }

    #[test]
    fn vectors_come_from_array_literals_or_text() {
        let list = ScalarValue::List(Arc::new(datafusion::arrow::array::ListArray::from_iter_primitive::<Float64Type, _, _>(vec![Some(vec![
            Some(0.5),
            Some(-1.0),
        ])])));
        assert_eq!(vector("f", &list).unwrap(), vec![0.5, -1.0]);
        assert_eq!(vector("f", &ScalarValue::Utf8(Some("[1, 2.5,3]".into()))).unwrap(), vec![1.0, 2.5, 3.0]);
        assert!(vector("f", &ScalarValue::Utf8(Some("1,x".into()))).unwrap_err().to_string().contains("'x' is not a number"));
        let with_null = ScalarValue::List(Arc::new(datafusion::arrow::array::ListArray::from_iter_primitive::<Float64Type, _, _>(vec![Some(vec![
            Some(0.5),
            None,
        ])])));
        assert!(vector("f", &with_null).unwrap_err().to_string().contains("NULL"));
    }
}
