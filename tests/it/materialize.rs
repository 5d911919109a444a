//! `omicsdb materialize` and `omicsdb plot` end to end, through the real
//! binary: the lambda phage genome cut into six chromosomes, 256 bp windows,
//! the micro HyenaDNA fixture (random weights) materialized through
//! `hyena_loglik` and `hyena_embed`. A run killed with SIGKILL at several
//! moments resumes to a table with every window exactly once; a re-run has
//! nothing to do; bigWig exports read back by pyBigWig equal the Parquet
//! values; a second concurrent run is refused. Re-running a version with other
//! functions, or a killed run of a new version, never hides or removes the
//! complete materialization.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{Float32Type, Int64Type};
use omicsdb::materialize::{self, MaterializationMeta};
use omicsdb::{Database, GenomeIngest};
use omicsdb_storage::models;
use omicsdb_storage::tracks::{TrackIngest, ingest_track};

use crate::support::{data_dir, omicsdb, omicsdb_bin, omicsdb_ok, rt, venv_python};

const CHROMS: usize = 6;
const CHROM_BP: usize = 8000;

/// A database with a six-chromosome genome (from lambda), one bedGraph track
/// and the micro model; returns (tempdir, db path, windows per chromosome).
fn setup() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let mut gz = flate2::read::GzDecoder::new(std::fs::File::open(data_dir().join("genome/lambda_virus.fa.gz")).unwrap());
    let mut text = String::new();
    gz.read_to_string(&mut text).unwrap();
    let seq: String = text.lines().filter(|l| !l.starts_with('>')).collect();
    let mut fasta = String::new();
    let mut bedgraph = String::new();
    for i in 0..CHROMS {
        fasta.push_str(&format!(">c{}\n{}\n", i + 1, &seq[i * CHROM_BP..(i + 1) * CHROM_BP]));
        bedgraph.push_str(&format!("c{}\t{}\t{}\t{}\n", i + 1, 1000, 3000, i as f32 + 0.5));
    }
    let fa = tmp.path().join("six.fa");
    std::fs::write(&fa, fasta).unwrap();
    let bg = tmp.path().join("signal.bedGraph");
    std::fs::write(&bg, bedgraph).unwrap();
    let path = tmp.path().join("db");
    let db = Database::open(&path).unwrap();
    db.ingest_genome(&GenomeIngest { assembly: "six".into(), path: fa, width: 256, stride: 256, window_set: None, replace: false })
        .unwrap();
    ingest_track(db.store(), &TrackIngest::new("six", "dnase_liver", &bg, "DNase-seq", "liver")).unwrap();
    models::import_model(db.store(), "micro", &data_dir().join("fixtures/hyenadna/micro"), "random weights (test fixture)").unwrap();
    (tmp, path)
}

fn windows_per_chrom() -> usize {
    CHROM_BP.div_ceil(256)
}

fn spawn(db: &Path, args: &[&str]) -> Child {
    Command::new(omicsdb_bin())
        .arg("--db")
        .arg(db)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn omicsdb")
}

/// Committed (`.parquet`) and in-progress (`.parquet.tmp`) partition files on disk.
fn partition_files(db: &Path) -> (usize, usize) {
    let mut done = 0;
    let mut tmp = 0;
    let Ok(dirs) = std::fs::read_dir(db.join("data/materialization")) else { return (0, 0) };
    for d in dirs.flatten() {
        for f in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
            let name = f.file_name().to_string_lossy().to_string();
            if name.ends_with(".parquet") {
                done += 1;
            } else if name.ends_with(".parquet.tmp") {
                tmp += 1;
            }
        }
    }
    (done, tmp)
}

/// Committed partition files outside `old` (the files of a new run).
fn new_partition_files(db: &Path, old: &Path) -> usize {
    let Ok(dirs) = std::fs::read_dir(db.join("data/materialization")) else { return 0 };
    dirs.flatten()
        .filter(|d| d.path() != old)
        .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten().flatten())
        .filter(|f| f.file_name().to_string_lossy().ends_with(".parquet"))
        .count()
}

/// Kills `child` with SIGKILL once `ready` holds (or after `limit`); true if it was still running.
fn kill_when(mut child: Child, limit: Duration, ready: impl Fn() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < limit && !ready() {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    child.wait().unwrap();
    running
}

fn stored(db: &Path) -> Vec<MaterializationMeta> {
    let db = Database::open(db).unwrap();
    materialize::meta::list(db.store()).unwrap()
}

/// Materializations being built (staged, invisible to SQL).
fn staged(db: &Path) -> Vec<MaterializationMeta> {
    let db = Database::open(db).unwrap();
    materialize::meta::list_staged(db.store()).unwrap()
}

fn query(db: &Database, sql: &str) -> Vec<RecordBatch> {
    rt().block_on(db.sql(sql)).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// (chrom, start) → loglik of `predictions_micro`, asserting no window twice.
fn predictions(db: &Database) -> BTreeMap<(String, i64), (i64, f32)> {
    materialize::register(db).unwrap();
    let mut out = BTreeMap::new();
    for b in query(db, "SELECT chrom, start, \"end\", loglik FROM predictions_micro") {
        let (c, s, e, v) = (
            b.column(0).as_string::<i32>(),
            b.column(1).as_primitive::<Int64Type>(),
            b.column(2).as_primitive::<Int64Type>(),
            b.column(3).as_primitive::<Float32Type>(),
        );
        for i in 0..b.num_rows() {
            let prev = out.insert((c.value(i).to_string(), s.value(i)), (e.value(i), v.value(i)));
            assert!(prev.is_none(), "window {}:{} stored twice", c.value(i), s.value(i));
        }
    }
    out
}

const RUN: [&str; 7] = ["materialize", "--model", "micro", "--functions", "hyena_loglik,hyena_embed", "--log", "--chunk-windows=8"];

#[test]
fn a_killed_run_resumes_to_every_window_exactly_once() {
    let (_tmp, db) = setup();
    let total = CHROMS;
    // Early: while loading the model or computing the first partition.
    let early = kill_when(spawn(&db, &RUN), Duration::from_millis(150), || false);
    assert!(early, "the early kill must hit a running process");
    assert!(stored(&db).is_empty(), "a killed first run publishes nothing");
    let after_early = staged(&db).first().map_or(0, |m| m.partitions.len());
    assert!(after_early < total, "killed after 150 ms, {after_early} of {total} partitions staged");
    // Mid-run: right after two partitions were committed.
    let mid = kill_when(spawn(&db, &RUN), Duration::from_secs(120), || partition_files(&db).0 >= 2);
    let after_mid = staged(&db)[0].partitions.len();
    // While a partition file is being written.
    let writing = kill_when(spawn(&db, &RUN), Duration::from_secs(120), || partition_files(&db).1 >= 1);
    let after_writing = staged(&db)[0].partitions.len();
    assert!(mid, "the mid-run kill must hit a running process");
    // Partition files are renamed into place just before their catalog commit,
    // so a kill seen after two files may land before the second commit.
    assert!(after_mid >= 1 && after_mid < total, "killed after 2 files, {after_mid} of {total} committed");
    assert!(writing && after_writing < total, "killed while writing: {after_writing} of {total} committed");
    assert!(stored(&db).is_empty(), "an unfinished run stays staged, invisible to SQL");

    let out = omicsdb_ok(&db, &RUN);
    assert!(out.contains("materialized micro@1 over windows"), "{out}");
    assert!(staged(&db).is_empty(), "the complete run was published");
    let meta = &stored(&db)[0];
    assert_eq!(meta.partitions.len(), total);
    assert_eq!(partition_files(&db), (total, 0), "no uncommitted or orphaned files are left");

    let handle = Database::open(&db).unwrap();
    let got = predictions(&handle);
    assert_eq!(got.len(), total * windows_per_chrom());
    // The values are the SQL function's, window by window.
    let direct = query(&handle, "SELECT chrom, start, CAST(hyena_loglik(upper(seq), 'micro@1') AS FLOAT) FROM windows");
    let mut n = 0;
    for b in &direct {
        let (c, s, v) = (b.column(0).as_string::<i32>(), b.column(1).as_primitive::<Int64Type>(), b.column(2).as_primitive::<Float32Type>());
        for i in 0..b.num_rows() {
            assert_eq!(got[&(c.value(i).to_string(), s.value(i))].1, v.value(i), "{}:{}", c.value(i), s.value(i));
            n += 1;
        }
    }
    assert_eq!(n, got.len());
    let emb = query(&handle, "SELECT count(*) FROM predictions_micro WHERE embedding IS NOT NULL AND array_length(embedding) = 32");
    assert_eq!(emb[0].column(0).as_primitive::<Int64Type>().value(0) as usize, got.len());
    drop(handle);

    let again = omicsdb_ok(&db, &RUN);
    assert!(again.contains("nothing to do"), "{again}");
}

const LOGLIK: [&str; 7] = ["materialize", "--model", "micro", "--functions", "hyena_loglik", "--log", "--chunk-windows=8"];

/// Row count of `sql`'s first column.
fn count(db: &Path, sql: &str) -> i64 {
    let handle = Database::open(db).unwrap();
    materialize::register(&handle).unwrap();
    query(&handle, sql)[0].column(0).as_primitive::<Int64Type>().value(0)
}

#[test]
fn rerunning_a_version_with_other_functions_keeps_the_complete_data_until_the_new_run_completes() {
    let (_tmp, db) = setup();
    omicsdb_ok(&db, &LOGLIK);
    let before = stored(&db);
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].partitions.len(), CHROMS);
    let old_dir = db.join(&before[0].dir);
    assert!(old_dir.is_dir());
    let full = {
        let handle = Database::open(&db).unwrap();
        predictions(&handle)
    };
    assert_eq!(full.len(), CHROMS * windows_per_chrom());

    // The same version with other functions, killed after two new partitions.
    let killed = kill_when(spawn(&db, &RUN), Duration::from_secs(120), || new_partition_files(&db, &old_dir) >= 2);
    assert!(killed, "the kill must hit a running process");
    let live = stored(&db);
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].functions, vec!["hyena_loglik".to_string()], "the complete entry is still the live one");
    assert_eq!(live[0].partitions.len(), CHROMS);
    assert!(old_dir.is_dir(), "the complete materialization's files are kept");
    let pending = staged(&db);
    assert_eq!(pending.len(), 1);
    assert!(!pending[0].partitions.is_empty() && pending[0].partitions.len() < CHROMS, "{} staged", pending[0].partitions.len());
    let handle = Database::open(&db).unwrap();
    assert_eq!(predictions(&handle), full, "SQL still reads every window of the complete run");
    drop(handle);

    // Resumed to completion: the new entry replaces the old one in one commit.
    let out = omicsdb_ok(&db, &RUN);
    assert!(out.contains("replaced the earlier materialization") && out.contains("materialized micro@1"), "{out}");
    let live = stored(&db);
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].functions, vec!["hyena_loglik".to_string(), "hyena_embed".to_string()]);
    assert_eq!(live[0].partitions.len(), CHROMS);
    assert!(staged(&db).is_empty());
    assert!(!old_dir.exists(), "the replaced materialization's files are removed once unreferenced");
    assert_eq!(
        count(&db, "SELECT count(*) FROM predictions_micro WHERE embedding IS NOT NULL"),
        (CHROMS * windows_per_chrom()) as i64
    );
}

#[test]
fn a_killed_run_of_a_new_version_does_not_hide_the_complete_one() {
    let (_tmp, db) = setup();
    omicsdb_ok(&db, &LOGLIK);
    let handle = Database::open(&db).unwrap();
    models::import_model(handle.store(), "micro", &data_dir().join("fixtures/hyenadna/micro"), "second version").unwrap();
    drop(handle);

    let v1_dir = db.join(&stored(&db)[0].dir);
    let killed = kill_when(spawn(&db, &LOGLIK), Duration::from_secs(120), || new_partition_files(&db, &v1_dir) >= 2);
    assert!(killed, "the kill must hit a running process");
    let all = (CHROMS * windows_per_chrom()) as i64;
    assert_eq!(count(&db, "SELECT count(*) FROM predictions_micro"), all, "predictions_micro still reads the complete v1");
    assert_eq!(count(&db, "SELECT CAST(min(model_version) AS BIGINT) FROM predictions_micro"), 1);
    assert!(staged(&db).iter().any(|m| m.model_version == 2 && !m.partitions.is_empty()), "v2 has staged partitions");
    let handle = Database::open(&db).unwrap();
    let names = materialize::register(&handle).unwrap();
    assert!(!names.iter().any(|n| n == "predictions_micro_v2"), "an unfinished version has no table: {names:?}");
    drop(handle);

    let out = omicsdb_ok(&db, &LOGLIK);
    assert!(out.contains("materialized micro@2"), "{out}");
    assert_eq!(count(&db, "SELECT count(*) FROM predictions_micro"), all);
    assert_eq!(count(&db, "SELECT CAST(min(model_version) AS BIGINT) FROM predictions_micro"), 2);
    assert_eq!(count(&db, "SELECT count(*) FROM predictions_micro_v1"), all, "v1 stays until --prune");
}

/// (chrom → intervals) of a bigWig, read by pyBigWig (an independent reader,
/// installed by scripts/setup.sh): never by the bigtools code that wrote it.
fn read_bigwig(path: &Path, chroms: &[String]) -> (Vec<(String, u64)>, BTreeMap<String, Vec<(u64, u64, f32)>>) {
    let python = venv_python();
    assert!(python.exists(), "{} is missing: run scripts/setup.sh (it installs pyBigWig)", python.display());
    let script = r#"
import sys, json, pyBigWig
bw = pyBigWig.open(sys.argv[1])
out = {"chroms": list(bw.chroms().items()), "iv": {}}
for c in sys.argv[2:]:
    out["iv"][c] = bw.intervals(c) or []
print(json.dumps(out))
"#;
    let o = Command::new(&python).arg("-c").arg(script).arg(path).args(chroms).output().unwrap();
    assert!(o.status.success(), "pyBigWig could not read {}: {}", path.display(), String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let sizes = v["chroms"].as_array().unwrap().iter().map(|p| (p[0].as_str().unwrap().to_string(), p[1].as_u64().unwrap())).collect();
    let iv = chroms
        .iter()
        .map(|c| {
            let rows = v["iv"][c].as_array().unwrap().iter().map(|r| (r[0].as_u64().unwrap(), r[1].as_u64().unwrap(), r[2].as_f64().unwrap() as f32)).collect();
            (c.clone(), rows)
        })
        .collect();
    (sizes, iv)
}

#[test]
fn exports_read_back_reruns_do_nothing_versions_coexist_and_runs_are_locked() {
    let (tmp, db) = setup();
    let bw_dir = tmp.path().join("tracks");
    let bw = bw_dir.to_str().unwrap();
    let args = ["materialize", "--model", "micro", "--functions", "hyena_loglik", "--bigwig-dir", bw, "--bedgraph"];
    let out = omicsdb_ok(&db, &args);
    assert!(out.contains("materialized micro@1") && out.contains("windows/s") && out.contains("micro_v1.loglik.bw"), "{out}");

    // bigWig and bedGraph equal the Parquet values, with the assembly's sizes.
    let chroms: Vec<String> = (1..=CHROMS).map(|i| format!("c{i}")).collect();
    let (sizes, intervals) = read_bigwig(&bw_dir.join("micro_v1.loglik.bw"), &chroms);
    assert_eq!(sizes.len(), CHROMS);
    assert!(sizes.iter().all(|(_, len)| *len == CHROM_BP as u64), "{sizes:?}");
    let handle = Database::open(&db).unwrap();
    let parquet = predictions(&handle);
    drop(handle);
    let mut from_bw = BTreeMap::new();
    for (c, rows) in &intervals {
        for &(s, e, v) in rows {
            from_bw.insert((c.clone(), s as i64), (e as i64, v));
        }
    }
    assert_eq!(from_bw, parquet, "bigWig intervals = Parquet windows and values");
    let bedgraph = std::fs::read_to_string(bw_dir.join("micro_v1.loglik.bedGraph")).unwrap();
    assert_eq!(bedgraph.lines().count(), parquet.len());
    let first = bedgraph.lines().next().unwrap();
    let ((c, s), (e, v)) = parquet.iter().next().unwrap();
    assert_eq!(first, format!("{c}\t{s}\t{e}\t{v}"));

    // Idempotent: nothing to do, files kept.
    let again = omicsdb_ok(&db, &args);
    assert!(again.contains("nothing to do") && again.contains("kept"), "{again}");

    // A new model version: a new materialization beside the old one, until --prune.
    let handle = Database::open(&db).unwrap();
    models::import_model(handle.store(), "micro", &data_dir().join("fixtures/hyenadna/micro"), "second version").unwrap();
    drop(handle);
    let v2 = omicsdb_ok(&db, &["materialize", "--model", "micro", "--functions", "hyena_loglik", "--chroms", "c1,c2"]);
    assert!(v2.contains("materialized micro@2"), "{v2}");
    let versions: Vec<u32> = stored(&db).iter().map(|m| m.model_version).collect();
    assert_eq!(versions, vec![1, 2]);
    let handle = Database::open(&db).unwrap();
    materialize::register(&handle).unwrap();
    let n = |sql: &str| query(&handle, sql)[0].column(0).as_primitive::<Int64Type>().value(0);
    assert_eq!(n("SELECT count(*) FROM predictions_micro"), 2 * windows_per_chrom() as i64);
    assert_eq!(n("SELECT count(*) FROM predictions_micro_v1"), (CHROMS * windows_per_chrom()) as i64);
    assert_eq!(n("SELECT CAST(min(model_version) AS BIGINT) FROM predictions_micro"), 2);
    drop(handle);
    let pruned = omicsdb_ok(&db, &["materialize", "--model", "micro", "--functions", "hyena_loglik", "--chroms", "c1,c2", "--prune"]);
    assert!(pruned.contains("nothing to do") && pruned.contains("pruned micro@1 on windows"), "{pruned}");
    assert_eq!(stored(&db).iter().map(|m| m.model_version).collect::<Vec<_>>(), vec![2]);

    // Two runs at once: the second is refused with a clear message and exit code 75.
    let first = spawn(&db, &["materialize", "--model", "micro", "--functions", "hyena_embed", "--log"]);
    let lock = db.join("locks/materialize-micro.lock");
    let t0 = Instant::now();
    while std::fs::read_to_string(&lock).map_or(true, |s| !s.starts_with("pid")) && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let second = omicsdb(&db, &["materialize", "--model", "micro", "--functions", "hyena_embed"]);
    let err = String::from_utf8_lossy(&second.stderr).to_string();
    let mut first = first;
    let _ = first.kill();
    let _ = first.wait();
    assert_eq!(second.status.code(), Some(75), "{err}");
    // Another process holds the database itself: the database lock refuses first.
    assert!(err.contains("is in use by another omicsdb process"), "{err}");
}

/// Blocks the run at its plan until released, telling the test it got there.
struct Gate {
    planned: std::sync::mpsc::SyncSender<()>,
    go: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
}

impl materialize::Observer for Gate {
    fn event(&self, event: &materialize::Event<'_>) {
        if matches!(event, materialize::Event::Planned { .. }) {
            let _ = self.planned.send(());
            let _ = self.go.lock().unwrap().recv();
        }
    }
}

#[test]
fn a_second_materialization_of_the_same_model_in_one_process_is_refused_with_locked() {
    let (_tmp, db) = setup();
    let db = Database::open(&db).unwrap();
    let (planned_tx, planned_rx) = std::sync::mpsc::sync_channel(1);
    let (go_tx, go_rx) = std::sync::mpsc::sync_channel(1);
    let gate = Gate { planned: planned_tx, go: std::sync::Mutex::new(go_rx) };
    let req = materialize::Request::new("micro");
    std::thread::scope(|scope| {
        let first = scope.spawn(|| rt().block_on(materialize::materialize(&db, &req, &gate)));
        planned_rx.recv_timeout(Duration::from_secs(120)).expect("the first run reaches its plan");
        let second = rt().block_on(materialize::materialize(&db, &req, &materialize::Silent));
        go_tx.send(()).unwrap();
        let err = second.expect_err("a second run of the same model while the first holds its lock");
        let msg = err.to_string();
        assert!(matches!(err, materialize::MaterializeError::Locked { .. }), "{msg}");
        assert!(msg.contains("another materialization of model micro is running"), "{msg}");
        let report = first.join().unwrap().expect("the first run completes");
        assert_eq!(report.meta.partitions.len(), CHROMS);
    });
    // The lock is released with the run: a third run has nothing to do.
    let again = rt().block_on(materialize::materialize(&db, &req, &materialize::Silent)).unwrap();
    assert!(again.nothing_to_do);
}

#[test]
fn plot_draws_observed_and_predicted_lanes_as_svg_and_png() {
    let (tmp, db) = setup();
    omicsdb_ok(&db, &["materialize", "--model", "micro", "--functions", "hyena_loglik", "--chroms", "c1"]);
    let svg = tmp.path().join("c1.svg");
    let out = omicsdb_ok(&db, &["plot", "--region", "c1:1-8,000", "--predictions", "micro", "--out", svg.to_str().unwrap()]);
    assert!(out.contains("2 lanes"), "{out}");
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg") && text.contains("width=\"1200\""), "{}", &text[..200.min(text.len())]);
    // plotters' SVG backend puts each text's content on its own line.
    let flat: String = text.lines().map(str::trim).collect();
    assert!(flat.contains(">dnase_liver<") && flat.contains("loglik"), "lane labels");
    assert!(flat.contains(">c1:1-8,000 (8,000 bp)<"), "title");
    assert!(flat.contains(">2,000<") && flat.contains(">8,000<"), "axis ticks");
    // One bar per window with a value: 32 predicted windows plus the track's 9 covered windows.
    assert!(text.matches("<rect").count() >= 32 + 9, "{} rects", text.matches("<rect").count());

    let png = tmp.path().join("c1.png");
    omicsdb_ok(&db, &["plot", "--region", "c1:1-8000", "--tracks", "dnase_liver", "--predictions", "micro", "--width", "800", "--out", png.to_str().unwrap()]);
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let be = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    // Title 30 px + two 64 px lanes + 44 px axis.
    assert_eq!((be(16), be(20)), (800, 30 + 2 * 64 + 44));

    let bad = omicsdb(&db, &["plot", "--region", "c9:1-100", "--out", svg.to_str().unwrap()]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no chromosome 'c9'"));
}
