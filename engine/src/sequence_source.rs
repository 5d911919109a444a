//! The sequence store as the SQL `sequence()` function's source.

use std::sync::Arc;

use omicsdb_sql::functions::SequenceSource;
use omicsdb_storage::Store;

/// Fetches sequence from the store; without an assembly name it uses the
/// only assembly, or the first one (by name) that has the chromosome.
#[derive(Debug)]
pub struct StoreSequenceSource {
    store: Arc<Store>,
}

impl StoreSequenceSource {
    /// Wraps a store.
    pub fn new(store: Arc<Store>) -> Self {
        Self { store }
    }
}

impl StoreSequenceSource {
    /// The assembly to use for `chrom`: the one named, else the first having it.
    fn assembly_for(&self, assembly: Option<&str>, chrom: &str) -> Option<omicsdb_storage::AssemblyMeta> {
        let all = self.store.assemblies().ok()?;
        match assembly {
            Some(a) => all.into_iter().find(|m| m.name == a),
            None => all.into_iter().find(|m| m.chroms.iter().any(|c| c.name == chrom)),
        }
    }
}

impl SequenceSource for StoreSequenceSource {
    fn chrom_length(&self, assembly: Option<&str>, chrom: &str) -> Option<u64> {
        let a = self.assembly_for(assembly, chrom)?;
        a.chroms.iter().find(|c| c.name == chrom).map(|c| c.length)
    }

    fn fetch(&self, assembly: Option<&str>, chrom: &str, start: u64, end: u64) -> Result<Vec<u8>, String> {
        let name = match assembly {
            Some(a) => a.to_string(),
            None => {
                let all = self.store.assemblies().map_err(|e| e.to_string())?;
                let found = all.iter().find(|a| a.chroms.iter().any(|c| c.name == chrom));
                match found {
                    Some(a) => a.name.clone(),
                    None if all.is_empty() => return Err("no assembly has been ingested".into()),
                    None => {
                        return Err(format!(
                            "unknown chromosome '{chrom}' (assemblies: {})",
                            all.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join(", ")
                        ));
                    }
                }
            }
        };
        let genome = self.store.genome(&name).map_err(|e| e.to_string())?;
        genome.sequence(chrom, start, end, false).map_err(|e| e.to_string())
    }
}
