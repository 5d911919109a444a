//! The model zoo end to end: a random-weight DNABERT-6 checkpoint (the k6_1k fixture of
//! scripts/fixtures/dnabert.py) imported with `omicsdb model import`, its family detected
//! from config.json, and `embed` / `loglik` through SQL equal to direct model calls, beside
//! HyenaDNA, with the `models` table's family columns and clear errors; the same for a
//! random-weight Caduceus-PS checkpoint (the ps_small fixture of
//! scripts/fixtures/caduceus.py), whose embeddings are reverse-complement equivariant.

use arrow::array::AsArray;
use arrow::datatypes::{Float32Type, Float64Type};
use candle_core::{DType, Device, Tensor};
use omicsdb::Database;
use omicsdb_model::zoo::{self, Pooling};

use crate::support::{data_dir, ingest_lambda, omicsdb, omicsdb_ok, rt};

const DNABERT: &str = "fixtures/dnabert/k6_1k";
const CADUCEUS: &str = "fixtures/caduceus/ps_small";

fn lambda_db(dir: &std::path::Path) -> Database {
    let db = Database::open(dir).unwrap();
    ingest_lambda(&db);
    db
}

fn sql(db: &Database, q: &str) -> Vec<arrow::array::RecordBatch> {
    rt().block_on(db.sql(q)).unwrap_or_else(|e| panic!("{q}: {e}"))
}

fn sql_err(db: &Database, q: &str) -> String {
    rt().block_on(db.sql(q)).expect_err(q).to_string()
}

#[test]
fn dnabert_embed_and_loglik_in_sql_equal_direct_model_calls() {
    let tmp = tempfile::tempdir().unwrap();
    let db = lambda_db(&tmp.path().join("db"));
    let meta = db.import_model("dnabert6_random", &data_dir().join(DNABERT), "random weights (test fixture)").unwrap();
    assert_eq!(meta.architecture, "dnabert");
    db.import_model("micro", &data_dir().join("fixtures/hyenadna/micro"), "random weights (test fixture)").unwrap();

    // The models table says what each family is.
    let b = sql(&db, "SELECT name, family, tokenizer, max_len, bidirectional, rc_equivariant, d_model, n_layer FROM models ORDER BY name");
    let b = &b[0];
    let col = |i: usize| b.column(i).as_string::<i32>().iter().map(|v| v.unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(col(0), ["dnabert6_random", "micro"]);
    assert_eq!(col(1), ["dnabert", "hyenadna"]);
    assert_eq!(col(2), ["kmer6", "char"]);
    let ints = |i: usize| b.column(i).as_primitive::<arrow::datatypes::Int64Type>().values().to_vec();
    assert_eq!(ints(3), [1026 + 6 - 3, 258]);
    assert_eq!(ints(6), [32, 32]);
    assert_eq!(ints(7), [2, 2]);
    let flags = |i: usize| (0..2).map(|r| b.column(i).as_boolean().value(r)).collect::<Vec<_>>();
    assert_eq!(flags(4), [true, false]);
    assert_eq!(flags(5), [false, false]);

    // embed (mean, the default; cls) and loglik per window, against the model called directly.
    let q = "SELECT seq, embed(seq, 'dnabert6_random'), embed(seq, 'dnabert6_random', 'cls'), \
             loglik(substr(seq, 1, 24), 'dnabert6_random') FROM windows ORDER BY start LIMIT 3";
    let batches = sql(&db, q);
    let model = zoo::load(&data_dir().join(DNABERT), &Device::Cpu, DType::F32).unwrap();
    let mut rows = 0;
    for b in &batches {
        for r in 0..b.num_rows() {
            rows += 1;
            let seq = b.column(0).as_string::<i32>().value(r).as_bytes().to_vec();
            let ids = model.tokenize(&seq).unwrap();
            let n = ids.len();
            let x = Tensor::from_vec(ids, (1, n), &Device::Cpu).unwrap();
            let hidden = model.hidden(&x).unwrap();
            for (c, pooling) in [(1, Pooling::Mean), (2, Pooling::Cls)] {
                let want = zoo::pool(model.as_ref(), &hidden, pooling).unwrap().to_vec2::<f32>().unwrap().remove(0);
                let list = b.column(c).as_fixed_size_list();
                let got = list.value(r).as_primitive::<Float32Type>().values().to_vec();
                assert_eq!(got.len(), 32);
                let diff = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
                assert!(diff <= 1e-5, "row {r} {pooling:?}: max |diff| {diff}");
            }
            let short = &seq[..24];
            let ids = model.tokenize(short).unwrap();
            let n = ids.len();
            let want = model.loglik(&Tensor::from_vec(ids, (1, n), &Device::Cpu).unwrap()).unwrap()[0];
            let got = b.column(3).as_primitive::<Float64Type>().value(r);
            assert!(want < 0.0 && (got - want).abs() <= 1e-6 * want.abs().max(1.0), "row {r}: loglik {got} vs {want}");
        }
    }
    assert_eq!(rows, 3);
    // The mean embedding differs from [CLS]'s: the special tokens are not in the mean.
    let list = batches[0].column(1).as_fixed_size_list();
    let cls = batches[0].column(2).as_fixed_size_list();
    assert_ne!(list.value(0).as_primitive::<Float32Type>().values(), cls.value(0).as_primitive::<Float32Type>().values());
    // HyenaDNA through the same function, and hyena_embed unchanged for it.
    let b = sql(&db, "SELECT embed(seq, 'micro') = hyena_embed(seq, 'micro'), loglik(seq, 'micro') = hyena_loglik(seq, 'micro') FROM windows LIMIT 2");
    for c in 0..2 {
        assert!((0..b[0].num_rows()).all(|r| b[0].column(c).as_boolean().value(r)));
    }
}

#[test]
fn family_mismatches_and_bad_sequences_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let db = lambda_db(&tmp.path().join("db"));
    db.import_model("dnabert6_random", &data_dir().join(DNABERT), "random weights (test fixture)").unwrap();
    let e = sql_err(&db, "SELECT hyena_embed(seq, 'dnabert6_random') FROM windows LIMIT 1");
    assert!(e.contains("dnabert model") && e.contains("embed(seq, 'dnabert6_random')"), "{e}");
    let e = sql_err(&db, "SELECT embed(seq, 'dnabert6_random', 'last') FROM windows LIMIT 1");
    assert!(e.contains("no 'last' pooling") && e.contains("'mean' or 'cls'"), "{e}");
    let e = sql_err(&db, "SELECT embed('ACG', 'dnabert6_random')");
    assert!(e.contains("6-mer"), "{e}");
    let e = sql_err(&db, "SELECT embed('ACGTAC-GT', 'dnabert6_random')");
    assert!(e.contains("position 6"), "{e}");
    let e = sql_err(&db, "SELECT embed(seq || seq || seq || seq || seq, 'dnabert6_random') FROM windows LIMIT 1");
    assert!(e.contains("1029"), "{e}");
}

#[test]
fn model_import_detects_the_family_and_says_when_it_cannot() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    drop(lambda_db(&db));
    let dir = data_dir().join(DNABERT);
    let out = omicsdb_ok(&db, &["model", "import", "--name", "dnabert6_random", dir.to_str().unwrap(), "--note", "random weights (test fixture)"]);
    assert!(out.contains("dnabert6_random@1"), "{out}");
    let out = omicsdb_ok(&db, &["model", "list"]);
    assert!(out.contains("dnabert, kmer6 tokens, d_model 32, 2 layers, max length 1029 bases, bidirectional"), "{out}");
    let out = omicsdb_ok(&db, &["sql", "--format", "csv", "SELECT start, embed(seq, 'dnabert6_random')[1] IS NOT NULL AS e FROM windows ORDER BY start LIMIT 2"]);
    assert!(out.contains("0,true") && out.contains("256,true"), "{out}");
    // A config no family knows: an error naming what it says, and nothing registered.
    let odd = tmp.path().join("gpt");
    std::fs::create_dir_all(&odd).unwrap();
    std::fs::write(odd.join("config.json"), r#"{"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}"#).unwrap();
    std::fs::write(odd.join("model.safetensors"), b"").unwrap();
    let o = omicsdb(&db, &["model", "import", "--name", "gpt", odd.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("cannot tell the model family") && err.contains("gpt2") && err.contains("dnabert"), "{err}");
    let out = omicsdb_ok(&db, &["model", "list"]);
    assert!(!out.contains("gpt"), "{out}");
}

fn revcomp(seq: &[u8]) -> Vec<u8> {
    seq.iter()
        .rev()
        .map(|b| match b.to_ascii_uppercase() {
            b'A' => b'T',
            b'C' => b'G',
            b'G' => b'C',
            b'T' => b'A',
            other => other,
        })
        .collect()
}

fn floats(list: &arrow::array::FixedSizeListArray, r: usize) -> Vec<f32> {
    list.value(r).as_primitive::<Float32Type>().values().to_vec()
}

#[test]
fn caduceus_embed_and_loglik_in_sql_equal_direct_model_calls() {
    let tmp = tempfile::tempdir().unwrap();
    let db = lambda_db(&tmp.path().join("db"));
    let meta = db.import_model("caduceus_random", &data_dir().join(CADUCEUS), "random weights (test fixture)").unwrap();
    assert_eq!(meta.architecture, "caduceus");
    let b = sql(&db, "SELECT family, tokenizer, max_len, bidirectional, rc_equivariant, d_model, n_layer FROM models WHERE name = 'caduceus_random'");
    let b = &b[0];
    assert_eq!(b.column(0).as_string::<i32>().value(0), "caduceus");
    assert_eq!(b.column(1).as_string::<i32>().value(0), "char");
    let int = |i: usize| b.column(i).as_primitive::<arrow::datatypes::Int64Type>().value(0);
    // PS hidden states are twice d_model wide: the forward and the reverse-complement halves.
    assert_eq!((int(2), int(5), int(6)), (1024, 64, 2));
    assert!(b.column(3).as_boolean().value(0) && b.column(4).as_boolean().value(0));

    let q = "SELECT seq, embed(seq, 'caduceus_random'), embed(seq, 'caduceus_random', 'last'), \
             loglik(substr(seq, 1, 24), 'caduceus_random') FROM windows ORDER BY start LIMIT 3";
    let batches = sql(&db, q);
    let model = zoo::load(&data_dir().join(CADUCEUS), &Device::Cpu, DType::F32).unwrap();
    let mut rows = 0;
    for b in &batches {
        for r in 0..b.num_rows() {
            rows += 1;
            let seq = b.column(0).as_string::<i32>().value(r).as_bytes().to_vec();
            let ids = model.tokenize(&seq).unwrap();
            assert_eq!(ids.len(), seq.len());
            let n = ids.len();
            let hidden = model.hidden(&Tensor::from_vec(ids, (1, n), &Device::Cpu).unwrap()).unwrap();
            for (c, pooling) in [(1, Pooling::Mean), (2, Pooling::Last)] {
                let want = zoo::pool(model.as_ref(), &hidden, pooling).unwrap().to_vec2::<f32>().unwrap().remove(0);
                let got = floats(b.column(c).as_fixed_size_list(), r);
                assert_eq!(got.len(), 64);
                let diff = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
                assert!(diff <= 1e-5, "row {r} {pooling:?}: max |diff| {diff}");
            }
            let short = &seq[..24];
            let ids = model.tokenize(short).unwrap();
            let want = model.loglik(&Tensor::from_vec(ids, (1, 24), &Device::Cpu).unwrap()).unwrap()[0];
            let got = b.column(3).as_primitive::<Float64Type>().value(r);
            assert!(want < 0.0 && (got - want).abs() <= 1e-6 * want.abs().max(1.0), "row {r}: loglik {got} vs {want}");
        }
    }
    assert_eq!(rows, 3);

    // Reverse-complement equivariance through SQL: the mean embedding of the reverse
    // complement is the mean embedding with its channels reversed.
    let seq = batches[0].column(0).as_string::<i32>().value(0).as_bytes().to_vec();
    let fwd = floats(batches[0].column(1).as_fixed_size_list(), 0);
    let rc = String::from_utf8(revcomp(&seq)).unwrap();
    let b = sql(&db, &format!("SELECT embed('{rc}', 'caduceus_random')"));
    let got = floats(b[0].column(0).as_fixed_size_list(), 0);
    let diff = got.iter().zip(fwd.iter().rev()).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(diff <= 1e-5, "embed(revcomp(seq)) vs reversed embed(seq): max |diff| {diff}");
    assert!(got.iter().zip(&fwd).any(|(a, b)| (a - b).abs() > 1e-3), "the embedding is not trivially symmetric");
}

#[test]
fn caduceus_import_through_the_cli_and_its_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    drop(lambda_db(&db));
    let dir = data_dir().join(CADUCEUS);
    let out = omicsdb_ok(&db, &["model", "import", "--name", "caduceus_random", dir.to_str().unwrap(), "--note", "random weights (test fixture)"]);
    assert!(out.contains("caduceus_random@1"), "{out}");
    let out = omicsdb_ok(&db, &["model", "list"]);
    assert!(out.contains("caduceus, char tokens, d_model 64, 2 layers, max length 1024 bases, bidirectional, RC-equivariant"), "{out}");
    let out = omicsdb_ok(&db, &["sql", "--format", "csv", "SELECT start, embed(seq, 'caduceus_random')[1] IS NOT NULL AS e, loglik(substr(seq, 1, 8), 'caduceus_random') < 0 AS l FROM windows ORDER BY start LIMIT 2"]);
    assert!(out.contains("0,true,true") && out.contains("256,true,true"), "{out}");
    let db = Database::open(&db).unwrap();
    let e = sql_err(&db, "SELECT embed(seq, 'caduceus_random', 'cls') FROM windows LIMIT 1");
    assert!(e.contains("'cls'"), "{e}");
    let e = sql_err(&db, "SELECT embed(seq || seq || seq || seq || seq, 'caduceus_random') FROM windows LIMIT 1");
    assert!(e.contains("1024"), "{e}");
}
