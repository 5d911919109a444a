//! Region strings as users type them: `chr1:1,000,001-1,200,000` (1-based,
//! closed, commas allowed) or a bare chromosome name, read into 0-based
//! half-open coordinates. One parser for every command and function that
//! takes a region (`predict_omics`, `omicsdb plot --region`,
//! `omicsdb train --holdout-chroms`).

/// A region in 0-based half-open coordinates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// Chromosome (may itself contain `:`, e.g. `HLA-A*01:01`; the last `:` splits).
    pub chrom: String,
    /// 0-based start.
    pub start: u64,
    /// Exclusive end.
    pub end: u64,
}

impl Region {
    /// Parses `chrom:start-end` (1-based closed). The error says what is wrong
    /// and shows the expected form.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let expected = "expected chrom:start-end, e.g. chr1:1,000,001-1,200,000";
        let (chrom, span) = text.rsplit_once(':').ok_or_else(|| format!("'{text}': no ':'; {expected}"))?;
        let (s, e) = span.split_once('-').ok_or_else(|| format!("'{text}': no '-' between start and end; {expected}"))?;
        let num = |v: &str| {
            v.replace(',', "").trim().parse::<u64>().map_err(|_| format!("'{text}': '{v}' is not a position; {expected}"))
        };
        let (start, end) = (num(s)?, num(e)?);
        if chrom.is_empty() {
            return Err(format!("'{text}': empty chromosome; {expected}"));
        }
        if start == 0 || end < start {
            return Err(format!("'{text}': start must be >= 1 and end >= start; {expected}"));
        }
        Ok(Self { chrom: chrom.to_string(), start: start - 1, end })
    }

    /// Parses a region, or a bare chromosome name (no `:`) as the whole chromosome
    /// (`end` = `u64::MAX`).
    pub fn parse_or_chrom(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("empty region".into());
        }
        if !t.contains(':') {
            return Ok(Self { chrom: t.to_string(), start: 0, end: u64::MAX });
        }
        Self::parse(t)
    }

    /// True when the position `pos` (0-based) lies in the region.
    pub fn contains(&self, chrom: &str, pos: u64) -> bool {
        self.chrom == chrom && self.start <= pos && pos < self.end
    }
}

impl std::fmt::Display for Region {
    /// `chrom:start-end` (1-based closed), or the bare name for a whole chromosome.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.start == 0 && self.end == u64::MAX {
            write!(f, "{}", self.chrom)
        } else {
            write!(f, "{}:{}-{}", self.chrom, self.start + 1, self.end)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_one_based_closed_regions_with_commas() {
        assert_eq!(Region::parse("chr1:1,001-2,000").unwrap(), Region { chrom: "chr1".into(), start: 1000, end: 2000 });
        assert_eq!(Region::parse(" HLA:A:1-1 ").unwrap(), Region { chrom: "HLA:A".into(), start: 0, end: 1 });
        assert_eq!(Region::parse("20:5-5").unwrap().to_string(), "20:5-5");
    }

    #[test]
    fn rejects_malformed_regions_with_the_reason() {
        for (bad, why) in [("chr1:0-5", ">= 1"), ("chr1:9-5", ">= 1"), ("chr1", "no ':'"), (":1-2", "empty"), ("chr1:a-5", "'a'"), ("chr1:5", "no '-'")] {
            let msg = Region::parse(bad).unwrap_err();
            assert!(msg.contains(why) && msg.contains(bad), "{bad}: {msg}");
        }
    }

    #[test]
    fn a_bare_name_is_the_whole_chromosome() {
        let r = Region::parse_or_chrom("chr8").unwrap();
        assert!(r.contains("chr8", 0) && r.contains("chr8", 10_000_000_000) && !r.contains("chr9", 5));
        assert_eq!(r.to_string(), "chr8");
        let r = Region::parse_or_chrom("chr8:11-20").unwrap();
        assert!(r.contains("chr8", 10) && r.contains("chr8", 19) && !r.contains("chr8", 20) && !r.contains("chr8", 9));
        assert!(Region::parse_or_chrom(" ").is_err());
    }
}
