//! The model functions through SQL on the micro fixture model (random weights).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Float32Type, Float64Type};
use candle_core::{DType, Device, Tensor};
use datafusion::prelude::SessionContext;
use omicsdb_model::{HyenaDna, tokenize};
use omicsdb_storage::{Store, models};

use crate::{ModelRegistry, models_table, register_model_functions};

fn micro_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/fixtures/hyenadna/micro")
}

struct Fixture {
    _tmp: tempfile::TempDir,
    store: Arc<Store>,
    registry: Arc<ModelRegistry>,
    ctx: SessionContext,
}

fn fixture(import: bool) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(tmp.path().join("db")).unwrap());
    if import {
        models::import_model(
            &store,
            "micro",
            &micro_dir(),
            "random weights (test fixture)",
        )
        .unwrap();
    }
    let registry = Arc::new(ModelRegistry::new(Arc::clone(&store)).unwrap());
    let ctx = SessionContext::new();
    register_model_functions(&ctx, Arc::clone(&registry));
    Fixture {
        _tmp: tmp,
        store,
        registry,
        ctx,
    }
}

fn sql(f: &Fixture, query: &str) -> datafusion::error::Result<Vec<RecordBatch>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async { f.ctx.sql(query).await?.collect().await })
}

fn err(f: &Fixture, query: &str) -> String {
    sql(f, query).expect_err(query).to_string()
}

/// Embedding rows of the first column (None for NULL).
fn embeddings(batches: &[RecordBatch]) -> Vec<Option<Vec<f32>>> {
    let mut out = Vec::new();
    for b in batches {
        let list = b.column(0).as_fixed_size_list();
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

fn direct_hidden(seq: &str) -> Vec<Vec<f32>> {
    let model = HyenaDna::load(&micro_dir(), &Device::Cpu, DType::F32).unwrap();
    let ids = tokenize(seq.as_bytes()).unwrap();
    let ids = Tensor::from_vec(ids, (1, seq.len()), &Device::Cpu).unwrap();
    model
        .forward_hidden(&ids)
        .unwrap()
        .squeeze(0)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap()
}

fn random_seq(len: usize, seed: u64) -> String {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            b"ACGT"[(x >> 62) as usize] as char
        })
        .collect()
}

fn close(a: &[f32], b: &[f32], tol: f32) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

#[test]
fn embed_is_the_mean_of_final_hidden_states_and_last_is_the_last_position() {
    let f = fixture(true);
    let seqs = [
        random_seq(50, 1),
        "ACGTNacgtn".to_string(),
        random_seq(50, 2),
    ];
    let values = seqs
        .iter()
        .map(|s| format!("('{s}')"))
        .collect::<Vec<_>>()
        .join(", ");
    let got = embeddings(
        &sql(
            &f,
            &format!("SELECT hyena_embed(s, 'micro') FROM (VALUES {values}) t(s)"),
        )
        .unwrap(),
    );
    let last = embeddings(
        &sql(
            &f,
            &format!("SELECT hyena_embed(s, 'micro', 'last') FROM (VALUES {values}) t(s)"),
        )
        .unwrap(),
    );
    assert_eq!(got.len(), 3);
    for (i, s) in seqs.iter().enumerate() {
        let hidden = direct_hidden(s);
        let mean: Vec<f32> = (0..32)
            .map(|c| hidden.iter().map(|h| h[c]).sum::<f32>() / hidden.len() as f32)
            .collect();
        let e = got[i].as_ref().unwrap();
        assert_eq!(e.len(), 32);
        assert!(close(e, &mean, 1e-5), "row {i}: {e:?} vs {mean:?}");
        assert!(
            close(last[i].as_ref().unwrap(), &hidden[s.len() - 1], 1e-5),
            "row {i} last"
        );
    }
    // The default model (the first import) and a scalar argument.
    let scalar = embeddings(&sql(&f, &format!("SELECT hyena_embed('{}')", seqs[0])).unwrap());
    assert!(close(
        scalar[0].as_ref().unwrap(),
        got[0].as_ref().unwrap(),
        1e-6
    ));
}

#[test]
fn batches_by_length_dedupes_and_serves_repeats_from_the_cache() {
    let f = fixture(true);
    f.registry.set_batch_tokens(64);
    // 10 distinct sequences of length 16 (4 per call: 3 calls), one of length 8 twice (1 call), a NULL.
    let mut rows: Vec<String> = (0..10)
        .map(|i| format!("('{}')", random_seq(16, 100 + i)))
        .collect();
    rows.push("('ACGTACGT')".into());
    rows.push("('ACGTACGT')".into());
    rows.push("(NULL)".into());
    let query = format!(
        "SELECT hyena_embed(s, 'micro') FROM (VALUES {}) t(s)",
        rows.join(", ")
    );
    let first = embeddings(&sql(&f, &query).unwrap());
    assert_eq!(f.registry.stats.model_calls(), 4);
    assert_eq!(f.registry.stats.model_tokens(), 10 * 16 + 8);
    assert_eq!(first.len(), 13);
    assert_eq!(first[10], first[11]);
    assert!(first[12].is_none());
    let again = embeddings(&sql(&f, &query).unwrap());
    assert_eq!(
        f.registry.stats.model_calls(),
        4,
        "a repeated query runs no model"
    );
    assert_eq!(f.registry.stats.cache_hits(), 11);
    assert_eq!(again, first);
    // Another pooling is another cache entry; loglik too.
    sql(&f, &query.replace("'micro')", "'micro', 'last')")).unwrap();
    assert_eq!(f.registry.stats.model_calls(), 8);
    // With the cache off every query runs the model again.
    f.registry.set_cache_enabled(false);
    sql(&f, &query).unwrap();
    assert_eq!(f.registry.stats.model_calls(), 12);
}

#[test]
fn loglik_scores_every_token_after_the_first() {
    let f = fixture(true);
    let seq = random_seq(40, 7);
    let batches = sql(
        &f,
        &format!("SELECT hyena_loglik('{seq}', 'micro'), hyena_loglik('A'), hyena_loglik(NULL)"),
    )
    .unwrap();
    let got = batches[0].column(0).as_primitive::<Float64Type>().value(0);
    assert_eq!(
        batches[0].column(1).as_primitive::<Float64Type>().value(0),
        0.0
    );
    assert!(batches[0].column(2).is_null(0));
    let model = HyenaDna::load(&micro_dir(), &Device::Cpu, DType::F32).unwrap();
    let ids = tokenize(seq.as_bytes()).unwrap();
    let logits = model
        .forward_logits(&Tensor::from_vec(ids.clone(), (1, seq.len()), &Device::Cpu).unwrap())
        .unwrap()
        .squeeze(0)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    let want: f64 = (1..seq.len())
        .map(|t| {
            let row = &logits[t - 1];
            let z: f64 = row.iter().map(|&x| (x as f64).exp()).sum();
            row[ids[t] as usize] as f64 - z.ln()
        })
        .sum();
    assert!(
        (got - want).abs() < 1e-4 * want.abs().max(1.0),
        "{got} vs {want}"
    );
    assert!(got < 0.0);
}

#[test]
fn bad_inputs_get_clear_errors() {
    let f = fixture(true);
    let long = "A".repeat(300);
    let e = err(
        &f,
        &format!("SELECT hyena_embed(s, 'micro') FROM (VALUES ('ACGT'), ('{long}')) t(s)"),
    );
    assert!(
        e.contains("row 1") && e.contains("length 300") && e.contains("258"),
        "{e}"
    );
    let e = err(&f, "SELECT hyena_loglik('ACGRT', 'micro')");
    assert!(e.contains("position 3") && e.contains("length 5"), "{e}");
    let e = err(&f, "SELECT hyena_embed('ACGT', 'nope')");
    assert!(
        e.contains("unknown model 'nope'") && e.contains("known: micro"),
        "{e}"
    );
    let e = err(&f, "SELECT hyena_embed('ACGT', 'micro@9')");
    assert!(e.contains("micro@9") && e.contains("micro@1"), "{e}");
    let e = err(&f, "SELECT hyena_embed('ACGT', 'micro', 'max')");
    assert!(
        e.contains("pooling") && e.contains("'mean' or 'last'"),
        "{e}"
    );
    let e = err(
        &f,
        "SELECT hyena_embed(s, m) FROM (VALUES ('ACGT', 'micro')) t(s, m)",
    );
    assert!(e.contains("constant"), "{e}");
    let e = err(&f, "SELECT hyena_embed(1)");
    assert!(e.contains("`seq` must be a string"), "{e}");
    let e = err(&f, "SELECT hyena_embed('')");
    assert!(e.contains("empty sequence"), "{e}");
    assert_eq!(f.registry.stats.model_calls(), 0);

    let empty = fixture(false);
    let e = err(&empty, "SELECT hyena_embed('ACGT')");
    assert!(
        e.contains("no default embedding model") && e.contains("model import"),
        "{e}"
    );
    let e = err(&empty, "SELECT hyena_loglik('ACGT')");
    assert!(
        e.contains("hyena_loglik") && e.contains("no default embedding model"),
        "{e}"
    );
}

#[test]
fn models_table_lists_versions_and_the_default() {
    let f = fixture(true);
    models::import_model(&f.store, "micro", &micro_dir(), "second").unwrap();
    f.ctx
        .register_table("models", models_table(&f.store).unwrap())
        .unwrap();
    let b = sql(
        &f,
        "SELECT name, version, d_model, max_seq_len, is_default, note FROM models ORDER BY version",
    )
    .unwrap();
    let b = &b[0];
    assert_eq!(b.num_rows(), 2);
    assert_eq!(
        b.column(1)
            .as_primitive::<arrow::datatypes::Int64Type>()
            .values()
            .to_vec(),
        vec![1, 2]
    );
    assert_eq!(
        b.column(2)
            .as_primitive::<arrow::datatypes::Int64Type>()
            .value(0),
        32
    );
    assert_eq!(
        b.column(3)
            .as_primitive::<arrow::datatypes::Int64Type>()
            .value(0),
        258
    );
    assert!(b.column(4).as_boolean().value(0));
    assert_eq!(
        b.column(5).as_string::<i32>().value(0),
        "random weights (test fixture)"
    );
    // `micro` now means version 2 (same weights, same sha256: the cache is shared).
    assert_eq!(f.registry.resolve("t", Some("micro")).unwrap().version, 2);
    assert_eq!(f.registry.resolve("t", None).unwrap().version, 2);
}

#[test]
fn a_stopped_statement_runs_no_further_micro_batch() {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crate::StatementInterrupt;

    let f = fixture(true);
    f.registry.set_batch_tokens(16);
    f.registry.set_cache_enabled(false);
    // 12 distinct sequences of length 16: one per call. The probe fires at its
    // fourth check, so three micro-batches run and the fourth never starts.
    let rows: Vec<String> = (0..12).map(|i| format!("('{}')", random_seq(16, 500 + i))).collect();
    let query = format!("SELECT hyena_embed(s, 'micro') FROM (VALUES {}) t(s)", rows.join(", "));
    let checks = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&checks);
    let interrupt = StatementInterrupt::new(move || {
        (seen.fetch_add(1, Ordering::SeqCst) >= 3).then(|| "canceling statement due to user request".into())
    });
    let state = f.ctx.state_ref();
    state.write().config_mut().options_mut().extensions.insert(interrupt);
    let e = err(&f, &query);
    assert!(e.contains("hyena_embed") && e.contains("canceling statement due to user request"), "{e}");
    assert_eq!(f.registry.stats.model_calls(), 3);
    // The error's source chain ends in the probe's reason (a server maps it to 57014).
    // Without an armed interrupt the query runs to the end.
    state.write().config_mut().options_mut().extensions.insert(StatementInterrupt::default());
    assert_eq!(embeddings(&sql(&f, &query).unwrap()).len(), 12);
    assert_eq!(f.registry.stats.model_calls(), 15);
    // It is not a setting.
    let e = err(&f, "SET omicsdb_statement.stopped = 'true'");
    assert!(e.contains("not a setting"), "{e}");
}

#[test]
fn model_calls_on_a_multi_threaded_runtime_leave_its_workers_free() {
    // One worker: a model call that held it would stall the timer below.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let f = fixture(true);
    f.registry.set_batch_tokens(16);
    f.registry.set_cache_enabled(false);
    let rows: Vec<String> = (0..400).map(|i| format!("('{}')", random_seq(64, 900 + i))).collect();
    let query = format!("SELECT hyena_embed(s, 'micro') FROM (VALUES {}) t(s)", rows.join(", "));
    let (ticks, elapsed) = rt.block_on(async {
        let ctx = f.ctx.clone();
        let started = std::time::Instant::now();
        let counter = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let c = Arc::clone(&counter);
        let probe = tokio::spawn(async move {
            let mut interval = tokio::time::interval(std::time::Duration::from_millis(10));
            loop {
                interval.tick().await;
                c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        // The query runs on the one worker (a spawned task).
        let batches = tokio::spawn(async move { ctx.sql(&query).await?.collect().await }).await.unwrap().unwrap();
        let elapsed = started.elapsed();
        probe.abort();
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 400);
        (counter.load(std::sync::atomic::Ordering::SeqCst), elapsed)
    });
    // A 10 ms timer on a free runtime ticks about elapsed/10ms times; a stalled
    // one ticks once or twice. Ask for a third of what a free runtime gives.
    let expected = (elapsed.as_millis() / 10) as u32;
    assert!(expected >= 10, "the query took {elapsed:?}: too short to tell");
    assert!(ticks * 3 >= expected, "{ticks} ticks in {elapsed:?}: the model call held the runtime's worker");
}
