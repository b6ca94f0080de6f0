//! [`InitError`]: why [`init`](crate::init) installed nothing.

use crate::config::ConfigError;

/// Why [`init`](crate::init) (or [`InitBuilder::init`](crate::InitBuilder::init)) installed
/// nothing. It never panics.
///
/// ```
/// use tracing_subscriber::prelude::*;
///
/// // Someone else's subscriber first (lambda_runtime's init_default_subscriber, say):
/// tracing_subscriber::registry().init();
///
/// match lambda_perf_core::init() {
///     Err(lambda_perf_core::InitError::AlreadySet { subscriber }) => {
///         // What lambda-perf built, usable where it can still be set (a thread, a scope).
///         tracing::dispatcher::with_default(&subscriber, || tracing::info!("hello"));
///     }
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// A global `tracing` subscriber was installed before: there can be only one per
    /// process. Compose lambda-perf's layers into that one instead, with
    /// [`InitBuilder::layer`](crate::InitBuilder::layer).
    #[error(
        "a global tracing subscriber is already set, so lambda-perf's was not installed; \
         add InitBuilder::layer() to your own registry instead"
    )]
    AlreadySet {
        /// The subscriber lambda-perf built, handed back: it can still be made the default
        /// of a thread or a scope (`tracing::dispatcher::set_default`, `with_default`).
        subscriber: tracing::Dispatch,
    },
    /// A setting given in code is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
}
