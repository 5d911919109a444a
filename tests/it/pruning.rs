//! Region pushdown is proven from the plan's metrics, not from timing.

use arrow::array::StringArray;

use crate::support::{data_dir, rt};

#[test]
fn region_filters_read_only_matching_chromosomes_row_groups_and_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let db = omicsdb::Database::open(tmp.path().join("db")).unwrap();
    for (asm, file) in [("lambda", "lambda_virus.fa.gz"), ("mt", "MT-human.fa.gz")] {
        db.ingest_genome(&omicsdb::GenomeIngest {
            assembly: asm.into(),
            path: data_dir().join("genome").join(file),
            width: 5,
            stride: 5,
            window_set: Some(format!("w_{asm}")),
            replace: false,
        })
        .unwrap();
    }
    let rt = rt();
    // lambda: 48,502 bp / 5 = 9,701 windows = 3 row groups of 4,096.
    let plan = |q: &str| {
        let batches = rt.block_on(db.sql(&format!("EXPLAIN ANALYZE {q}"))).unwrap();
        let mut text = String::new();
        for b in &batches {
            let col = b.column(1).as_any().downcast_ref::<StringArray>().unwrap();
            for i in 0..b.num_rows() {
                text.push_str(col.value(i));
                text.push('\n');
            }
        }
        text
    };
    let chrom = rt
        .block_on(db.sql("SELECT chrom FROM chroms WHERE assembly = 'lambda'"))
        .unwrap()[0]
        .column(0)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap()
        .value(0)
        .to_string();
    let p = plan(&format!("SELECT start, gc FROM w_lambda WHERE chrom = '{chrom}' AND start >= 45000 AND \"end\" <= 45100"));
    assert!(p.contains("row_groups_read=1"), "{p}");
    assert!(p.contains("row_groups_pruned=2"), "{p}");
    assert!(p.contains("rows_read=20"), "{p}");
    let p = plan("SELECT count(*) FROM w_lambda WHERE chrom = 'no_such_chrom'");
    assert!(p.contains("files_pruned=1"), "{p}");
    let p = plan(&format!("SELECT count(*) FROM w_lambda WHERE chrom = '{chrom}'"));
    assert!(p.contains("row_groups_read=3"), "{p}");
}
