//! Data errors.

use thiserror::Error;

/// A dataset could not be read or a batch could not be built.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DataError {
    /// A file is missing; the message says how to get it.
    #[error("{message}")]
    Missing {
        /// What is missing and how to install it.
        message: String,
    },
    /// A file exists but is not what it should be.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// One sample could not be prepared (a missing or corrupt frame, a short video...).
    #[error("{sample}: {message}")]
    Sample {
        /// Which sample: its index, path and annotation line.
        sample: String,
        /// What went wrong, with the transform's name.
        message: String,
    },
    /// libtorch failed while building a batch.
    #[error("building a batch: {0}")]
    Torch(#[from] tch::TchError),
    /// A worker thread stopped unexpectedly.
    #[error("a data worker stopped: {0}")]
    Worker(String),
}
