//! Matching a file's chromosome names to an assembly's, and counting the
//! records that do not fit.
//!
//! ## Alias rule
//!
//! A name in a track, annotation or VCF file matches an assembly chromosome
//! 1. exactly, else
//! 2. after adding or removing a `chr` prefix (`1` ↔ `chr1`, `chrX` ↔ `X`), else
//! 3. for the mitochondrion, any of `chrM`, `chrMT`, `M`, `MT` matches
//!    whichever of those the assembly has.
//!
//! Matching is case-sensitive otherwise. Records on names that match nothing
//! are skipped and counted per name; records starting at or after the
//! chromosome's end are skipped, records running past it are clipped, and
//! both are counted.

pub use crate::progress::thousands;

use std::collections::{BTreeMap, HashMap};

use crate::meta::AssemblyMeta;

/// Resolves file chromosome names to assembly chromosome indices.
#[derive(Debug, Clone)]
pub struct ChromResolver {
    index: HashMap<String, usize>,
    names: Vec<String>,
    lengths: Vec<u64>,
}

const MITO: [&str; 4] = ["chrM", "chrMT", "M", "MT"];

impl ChromResolver {
    /// A resolver for the chromosomes of `assembly`.
    pub fn new(assembly: &AssemblyMeta) -> Self {
        Self::from_chroms(assembly.chroms.iter().map(|c| (c.name.clone(), c.length)))
    }

    /// A resolver for `(name, length)` pairs in assembly order.
    pub fn from_chroms(chroms: impl IntoIterator<Item = (String, u64)>) -> Self {
        let (names, lengths): (Vec<String>, Vec<u64>) = chroms.into_iter().unzip();
        let index = names.iter().enumerate().map(|(i, n)| (n.clone(), i)).collect();
        Self { index, names, lengths }
    }

    /// The assembly index of the file name `name`, by the alias rule.
    pub fn resolve(&self, name: &str) -> Option<usize> {
        if let Some(&i) = self.index.get(name) {
            return Some(i);
        }
        let alias = match name.strip_prefix("chr") {
            Some(rest) => rest.to_string(),
            None => format!("chr{name}"),
        };
        if let Some(&i) = self.index.get(&alias) {
            return Some(i);
        }
        if MITO.contains(&name) {
            return MITO.iter().find_map(|m| self.index.get(*m).copied());
        }
        None
    }

    /// Assembly name of chromosome `i`.
    pub fn name(&self, i: usize) -> &str {
        &self.names[i]
    }

    /// Length of chromosome `i`.
    pub fn length(&self, i: usize) -> u64 {
        self.lengths[i]
    }

    /// Number of assembly chromosomes.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the assembly has no chromosomes.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// Records that did not fit the assembly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Records per file chromosome name the assembly lacks.
    pub unknown: BTreeMap<String, u64>,
    /// Records starting at or after their chromosome's end (dropped).
    pub past_end: u64,
    /// Records running past their chromosome's end (clipped to it).
    pub clipped: u64,
}

impl Skipped {
    /// Records on unknown chromosomes.
    pub fn unknown_records(&self) -> u64 {
        self.unknown.values().sum()
    }

    /// Records dropped (unknown chromosome or past the end).
    pub fn dropped(&self) -> u64 {
        self.unknown_records() + self.past_end
    }

    /// Whether every record fitted.
    pub fn is_empty(&self) -> bool {
        self.unknown.is_empty() && self.past_end == 0 && self.clipped == 0
    }

    /// Adds another count (from a parallel worker).
    pub fn merge(&mut self, other: Skipped) {
        for (k, v) in other.unknown {
            *self.unknown.entry(k).or_default() += v;
        }
        self.past_end += other.past_end;
        self.clipped += other.clipped;
    }

    /// Human-readable summary, e.g. `skipped 1,204 records on 3 unknown
    /// chromosomes: chrUn_gl000220 (1,000), chrY (200), chr6_hap (4)`;
    /// `None` when nothing was skipped or clipped.
    pub fn message(&self) -> Option<String> {
        let mut parts = Vec::new();
        if !self.unknown.is_empty() {
            let mut by_count: Vec<(&String, &u64)> = self.unknown.iter().collect();
            by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let shown: Vec<String> =
                by_count.iter().take(10).map(|(n, c)| format!("{n} ({})", thousands(**c))).collect();
            let more = if by_count.len() > 10 { format!(", ... {} more", by_count.len() - 10) } else { String::new() };
            let s = if self.unknown.len() == 1 { "" } else { "s" };
            parts.push(format!(
                "skipped {} records on {} unknown chromosome{s}: {}{more}",
                thousands(self.unknown_records()),
                self.unknown.len(),
                shown.join(", ")
            ));
        }
        if self.past_end > 0 {
            parts.push(format!("skipped {} records starting past their chromosome's end", thousands(self.past_end)));
        }
        if self.clipped > 0 {
            parts.push(format!("clipped {} records running past their chromosome's end", thousands(self.clipped)));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    fn resolver(names: &[&str]) -> ChromResolver {
        ChromResolver::from_chroms(names.iter().map(|n| (n.to_string(), 100)))
    }

    #[test]
    fn alias_rule() {
        let ucsc = resolver(&["chr1", "chr20", "chrM"]);
        assert_eq!(ucsc.resolve("chr20"), Some(1));
        assert_eq!(ucsc.resolve("20"), Some(1));
        assert_eq!(ucsc.resolve("MT"), Some(2));
        assert_eq!(ucsc.resolve("M"), Some(2));
        assert_eq!(ucsc.resolve("chrMT"), Some(2));
        assert_eq!(ucsc.resolve("chr2"), None);
        let ensembl = resolver(&["1", "20", "MT"]);
        assert_eq!(ensembl.resolve("chr1"), Some(0));
        assert_eq!(ensembl.resolve("chrM"), Some(2));
        assert_eq!(ensembl.resolve("x"), None);
    }

    #[test]
    fn exact_match_wins_over_alias() {
        let both = resolver(&["1", "chr1"]);
        assert_eq!(both.resolve("chr1"), Some(1));
        assert_eq!(both.resolve("1"), Some(0));
    }

    #[test]
    fn skipped_message() {
        let mut s = Skipped::default();
        s.unknown.insert("chrUn".into(), 1000);
        s.unknown.insert("chrY".into(), 200);
        s.unknown.insert("chr6_hap".into(), 4);
        assert_eq!(
            s.message().as_deref(),
            Some("skipped 1,204 records on 3 unknown chromosomes: chrUn (1,000), chrY (200), chr6_hap (4)")
        );
        assert_eq!(Skipped::default().message(), None);
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
