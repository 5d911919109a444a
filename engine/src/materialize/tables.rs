//! The predictions tables: `predictions_<model>` is the latest materialized
//! version of a model, `predictions_<model>_v<N>` each version (on the window
//! set materialized most recently for it). Only committed partitions of
//! published materializations are read: a run that is still being built (or
//! was killed) lives under the staging key and is invisible here, so it never
//! hides or replaces a complete version.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::datasource::TableProvider;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use omicsdb_storage::Store;

use super::meta::{self, MaterializationMeta};
use crate::{Database, Error, Result};

/// SQL name of the latest predictions of `model` (`predictions_<model>`,
/// lowercase, other characters than letters and digits as `_`).
pub fn table_name(model: &str) -> String {
    let clean: String = model
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
        .collect();
    format!("predictions_{clean}")
}

/// The predictions tables of every materialized model, for `Database::refresh`.
pub fn tables(store: &Store) -> Result<Vec<(String, Arc<dyn TableProvider>)>> {
    let all = meta::list(store).map_err(|e| Error::Other(e.to_string()))?;
    // Per model: per version, the most recently updated materialization with data.
    let mut chosen: BTreeMap<String, BTreeMap<u32, &MaterializationMeta>> = BTreeMap::new();
    for m in all.iter().filter(|m| !m.partitions.is_empty() && m.slot.is_none()) {
        let versions = chosen.entry(m.model.clone()).or_default();
        match versions.get(&m.model_version) {
            Some(prev) if prev.updated_at > m.updated_at => {}
            _ => {
                versions.insert(m.model_version, m);
            }
        }
    }
    let mut out = Vec::new();
    for (model, versions) in chosen {
        let base = table_name(&model);
        for (version, m) in &versions {
            out.push((format!("{base}_v{version}"), provider(store, m)?));
        }
        if let Some((_, latest)) = versions.iter().next_back() {
            out.push((base, provider(store, latest)?));
        }
    }
    Ok(out)
}

/// Registers [`tables`] on `db`'s session (replacing earlier registrations).
pub fn register(db: &Database) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for (name, table) in tables(db.store())? {
        db.context().deregister_table(name.as_str())?;
        db.context().register_table(name.as_str(), table)?;
        names.push(name);
    }
    Ok(names)
}

/// A Parquet listing table over exactly the committed partition files.
pub fn provider(store: &Store, m: &MaterializationMeta) -> Result<Arc<dyn TableProvider>> {
    let mut urls = Vec::with_capacity(m.partitions.len());
    for p in &m.partitions {
        let path = store.path(&p.path);
        let text = path.to_str().ok_or_else(|| Error::Other(format!("{} is not UTF-8", path.display())))?;
        urls.push(ListingTableUrl::parse(text)?);
    }
    let options = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config = ListingTableConfig::new_with_multi_paths(urls).with_listing_options(options).with_schema(m.schema());
    Ok(Arc::new(ListingTable::try_new(config)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_sql_identifiers() {
        assert_eq!(table_name("micro"), "predictions_micro");
        assert_eq!(table_name("Omics-v2.1"), "predictions_omics_v2_1");
    }
}
