//! Specification tests of genome ingest, random access, window sets and bad input.

use crate::store::{GenomeIngest, Store};
use crate::test_util::{TempDir, gzip, write_file};
use crate::StorageError;

const FASTA: &[u8] = b">chr1 first\nACGTNNNNacgtRYacgtGGCC\nTTAA\n>chr2\nGGGGCCCCAAAA\n>chrM\nnnnnACGT\n";

fn opts(path: std::path::PathBuf, width: u64, stride: u64) -> GenomeIngest {
    GenomeIngest { assembly: "toy".into(), path, width, stride, window_set: None, replace: false }
}

fn ingest(dir: &TempDir, fasta: &[u8], name: &str) -> (Store, Result<crate::GenomeReport, StorageError>) {
    let path = write_file(dir, name, fasta);
    let store = Store::open(dir.join("db")).expect("open");
    let r = store.ingest_genome(&opts(path, 8, 8));
    (store, r)
}

#[test]
fn sequence_round_trips_letters_case_and_iupac_codes() {
    let dir = TempDir::new("roundtrip");
    let (store, r) = ingest(&dir, FASTA, "g.fa");
    let report = r.expect("ingest");
    let names: Vec<_> = report.assembly.chroms.iter().map(|c| (c.name.as_str(), c.length)).collect();
    assert_eq!(names, [("chr1", 26), ("chr2", 12), ("chrM", 8)]);
    let g = store.genome("toy").expect("genome");
    assert_eq!(g.sequence("chr1", 0, 26, true).unwrap(), b"ACGTNNNNacgtRYacgtGGCCTTAA");
    assert_eq!(g.sequence("chr1", 0, 26, false).unwrap(), b"ACGTNNNNACGTRYACGTGGCCTTAA");
    assert_eq!(g.sequence("chr1", 5, 15, true).unwrap(), b"NNNacgtRYa");
    assert_eq!(g.sequence("chrM", 0, 8, true).unwrap(), b"nnnnACGT");
    assert_eq!(g.sequence("chr2", 3, 3, true).unwrap(), b"");
    for start in 0..26 {
        for end in start..=26 {
            let want = &b"ACGTNNNNacgtRYacgtGGCCTTAA"[start as usize..end as usize];
            assert_eq!(g.sequence("chr1", start, end, true).unwrap(), want, "{start}-{end}");
        }
    }
}

#[test]
fn gzip_input_gives_the_same_store_as_plain() {
    let dir = TempDir::new("gzip");
    let (store, r) = ingest(&dir, &gzip(FASTA), "g.fa.gz");
    r.expect("ingest gz");
    assert_eq!(store.genome("toy").unwrap().sequence("chr1", 0, 26, true).unwrap(), b"ACGTNNNNacgtRYacgtGGCCTTAA");
}

#[test]
fn out_of_range_and_unknown_chromosomes_are_errors() {
    let dir = TempDir::new("range");
    let (store, r) = ingest(&dir, FASTA, "g.fa");
    r.expect("ingest");
    let g = store.genome("toy").unwrap();
    assert!(matches!(g.sequence("chr1", 0, 27, true), Err(StorageError::Range { .. })));
    assert!(matches!(g.sequence("chr1", 10, 5, true), Err(StorageError::Range { .. })));
    let e = g.sequence("chr9", 0, 1, true).unwrap_err().to_string();
    assert!(e.contains("chr9"), "{e}");
}

#[test]
fn window_statistics_follow_their_definitions() {
    let dir = TempDir::new("stats");
    let (store, r) = ingest(&dir, FASTA, "g.fa");
    r.expect("ingest");
    let g = store.genome("toy").unwrap();
    // ACGTNNNN: 4 ACGT of which 2 GC, 4 N.
    let s = g.window_stats("chr1", 0, 8).unwrap();
    assert_eq!((s.length, s.acgt, s.gc, s.masked), (8, 4, 2, 0));
    // acgtRYacgtGGCCTTAA (8..26): ACGT bases 16, GC 4+4=8, masked 8.
    let s = g.window_stats("chr1", 8, 26).unwrap();
    assert_eq!((s.length, s.acgt, s.gc, s.masked), (18, 16, 8, 8));
    // Every sub-range agrees with counting the decoded letters.
    for start in 0..26 {
        for end in start..=26 {
            let seq = g.sequence("chr1", start, end, true).unwrap();
            let s = g.window_stats("chr1", start, end).unwrap();
            let acgt = seq.iter().filter(|b| b"ACGTacgt".contains(b)).count() as u64;
            let gc = seq.iter().filter(|b| b"GCgc".contains(b)).count() as u64;
            let masked = seq.iter().filter(|b| b.is_ascii_lowercase()).count() as u64;
            assert_eq!((s.acgt, s.gc, s.masked), (acgt, gc, masked), "{start}-{end}");
        }
    }
}

#[test]
fn windows_are_truncated_at_chromosome_ends() {
    let dir = TempDir::new("windows");
    let (_store, r) = ingest(&dir, FASTA, "g.fa");
    let report = r.expect("ingest");
    let ws = &report.window_sets[0];
    assert_eq!(ws.name, "windows");
    // chr1 26 bp / 8 → 4 windows, chr2 12 → 2, chrM 8 → 1.
    let rows: Vec<u64> = ws.files.iter().map(|f| f.rows).collect();
    assert_eq!(rows, [4, 2, 1]);
    assert_eq!(crate::windows::window_bounds(3, 26, 8, 8), (24, 26));
}

#[test]
fn existing_assembly_needs_replace_and_replace_swaps_atomically() {
    let dir = TempDir::new("replace");
    let (store, r) = ingest(&dir, FASTA, "g.fa");
    r.expect("first ingest");
    let path = write_file(&dir, "g2.fa", b">chrX\nACGT\n");
    let err = store.ingest_genome(&opts(path.clone(), 8, 8)).unwrap_err();
    assert!(err.to_string().contains("--replace"), "{err}");
    assert_eq!(store.assembly("toy").unwrap().chroms.len(), 3);
    let mut o = opts(path, 8, 8);
    o.replace = true;
    store.ingest_genome(&o).expect("replace");
    assert_eq!(store.assembly("toy").unwrap().chroms.len(), 1);
    // Only the live data directories remain.
    let seq_dirs = std::fs::read_dir(dir.join("db/data/seq")).unwrap().count();
    assert_eq!(seq_dirs, 1);
}

fn bad_input(fasta: &[u8], expect: &str) {
    let dir = TempDir::new("bad");
    let (store, r) = ingest(&dir, fasta, "bad.fa");
    let e = r.expect_err("must fail").to_string();
    assert!(e.contains(expect), "error '{e}' should mention '{expect}'");
    assert!(e.contains("bad.fa"), "error '{e}' should name the file");
    assert!(store.assemblies().unwrap().is_empty(), "database must be unchanged");
    assert!(store.window_sets().unwrap().is_empty());
}

#[test]
fn bad_fasta_input_is_rejected_with_a_clear_error_and_no_change() {
    bad_input(b"ACGT\n", "header");
    bad_input(b"", "empty");
    bad_input(b">chr1\nACGT\n>chr1\nGG\n", "duplicate sequence name 'chr1'");
    bad_input(b">chr1\nACGT\n>\nGG\n", "empty sequence name");
    bad_input(b">chr1\nACGT\n>chr2\n>chr3\nAC\n", "'chr2' has length 0");
    bad_input(b">chr1\nACGT\nAC!T\n", "'!' at position 7");
    bad_input(b">chr1\nACGTXA\n", "'X' at position 5");
}

#[test]
fn unreadable_gzip_and_missing_files_are_errors() {
    let dir = TempDir::new("gzbad");
    let mut gz = gzip(FASTA);
    gz.truncate(gz.len() / 2);
    gz[12] ^= 0xff;
    let (store, r) = ingest(&dir, &gz, "broken.fa.gz");
    let e = r.expect_err("corrupt gzip").to_string();
    assert!(e.contains("broken.fa.gz"), "{e}");
    assert!(store.assemblies().unwrap().is_empty());
    let e = store.ingest_genome(&opts(dir.join("missing.fa"), 8, 8)).unwrap_err().to_string();
    assert!(e.contains("missing.fa"), "{e}");
}

#[test]
fn bad_arguments_are_rejected() {
    let dir = TempDir::new("args");
    let path = write_file(&dir, "g.fa", FASTA);
    let store = Store::open(dir.join("db")).unwrap();
    assert!(store.ingest_genome(&opts(path.clone(), 0, 8)).unwrap_err().to_string().contains("--window"));
    assert!(store.ingest_genome(&opts(path.clone(), 8, 0)).unwrap_err().to_string().contains("--stride"));
    let mut o = opts(path, 8, 8);
    o.assembly = "hg 38;".into();
    assert!(store.ingest_genome(&o).unwrap_err().to_string().contains("not an identifier"));
}

#[test]
fn a_second_process_cannot_open_a_locked_database() {
    let dir = TempDir::new("lock");
    let _store = Store::open(dir.join("db")).unwrap();
    // fs2 locks are per open file description, so a second open in-process
    // behaves like a second process.
    assert!(matches!(Store::open(dir.join("db")), Err(StorageError::Locked { .. })));
}

#[test]
fn window_sets_can_be_added_without_the_fasta() {
    let dir = TempDir::new("addws");
    let (store, r) = ingest(&dir, FASTA, "g.fa");
    r.expect("ingest");
    std::fs::remove_file(dir.join("g.fa")).unwrap();
    let ws = store.create_window_set("toy", "w4", 4, 2, false).expect("create");
    assert_eq!(ws.files.iter().map(|f| f.rows).collect::<Vec<_>>(), [13, 6, 4]);
    assert!(store.create_window_set("toy", "w4", 4, 2, false).is_err());
    assert_eq!(store.window_sets().unwrap().len(), 2);
}
