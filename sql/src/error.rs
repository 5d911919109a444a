//! The error type of the SQL crate.

use datafusion::error::DataFusionError;

/// Errors raised by omicsdb's SQL layer outside DataFusion's own planning
/// and execution errors (file table functions, sequence sources).
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// A file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file being read.
        path: String,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A line of a text file (BED, FASTA) is malformed.
    #[error("{path}:{line}: {message}")]
    Malformed {
        /// The file being read.
        path: String,
        /// 1-based line number of the offending line.
        line: u64,
        /// What is wrong with it, naming the field.
        message: String,
    },
    /// A table function was asked for a file outside the directories it may
    /// read (see [`crate::table_functions::access::FileAccess`]).
    #[error("{function}: permission denied: '{path}' is not under a directory file functions may read; {allowed}")]
    AccessDenied {
        /// The function name, e.g. `read_bed`.
        function: &'static str,
        /// The path as given in the query.
        path: String,
        /// The directories that are allowed.
        allowed: crate::table_functions::access::AllowedDirs,
    },
    /// A table function was called with bad arguments.
    #[error("{function}: {message}")]
    Argument {
        /// The function name, e.g. `read_bed`.
        function: &'static str,
        /// What is wrong, naming the argument.
        message: String,
    },
    /// The worker threads of an operator could not be started.
    #[error("cannot start worker threads: {0}")]
    Threads(#[from] rayon::ThreadPoolBuildError),
}

impl From<SqlError> for DataFusionError {
    fn from(e: SqlError) -> Self {
        match e {
            SqlError::Argument { .. } => DataFusionError::Plan(e.to_string()),
            other => DataFusionError::External(Box::new(other)),
        }
    }
}
