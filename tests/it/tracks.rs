//! Tracks, annotation and variants end to end on the bundled real files:
//! ATAC-seq broadPeak peaks and the CEU trio VCF on human chr20, the GENCODE
//! GTF and a FlyBase GFF3 on synthetic genomes with matching chromosome names.

use std::path::{Path, PathBuf};

use omicsdb_storage::annotation::{AnnotationIngest, ingest_annotation};
use omicsdb_storage::tracks::{TrackIngest, drop_track, ingest_track};
use omicsdb_storage::variants::{VariantIngest, ingest_variants};
use omicsdb_storage::{GenomeIngest, Store};

use crate::support::data_dir;

fn tracks(name: &str) -> PathBuf {
    data_dir().join("tracks").join(name)
}

fn genome(store: &Store, assembly: &str, fasta: &Path) {
    store
        .ingest_genome(&GenomeIngest { assembly: assembly.into(), path: fasta.into(), width: 1000, stride: 1000, window_set: None, replace: false })
        .unwrap();
}

/// A synthetic FASTA of one chromosome `name` of `length` bases (documented as synthetic).
fn synthetic_fasta(dir: &Path, name: &str, length: usize) -> PathBuf {
    let p = dir.join(format!("{name}.fa"));
    let mut s = format!(">{name}\n");
    let unit = b"ACGTTGCAAC";
    let seq: Vec<u8> = (0..length).map(|i| unit[i % unit.len()]).collect();
    for line in seq.chunks(80) {
        s.push_str(std::str::from_utf8(line).unwrap());
        s.push('\n');
    }
    std::fs::write(&p, s).unwrap();
    p
}

#[test]
fn atac_peaks_and_variants_on_chr20() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("db")).unwrap();
    genome(&store, "hg19", &data_dir().join("genome/20.fa.gz"));
    // The peaks say `chr20`, the assembly `20`: matched by the alias rule.
    let report = ingest_track(&store, &TrackIngest::new("hg19", "atac_gm12878", tracks("SRR891275.peaks.gz"), "ATAC-seq", "GM12878")).unwrap();
    assert_eq!(report.track.records, 16_499);
    assert_eq!(report.track.skipped, 16_499 - 291, "291 peaks are on chr20 (shared/data README)");
    let warning = report.warning().unwrap();
    assert!(warning.starts_with("skipped 16,208 records on "), "{warning}");
    assert_eq!(report.track.files["windows"].files.len(), 1);
    assert_eq!(report.track.files["windows"].files[0].rows, 63_026);

    let mut strict = TrackIngest::new("hg19", "atac_strict", tracks("SRR891275.peaks.gz"), "ATAC-seq", "GM12878");
    strict.strict = true;
    let e = ingest_track(&store, &strict).unwrap_err().to_string();
    assert!(e.contains("line 1") && e.contains("chr1") && e.contains("--strict"), "{e}");
    assert_eq!(store.tracks().unwrap().len(), 1, "a failed ingest changes nothing");

    let v = ingest_variants(&store, &VariantIngest { assembly: "hg19".into(), path: tracks("CEUtrio_20.vcf.bgz"), strict: true, replace: false }).unwrap();
    assert_eq!(v.table.rows, 317);
    assert_eq!((v.checked, v.mismatches), (317, 0), "every chr20 REF matches the FASTA (shared/data README)");

    drop_track(&store, "atac_gm12878").unwrap();
    assert!(store.tracks().unwrap().is_empty());
}

#[test]
fn gencode_gtf_and_flybase_gff3() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("db")).unwrap();
    // Synthetic sequence: only names and lengths matter for annotation.
    genome(&store, "grch38_chr1", &synthetic_fasta(tmp.path(), "1", 3_000_000));
    let r = ingest_annotation(&store, &AnnotationIngest { assembly: "grch38_chr1".into(), path: tracks("gencode_human.gtf.gz"), strict: true, replace: false }).unwrap();
    assert_eq!(r.format, "gtf");
    let rows: Vec<(String, u64)> = r.tables.iter().map(|t| (t.name.clone(), t.rows)).collect();
    let count = |feature: &str| {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("zcat {} | awk -F'\\t' '$3==\"{feature}\"' | wc -l", tracks("gencode_human.gtf.gz").display()))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().parse::<u64>().unwrap()
    };
    assert_eq!(rows, vec![("genes".into(), count("gene")), ("transcripts".into(), count("transcript")), ("exons".into(), count("exon"))]);

    let store2 = Store::open(tmp.path().join("db2")).unwrap();
    genome(&store2, "dm3", &synthetic_fasta(tmp.path(), "chr2L", 200_000));
    let g = ingest_annotation(&store2, &AnnotationIngest { assembly: "dm3".into(), path: tracks("dm3-chr2L.head.gff3"), strict: false, replace: false }).unwrap();
    assert_eq!(g.format, "gff3");
    assert!(g.tables[0].rows > 0 && g.tables[2].rows > g.tables[1].rows, "{:?}", g.tables.iter().map(|t| t.rows).collect::<Vec<_>>());
}
