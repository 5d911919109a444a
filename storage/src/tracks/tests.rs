//! Store-level tests of track ingest on real files: values against an
//! independent per-base integration and against pyBigWig, bad inputs, and
//! atomicity.

use std::path::{Path, PathBuf};

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::StorageError;
use crate::meta::{Aggregation, TrackKind};
use crate::store::{GenomeIngest, Store};
use crate::tracks::bigwig::BigWigReader;
use crate::tracks::{TrackIngest, drop_track, ingest_track};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/tracks").join(name)
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("omicsdb-tracks-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// A store with a synthetic assembly `syn`: chromosome `21` (b37 style, so
/// the bigWig's `chr21` matches by alias) of 10,020,000 bp, and `20` of 5,000 bp.
fn store_with_genome(s: &Scratch) -> Store {
    let fasta = s.0.join("syn.fa");
    let mut text = String::from(">21\n");
    let line = "ACGTTGCAAC".repeat(10);
    for _ in 0..100_200 {
        text.push_str(&line);
        text.push('\n');
    }
    text.push_str(">20\n");
    for _ in 0..50 {
        text.push_str(&line);
        text.push('\n');
    }
    std::fs::write(&fasta, text).unwrap();
    let store = Store::open(s.0.join("db")).unwrap();
    store
        .ingest_genome(&GenomeIngest { assembly: "syn".into(), path: fasta, width: 1000, stride: 1000, window_set: None, replace: false })
        .unwrap();
    store
}

/// Reads column `col` of the track's file for `chrom` on window set `set`.
fn column(store: &Store, track: &str, set: &str, chrom: &str, col: &str) -> Vec<Option<f32>> {
    let meta = store.track(track).unwrap();
    let file = meta.files[set].files.iter().find(|f| f.chrom == chrom).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(store.path(&file.path)).unwrap()).unwrap().build().unwrap();
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let a = batch.column_by_name(col).unwrap().as_any().downcast_ref::<arrow::array::Float32Array>().unwrap().clone();
        out.extend(a.iter());
    }
    out
}

fn close(a: Option<f32>, b: Option<f64>, what: &str) {
    match (a, b) {
        (None, None) => {}
        (Some(a), Some(b)) => assert!((a as f64 - b).abs() <= 1e-3 * b.abs().max(1.0), "{what}: omicsdb {a} vs expected {b}"),
        _ => panic!("{what}: omicsdb {a:?} vs expected {b:?}"),
    }
}

#[test]
fn bigwig_means_match_per_base_integration() {
    let s = Scratch::new("perbase");
    let store = store_with_genome(&s);
    let report = ingest_track(&store, &TrackIngest::new("syn", "gc100", data("times100.bw"), "GC", "none")).unwrap();
    assert_eq!(report.track.records, 2000);
    assert_eq!(report.track.kind, TrackKind::Signal);
    assert_eq!(report.track.aggregation, Aggregation::Mean);
    let got = column(&store, "gc100", "windows", "21", "gc100");
    assert_eq!(got.len(), 10_020);
    // Independent: paint every base of 9.99-10.02 Mb from the raw intervals, then average.
    let lo = 9_990_000u64;
    let mut bases = vec![0f64; 30_000];
    let mut r = BigWigReader::open(&data("times100.bw")).unwrap();
    r.for_each("chr21", |st, en, v| (st..en).for_each(|b| bases[(b - lo) as usize] = v as f64)).unwrap();
    for w in 0..30 {
        let expected: f64 = bases[w * 1000..(w + 1) * 1000].iter().sum::<f64>() / 1000.0;
        close(got[9990 + w], Some(expected), &format!("window {}", 9990 + w));
    }
    assert_eq!(got[0], Some(0.0), "uncovered bases count as 0 by default");
    // Chromosome 20 has no data: a file of zeros, row-aligned with the window set.
    assert_eq!(column(&store, "gc100", "windows", "20", "gc100"), vec![Some(0.0); 5]);
}

#[test]
fn matches_pybigwig() {
    let expected: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(data("times100.expected.json")).unwrap()).unwrap();
    let s = Scratch::new("pybigwig");
    let store = store_with_genome(&s);
    let mut opts = TrackIngest::new("syn", "gc_mean0", data("times100.bw"), "GC", "none");
    ingest_track(&store, &opts).unwrap();
    opts.name = "gc_mean".into();
    opts.missing_skip = true;
    ingest_track(&store, &opts).unwrap();
    opts.name = "gc_max".into();
    opts.aggregation = Some(Aggregation::Max);
    ingest_track(&store, &opts).unwrap();
    opts.name = "gc_cov".into();
    opts.missing_skip = false;
    opts.aggregation = Some(Aggregation::Coverage);
    ingest_track(&store, &opts).unwrap();
    // A sliding window set created after the tracks: filled by re-reading the source.
    store.create_window_set("syn", "slide", 700, 300, false).unwrap();
    for set in expected["sets"].as_array().unwrap() {
        let (width, stride) = (set["width"].as_u64().unwrap(), set["stride"].as_u64().unwrap());
        let name = if width == 1000 { "windows" } else { "slide" };
        let cols: Vec<Vec<Option<f32>>> =
            ["gc_mean0", "gc_mean", "gc_max", "gc_cov"].iter().map(|c| column(&store, c, name, "21", c)).collect();
        for w in set["windows"].as_array().unwrap() {
            let i = (w["start"].as_u64().unwrap() / stride) as usize;
            let what = format!("{name} window {}", w["start"]);
            close(cols[0][i], w["mean0"].as_f64(), &format!("mean0 {what}"));
            close(cols[1][i], w["mean"].as_f64(), &format!("mean {what}"));
            // gc_max skips uncovered bases, like pyBigWig's max.
            close(cols[2][i], w["max"].as_f64(), &format!("max {what}"));
            close(cols[3][i], Some(w["coverage"].as_f64().unwrap_or(0.0)), &format!("coverage {what}"));
        }
    }
}

#[test]
fn peaks_coverage_score_and_unknown_chromosomes() {
    let s = Scratch::new("peaks");
    let store = store_with_genome(&s);
    // demo.narrowPeak has peaks on chr6, 7, 9 and 19 only: all unknown to `syn`.
    let report = ingest_track(&store, &TrackIngest::new("syn", "demo", data("demo.narrowPeak.gz"), "ChIP-seq", "x")).unwrap();
    assert_eq!(report.track.columns, vec!["demo".to_string(), "demo_score".to_string()]);
    assert_eq!(report.track.skipped, 6);
    let msg = report.warning().unwrap();
    assert_eq!(msg, "skipped 6 records on 4 unknown chromosomes: chr19 (2), chr7 (2), chr6 (1), chr9 (1)");
    assert_eq!(column(&store, "demo", "windows", "20", "demo_score"), vec![None; 5]);
    // A hand-made narrowPeak on this assembly: overlapping peaks merge.
    let np = s.0.join("x.narrowPeak");
    std::fs::write(&np, "chr20\t100\t600\tp1\t0\t.\t5.5\t1\t1\t50\nchr20\t400\t1500\tp2\t0\t.\t2.0\t1\t1\t50\nchrUn\t1\t2\tp3\t0\t.\t9\t1\t1\t1\n").unwrap();
    let mut opts = TrackIngest::new("syn", "np", &np, "ChIP-seq", "x");
    let r = ingest_track(&store, &opts).unwrap();
    assert_eq!(r.skipped.unknown_records(), 1);
    assert_eq!(column(&store, "np", "windows", "20", "np"), vec![Some(0.9), Some(0.5), Some(0.0), Some(0.0), Some(0.0)]);
    assert_eq!(column(&store, "np", "windows", "20", "np_score"), vec![Some(5.5), Some(2.0), None, None, None]);
    opts.strict = true;
    opts.replace = true;
    let e = ingest_track(&store, &opts).unwrap_err().to_string();
    assert!(e.contains("line 3") && e.contains("chrUn") && e.contains("--strict"), "{e}");
    // The failed replace left the first version in place.
    assert_eq!(store.track("np").unwrap().records, 3);
}

#[test]
fn broadpeak_and_wig_real_files() {
    let s = Scratch::new("real");
    let store = store_with_genome(&s);
    let r = ingest_track(&store, &TrackIngest::new("syn", "atac", data("SRR891275.peaks.gz"), "ATAC-seq", "GM12878")).unwrap();
    assert_eq!(r.format, crate::tracks::TrackFormat::BroadPeak);
    assert_eq!(r.track.records, 16_499);
    assert_eq!(r.track.columns, vec!["atac".to_string()]);
    // chr20 peaks beyond 5 kb fall past this synthetic chr20's end; chr21 peaks below 10.02 Mb land.
    assert!(r.skipped.past_end > 0);
    let w = ingest_track(&store, &TrackIngest::new("syn", "depth", data("test_tum_chr2.head.wig"), "WGS", "tumour")).unwrap();
    assert_eq!(w.track.records, 2000);
    assert_eq!(w.skipped.unknown.get("2"), Some(&2000));
}

fn write(s: &Scratch, name: &str, text: &str) -> PathBuf {
    let p = s.0.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn bad_bedgraphs_name_file_and_line() {
    let s = Scratch::new("bad");
    let store = store_with_genome(&s);
    let cases = [
        ("unsorted.bedGraph", "chr20\t100\t200\t1\nchr20\t50\t80\t2\n", "line 2", "not sorted"),
        ("overlap.bedGraph", "chr20\t100\t200\t1\nchr20\t150\t300\t2\n", "line 2", "overlap"),
        ("inverted.bedGraph", "track type=bedGraph\nchr20\t300\t200\t1\n", "line 2", "greater than end"),
        ("negative.bedGraph", "chr20\t-5\t200\t1\n", "line 1", "negative start"),
        ("text.bedGraph", "chr20\t0\t10\t1\nchr20\t10\t20\thigh\n", "line 2", "not a number"),
    ];
    for (file, text, line, what) in cases {
        let p = write(&s, file, text);
        let e = ingest_track(&store, &TrackIngest::new("syn", "bad", &p, "x", "y")).unwrap_err().to_string();
        assert!(e.contains(file) && e.contains(line) && e.contains(what), "{file}: {e}");
    }
    assert!(store.tracks().unwrap().is_empty(), "failed ingests leave the catalog unchanged");
    // Truncated bigWig: the real file cut in half.
    let bytes = std::fs::read(data("times100.bw")).unwrap();
    let half = write(&s, "half.bw", "");
    std::fs::write(&half, &bytes[..bytes.len() / 2]).unwrap();
    let e = ingest_track(&store, &TrackIngest::new("syn", "bad", &half, "x", "y")).unwrap_err().to_string();
    assert!(e.contains("half.bw") && e.contains("truncated or corrupt"), "{e}");
    assert!(store.tracks().unwrap().is_empty());
}

#[test]
fn names_assemblies_and_drop() {
    let s = Scratch::new("names");
    let store = store_with_genome(&s);
    let p = write(&s, "ok.bedGraph", "20\t0\t1000\t2\n20\t1000\t1500\t4\n");
    let e = ingest_track(&store, &TrackIngest::new("hg99", "t", &p, "x", "y")).unwrap_err();
    assert!(matches!(e, StorageError::NotFound { kind: "assembly", .. }), "{e}");
    let e = ingest_track(&store, &TrackIngest::new("syn", "gc", &p, "x", "y")).unwrap_err().to_string();
    assert!(e.contains("column of every window table"), "{e}");
    let e = ingest_track(&store, &TrackIngest::new("syn", "1bad", &p, "x", "y")).unwrap_err().to_string();
    assert!(e.contains("not an identifier"), "{e}");
    ingest_track(&store, &TrackIngest::new("syn", "t", &p, "x", "y")).unwrap();
    assert_eq!(column(&store, "t", "windows", "20", "t"), vec![Some(2.0), Some(2.0), Some(0.0), Some(0.0), Some(0.0)]);
    let e = ingest_track(&store, &TrackIngest::new("syn", "t", &p, "x", "y")).unwrap_err();
    assert!(matches!(e, StorageError::AlreadyExists { kind: "track", .. }), "{e}");
    let dir = store.path(&store.track("t").unwrap().files["windows"].dir);
    assert!(dir.exists());
    drop_track(&store, "t").unwrap();
    assert!(!dir.exists(), "dropping a track frees its files");
    assert!(matches!(drop_track(&store, "t").unwrap_err(), StorageError::NotFound { kind: "track", .. }));
}
