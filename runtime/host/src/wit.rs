//! The versions of the `weft:plugin` WIT package this host serves, one module each (as Zed's
//! extension host keeps `since_v0_1_0`, `since_v0_2_0`, ...): a component is linked through
//! the module of the version it was built against, so adding a version never touches the
//! code that serves the older ones. [`latest`] is the version new plugins are built against
//! (`weft plugin wit` writes it).

pub mod since_v0_1_0;

pub use since_v0_1_0 as latest;

/// The versions a component may be built against, oldest first.
pub const SUPPORTED: &[&str] = &[since_v0_1_0::VERSION];
