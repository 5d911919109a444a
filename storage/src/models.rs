//! Models in the database: checkpoints copied into a data directory and
//! registered in the catalog under `model/<name>/<version:010>`, plus the
//! database settings that name a default model.
//!
//! A model version is immutable: importing the same name again adds version
//! `n + 1`. The entry records the config (parsed JSON), the sha256 of the
//! weights file (the identity the result cache is keyed by), where it came
//! from and a free-text note ("random weights (test fixture)").
//!
//! ```no_run
//! use omicsdb_storage::{Store, models};
//! let store = Store::open("my.omicsdb")?;
//! let meta = models::import_model(&store, "micro", "data/fixtures/hyenadna/micro".as_ref(), "random weights (test fixture)")?;
//! assert_eq!(models::model(&store, "micro", None)?.version, meta.version);
//! # Ok::<(), omicsdb_storage::StorageError>(())
//! ```

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::catalog::CatalogBatch;
use crate::error::{Result, StorageError};
use crate::layout::now_unix;
use crate::store::Store;

/// Architecture name of plain HyenaDNA checkpoints.
pub const HYENADNA: &str = "hyenadna";

/// Weight files accepted in a checkpoint directory, in order of preference.
pub const WEIGHT_FILES: [&str; 3] = [
    "model.safetensors",
    "model.hf_dedup.safetensors",
    "pytorch_model.bin",
];

/// Config files accepted in a checkpoint directory, in order of preference
/// (Hugging Face port layout, then the original LongSafari layout).
pub const CONFIG_FILES: [&str; 2] = ["config.json", "config_original.json"];

/// Catalog key of the default embedding model setting.
pub const DEFAULT_EMBEDDING_MODEL: &str = "default_embedding_model";

/// What a model's family says of a checkpoint (recorded at import from its config and
/// tokenizer files; see `omicsdb_model::zoo`). Absent in entries written before the model
/// zoo: those are HyenaDNA or omics models ([`ModelMeta::family_facts`] fills it in).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamilyFacts {
    /// Family name: `hyenadna`, `dnabert`, ...
    pub family: String,
    /// Tokenizer, e.g. `char` or `kmer6`.
    pub tokenizer: String,
    /// Most bases one input may have.
    pub max_len: u64,
    /// Width of the hidden states.
    pub d_model: u64,
    /// Whether token states depend on later tokens.
    pub bidirectional: bool,
    /// Whether the model is reverse-complement equivariant by construction.
    pub rc_equivariant: bool,
    /// Whether the checkpoint has an LM head (`loglik` works).
    pub lm_head: bool,
    /// Poolings `embed` accepts, the default first.
    pub poolings: Vec<String>,
}

/// One registered model version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// Model name (letters, digits, `_`, `-`, `.`).
    pub name: String,
    /// Version, 1 for the first import of a name, increasing.
    pub version: u32,
    /// `hyenadna` (later `hyena_omics`).
    pub architecture: String,
    /// The checkpoint's config file, parsed.
    pub config: serde_json::Value,
    /// Data directory relative to the database root.
    pub dir: String,
    /// Hex sha256 of the weights file.
    pub sha256: String,
    /// File name of the weights inside `dir`.
    pub weights_file: String,
    /// File name of the config inside `dir`.
    pub config_file: String,
    /// Where it was imported from (as given).
    pub source: String,
    /// Tracks the model predicts (empty for plain HyenaDNA).
    #[serde(default)]
    pub tracks: Vec<String>,
    /// Training/evaluation metrics (JSON object; empty for imported checkpoints).
    #[serde(default)]
    pub metrics: serde_json::Value,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
    /// Free text, e.g. `random weights (test fixture)`.
    #[serde(default)]
    pub note: String,
    /// The family's facts (see [`FamilyFacts`]); use [`ModelMeta::family_facts`].
    #[serde(default)]
    pub family: Option<FamilyFacts>,
}

impl ModelMeta {
    /// An integer hyper-parameter from the config, looked up at the top level
    /// and, for the original layout, under `layer`.
    pub fn config_usize(&self, field: &str) -> Option<usize> {
        config_usize(&self.config, field)
    }

    /// Width of the hidden states (`d_model`).
    pub fn d_model(&self) -> Option<usize> {
        match &self.family {
            Some(f) => Some(f.d_model as usize),
            None => self.config_usize("d_model"),
        }
    }

    /// Number of layers (`n_layer`, or BERT's `num_hidden_layers`).
    pub fn n_layer(&self) -> Option<usize> {
        self.config_usize("n_layer").or_else(|| self.config_usize("num_hidden_layers"))
    }

    /// The family's facts: as recorded, or for entries from before the model zoo (HyenaDNA
    /// and omics models) those of HyenaDNA.
    pub fn family_facts(&self) -> FamilyFacts {
        self.family.clone().unwrap_or_else(|| FamilyFacts {
            family: HYENADNA.to_string(),
            tokenizer: "char".into(),
            max_len: self.max_seq_len().unwrap_or(0) as u64,
            d_model: self.d_model().unwrap_or(0) as u64,
            bidirectional: false,
            rc_equivariant: false,
            lm_head: true,
            poolings: vec!["mean".into(), "last".into()],
        })
    }

    /// Maximum input length in bases (`max_seq_len`, or `layer.l_max`, or the family's).
    pub fn max_seq_len(&self) -> Option<usize> {
        if let Some(f) = &self.family {
            return Some(f.max_len as usize);
        }
        // An omics model with a convolutional stem feeds its backbone one position per
        // `pool` bases, so it takes `pool` times the backbone's length in bases.
        let pool = self.config.pointer("/omics/stem/pool").and_then(|v| v.as_u64()).unwrap_or(1).max(1) as usize;
        self.config_usize("max_seq_len").or_else(|| self.config_usize("l_max")).map(|l| l * pool)
    }

    /// `name@version`, as accepted by the SQL functions.
    pub fn label(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

fn config_usize(config: &serde_json::Value, field: &str) -> Option<usize> {
    let get = |v: &serde_json::Value| v.get(field).and_then(|x| x.as_u64()).map(|x| x as usize);
    get(config).or_else(|| config.get("layer").and_then(get))
}

/// Catalog key of one model version.
pub fn model_key(name: &str, version: u32) -> String {
    format!("model/{name}/{version:010}")
}

/// Catalog key of a setting.
pub fn setting_key(name: &str) -> String {
    format!("setting/{name}")
}

/// What to import: a checkpoint directory and how to describe it.
#[derive(Debug, Clone)]
pub struct ModelImport<'a> {
    /// Model name.
    pub name: &'a str,
    /// Checkpoint directory (config + weights).
    pub src_dir: &'a Path,
    /// Free-text note.
    pub note: &'a str,
    /// Architecture recorded in the catalog.
    pub architecture: &'a str,
    /// Tracks the model predicts.
    pub tracks: Vec<String>,
    /// Metrics to record.
    pub metrics: serde_json::Value,
    /// The family's facts (`None` for HyenaDNA and omics models, whose configs say them).
    pub family: Option<FamilyFacts>,
    /// Files besides config and weights copied along when present (e.g. `vocab.txt`).
    pub extra_files: &'a [&'a str],
}

/// Checks a model name: 1 to 63 of letters, digits, `_`, `-`, `.`, starting
/// with a letter or digit (no `/` or `@`, which the catalog key and the SQL
/// `name@version` syntax use).
pub fn check_model_name(name: &str) -> Result<()> {
    let ok_first = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    let ok_rest = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !ok_first || !ok_rest || name.len() > 63 {
        return Err(StorageError::invalid(
            "model name",
            format!(
                "'{name}' must be 1 to 63 letters, digits, '_', '-' or '.', starting with a letter or digit"
            ),
        ));
    }
    Ok(())
}

/// Imports a HyenaDNA checkpoint directory as the next version of `name`
/// (see [`import_model_with`]).
pub fn import_model(store: &Store, name: &str, src_dir: &Path, note: &str) -> Result<ModelMeta> {
    import_model_with(
        store,
        &ModelImport {
            name,
            src_dir,
            note,
            architecture: HYENADNA,
            tracks: Vec::new(),
            metrics: serde_json::Value::Object(Default::default()),
            family: None,
            extra_files: &[],
        },
    )
}

/// Copies the config ([`CONFIG_FILES`]) and the first weights file found
/// ([`WEIGHT_FILES`]) of `opts.src_dir` into a new data directory, hashing the
/// weights, and registers the next version of the model in one catalog commit.
/// When no default embedding model is set yet, this model becomes the default
/// in the same commit.
pub fn import_model_with(store: &Store, opts: &ModelImport<'_>) -> Result<ModelMeta> {
    check_model_name(opts.name)?;
    let src = opts.src_dir;
    if !src.is_dir() {
        return Err(StorageError::invalid(
            "model directory",
            format!("{} is not a directory", src.display()),
        ));
    }
    let config_file = CONFIG_FILES
        .iter()
        .find(|f| src.join(f).is_file())
        .ok_or_else(|| {
            StorageError::invalid(
                "model directory",
                format!("{} has no {}", src.display(), CONFIG_FILES.join(" or ")),
            )
        })?;
    let weights_file = WEIGHT_FILES
        .iter()
        .find(|f| src.join(f).is_file())
        .ok_or_else(|| {
            StorageError::invalid(
                "model directory",
                format!(
                    "{} has no weights ({})",
                    src.display(),
                    WEIGHT_FILES.join(", ")
                ),
            )
        })?;
    let config_path = src.join(config_file);
    let config_text =
        std::fs::read_to_string(&config_path).map_err(|e| StorageError::io(&config_path, e))?;
    let config = if opts.family.is_some() {
        parse_json_object(&config_path, &config_text)?
    } else {
        parse_config(&config_path, &config_text)?
    };

    let _guard = store.write_guard();
    let version = next_version(store, opts.name)?;
    let (abs, rel) = store.new_data_dir("model", opts.name)?;
    copy_file(&config_path, &abs.join(config_file))?;
    let sha256 = copy_hashing(&src.join(weights_file), &abs.join(weights_file))?;
    for extra in opts.extra_files {
        if src.join(extra).is_file() {
            copy_file(&src.join(extra), &abs.join(extra))?;
        }
    }
    let meta = ModelMeta {
        name: opts.name.to_string(),
        version,
        architecture: opts.architecture.to_string(),
        config,
        dir: rel,
        sha256,
        weights_file: weights_file.to_string(),
        config_file: config_file.to_string(),
        source: src.display().to_string(),
        tracks: opts.tracks.clone(),
        metrics: opts.metrics.clone(),
        created_at: now_unix(),
        note: opts.note.to_string(),
        family: opts.family.clone(),
    };
    let mut batch = CatalogBatch::new();
    batch.put(model_key(&meta.name, version), &meta)?;
    if default_embedding_model(store)?.is_none() {
        batch.put(setting_key(DEFAULT_EMBEDDING_MODEL), &meta.name)?;
    }
    store.commit(batch)?;
    Ok(meta)
}

/// Parses a config that must be a JSON object.
fn parse_json_object(path: &Path, text: &str) -> Result<serde_json::Value> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| StorageError::format(path, Some(e.line() as u64), e.to_string()))?;
    if !value.is_object() {
        return Err(StorageError::format(path, None, "expected a JSON object"));
    }
    Ok(value)
}

/// Parses a config and checks the HyenaDNA fields are there (either layout).
fn parse_config(path: &Path, text: &str) -> Result<serde_json::Value> {
    let value = parse_json_object(path, text)?;
    for field in ["d_model", "n_layer", "vocab_size"] {
        if config_usize(&value, field).is_none() {
            return Err(StorageError::format(
                path,
                None,
                format!("missing or non-integer field `{field}`"),
            ));
        }
    }
    if config_usize(&value, "max_seq_len")
        .or_else(|| config_usize(&value, "l_max"))
        .is_none()
    {
        return Err(StorageError::format(
            path,
            None,
            "missing field `max_seq_len` (or `layer.l_max`)",
        ));
    }
    Ok(value)
}

fn next_version(store: &Store, name: &str) -> Result<u32> {
    let versions = store
        .catalog()
        .list::<ModelMeta>(&format!("model/{name}/"))?;
    Ok(versions.iter().map(|m| m.version).max().unwrap_or(0) + 1)
}

fn copy_file(from: &Path, to: &Path) -> Result<()> {
    copy_hashing(from, to).map(|_| ())
}

/// Copies `from` to `to` (synced to disk) and returns the hex sha256 of the bytes.
fn copy_hashing(from: &Path, to: &Path) -> Result<String> {
    let mut input = File::open(from).map_err(|e| StorageError::io(from, e))?;
    let mut output = File::create(to).map_err(|e| StorageError::io(to, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = input
            .read(&mut buf)
            .map_err(|e| StorageError::io(from, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        output
            .write_all(&buf[..n])
            .map_err(|e| StorageError::io(to, e))?;
    }
    output.sync_all().map_err(|e| StorageError::io(to, e))?;
    Ok(hex(&hasher.finalize()))
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every version of every model, ordered by name then version.
pub fn list_models(store: &Store) -> Result<Vec<ModelMeta>> {
    store.catalog().list("model/")
}

/// Names of the registered models (each once), sorted.
pub fn model_names(store: &Store) -> Result<Vec<String>> {
    let mut names: Vec<String> = list_models(store)?.into_iter().map(|m| m.name).collect();
    names.dedup();
    Ok(names)
}

/// One model version: the latest when `version` is `None`. An unknown name
/// or version is [`StorageError::NotFound`] listing what exists.
pub fn model(store: &Store, name: &str, version: Option<u32>) -> Result<ModelMeta> {
    let versions: Vec<ModelMeta> = if name.contains('/') {
        Vec::new()
    } else {
        store.catalog().list(&format!("model/{name}/"))?
    };
    if versions.is_empty() {
        return Err(StorageError::NotFound {
            kind: "model",
            name: name.to_string(),
            known: model_names(store)?,
        });
    }
    match version {
        None => versions
            .into_iter()
            .max_by_key(|m| m.version)
            .ok_or_else(|| StorageError::Catalog(format!("model '{name}' has no versions"))),
        Some(v) => {
            let known: Vec<String> = versions.iter().map(ModelMeta::label).collect();
            versions
                .into_iter()
                .find(|m| m.version == v)
                .ok_or_else(|| StorageError::NotFound {
                    kind: "model version",
                    name: format!("{name}@{v}"),
                    known,
                })
        }
    }
}

/// A setting's JSON value, if set.
pub fn setting(store: &Store, name: &str) -> Result<Option<serde_json::Value>> {
    store.catalog().get(&setting_key(name))
}

/// Sets a setting (committed immediately).
pub fn set_setting(store: &Store, name: &str, value: &serde_json::Value) -> Result<()> {
    let _guard = store.write_guard();
    let mut batch = CatalogBatch::new();
    batch.put(setting_key(name), value)?;
    store.commit(batch)
}

/// The default embedding model's name, if one is set.
pub fn default_embedding_model(store: &Store) -> Result<Option<String>> {
    Ok(setting(store, DEFAULT_EMBEDDING_MODEL)?.and_then(|v| v.as_str().map(str::to_string)))
}

/// Makes `name` (which must be a registered model) the default embedding model.
pub fn set_default_embedding_model(store: &Store, name: &str) -> Result<()> {
    model(store, name, None)?;
    set_setting(
        store,
        DEFAULT_EMBEDDING_MODEL,
        &serde_json::Value::String(name.to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::TempDir;

    const CONFIG: &str =
        r#"{"d_model": 32, "n_layer": 2, "d_inner": 64, "vocab_size": 12, "max_seq_len": 258}"#;

    fn checkpoint(dir: &TempDir, weights: &[u8]) -> std::path::PathBuf {
        let ck = dir.join("ck");
        std::fs::create_dir_all(&ck).unwrap();
        std::fs::write(ck.join("config.json"), CONFIG).unwrap();
        std::fs::write(ck.join("model.safetensors"), weights).unwrap();
        ck
    }

    #[test]
    fn import_copies_hashes_and_versions() {
        let tmp = TempDir::new("models-import");
        let ck = checkpoint(&tmp, b"abc");
        let store = Store::open(tmp.join("db")).unwrap();
        let m1 = import_model(&store, "micro", &ck, "random weights (test fixture)").unwrap();
        assert_eq!(m1.version, 1);
        // sha256("abc")
        assert_eq!(
            m1.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!((m1.d_model(), m1.max_seq_len()), (Some(32), Some(258)));
        assert_eq!(
            std::fs::read(store.path(&m1.dir).join("model.safetensors")).unwrap(),
            b"abc"
        );
        assert!(store.path(&m1.dir).join("config.json").is_file());
        let m2 = import_model(&store, "micro", &ck, "again").unwrap();
        assert_eq!(m2.version, 2);
        assert_ne!(m1.dir, m2.dir);
        assert_eq!(model(&store, "micro", None).unwrap().version, 2);
        assert_eq!(model(&store, "micro", Some(1)).unwrap(), m1);
        assert_eq!(list_models(&store).unwrap().len(), 2);
        // The first import became the default; a second model does not change it.
        import_model(&store, "other", &ck, "").unwrap();
        assert_eq!(
            default_embedding_model(&store).unwrap().as_deref(),
            Some("micro")
        );
        set_default_embedding_model(&store, "other").unwrap();
        assert_eq!(
            default_embedding_model(&store).unwrap().as_deref(),
            Some("other")
        );
        assert_eq!(model_names(&store).unwrap(), vec!["micro", "other"]);
        // Survives reopening, and the data directories are kept by garbage collection.
        drop(store);
        let store = Store::open(tmp.join("db")).unwrap();
        let again = model(&store, "micro", Some(1)).unwrap();
        assert!(store.path(&again.dir).join("model.safetensors").is_file());
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let tmp = TempDir::new("models-unknown");
        let ck = checkpoint(&tmp, b"w");
        let store = Store::open(tmp.join("db")).unwrap();
        let err = model(&store, "nope", None).unwrap_err().to_string();
        assert!(err.contains("unknown model 'nope'"), "{err}");
        import_model(&store, "micro", &ck, "").unwrap();
        let err = model(&store, "nope", None).unwrap_err().to_string();
        assert!(err.contains("known: micro"), "{err}");
        let err = model(&store, "micro", Some(7)).unwrap_err().to_string();
        assert!(err.contains("micro@7") && err.contains("micro@1"), "{err}");
        assert!(set_default_embedding_model(&store, "nope").is_err());
    }

    #[test]
    fn rejects_bad_checkpoints_and_names() {
        let tmp = TempDir::new("models-bad");
        let store = Store::open(tmp.join("db")).unwrap();
        let ck = checkpoint(&tmp, b"w");
        for bad in ["", "a/b", "m@1", "-x"] {
            assert!(import_model(&store, bad, &ck, "").is_err(), "{bad}");
        }
        let no_weights = tmp.join("no_weights");
        std::fs::create_dir_all(&no_weights).unwrap();
        std::fs::write(no_weights.join("config.json"), CONFIG).unwrap();
        let err = import_model(&store, "m", &no_weights, "")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no weights"), "{err}");
        let bad_cfg = tmp.join("bad_cfg");
        std::fs::create_dir_all(&bad_cfg).unwrap();
        std::fs::write(bad_cfg.join("config.json"), b"{\"d_model\": 3}").unwrap();
        std::fs::write(bad_cfg.join("pytorch_model.bin"), b"w").unwrap();
        let err = import_model(&store, "m", &bad_cfg, "")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("config.json") && err.contains("n_layer"),
            "{err}"
        );
        assert!(list_models(&store).unwrap().is_empty());
        assert!(import_model(&store, "m", &tmp.join("missing"), "").is_err());
    }

    #[test]
    fn original_layout_config_is_accepted() {
        let tmp = TempDir::new("models-orig");
        let ck = tmp.join("ck");
        std::fs::create_dir_all(&ck).unwrap();
        std::fs::write(
            ck.join("config_original.json"),
            r#"{"d_model": 8, "n_layer": 1, "d_inner": 8, "vocab_size": 12, "layer": {"l_max": 66}}"#,
        )
        .unwrap();
        std::fs::write(ck.join("pytorch_model.bin"), b"w").unwrap();
        let store = Store::open(tmp.join("db")).unwrap();
        let m = import_model(&store, "orig", &ck, "").unwrap();
        assert_eq!(
            (
                m.max_seq_len(),
                m.config_file.as_str(),
                m.weights_file.as_str()
            ),
            (Some(66), "config_original.json", "pytorch_model.bin")
        );
    }
}
