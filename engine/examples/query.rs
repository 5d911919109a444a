//! Embedded use: open a database, ingest a small genome, query it, register a function.
//!
//! ```sh
//! cargo run -p omicsdb-engine --example query
//! ```

use std::sync::Arc;

use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use datafusion::arrow::array::{ArrayRef, Int64Array};
use datafusion::arrow::datatypes::DataType;

#[tokio::main]
async fn main() -> omicsdb::Result<()> {
    let dir = std::env::temp_dir().join("omicsdb-example-query");
    let _ = std::fs::remove_dir_all(&dir);
    let db = omicsdb::Database::open(&dir)?;
    let fasta = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/genome/lambda_virus.fa.gz");
    db.ingest_genome(&omicsdb::GenomeIngest {
        assembly: "lambda".into(),
        path: fasta.into(),
        width: 1000,
        stride: 1000,
        window_set: None,
        replace: false,
    })?;
    // A tool's own function, next to omicsdb's genomic ones.
    let width = create_udf(
        "width",
        vec![DataType::Int64, DataType::Int64],
        DataType::Int64,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let s = arrays[0].as_any().downcast_ref::<Int64Array>().expect("Int64 start");
            let e = arrays[1].as_any().downcast_ref::<Int64Array>().expect("Int64 end");
            let out: Int64Array = s.iter().zip(e.iter()).map(|(s, e)| Some(e? - s?)).collect();
            Ok(ColumnarValue::Array(Arc::new(out) as ArrayRef))
        }),
    );
    db.context().register_udf(width);
    let batches = db
        .sql("SELECT region, width(start, \"end\") AS bp, round(gc, 3) AS gc, gc_content(seq) AS gc2 FROM windows ORDER BY start LIMIT 5")
        .await?;
    println!("{}", pretty_format_batches(&batches)?);
    Ok(())
}
