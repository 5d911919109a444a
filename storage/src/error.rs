//! The storage crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong in the storage layer. Messages name the file,
/// line, record or argument at fault so a user can fix the input.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// An I/O error on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file being read or written.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A malformed input file (FASTA, BED, bigWig, ...).
    #[error("{path}{}: {message}", .line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Format {
        /// The input file.
        path: PathBuf,
        /// 1-based line number where known.
        line: Option<u64>,
        /// What is wrong.
        message: String,
    },
    /// A bad argument (name, width, stride, coordinates, ...).
    #[error("invalid {what}: {message}")]
    InvalidArgument {
        /// The argument at fault, e.g. `--window`.
        what: String,
        /// What is wrong with it.
        message: String,
    },
    /// A named object that does not exist.
    #[error("unknown {kind} '{name}'{}", if .known.is_empty() { String::new() } else { format!(" (known: {})", .known.join(", ")) })]
    NotFound {
        /// Kind of object: assembly, chromosome, window set, track, model.
        kind: &'static str,
        /// The name asked for.
        name: String,
        /// The names that do exist.
        known: Vec<String>,
    },
    /// An object that already exists.
    #[error("{kind} '{name}' already exists{hint}")]
    AlreadyExists {
        /// Kind of object.
        kind: &'static str,
        /// Its name.
        name: String,
        /// How to proceed, e.g. " (use --replace)".
        hint: String,
    },
    /// Coordinates outside a chromosome or inverted.
    #[error("invalid range {chrom}:{start}-{end} (0-based half-open){}: {message}", "")]
    Range {
        /// Chromosome.
        chrom: String,
        /// 0-based start.
        start: u64,
        /// 0-based exclusive end.
        end: u64,
        /// What is wrong.
        message: String,
    },
    /// The database directory is locked by another process.
    #[error("database {path} is in use by another omicsdb process (lock file {path}/LOCK); close it first")]
    Locked {
        /// The database directory.
        path: PathBuf,
    },
    /// The catalog could not be read or written.
    #[error("catalog: {0}")]
    Catalog(String),
    /// Parquet/Arrow failures writing or reading data files.
    #[error("data file {path}: {message}")]
    Data {
        /// The data file.
        path: PathBuf,
        /// The error.
        message: String,
    },
}

/// Result alias for the storage crate.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

impl StorageError {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StorageError::Io { path: path.into(), source }
    }

    /// A format error at a file (and optionally a line).
    pub fn format(path: impl Into<PathBuf>, line: Option<u64>, message: impl Into<String>) -> Self {
        StorageError::Format { path: path.into(), line, message: message.into() }
    }

    /// An invalid argument.
    pub fn invalid(what: impl Into<String>, message: impl Into<String>) -> Self {
        StorageError::InvalidArgument { what: what.into(), message: message.into() }
    }
}

impl From<sled::Error> for StorageError {
    fn from(e: sled::Error) -> Self {
        StorageError::Catalog(e.to_string())
    }
}
