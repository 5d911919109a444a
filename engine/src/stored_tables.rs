//! Tables ingested from files (`genes`, `transcripts`, `exons`, `variants`):
//! Parquet files listed in the catalog, registered as DataFusion listing tables.

use std::path::Path;
use std::sync::Arc;

use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use omicsdb_storage::TableMeta;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{Error, Result};

/// A listing table over the files of `meta` (paths relative to `root`).
pub fn table(root: &Path, meta: &TableMeta) -> Result<Arc<ListingTable>> {
    let first = meta
        .files
        .first()
        .ok_or_else(|| Error::Other(format!("table {} has no files", meta.name)))?;
    let first_path = root.join(first);
    let file = std::fs::File::open(&first_path).map_err(|e| Error::Other(format!("{}: {e}", first_path.display())))?;
    let schema = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| Error::Other(format!("{}: {e}", first_path.display())))?
        .schema()
        .clone();
    let urls = meta
        .files
        .iter()
        .map(|f| ListingTableUrl::parse(root.join(f).to_string_lossy()))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let options = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config = ListingTableConfig::new_with_multi_paths(urls).with_listing_options(options).with_schema(schema);
    Ok(Arc::new(ListingTable::try_new(config)?))
}
