//! What can go wrong between ranks.

/// A failed rendezvous or collective, or a launch environment that does not add up.
#[derive(Debug, thiserror::Error)]
pub enum DistError {
    /// The launch settings (environment, flags, config) are inconsistent.
    #[error("{0}")]
    Launch(String),
    /// c10d refused or failed (a rank left, a timeout, a port in use); libtorch's words.
    #[error("{0}")]
    C10d(String),
}
