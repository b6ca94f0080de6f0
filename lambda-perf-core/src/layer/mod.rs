//! [`PerfLayer`]: the tower middleware that instruments a Lambda handler.
//!
//! `PerfLayer` wraps any `Service<LambdaEvent<T>>` (a `service_fn`, an existing tower stack)
//! and leaves its `Response` and `Error` types as they are, so `lambda_runtime::run` accepts
//! the wrapped service unchanged. For every invocation it:
//!
//! 1. classifies the start ([`StartKind`](crate::StartKind)) and computes the
//!    [`InvocationFacts`](crate::InvocationFacts);
//! 2. on `cold` and `restart`, writes the `ColdStart` EMF line *before* the handler runs;
//! 3. runs the handler with the invocation as task-local state, so
//!    [`metrics`](crate::metrics) and [`InvocationFacts::current`](crate::InvocationFacts::current)
//!    reach it;
//! 4. writes the invocation's EMF line when the handler returns — `Ok`, `Err` or panic — and
//!    hands the result back untouched (a panic continues to the runtime).
//!
//! ```no_run
//! use lambda_perf_core::PerfLayer;
//! use lambda_runtime::{Error, LambdaEvent, service_fn};
//! use serde_json::Value;
//! use tower::ServiceBuilder;
//!
//! async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
//!     Ok(event.payload)
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     lambda_runtime::run(
//!         ServiceBuilder::new()
//!             .layer(PerfLayer::from_env())
//!             .service_fn(handler),
//!     )
//!     .await
//! }
//! ```

mod builder;
mod config;
mod future;
mod service;

use std::sync::Arc;

use tower::Layer;

pub use self::builder::PerfLayerBuilder;
pub(crate) use self::config::PerfConfig;
pub use self::future::PerfFuture;
pub use self::service::PerfService;

/// Instruments a Lambda handler: start classification, invocation facts and EMF metrics.
///
/// Cloning is cheap (the configuration is shared); see the [module docs](self).
#[derive(Clone, Debug)]
pub struct PerfLayer {
    pub(crate) config: Arc<PerfConfig>,
}

impl PerfLayer {
    /// A layer configured by the environment (see [`config`](crate::config)). Never fails:
    /// bad values cost one warning each and fall back to their defaults.
    #[must_use]
    pub fn from_env() -> Self {
        Self::builder().build_lenient()
    }

    /// A builder that starts from the environment's settings.
    pub fn builder() -> PerfLayerBuilder {
        PerfLayerBuilder::from_env()
    }
}

impl<S> Layer<S> for PerfLayer {
    type Service = PerfService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PerfService::new(inner, Arc::clone(&self.config))
    }
}
