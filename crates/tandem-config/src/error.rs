//! Configuration errors: each names the file, the key and the problem.

use std::path::PathBuf;
use thiserror::Error;

/// A configuration that cannot be used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The file cannot be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The system's reason.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or a key is unknown or has the wrong type.
    #[error("{path}: {key}: {problem}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The key, dotted (`sip.listen[1]`), or `-` for the whole file.
        key: String,
        /// What is wrong, with line and column when known.
        problem: String,
    },
    /// A value is well-formed but unusable.
    #[error("{path}: {key}: {problem}")]
    Invalid {
        /// The file (or `command line`).
        path: PathBuf,
        /// The key, dotted.
        key: String,
        /// What is wrong and what is expected.
        problem: String,
    },
}
