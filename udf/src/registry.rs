//! The model registry: resolves model names against the catalog, loads model
//! weights lazily (once per `(name, version)`), holds the batching settings,
//! the result cache and the call counters shared by the SQL functions.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use candle_core::{DType, Device};
use omicsdb_model::zoo::{self, GenomicModel};
use omicsdb_storage::Store;
use omicsdb_storage::models::{self, ModelMeta};

use crate::cache::ResultCache;
use crate::error::{Result, UdfError};

/// Default token budget of one model call (rows × sequence length).
pub const DEFAULT_BATCH_TOKENS: usize = 16_384;

/// Catalog setting that overrides [`DEFAULT_BATCH_TOKENS`] for a database.
pub const BATCH_TOKENS_SETTING: &str = "batch_tokens";

/// A loaded model version.
#[derive(Debug)]
pub struct LoadedModel {
    /// Its catalog entry.
    pub meta: ModelMeta,
    /// The network of its family, on the registry's device.
    pub model: Arc<dyn GenomicModel>,
}

/// Counters of the work the SQL functions did (monotonic, per registry).
#[derive(Debug, Default)]
pub struct CallStats {
    /// Forward passes of a model (one per micro-batch).
    pub model_calls: AtomicU64,
    /// Tokens run through a model (rows × length, summed over calls).
    pub model_tokens: AtomicU64,
    /// Distinct sequences answered from the result cache.
    pub cache_hits: AtomicU64,
    /// Model loads from disk.
    pub loads: AtomicU64,
    /// Wall-clock nanoseconds spent inside forward passes (summed over calls, so over
    /// concurrent partitions too).
    pub model_nanos: AtomicU64,
    /// Variants scored NULL because their REF differs from the genome (under
    /// `omicsdb.variant_ref_mismatch = 'null'`, see [`crate::variant`]).
    pub ref_mismatches: AtomicU64,
}

impl CallStats {
    /// Current value of [`CallStats::model_calls`].
    pub fn model_calls(&self) -> u64 {
        self.model_calls.load(Ordering::Relaxed)
    }

    /// Current value of [`CallStats::model_tokens`].
    pub fn model_tokens(&self) -> u64 {
        self.model_tokens.load(Ordering::Relaxed)
    }

    /// Current value of [`CallStats::model_nanos`], in seconds.
    pub fn model_seconds(&self) -> f64 {
        self.model_nanos.load(Ordering::Relaxed) as f64 * 1e-9
    }

    /// Current value of [`CallStats::cache_hits`].
    pub fn cache_hits(&self) -> u64 {
        self.cache_hits.load(Ordering::Relaxed)
    }

    /// Current value of [`CallStats::ref_mismatches`].
    pub fn ref_mismatches(&self) -> u64 {
        self.ref_mismatches.load(Ordering::Relaxed)
    }
}

/// Models of one database, for the SQL functions. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct ModelRegistry {
    store: Arc<Store>,
    device: Device,
    dtype: DType,
    loaded: Mutex<HashMap<(String, u32), Arc<LoadedModel>>>,
    cache: ResultCache,
    use_cache: AtomicBool,
    batch_tokens: AtomicUsize,
    /// Work counters (model calls, tokens, cache hits).
    pub stats: CallStats,
}

impl ModelRegistry {
    /// A registry running models on the CPU in f32. The token budget comes from
    /// the catalog setting [`BATCH_TOKENS_SETTING`] when set, else
    /// [`DEFAULT_BATCH_TOKENS`].
    pub fn new(store: Arc<Store>) -> Result<Self> {
        Self::with_device(store, Device::Cpu, DType::F32)
    }

    /// A registry running models on `device` in `dtype` (e.g. a CUDA device in bf16
    /// with the `cuda` feature).
    pub fn with_device(store: Arc<Store>, device: Device, dtype: DType) -> Result<Self> {
        let cache = ResultCache::open(&store)?;
        let budget = models::setting(&store, BATCH_TOKENS_SETTING)?
            .and_then(|v| v.as_u64())
            .map(|v| v as usize)
            .filter(|&v| v > 0)
            .unwrap_or(DEFAULT_BATCH_TOKENS);
        Ok(Self {
            store,
            device,
            dtype,
            loaded: Mutex::new(HashMap::new()),
            cache,
            use_cache: AtomicBool::new(true),
            batch_tokens: AtomicUsize::new(budget),
            stats: CallStats::default(),
        })
    }

    /// The store the models live in.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The device models run on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The dtype models run in.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Token budget of one model call: a micro-batch of sequences of length `L`
    /// has at most `max(1, budget / L)` rows.
    pub fn batch_tokens(&self) -> usize {
        self.batch_tokens.load(Ordering::Relaxed)
    }

    /// Sets the token budget for this session (values below 1 count as 1).
    pub fn set_batch_tokens(&self, tokens: usize) {
        self.batch_tokens.store(tokens.max(1), Ordering::Relaxed);
    }

    /// Whether results are read from and written to the cache (default true).
    pub fn cache_enabled(&self) -> bool {
        self.use_cache.load(Ordering::Relaxed)
    }

    /// Turns the result cache on or off (off: every call runs the model; for benchmarks).
    pub fn set_cache_enabled(&self, on: bool) {
        self.use_cache.store(on, Ordering::Relaxed);
    }

    /// The result cache.
    pub fn cache(&self) -> &ResultCache {
        &self.cache
    }

    /// Resolves a model argument to a catalog entry without loading weights:
    /// `name` (latest version), `name@version`, or `None` for the database's
    /// default embedding model.
    pub fn resolve(&self, function: &'static str, name: Option<&str>) -> Result<ModelMeta> {
        let name = match name {
            Some(n) => n.to_string(),
            None => models::default_embedding_model(&self.store)?.ok_or_else(|| {
                UdfError::NoDefaultModel {
                    function,
                    known: models::model_names(&self.store).unwrap_or_default(),
                }
            })?,
        };
        let (base, version) = match name.rsplit_once('@') {
            Some((base, v)) => {
                let version = v.parse::<u32>().map_err(|_| UdfError::Argument {
                    function,
                    argument: "model",
                    message: format!("'{name}': the part after '@' must be a version number"),
                })?;
                (base, Some(version))
            }
            None => (name.as_str(), None),
        };
        Ok(models::model(&self.store, base, version)?)
    }

    /// The loaded model of a catalog entry, loading it on first use.
    pub fn load(&self, meta: &ModelMeta) -> Result<Arc<LoadedModel>> {
        let key = (meta.name.clone(), meta.version);
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = loaded.get(&key) {
            return Ok(Arc::clone(m));
        }
        // Omics models store a HyenaDNA backbone under the same keys (their heads are
        // read by `predict_omics`), so their architecture loads as HyenaDNA.
        let entry = zoo::family(&meta.architecture).ok_or_else(|| UdfError::Argument {
            function: "model",
            argument: "model",
            message: format!(
                "{} has architecture '{}', which no model family of this omicsdb runs (families: {})",
                meta.label(),
                meta.architecture,
                zoo::FAMILIES.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
            ),
        })?;
        let dir = self.store.path(&meta.dir);
        let model = (entry.load)(&dir, &self.device, self.dtype).map_err(|source| UdfError::Model {
            model: meta.label(),
            source,
        })?;
        self.stats.loads.fetch_add(1, Ordering::Relaxed);
        let m = Arc::new(LoadedModel {
            meta: meta.clone(),
            model,
        });
        loaded.insert(key, Arc::clone(&m));
        Ok(m)
    }
}
