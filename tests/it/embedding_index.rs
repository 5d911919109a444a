//! Embedding indexes end to end: the six-chromosome lambda genome in 256 bp
//! windows, embedded by the micro HyenaDNA fixture. HNSW results equal exact
//! search (and exact search equals distances computed here from `embed()`);
//! results join with the window set; filters, sequences and vectors as queries;
//! bad arguments are clear errors (with SQLSTATEs over the wire); a stale index is
//! marked; a build killed before its commit leaves the previous index usable.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Float32Type, Int64Type};
use omicsdb::embedding_index::{CreateIndex, IndexKind, Metric, create_index};
use omicsdb::materialize::Silent;
use omicsdb::{Database, GenomeIngest};
use omicsdb_storage::models;
use tokio::time::timeout;

use crate::pgwire::{STEP, psql_async, sqlstate, start_with, trusted};
use crate::support::{data_dir, omicsdb, omicsdb_ok, rt};

const CHROMS: usize = 6;
const CHROM_BP: usize = 8000;
const MODEL: &str = "micro";

fn setup() -> (tempfile::TempDir, PathBuf, Database) {
    let tmp = tempfile::tempdir().unwrap();
    let mut gz = flate2::read::GzDecoder::new(std::fs::File::open(data_dir().join("genome/lambda_virus.fa.gz")).unwrap());
    let mut text = String::new();
    gz.read_to_string(&mut text).unwrap();
    let seq: String = text.lines().filter(|l| !l.starts_with('>')).collect();
    let mut fasta = String::new();
    for i in 0..CHROMS {
        fasta.push_str(&format!(">c{}\n{}\n", i + 1, &seq[i * CHROM_BP..(i + 1) * CHROM_BP]));
    }
    let fa = tmp.path().join("six.fa");
    std::fs::write(&fa, fasta).unwrap();
    let path = tmp.path().join("db");
    let db = Database::open(&path).unwrap();
    db.ingest_genome(&GenomeIngest { assembly: "six".into(), path: fa, width: 256, stride: 256, window_set: None, replace: false })
        .unwrap();
    models::import_model(db.store(), MODEL, &data_dir().join("fixtures/hyenadna/micro"), "random weights (test fixture)").unwrap();
    db.refresh().unwrap();
    (tmp, path, db)
}

fn sql(db: &Database, q: &str) -> Vec<RecordBatch> {
    rt().block_on(db.sql(q)).unwrap_or_else(|e| panic!("{q}: {e}"))
}

fn sql_err(db: &Database, q: &str) -> String {
    match rt().block_on(db.sql(q)) {
        Ok(_) => panic!("{q} succeeded"),
        Err(e) => e.to_string(),
    }
}

/// (region, distance) rows of a search, in rank order.
fn hits(db: &Database, q: &str) -> Vec<(String, f32)> {
    let mut out = Vec::new();
    for b in sql(db, q) {
        let region = b.column_by_name("region").unwrap().as_string::<i32>().clone();
        let dist = b.column_by_name("distance").unwrap().as_primitive::<Float32Type>().clone();
        for i in 0..b.num_rows() {
            out.push((region.value(i).to_string(), dist.value(i)));
        }
    }
    out
}

fn build(db: &Database, name: &str, kind: IndexKind, metric: Metric) {
    let mut req = CreateIndex::new("windows", MODEL);
    req.name = Some(name.into());
    req.kind = kind;
    req.metric = metric;
    let r = rt().block_on(create_index(db, &req, &Silent)).unwrap();
    assert_eq!(r.meta.count as usize, CHROMS * CHROM_BP.div_ceil(256));
    assert_eq!(r.meta.dim, 32);
}

/// Every window's region and mean-pooled embedding, computed by `embed()` in SQL.
fn all_embeddings(db: &Database) -> Vec<(String, Vec<f32>)> {
    let mut out = Vec::new();
    for b in sql(db, &format!("SELECT region, embed(upper(seq), '{MODEL}', 'mean') AS e FROM windows ORDER BY chrom, start")) {
        let r = b.column(0).as_string::<i32>().clone();
        let e = b.column(1).as_fixed_size_list().clone();
        for i in 0..b.num_rows() {
            out.push((r.value(i).to_string(), e.value(i).as_primitive::<Float32Type>().values().to_vec()));
        }
    }
    out
}

fn cosine_distance(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    1.0 - dot / (na * nb)
}

#[test]
fn hnsw_equals_exact_search_which_equals_distances_from_embed_and_results_join_with_windows() {
    let (_tmp, _path, db) = setup();
    build(&db, "hnsw", IndexKind::Hnsw, Metric::Cosine);
    build(&db, "flat", IndexKind::Flat, Metric::Cosine);
    let all = all_embeddings(&db);
    let mut recall_hits = 0;
    let queries: Vec<usize> = (0..all.len()).step_by(17).collect();
    for &qi in &queries {
        let (region, q) = &all[qi];
        // Exact search equals sorting every distance computed here.
        let flat = hits(&db, &format!("SELECT * FROM similar_regions('flat', '{region}', 10) ORDER BY rank"));
        let mut want: Vec<(String, f32)> = all.iter().map(|(r, v)| (r.clone(), cosine_distance(q, v))).collect();
        want.sort_by(|a, b| a.1.total_cmp(&b.1));
        assert_eq!(flat.len(), 10);
        assert_eq!(flat[0].0, *region, "a window is its own nearest neighbour");
        for (got, w) in flat.iter().zip(&want) {
            assert!((got.1 - w.1).abs() < 1e-4, "{region}: distance {} vs {} ({} / {})", got.1, w.1, got.0, w.0);
        }
        // Ties aside, the same windows.
        let cut = want[9].1 - 1e-4;
        let must: HashSet<&String> = want.iter().filter(|w| w.1 < cut).map(|w| &w.0).collect();
        let got: HashSet<&String> = flat.iter().map(|h| &h.0).collect();
        assert!(must.is_subset(&got), "{region}: exact search missed {:?}", must.difference(&got).collect::<Vec<_>>());
        let hnsw = hits(&db, &format!("SELECT * FROM similar_regions('hnsw', '{region}', 10)"));
        let approx: HashSet<&String> = hnsw.iter().map(|h| &h.0).collect();
        recall_hits += approx.intersection(&got).count();
    }
    let recall = recall_hits as f64 / (10 * queries.len()) as f64;
    assert!(recall >= 0.95, "HNSW recall@10 against exact search: {recall}");

    // Joined with the window set: the same windows, with the window table's columns.
    let q = "SELECT s.region, s.distance, s.rank, w.gc, w.region AS wr FROM similar_regions('hnsw', 'c3:2,561-2,816', 5) s \
             JOIN windows w USING (chrom, start, \"end\") ORDER BY s.rank";
    let b = arrow::compute::concat_batches(&sql(&db, q)[0].schema(), &sql(&db, q)).unwrap();
    assert_eq!(b.num_rows(), 5);
    let (r, wr) = (b.column(0).as_string::<i32>(), b.column(4).as_string::<i32>());
    assert_eq!(r.value(0), "c3:2561-2816");
    for i in 0..5 {
        assert_eq!(r.value(i), wr.value(i));
        assert!(!b.column(3).is_null(i));
        assert_eq!(b.column(2).as_primitive::<Int64Type>().value(i), i as i64 + 1);
    }
}

#[test]
fn filters_sequences_vectors_and_metrics() {
    let (_tmp, _path, db) = setup();
    build(&db, "idx", IndexKind::Hnsw, Metric::Cosine);
    build(&db, "l2", IndexKind::Hnsw, Metric::L2);
    let all = all_embeddings(&db);

    // A filter is applied inside the search: k rows, all passing it.
    for filter in ["chrom = ''c2''", "chrom = ''c5'' AND start >= 4096"] {
        let h = hits(&db, &format!("SELECT * FROM similar_regions('idx', 'c1:1-256', 8, '{filter}')"));
        assert_eq!(h.len(), 8, "{filter}");
        for (r, _) in &h {
            let f = filter.replace("''", "'");
            let ok = sql(&db, &format!("SELECT count(*) FROM windows WHERE region = '{r}' AND ({f})"));
            assert_eq!(ok[0].column(0).as_primitive::<Int64Type>().value(0), 1, "{r} fails {f}");
        }
    }
    // A filter keeping fewer windows than k gives exactly those.
    let h = hits(&db, "SELECT * FROM similar_regions('idx', 'c1:1-256', 50, 'chrom = ''c4'' AND start < 2560')");
    assert_eq!(h.len(), 10);

    // A literal sequence is embedded on the fly: a window's sequence finds that window.
    let seq = sql(&db, "SELECT upper(seq) FROM windows WHERE region = 'c2:513-768'");
    let seq = seq[0].column(0).as_string::<i32>().value(0).to_string();
    let h = hits(&db, &format!("SELECT * FROM similar_regions('idx', '{seq}', 3)"));
    assert_eq!(h[0].0, "c2:513-768");
    assert!(h[0].1.abs() < 1e-4, "{}", h[0].1);
    // A region that is not a window is embedded from the genome.
    let h = hits(&db, "SELECT * FROM similar_regions('idx', 'c2:514-769', 3)");
    assert_eq!(h.len(), 3);

    // A vector (text or array) finds the same as the region it came from, under l2 too.
    let (region, v) = &all[40];
    let text = v.iter().map(|x| format!("{x}")).collect::<Vec<_>>().join(",");
    let a = hits(&db, &format!("SELECT * FROM nearest_windows('idx', '{text}', 5)"));
    let b = hits(&db, &format!("SELECT * FROM similar_regions('idx', '{region}', 5)"));
    assert_eq!(a.iter().map(|h| &h.0).collect::<Vec<_>>(), b.iter().map(|h| &h.0).collect::<Vec<_>>());
    let arr = hits(&db, &format!("SELECT * FROM nearest_windows('l2', [{text}], 4)"));
    assert_eq!(arr[0].0, *region);
    let (r2, v2) = &all[41];
    let l2: f32 = v.iter().zip(v2).map(|(x, y)| (x - y) * (x - y)).sum::<f32>().sqrt();
    let got = hits(&db, &format!("SELECT * FROM nearest_windows('l2', [{text}], 200)"));
    let d = got.iter().find(|h| h.0 == *r2).unwrap().1;
    assert!((d - l2).abs() < 1e-3 * l2.max(1.0), "l2 distance {d} vs {l2}");
}

#[test]
fn bad_arguments_are_clear_errors_and_a_stale_index_is_marked() {
    let (_tmp, _path, db) = setup();
    build(&db, "idx", IndexKind::Hnsw, Metric::Cosine);
    let cases = [
        ("SELECT * FROM nearest_windows('idx', [1.0, 2.0], 5)", "2 dimensions"),
        ("SELECT * FROM similar_regions('idx', 'c1:1-256', 0)", "k must be between 1 and 10000"),
        ("SELECT * FROM similar_regions('idx', 'c1:1-256', 100000)", "k must be between 1 and 10000"),
        ("SELECT * FROM similar_regions('nope', 'c1:1-256', 5)", "no embedding index 'nope' (indexes: idx)"),
        ("SELECT * FROM similar_regions('idx', 'hello', 5)", "neither a region"),
        ("SELECT * FROM similar_regions('idx', 'c1:1-256', 5, 'no_such_column > 1')", "no_such_column"),
        ("SELECT * FROM similar_regions('idx', 'c1:1-256')", "expects 3 to 5 arguments"),
        ("SELECT * FROM nearest_windows('idx', '1,x', 5)", "'x' is not a number"),
    ];
    for (q, want) in cases {
        let msg = sql_err(&db, q);
        assert!(msg.contains(want), "{q}: {msg}");
    }
    // The query's model must be the index's.
    models::import_model(db.store(), "other", &data_dir().join("fixtures/hyenadna/micro"), "same weights, another name").unwrap();
    let msg = sql_err(&db, "SELECT * FROM similar_regions('idx', 'c1:1-256', 5, NULL, 'other')");
    assert!(msg.contains("built with model micro@1") && msg.contains("other@1"), "{msg}");
    assert_eq!(hits(&db, "SELECT * FROM similar_regions('idx', 'c1:1-256', 2, NULL, 'micro')").len(), 2);

    // Creation errors name the option.
    let mut bad = CreateIndex::new("windows", MODEL);
    bad.pooling = "cls".into();
    let msg = rt().block_on(create_index(&db, &bad, &Silent)).unwrap_err().to_string();
    assert!(msg.contains("cls"), "{msg}");
    bad = CreateIndex::new("no_windows", MODEL);
    assert!(rt().block_on(create_index(&db, &bad, &Silent)).unwrap_err().to_string().contains("no_windows"));
    bad = CreateIndex::new("windows", MODEL);
    bad.name = Some("bad-name".into());
    assert!(rt().block_on(create_index(&db, &bad, &Silent)).unwrap_err().to_string().contains("'bad-name'"));

    // A new model version makes the index stale; a rebuild is fresh; a repeat is a no-op.
    let stale = |db: &Database| {
        let b = sql(db, "SELECT stale, stale_reason, model_version FROM embedding_indexes WHERE name = 'idx'");
        (b[0].column(0).as_boolean().value(0), b[0].column(1).as_string::<i32>().iter().next().flatten().map(str::to_string), b[0].column(2).as_primitive::<Int64Type>().value(0))
    };
    assert_eq!(stale(&db), (false, None, 1));
    models::import_model(db.store(), MODEL, &data_dir().join("fixtures/hyenadna/micro"), "version 2").unwrap();
    db.refresh().unwrap();
    let (is_stale, why, _) = stale(&db);
    assert!(is_stale && why.as_deref().is_some_and(|w| w.contains("newer version")), "{why:?}");
    let mut req = CreateIndex::new("windows", MODEL);
    req.name = Some("idx".into());
    let r = rt().block_on(create_index(&db, &req, &Silent)).unwrap();
    assert!(!r.up_to_date && r.replaced.as_deref().is_some_and(|w| w.contains("micro@1")), "{:?}", r.replaced);
    assert_eq!(stale(&db), (false, None, 2));
    assert!(rt().block_on(create_index(&db, &req, &Silent)).unwrap().up_to_date);
}

/// Data directories of embedding indexes on disk.
fn index_dirs(db: &Path) -> usize {
    std::fs::read_dir(db.join("data/embedding_index")).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn cli_create_list_drop_and_a_killed_build_keeps_the_previous_index() {
    let (_tmp, path, db) = setup();
    drop(db);
    let out = omicsdb_ok(&path, &["index", "create", "--model", MODEL, "--name", "idx"]);
    assert!(out.contains("index idx: 192 windows of windows") && out.contains("32-dimensional"), "{out}");
    let before = omicsdb_ok(&path, &["sql", "SELECT region FROM similar_regions('idx', 'c2:1-256', 5) ORDER BY rank"]);
    assert!(before.contains("c2:1-256"), "{before}");
    for step in ["index:staged", "index:files"] {
        let killed = std::process::Command::new(crate::support::omicsdb_bin())
            .args(["--db", path.to_str().unwrap(), "index", "create", "--model", MODEL, "--name", "idx", "--metric", "l2"])
            .env("OMICSDB_CRASH_AT", step)
            .output()
            .unwrap();
        assert!(!killed.status.success(), "{step}: the build should have aborted");
        // The previous index answers exactly as before, and is still the cosine one.
        let after = omicsdb_ok(&path, &["sql", "SELECT region FROM similar_regions('idx', 'c2:1-256', 5) ORDER BY rank"]);
        assert_eq!(after, before, "{step}");
        let list = omicsdb_ok(&path, &["index", "list"]);
        assert!(list.contains("cosine") && !list.contains("l2"), "{step}: {list}");
    }
    // Re-running completes; the killed builds' directories are gone.
    let out = omicsdb_ok(&path, &["index", "create", "--model", MODEL, "--name", "idx", "--metric", "l2"]);
    assert!(out.contains("replaced index idx: its options differed") && out.contains("hnsw l2"), "{out}");
    assert_eq!(index_dirs(&path), 1);
    let out = omicsdb_ok(&path, &["index", "create", "--model", MODEL, "--name", "idx", "--metric", "l2"]);
    assert!(out.contains("up to date"), "{out}");
    let err = omicsdb(&path, &["index", "create", "--model", MODEL, "--kind", "ivf"]);
    assert!(!err.status.success() && String::from_utf8_lossy(&err.stderr).contains("hnsw or flat"));
    assert!(omicsdb_ok(&path, &["index", "drop", "idx"]).contains("dropped index idx"));
    assert!(omicsdb_ok(&path, &["index", "list"]).contains("no embedding indexes"));
    assert_eq!(index_dirs(&path), 0);
    let err = omicsdb(&path, &["index", "drop", "idx"]);
    assert!(String::from_utf8_lossy(&err.stderr).contains("no embedding index 'idx'"));
}

#[test]
fn over_the_wire_searches_join_and_errors_carry_sqlstates() {
    let (_tmp, _path, db) = setup();
    build(&db, "idx", IndexKind::Hnsw, Metric::Cosine);
    let rt = rt();
    rt.block_on(async {
        let server = start_with(Arc::new(db.context().clone()), trusted()).await;
        let client = server.connect().await;
        let rows = timeout(
            STEP,
            client.query(
                "SELECT s.region, s.distance, w.gc FROM similar_regions('idx', 'c4:1-256', 4) s \
                 JOIN windows w USING (chrom, start, \"end\") ORDER BY s.rank",
                &[],
            ),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0].get::<_, &str>(0), "c4:1-256");
        for (q, code) in [
            ("SELECT * FROM similar_regions('nope', 'c1:1-256', 5)", "42704"),
            ("SELECT * FROM similar_regions('idx', 'c1:1-256', 0)", "22023"),
            ("SELECT * FROM nearest_windows('idx', [1.0], 5)", "22023"),
        ] {
            let e = timeout(STEP, client.query(q, &[])).await.unwrap().unwrap_err();
            assert_eq!(sqlstate(&e), code, "{q}: {e}");
        }
        // psql shows the rows (a real client's text protocol).
        let script: &'static str = Box::leak(
            "SELECT s.rank, s.region FROM similar_regions('idx', 'c4:1-256', 3) s ORDER BY s.rank;".to_string().into_boxed_str(),
        );
        let out = timeout(STEP, psql_async(server.addr.port(), vec![], String::new(), script)).await.unwrap();
        assert!(out.contains("c4:1-256") && out.contains("(3 rows)"), "{out}");
    });
}
