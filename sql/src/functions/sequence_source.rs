//! Where `sequence()` and `parse_region()` get bases and chromosome lengths.

/// A reference-sequence store the SQL functions read from. The engine
/// implements it over the genome store; tests use an in-memory map.
pub trait SequenceSource: Send + Sync + std::fmt::Debug {
    /// The bases of `chrom` in `[start, end)` (0-based half-open) of
    /// `assembly` (`None`: the database's default assembly). Errors (unknown
    /// assembly or chromosome, coordinates past the end) are messages that the
    /// calling function prefixes with the region.
    fn fetch(
        &self,
        assembly: Option<&str>,
        chrom: &str,
        start: u64,
        end: u64,
    ) -> Result<Vec<u8>, String>;

    /// The length of `chrom` in `assembly`, when known. `parse_region('chr1')`
    /// uses it as the end of a whole-chromosome region; the default knows no
    /// lengths, so such regions get a NULL end.
    fn chrom_length(&self, _assembly: Option<&str>, _chrom: &str) -> Option<u64> {
        None
    }
}
