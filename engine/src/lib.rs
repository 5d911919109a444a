//! omicsdb: an embedded database of a reference genome cut into windows, omics
//! tracks aggregated per window, and genomic models as SQL functions.
//!
//! Open a database directory, ingest a genome, query it with SQL and get Arrow
//! record batches:
//!
//! ```no_run
//! # async fn demo() -> omicsdb::Result<()> {
//! use omicsdb::{Database, GenomeIngest};
//! let db = Database::open("example.omicsdb")?;
//! db.ingest_genome(&GenomeIngest {
//!     assembly: "hg19".into(),
//!     path: "data/genome/20.fa.gz".into(),
//!     width: 1024,
//!     stride: 1024,
//!     window_set: None,
//!     replace: false,
//! })?;
//! let batches = db
//!     .sql("SELECT region, gc FROM windows WHERE chrom = '20' AND start >= 1000000 LIMIT 5")
//!     .await?;
//! println!("{}", datafusion::arrow::util::pretty::pretty_format_batches(&batches)?);
//! # Ok(()) }
//! ```
//!
//! The [`Database::context`] is a DataFusion `SessionContext`: register your
//! own functions and tables on it. A database directory is used by one process
//! at a time; a second process gets a clear "in use" error.

mod catalog_tables;
pub mod embedding_index;
pub mod plot;
pub mod error;
pub mod materialize;
pub mod memory;
pub mod score_variants;
mod sequence_source;
mod stored_tables;
mod track_values;
pub mod train;
pub mod train_defaults;

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use omicsdb_sql::window_table::WindowTable;
pub use omicsdb_storage::{GenomeIngest, GenomeReport, Store, WindowSetMeta};

pub use error::{Error, Result};
pub use sequence_source::StoreSequenceSource;

/// Tables that always exist (catalog views); window sets and others are added per database.
const CATALOG_TABLES: [&str; 6] = ["assemblies", "chroms", "window_sets", "tracks", "models", embedding_index::table::NAME];

/// An open omicsdb database: the store plus a SQL session over it. Cheap to clone.
#[derive(Clone)]
pub struct Database {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<Store>,
    ctx: SessionContext,
    models: Arc<omicsdb_udf::ModelRegistry>,
    registered: std::sync::Mutex<Vec<String>>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database").field("root", &self.inner.store.root()).finish()
    }
}

/// How [`Database::open_with`] sets up the SQL session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenOptions {
    /// Bytes all queries of the database may buffer together (sorts, hash
    /// aggregates, joins); past it they spill to disk or fail with
    /// `ResourcesExhausted`. `None`: [`memory::default_memory_limit`].
    pub memory_limit: Option<u64>,
    /// Bytes the model result cache may keep on disk; past it the oldest
    /// results are evicted. `None`: [`omicsdb_udf::cache::DEFAULT_CACHE_BUDGET`].
    pub model_cache_limit: Option<u64>,
}

impl Database {
    /// Opens (or creates) the database in `dir` with the default
    /// [`OpenOptions`] (memory limit: half of physical memory).
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(dir, &OpenOptions::default())
    }

    /// Opens (or creates) the database in `dir` with `options`.
    pub fn open_with(dir: impl AsRef<Path>, options: &OpenOptions) -> Result<Self> {
        let store = Arc::new(Store::open(dir)?);
        let config = SessionConfig::new()
            .with_information_schema(true)
            .with_target_partitions(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2))
            .with_default_catalog_and_schema("datafusion", "public")
            .with_option_extension(omicsdb_sql::options::OmicsdbOptions::default());
        let limit = options.memory_limit.unwrap_or_else(memory::default_memory_limit);
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let runtime = datafusion::execution::runtime_env::RuntimeEnvBuilder::new().with_memory_limit(limit, 1.0).build_arc()?;
        let builder = SessionStateBuilder::new().with_config(config).with_runtime_env(runtime).with_default_features();
        let builder = omicsdb_sql::interval_join::register_interval_join(builder);
        let ctx = SessionContext::new_with_state(builder.build());
        let source: Arc<dyn omicsdb_sql::functions::SequenceSource> =
            Arc::new(StoreSequenceSource::new(Arc::clone(&store)));
        omicsdb_sql::functions::register_functions(&ctx, Some(source));
        omicsdb_sql::table_functions::register_table_functions(&ctx);
        let models = Arc::new(omicsdb_udf::ModelRegistry::new(Arc::clone(&store))?);
        if let Some(bytes) = options.model_cache_limit {
            models.cache().set_budget(bytes);
        }
        omicsdb_udf::register_model_functions(&ctx, Arc::clone(&models));
        embedding_index::functions::register(&ctx, &embedding_index::functions::SearchState::new(Arc::clone(&store)));
        let db = Self { inner: Arc::new(Inner { store, ctx, models, registered: Default::default() }) };
        db.refresh()?;
        Ok(db)
    }

    /// The storage layer.
    pub fn store(&self) -> &Arc<Store> {
        &self.inner.store
    }

    /// The model registry behind the model-backed SQL functions.
    pub fn models(&self) -> &Arc<omicsdb_udf::ModelRegistry> {
        &self.inner.models
    }

    /// The DataFusion session with every omicsdb table and function registered.
    pub fn context(&self) -> &SessionContext {
        &self.inner.ctx
    }

    /// Runs one SQL statement and collects its result.
    pub async fn sql(&self, query: &str) -> Result<Vec<RecordBatch>> {
        Ok(self.inner.ctx.sql(query).await?.collect().await?)
    }

    /// Runs one SQL statement and streams its result batch by batch.
    pub async fn sql_stream(&self, query: &str) -> Result<SendableRecordBatchStream> {
        Ok(self.inner.ctx.sql(query).await?.execute_stream().await?)
    }

    /// Re-registers the catalog-backed tables after the catalog changed.
    pub fn refresh(&self) -> Result<()> {
        let store = &self.inner.store;
        let ctx = &self.inner.ctx;
        let assemblies = store.assemblies()?;
        let sets = store.window_sets()?;
        let tracks = store.tracks()?;
        let mut registered = self.inner.registered.lock().unwrap_or_else(|p| p.into_inner());
        for name in registered.drain(..) {
            ctx.deregister_table(name.as_str())?;
        }
        let mut add = |name: &str, table: Arc<dyn datafusion::datasource::TableProvider>| -> Result<()> {
            ctx.deregister_table(name)?;
            ctx.register_table(name, table)?;
            registered.push(name.to_string());
            Ok(())
        };
        add(CATALOG_TABLES[0], catalog_tables::assemblies(&assemblies)?)?;
        add(CATALOG_TABLES[1], catalog_tables::chroms(&assemblies)?)?;
        add(CATALOG_TABLES[2], catalog_tables::window_sets(&sets)?)?;
        add(CATALOG_TABLES[3], catalog_tables::tracks(&tracks)?)?;
        add(CATALOG_TABLES[4], omicsdb_udf::models_table(store)?)?;
        add(CATALOG_TABLES[5], embedding_index::table::table(store)?)?;
        let tables: Vec<omicsdb_storage::TableMeta> = store.catalog().list("table/")?;
        for t in &tables {
            add(&t.name, stored_tables::table(store.root(), t)?)?;
        }
        for ws in sets {
            let genome = store.genome(&ws.assembly)?;
            let name = ws.name.clone();
            let table: Arc<dyn datafusion::datasource::TableProvider> =
                Arc::new(WindowTable::new(ws, store.root().to_path_buf(), genome, &tracks));
            add(&name, Arc::clone(&table))?;
            if let Some(view) = track_values::view(&name, table, &tracks)? {
                add(&track_values::view_name(&name), view)?;
            }
        }
        for (name, table) in materialize::tables(store)? {
            add(&name, table)?;
        }
        train::register_model_metrics(ctx, store)?;
        Ok(())
    }

    /// Ingests a FASTA as an assembly with its default window set (see
    /// [`Store::ingest_genome`]) and makes it queryable.
    pub fn ingest_genome(&self, opts: &GenomeIngest) -> Result<GenomeReport> {
        let report = self.inner.store.ingest_genome(opts)?;
        self.refresh()?;
        Ok(report)
    }

    /// Ingests an omics track onto every window set of its assembly (see
    /// [`omicsdb_storage::tracks::ingest_track`]) and makes its columns queryable.
    pub fn ingest_track(&self, opts: &omicsdb_storage::tracks::TrackIngest) -> Result<omicsdb_storage::tracks::TrackReport> {
        let report = omicsdb_storage::tracks::ingest_track(&self.inner.store, opts)?;
        self.refresh()?;
        Ok(report)
    }

    /// Ingests a GTF/GFF3 annotation into the `genes`, `transcripts` and `exons` tables.
    pub fn ingest_annotation(&self, opts: &omicsdb_storage::annotation::AnnotationIngest) -> Result<omicsdb_storage::annotation::AnnotationReport> {
        let report = omicsdb_storage::annotation::ingest_annotation(&self.inner.store, opts)?;
        self.refresh()?;
        Ok(report)
    }

    /// Ingests a VCF into the `variants` table, checking REF against the genome.
    pub fn ingest_variants(&self, opts: &omicsdb_storage::variants::VariantIngest) -> Result<omicsdb_storage::variants::VariantReport> {
        let report = omicsdb_storage::variants::ingest_variants(&self.inner.store, opts)?;
        self.refresh()?;
        Ok(report)
    }

    /// Drops a track and frees its files.
    pub fn drop_track(&self, name: &str) -> Result<()> {
        omicsdb_storage::tracks::drop_track(&self.inner.store, name)?;
        self.refresh()
    }

    /// Imports a checkpoint directory as the next version of model `name`, its family
    /// (HyenaDNA, DNABERT, ...) detected from its `config.json` by the model zoo
    /// ([`omicsdb_model::zoo::detect`]); the family's facts (tokenizer, most bases,
    /// bidirectional, RC-equivariant, LM head) go into the catalog and the `models` table.
    /// A config no family recognises is an error naming what it says.
    pub fn import_model(&self, name: &str, dir: &Path, note: &str) -> Result<omicsdb_storage::models::ModelMeta> {
        let entry = omicsdb_model::zoo::detect(dir)?;
        let facts = (entry.facts)(dir)?;
        let hyena = entry.name == omicsdb_storage::models::HYENADNA;
        let meta = omicsdb_storage::models::import_model_with(
            &self.inner.store,
            &omicsdb_storage::models::ModelImport {
                name,
                src_dir: dir,
                note,
                architecture: entry.name,
                tracks: Vec::new(),
                metrics: serde_json::Value::Object(Default::default()),
                // HyenaDNA entries keep the layout of the catalog before the zoo (their
                // config says everything), so older omicsdb versions read them too.
                family: (!hyena).then(|| omicsdb_storage::models::FamilyFacts {
                    family: facts.family.to_string(),
                    tokenizer: facts.tokenizer.clone(),
                    max_len: facts.max_len as u64,
                    d_model: facts.d_model as u64,
                    bidirectional: facts.bidirectional,
                    rc_equivariant: facts.rc_equivariant,
                    lm_head: facts.lm_head,
                    poolings: facts.poolings.iter().map(|p| p.name().to_string()).collect(),
                }),
                extra_files: entry.extra_files,
            },
        )?;
        self.refresh()?;
        Ok(meta)
    }

    /// Creates another window set over a stored assembly and makes it queryable.
    pub fn create_window_set(&self, assembly: &str, name: &str, width: u64, stride: u64, replace: bool) -> Result<WindowSetMeta> {
        let ws = self.inner.store.create_window_set(assembly, name, width, stride, replace)?;
        self.refresh()?;
        Ok(ws)
    }
}
