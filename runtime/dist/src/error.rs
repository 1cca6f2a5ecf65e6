//! What can go wrong between ranks.

/// A failed rendezvous or collective, or a launch environment that does not add up.
#[derive(Debug, thiserror::Error)]
pub enum DistError {
    /// The launch settings (environment, flags, config) are inconsistent.
    #[error("{0}")]
    Launch(String),
    /// This rank's own step cannot be averaged (a parameter took no part in the loss).
    #[error("{0}")]
    Step(String),
    /// c10d refused or failed (a rank left, a timeout, a port in use); libtorch's words.
    #[error("{0}")]
    C10d(String),
}
