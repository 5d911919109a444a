//! Runs the sqllogictest files in `tests/slt/` against a DataFusion session
//! with omicsdb's genomic functions, file table functions and interval join.
//!
//! Each file gets a fresh session from a context factory, so another runner
//! (e.g. one backed by an `omicsdb::Database`) can reuse [`run_slt_dir`] with
//! its own factory. Inside the files `${DATA}` is the repository's `data/`
//! folder (`control substitution on` must precede its use).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::DataType;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use async_trait::async_trait;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use omicsdb_sql::functions::{register_functions, MemorySequenceSource};
use omicsdb_sql::interval_join::register_interval_join;
use omicsdb_sql::table_functions::register_table_functions;
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType};

/// The repository's `data/` folder.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("data")
}

/// The toy genome `sequence()` reads in the `.slt` files: assembly `toy`
/// (default) with chr1 (soft-masked run at 8..12) and chr2, and assembly
/// `toy2` with chr1 only.
pub fn toy_genome() -> MemorySequenceSource {
    let mut g = MemorySequenceSource::new(
        "toy",
        [("chr1", "ACGTACGTacgtNNNNGGCC"), ("chr2", "TTTTAAAACCCCGGGG")],
    );
    g.add_assembly("toy2", [("chr1", "GATTACA")]);
    g
}

/// A session with every genomic function (backed by [`toy_genome`]), the
/// file table functions and the interval-join rule, on 4 target partitions
/// so that partitioned joins are exercised.
pub fn genomic_context() -> SessionContext {
    let config = SessionConfig::new().with_target_partitions(4);
    let state = register_interval_join(
        SessionStateBuilder::new().with_config(config).with_default_features(),
    )
    .build();
    let ctx = SessionContext::new_with_state(state);
    register_functions(&ctx, Some(Arc::new(toy_genome())));
    register_table_functions(&ctx);
    // The file table functions read only under allowed directories: the
    // bundled data and the temporary files the tests write.
    omicsdb_sql::table_functions::access::FileAccess::under([data_dir(), std::env::temp_dir()])
        .expect("the data and temporary directories exist")
        .install(&ctx);
    ctx
}

/// A sqllogictest connection over one DataFusion session.
pub struct SessionDb {
    ctx: SessionContext,
}

impl SessionDb {
    /// Wraps `ctx`.
    pub fn new(ctx: SessionContext) -> Self {
        Self { ctx }
    }
}

fn column_type(t: &DataType) -> DefaultColumnType {
    if t.is_integer() {
        DefaultColumnType::Integer
    } else if t.is_floating() || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..)) {
        DefaultColumnType::FloatingPoint
    } else {
        DefaultColumnType::Text
    }
}

fn format_rows(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>, DataFusionError> {
    let options = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for b in batches {
        let formatters = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        for r in 0..b.num_rows() {
            rows.push(
                formatters
                    .iter()
                    .zip(b.columns())
                    .map(|(f, c)| {
                        let s = f.value(r).to_string();
                        if s.is_empty() && c.is_valid(r) { "(empty)".to_string() } else { s }
                    })
                    .collect(),
            );
        }
    }
    Ok(rows)
}

#[async_trait]
impl AsyncDB for SessionDb {
    type Error = DataFusionError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<Self::ColumnType>, Self::Error> {
        let df = self.ctx.sql(sql).await?;
        let schema = df.schema().as_arrow().clone();
        let batches = df.collect().await?;
        if schema.fields().is_empty() {
            return Ok(DBOutput::StatementComplete(0));
        }
        Ok(DBOutput::Rows {
            types: schema.fields().iter().map(|f| column_type(f.data_type())).collect(),
            rows: format_rows(&batches)?,
        })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "omicsdb-datafusion"
    }
}

/// Runs every `.slt` file under `dir` (sorted by name), each with a fresh
/// session from `make_ctx`; fails with every file's error.
pub async fn run_slt_dir(dir: &Path, make_ctx: fn() -> SessionContext) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", dir.display());
    let data = data_dir().canonicalize().expect("data/ exists");
    let mut failures = Vec::new();
    for file in &files {
        let mut runner = sqllogictest::Runner::new(move || async move {
            Ok::<_, DataFusionError>(SessionDb::new(make_ctx()))
        });
        runner.set_var("DATA".to_string(), data.display().to_string());
        if let Err(e) = runner.run_file_async(file).await {
            failures.push(format!("{}: {e}", file.display()));
        }
    }
    assert!(failures.is_empty(), "sqllogictest failures:\n{}", failures.join("\n\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("slt");
    run_slt_dir(&dir, genomic_context).await;
}
