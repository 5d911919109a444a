//! The options string of an interval function: bedtools' own flags
//! (`'-d 100 -s'`, `'-v -f 0.5 -r'`), so a bedtools command line maps onto
//! the SQL call one to one. Each function accepts only its own flags and
//! names any other.

use std::collections::HashMap;

use crate::error::SqlError;

/// Parsed flags: switches and flags with one value.
#[derive(Debug, Default)]
pub struct Flags {
    function: &'static str,
    values: HashMap<String, String>,
}

/// What a flag of a function takes.
#[derive(Debug, Clone, Copy)]
pub enum Takes {
    /// A switch (`-s`).
    Nothing,
    /// One value (`-d 100`).
    Value,
}

impl Flags {
    /// Parses `text` against the flags `known` of `function`.
    pub fn parse(function: &'static str, text: &str, known: &[(&str, Takes)]) -> Result<Self, SqlError> {
        let bad = |message: String| SqlError::Argument { function, message };
        let names = || known.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(" ");
        let mut values = HashMap::new();
        let mut words = text.split_whitespace();
        while let Some(word) = words.next() {
            let Some(&(name, takes)) = known.iter().find(|(n, _)| *n == word) else {
                return Err(bad(format!("unknown option '{word}' (options: {})", names())));
            };
            let value = match takes {
                Takes::Nothing => String::new(),
                Takes::Value => words.next().ok_or_else(|| bad(format!("option {name} needs a value")))?.to_string(),
            };
            if values.insert(name.to_string(), value).is_some() {
                return Err(bad(format!("option {name} is given twice")));
            }
        }
        Ok(Self { function, values })
    }

    /// Whether switch `name` is set.
    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// The integer value of `name`, or `default`.
    pub fn int(&self, name: &str, default: i64) -> Result<i64, SqlError> {
        match self.values.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| SqlError::Argument {
                function: self.function,
                message: format!("option {name} needs an integer, got '{v}'"),
            }),
        }
    }

    /// The number value of `name`, if given.
    pub fn number(&self, name: &str) -> Result<Option<f64>, SqlError> {
        match self.values.get(name) {
            None => Ok(None),
            Some(v) => match v.parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(Some(x)),
                _ => Err(SqlError::Argument { function: self.function, message: format!("option {name} needs a number, got '{v}'") }),
            },
        }
    }

    /// The text value of `name`, if given.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The strand rule from `-s` (same strand) and `-S` (opposite strands).
    pub fn strand(&self) -> Result<StrandRule, SqlError> {
        match (self.has("-s"), self.has("-S")) {
            (true, true) => Err(SqlError::Argument { function: self.function, message: "options -s and -S exclude each other".into() }),
            (true, false) => Ok(StrandRule::Same),
            (false, true) => Ok(StrandRule::Opposite),
            (false, false) => Ok(StrandRule::Ignore),
        }
    }

    /// An error of this function.
    pub fn error(&self, message: String) -> SqlError {
        SqlError::Argument { function: self.function, message }
    }
}

/// Which strands may pair (bedtools `-s` / `-S`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrandRule {
    /// Any.
    Ignore,
    /// The same strand (`-s`).
    Same,
    /// Opposite strands (`-S`).
    Opposite,
}

impl StrandRule {
    /// Whether strands `a` and `b` (`b'+'`, `b'-'`, `b'.'`) may pair. As in
    /// bedtools, an unstranded interval pairs with nothing under `-s`/`-S`
    /// except, under `-s`, another unstranded one.
    #[inline]
    pub fn allows(self, a: u8, b: u8) -> bool {
        match self {
            StrandRule::Ignore => true,
            StrandRule::Same => a == b,
            StrandRule::Opposite => (a == b'+' && b == b'-') || (a == b'-' && b == b'+'),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_and_reject() {
        let known = [("-d", Takes::Value), ("-s", Takes::Nothing), ("-S", Takes::Nothing)];
        let f = Flags::parse("merge", " -d 100  -s", &known).unwrap();
        assert_eq!(f.int("-d", 0).unwrap(), 100);
        assert_eq!(f.strand().unwrap(), StrandRule::Same);
        let e = Flags::parse("merge", "-x", &known).unwrap_err().to_string();
        assert_eq!(e, "merge: unknown option '-x' (options: -d -s -S)");
        assert!(Flags::parse("merge", "-d", &known).unwrap_err().to_string().contains("-d needs a value"));
        assert!(Flags::parse("merge", "-d x", &known).unwrap().int("-d", 0).is_err());
        assert!(Flags::parse("merge", "-s -S", &known).unwrap().strand().is_err());
    }
}
