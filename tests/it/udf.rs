//! Model functions end to end: the lambda phage genome in 256 bp windows, the
//! micro HyenaDNA fixture (random weights) imported into the database, and
//! `hyena_embed` / `hyena_loglik` through SQL: equal to direct model calls,
//! batched, cached, NULL-safe, with clear errors.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Float32Type, Float64Type, Int64Type};
use candle_core::{DType, Device, Tensor};
use omicsdb::Database;
use omicsdb_model::{HyenaDna, tokenize};
use omicsdb_storage::models;
use omicsdb_udf::{ModelRegistry, models_table, register_model_functions};

use crate::support::{data_dir, ingest_lambda, rt};

struct Setup {
    _tmp: tempfile::TempDir,
    db: Database,
    registry: Arc<ModelRegistry>,
    chrom: String,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let db = Database::open(tmp.path().join("db")).unwrap();
    ingest_lambda(&db);
    let micro = data_dir().join("fixtures/hyenadna/micro");
    models::import_model(db.store(), "micro", &micro, "random weights (test fixture)").unwrap();
    // What the engine does on open/refresh, done here with the udf crate's public API.
    let registry = Arc::new(ModelRegistry::new(Arc::clone(db.store())).unwrap());
    register_model_functions(db.context(), Arc::clone(&registry));
    db.context().deregister_table("models").unwrap();
    db.context()
        .register_table("models", models_table(db.store()).unwrap())
        .unwrap();
    let chrom = db.store().assembly("lambda").unwrap().chroms[0]
        .name
        .clone();
    Setup {
        _tmp: tmp,
        db,
        registry,
        chrom,
    }
}

fn query(s: &Setup, sql: &str) -> Vec<RecordBatch> {
    rt().block_on(s.db.sql(sql))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn query_err(s: &Setup, sql: &str) -> String {
    rt().block_on(s.db.sql(sql)).expect_err(sql).to_string()
}

fn strings(batches: &[RecordBatch], col: usize) -> Vec<String> {
    batches
        .iter()
        .flat_map(|b| {
            b.column(col)
                .as_string::<i32>()
                .iter()
                .map(|v| v.unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn vectors(batches: &[RecordBatch], col: usize) -> Vec<Option<Vec<f32>>> {
    let mut out = Vec::new();
    for b in batches {
        let list = b.column(col).as_fixed_size_list();
        for i in 0..list.len() {
            out.push(list.is_valid(i).then(|| {
                list.value(i)
                    .as_primitive::<Float32Type>()
                    .values()
                    .to_vec()
            }));
        }
    }
    out
}

#[test]
fn embed_windows_equals_direct_model_calls() {
    let s = setup();
    let sql = format!(
        "SELECT region, hyena_embed(seq, 'micro') AS e, seq FROM windows WHERE chrom = '{}' ORDER BY start LIMIT 100",
        s.chrom
    );
    let batches = query(&s, &sql);
    let regions = strings(&batches, 0);
    let emb = vectors(&batches, 1);
    let seqs = strings(&batches, 2);
    assert_eq!((regions.len(), emb.len()), (100, 100));
    assert_eq!(regions[0], format!("{}:1-256", s.chrom));
    let model = HyenaDna::load(
        &data_dir().join("fixtures/hyenadna/micro"),
        &Device::Cpu,
        DType::F32,
    )
    .unwrap();
    for (i, seq) in seqs.iter().enumerate() {
        let ids = tokenize(seq.as_bytes()).unwrap();
        let ids = Tensor::from_vec(ids, (1, seq.len()), &Device::Cpu).unwrap();
        let hidden = model
            .forward_hidden(&ids)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let e = emb[i].as_ref().unwrap();
        assert_eq!(e.len(), 32);
        for c in 0..32 {
            let mean = hidden.iter().map(|h| h[c]).sum::<f32>() / hidden.len() as f32;
            assert!(
                (e[c] - mean).abs() <= 1e-5,
                "row {i} channel {c}: {} vs {mean}",
                e[c]
            );
        }
    }
}

#[test]
fn whole_chromosome_is_batched_and_a_repeat_is_served_from_the_cache() {
    let s = setup();
    let budget = 4096;
    s.registry.set_batch_tokens(budget);
    let sql = format!(
        "SELECT CAST(length(seq) AS BIGINT) AS n, hyena_embed(seq) AS e FROM windows WHERE chrom = '{}'",
        s.chrom
    );
    let batches = query(&s, &sql);
    // Projections keep batch boundaries: per batch, one call per length per budget-sized chunk.
    let mut expected = 0u64;
    let mut rows = 0usize;
    for b in &batches {
        let mut by_len: BTreeMap<i64, usize> = BTreeMap::new();
        for n in b.column(0).as_primitive::<Int64Type>().values() {
            *by_len.entry(*n).or_default() += 1;
        }
        expected += by_len
            .iter()
            .map(|(len, count)| count.div_ceil(budget / *len as usize) as u64)
            .sum::<u64>();
        rows += b.num_rows();
    }
    assert_eq!(rows, 48502usize.div_ceil(256));
    let calls = s.registry.stats.model_calls();
    assert_eq!(calls, expected);
    assert!(
        calls * 8 < rows as u64,
        "{calls} model calls for {rows} windows"
    );
    let first = vectors(&batches, 1);
    let again = query(&s, &sql);
    assert_eq!(
        s.registry.stats.model_calls(),
        calls,
        "the repeated query ran the model"
    );
    assert_eq!(vectors(&again, 1), first);
    assert!(s.registry.stats.cache_hits() >= rows as u64);
}

#[test]
fn nulls_loglik_and_the_models_table() {
    let s = setup();
    let sql = format!(
        "SELECT hyena_embed(CASE WHEN start = 0 THEN NULL ELSE seq END, 'micro'),
                hyena_loglik(CASE WHEN start = 0 THEN NULL ELSE seq END, 'micro'),
                hyena_loglik(seq) - hyena_loglik(overlay(seq placing 'A' from 100 for 1))
         FROM windows WHERE chrom = '{}' ORDER BY start LIMIT 3",
        s.chrom
    );
    let b = query(&s, &sql);
    let emb = vectors(&b, 0);
    assert!(emb[0].is_none() && emb[1].is_some() && emb[2].is_some());
    let ll: Vec<Option<f64>> = b
        .iter()
        .flat_map(|b| {
            b.column(1)
                .as_primitive::<Float64Type>()
                .iter()
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(ll[0].is_none());
    // Random weights: far from uniform, but a log-likelihood is negative and finite.
    assert!(ll[1].unwrap() < 0.0 && ll[1].unwrap().is_finite());
    let delta = b[0].column(2).as_primitive::<Float64Type>();
    assert!(delta.iter().all(|d| d.unwrap().is_finite()));

    let m = query(
        &s,
        "SELECT name, version, architecture, d_model, is_default, note FROM models",
    );
    assert_eq!(m[0].num_rows(), 1);
    assert_eq!(strings(&m, 0), vec!["micro"]);
    assert_eq!(strings(&m, 2), vec!["hyenadna"]);
    assert!(m[0].column(4).as_boolean().value(0));
    assert_eq!(strings(&m, 5), vec!["random weights (test fixture)"]);
}

#[test]
fn oversize_windows_and_unknown_models_are_clear_errors() {
    let s = setup();
    s.db.create_window_set("lambda", "w512", 512, 512, false)
        .unwrap();
    let e = query_err(&s, "SELECT hyena_embed(seq, 'micro') FROM w512 LIMIT 5");
    assert!(
        e.contains("length 512") && e.contains("maximum input length 258") && e.contains("micro@1"),
        "{e}"
    );
    let e = query_err(
        &s,
        "SELECT hyena_embed(seq, 'hyenadna-tiny') FROM windows LIMIT 5",
    );
    assert!(
        e.contains("unknown model 'hyenadna-tiny'") && e.contains("known: micro"),
        "{e}"
    );
    let e = query_err(&s, "SELECT hyena_loglik(seq, 'nope') FROM windows LIMIT 5");
    assert!(e.contains("unknown model 'nope'"), "{e}");
    assert_eq!(s.registry.stats.model_calls(), 0);
}

#[test]
fn the_model_result_cache_keeps_to_the_limit_the_database_was_opened_with() {
    let tmp = tempfile::tempdir().unwrap();
    let options = omicsdb::OpenOptions { model_cache_limit: Some(16 * 1024), ..Default::default() };
    let db = Database::open_with(tmp.path().join("db"), &options).unwrap();
    ingest_lambda(&db);
    models::import_model(db.store(), "micro", &data_dir().join("fixtures/hyenadna/micro"), "random weights (test fixture)").unwrap();
    db.refresh().unwrap();
    let batches = rt().block_on(db.sql("SELECT hyena_embed(seq, 'micro') FROM windows")).unwrap();
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let cache = db.models().cache();
    assert_eq!(cache.budget(), 16 * 1024);
    let bytes = cache.bytes().unwrap();
    assert!(bytes <= 16 * 1024, "the cache holds {bytes} bytes");
    assert!(cache.len() > 0 && cache.len() < rows, "{} of {rows} results cached", cache.len());
}
