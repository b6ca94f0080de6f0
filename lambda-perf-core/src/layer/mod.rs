//! [`PerfLayer`]: the tower middleware that instruments a Lambda handler.
//!
//! `PerfLayer` wraps any `Service<LambdaEvent<T>>` (a `service_fn`, an existing tower stack)
//! and leaves its `Response` and `Error` types as they are, so `lambda_runtime::run` accepts
//! the wrapped service unchanged. For every invocation it:
//!
//! 1. classifies the start ([`StartKind`](crate::StartKind)) and computes the
//!    [`InvocationFacts`](crate::InvocationFacts);
//! 2. on `cold` and `restart`, writes the `ColdStart` EMF line *before* the handler runs;
//! 3. runs the handler with the invocation current (set while its future is polled), so
//!    [`metrics`](crate::metrics) and [`InvocationFacts::current`](crate::InvocationFacts::current)
//!    reach it;
//! 4. writes the invocation's EMF line when the handler returns — `Ok`, `Err` or panic — if
//!    it recorded a metric (as Powertools, none without one), and hands the result back
//!    untouched (a panic continues to the runtime).
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
pub(crate) mod capture;
mod future;
#[cfg(feature = "http")]
mod http;
pub(crate) mod invocation_future;
mod runtime;
mod service;

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use tower::Layer;

pub use self::builder::PerfLayerBuilder;
pub use self::capture::{NoResponseCapture, ResponseCapture, SerializeResponse};
pub use self::future::PerfFuture;
#[cfg(feature = "http")]
pub use self::http::HttpStatus;
pub use self::runtime::{PerfRuntimeFuture, PerfRuntimeLayer, PerfRuntimeService};
pub use self::service::PerfService;
use crate::invocation::instrumentation::Instrumentation;
use crate::invocation::readiness;

/// Instruments a Lambda handler: start classification, invocation facts, EMF metrics and
/// X-Ray subsegments.
///
/// `C` says how the response becomes trace metadata: [`SerializeResponse`] (the default)
/// for any `Serialize` response, [`NoResponseCapture`] after
/// [`without_response_capture`](Self::without_response_capture) for the others.
///
/// Cloning is cheap (the configuration is shared); see the [module docs](self).
///
/// ```no_run
/// use lambda_perf_core::PerfLayer;
/// use lambda_runtime::{Error, LambdaEvent};
/// use serde_json::Value;
/// use tower::ServiceBuilder;
///
/// async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
///     Ok(event.payload)
/// }
///
/// #[tokio::main]
/// async fn main() -> Result<(), Error> {
///     let layer = PerfLayer::builder().service("orders").build()?;
///     lambda_runtime::run(ServiceBuilder::new().layer(layer).service_fn(handler)).await
/// }
/// ```
pub struct PerfLayer<C = SerializeResponse> {
    pub(crate) instrumentation: Arc<Instrumentation>,
    _capture: PhantomData<fn() -> C>,
}

impl<C> Clone for PerfLayer<C> {
    fn clone(&self) -> Self {
        Self {
            instrumentation: Arc::clone(&self.instrumentation),
            _capture: PhantomData,
        }
    }
}

impl<C> fmt::Debug for PerfLayer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PerfLayer")
            .field("instrumentation", &self.instrumentation)
            .finish()
    }
}

impl<C> PerfLayer<C> {
    /// The same layer, recording no response metadata: for handlers whose response is not
    /// `Serialize` (streaming responses, for example).
    ///
    /// ```
    /// use lambda_perf_core::PerfLayer;
    /// use lambda_runtime::{Error, LambdaEvent};
    /// use tower::{Layer, service_fn};
    ///
    /// /// Not `Serialize`: the layer cannot record it as metadata.
    /// struct Opaque(std::fs::File);
    ///
    /// async fn handler(_event: LambdaEvent<()>) -> Result<Opaque, Error> {
    ///     Ok(Opaque(std::fs::File::open("/dev/null")?))
    /// }
    ///
    /// let service = PerfLayer::from_env()
    ///     .without_response_capture()
    ///     .layer(service_fn(handler));
    /// # let _ = service;
    /// ```
    #[must_use]
    pub fn without_response_capture(self) -> PerfLayer<NoResponseCapture> {
        self.with_response_capture()
    }

    /// The same layer, its responses captured by `C2`, a [`ResponseCapture`] of your own:
    /// to record part of a response, or what it says rather than what it holds. Its
    /// [`capture`](ResponseCapture::capture) returns the metadata's value (`None` records
    /// none), which the redaction hook, the size cap and the other limits then take as they
    /// take a whole response's. It serves `LambdaEvent` handlers: over a `lambda_http`
    /// handler (feature `http`) the layer captures the response's status, or nothing after
    /// [`without_response_capture`](Self::without_response_capture).
    ///
    /// ```
    /// use lambda_perf_core::{PerfLayer, ResponseCapture};
    /// use lambda_runtime::{Error, LambdaEvent};
    /// use serde_json::{Value, json};
    /// use tower::{Layer, service_fn};
    ///
    /// struct Order {
    ///     id: String,
    ///     lines: Vec<String>,
    /// }
    ///
    /// /// An order's id and its number of lines, not the lines themselves.
    /// struct OrderSummary;
    ///
    /// impl ResponseCapture<Order> for OrderSummary {
    ///     fn capture(order: &Order) -> Option<Value> {
    ///         Some(json!({ "id": order.id, "lines": order.lines.len() }))
    ///     }
    /// }
    ///
    /// async fn handler(_event: LambdaEvent<Value>) -> Result<Order, Error> {
    ///     Ok(Order { id: "o-1".into(), lines: vec!["book".into()] })
    /// }
    ///
    /// let service = PerfLayer::from_env()
    ///     .with_response_capture::<OrderSummary>()
    ///     .layer(service_fn(handler));
    /// # let _ = service;
    /// ```
    #[must_use]
    pub fn with_response_capture<C2>(self) -> PerfLayer<C2> {
        PerfLayer {
            instrumentation: self.instrumentation,
            _capture: PhantomData,
        }
    }
}

impl PerfLayer {
    /// The layer over `instrumentation`; building it claims the environment marker (see
    /// [`StartTracker::claim_marker_at_init`]). The process's default configuration, which
    /// is no layer, claims none: a function whose layer keeps no marker, or keeps it
    /// elsewhere, leaves none in the temp dir by writing a `SingleMetric`.
    ///
    /// [`StartTracker::claim_marker_at_init`]: crate::invocation::start_tracker::StartTracker::claim_marker_at_init
    pub(crate) fn with_instrumentation(instrumentation: Arc<Instrumentation>) -> Self {
        instrumentation
            .tracker
            .claim_marker_at_init(instrumentation.settings.initialization_type);
        Self {
            instrumentation,
            _capture: PhantomData,
        }
    }

    /// A layer configured by the environment (see [`config`](crate::config)). Never fails:
    /// bad values cost one warning each and fall back to their defaults.
    ///
    /// ```
    /// use lambda_perf_core::PerfLayer;
    /// use lambda_runtime::{Error, LambdaEvent};
    /// use tower::{Layer, service_fn};
    ///
    /// async fn handler(event: LambdaEvent<String>) -> Result<usize, Error> {
    ///     Ok(event.payload.len())
    /// }
    ///
    /// // POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE, ... as Lambda sets them.
    /// let service = PerfLayer::from_env().layer(service_fn(handler));
    /// # let _ = service;
    /// ```
    #[must_use]
    pub fn from_env() -> Self {
        Self::builder().build_lenient()
    }

    /// A builder that starts from the environment's settings.
    ///
    /// ```
    /// use lambda_perf_core::PerfLayer;
    ///
    /// let layer = PerfLayer::builder()
    ///     .service("orders")
    ///     .namespace("Shop")
    ///     .handler_name("checkout") // the subsegment is `## checkout`
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok::<(), lambda_perf_core::ConfigError>(())
    /// ```
    pub fn builder() -> PerfLayerBuilder {
        PerfLayerBuilder::from_env()
    }
}

impl<S, C> Layer<S> for PerfLayer<C> {
    type Service = PerfService<S, C>;

    /// Wraps `inner`. This is the moment lambda-perf takes as the end of init: the runtime
    /// asks for work right after the service is built (see [`InvocationFacts::init_duration`](crate::InvocationFacts::init_duration)).
    fn layer(&self, inner: S) -> Self::Service {
        readiness::mark_ready();
        PerfService::new(inner, Arc::clone(&self.instrumentation))
    }
}
