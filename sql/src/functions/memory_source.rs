//! An in-memory [`SequenceSource`], for tests and small embedded uses.

use std::collections::HashMap;

use super::SequenceSource;

/// Sequences held in memory, keyed by assembly and chromosome. The first
/// assembly given is the default one (used when no assembly is named).
#[derive(Debug, Default, Clone)]
pub struct MemorySequenceSource {
    default_assembly: String,
    chroms: HashMap<(String, String), Vec<u8>>,
}

impl MemorySequenceSource {
    /// A source holding `chroms` (name, bases) as assembly `assembly`.
    pub fn new<'a>(
        assembly: &str,
        chroms: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let mut s = Self { default_assembly: assembly.to_string(), chroms: HashMap::new() };
        s.add_assembly(assembly, chroms);
        s
    }

    /// Adds (or replaces) the chromosomes of another assembly.
    pub fn add_assembly<'a>(
        &mut self,
        assembly: &str,
        chroms: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) {
        for (name, bases) in chroms {
            self.chroms
                .insert((assembly.to_string(), name.to_string()), bases.as_bytes().to_vec());
        }
    }

    fn get(&self, assembly: Option<&str>, chrom: &str) -> Result<&[u8], String> {
        let asm = assembly.unwrap_or(&self.default_assembly);
        if !self.chroms.keys().any(|(a, _)| a == asm) {
            return Err(format!("unknown assembly '{asm}'"));
        }
        self.chroms
            .get(&(asm.to_string(), chrom.to_string()))
            .map(Vec::as_slice)
            .ok_or_else(|| format!("unknown chromosome '{chrom}' in assembly '{asm}'"))
    }
}

impl SequenceSource for MemorySequenceSource {
    fn fetch(
        &self,
        assembly: Option<&str>,
        chrom: &str,
        start: u64,
        end: u64,
    ) -> Result<Vec<u8>, String> {
        let bases = self.get(assembly, chrom)?;
        let len = bases.len() as u64;
        if start > end || end > len {
            return Err(format!("[{start}, {end}) is outside {chrom} (length {len})"));
        }
        Ok(bases[start as usize..end as usize].to_vec())
    }

    fn chrom_length(&self, assembly: Option<&str>, chrom: &str) -> Option<u64> {
        self.get(assembly, chrom).ok().map(|b| b.len() as u64)
    }
}
