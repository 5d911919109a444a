//! Genome ingest end to end: the bundled human chr20 against samtools, the CLI's
//! bad-input behaviour, and kill -9 during ingest.

use std::process::{Command, Stdio};
use std::time::Duration;

use rand::{Rng, SeedableRng};

use crate::support::{data_dir, have, omicsdb, omicsdb_ok, rt};

fn chr20() -> std::path::PathBuf {
    data_dir().join("genome/20.fa.gz")
}

/// Names/lengths equal samtools' .fai; random regions equal `samtools faidx`.
#[test]
fn bundled_chr20_matches_samtools_faidx() {
    assert!(have("samtools"), "samtools is required (scripts/setup.sh installs it)");
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    omicsdb_ok(&db, &["ingest", "genome", "--assembly", "hg19", chr20().to_str().unwrap()]);
    // samtools builds its own index on a copy (the bundled .fai is left alone).
    let fa = tmp.path().join("20.fa.gz");
    std::fs::copy(chr20(), &fa).unwrap();
    let st = Command::new("samtools").arg("faidx").arg(&fa).status().unwrap();
    assert!(st.success());
    let fai = std::fs::read_to_string(tmp.path().join("20.fa.gz.fai")).unwrap();
    let database = omicsdb::Database::open(&db).unwrap();
    let rt = rt();
    let batches = rt.block_on(database.sql("SELECT chrom, length FROM chroms ORDER BY chrom")).unwrap();
    let mut ours = Vec::new();
    for b in &batches {
        let names = b.column(0).as_any().downcast_ref::<arrow::array::StringArray>().unwrap();
        let lens = b.column(1).as_any().downcast_ref::<arrow::array::Int64Array>().unwrap();
        for i in 0..b.num_rows() {
            ours.push(format!("{}\t{}", names.value(i), lens.value(i)));
        }
    }
    let theirs: Vec<String> = fai
        .lines()
        .map(|l| l.split('\t').take(2).collect::<Vec<_>>().join("\t"))
        .collect();
    assert_eq!(ours, theirs);
    let genome = database.store().genome("hg19").unwrap();
    let len = genome.chrom_length("20").unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(20);
    let mut regions: Vec<(u64, u64)> = (0..40)
        .map(|_| {
            let s = rng.random_range(0..len - 5000);
            (s, s + rng.random_range(1..5000))
        })
        .collect();
    regions.extend([(0, 100), (len - 100, len), (60_000, 61_000)]);
    let args: Vec<String> = regions.iter().map(|(s, e)| format!("20:{}-{}", s + 1, e)).collect();
    let out = Command::new("samtools").arg("faidx").arg(&fa).args(&args).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let seqs: Vec<String> = text.split('>').skip(1).map(|rec| rec.lines().skip(1).collect::<String>()).collect();
    assert_eq!(seqs.len(), regions.len());
    for ((s, e), want) in regions.iter().zip(&seqs) {
        let got = genome.sequence("20", *s, *e, true).unwrap();
        assert_eq!(std::str::from_utf8(&got).unwrap(), want, "20:{}-{}", s + 1, e);
    }
}

/// The CLI exits non-zero with the file named and leaves the database as it was.
#[test]
fn cli_bad_input_fails_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let bad = tmp.path().join("bad.fa");
    std::fs::write(&bad, ">s1\nACGT\n>s1\nAAAA\n").unwrap();
    let out = omicsdb(&db, &["ingest", "genome", "--assembly", "toy", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.fa") && err.contains("duplicate"), "{err}");
    let out = omicsdb(&db, &["ingest", "genome", "--assembly", "toy", "--window", "0", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--window"));
    let info = omicsdb_ok(&db, &["info"]);
    assert!(info.contains("assemblies: 0"), "{info}");
}

/// kill -9 at random moments of an ingest leaves an openable database in its
/// previous state; re-running the command completes it.
#[test]
fn kill_dash_nine_during_ingest_leaves_previous_state() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    // A previous committed state: a small assembly.
    let small = tmp.path().join("small.fa");
    std::fs::write(&small, ">a\nACGTACGTAC\n").unwrap();
    omicsdb_ok(&db, &["ingest", "genome", "--assembly", "small", small.to_str().unwrap()]);
    let fasta = chr20();
    for delay_ms in [30u64, 150, 400, 900, 1600] {
        let mut child = Command::new(crate::support::omicsdb_bin())
            .arg("--db")
            .arg(&db)
            .args(["ingest", "genome", "--assembly", "hg19", "--replace", fasta.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let d = omicsdb::Database::open(&db).expect("database must open after kill -9");
        let names: Vec<String> = d.store().assemblies().unwrap().into_iter().map(|a| a.name).collect();
        assert!(names.contains(&"small".to_string()));
        if names.contains(&"hg19".to_string()) {
            // The kill came after the commit: it must be complete.
            let ws = d.store().window_set("windows_hg19").unwrap();
            assert_eq!(ws.rows(), 63_025_520u64.div_ceil(1024));
        }
    }
    omicsdb_ok(&db, &["ingest", "genome", "--assembly", "hg19", "--replace", fasta.to_str().unwrap()]);
    let d = omicsdb::Database::open(&db).unwrap();
    assert_eq!(d.store().assembly("hg19").unwrap().total_length(), 63_025_520);
    // No orphaned data directories are left behind.
    let seq_dirs = std::fs::read_dir(db.join("data/seq")).unwrap().count();
    assert_eq!(seq_dirs, 2);
}
