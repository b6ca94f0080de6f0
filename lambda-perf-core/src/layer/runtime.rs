//! [`PerfRuntimeLayer`]: the runtime-level companion of [`PerfLayer`](super::PerfLayer), so
//! the client gets its answer before the telemetry is written.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use lambda_runtime::LambdaInvocation;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::invocation::deferral::Window;

/// Writes an invocation's telemetry after the runtime has posted its response.
///
/// [`PerfLayer`](super::PerfLayer) (or `#[instrument_lambda]`) records an invocation around
/// the handler; by default it writes what it recorded — the invocation's EMF line(s), the
/// handler subsegment's X-Ray datagram, the OpenTelemetry export — the moment the handler
/// returns, before `lambda_runtime` posts the response. Added with
/// [`Runtime::layer`](lambda_runtime::Runtime::layer), this layer wraps the whole invocation,
/// the response's POST included, and moves those writes after it: the client's latency no
/// longer includes them, and they still happen before the runtime asks for the next event
/// (when Lambda may freeze the process). Before writing, unless other invocations are in
/// progress in the process, it gives up the CPU once (`sched_yield(2)`), so that the Runtime
/// API, if it waits for this CPU to take the response, takes it first.
///
/// What is not moved: the `ColdStart` line, written before the handler runs (so a failing
/// first invocation still counts), nested subsegments, sent as they close, the
/// `ClientInitDuration` line of a lazy client created in the handler, written as it is
/// created (beside a creation that takes far longer), and the watchdog's writes near the
/// deadline, which cannot wait for a response that may never come.
/// Writes still waiting for the POST when the watchdog's moment comes (a streamed response
/// that outlasts the deadline, say) are written then, as they are; either way the companion
/// completes only once what the watchdog writes is out. If the runtime drops the invocation
/// (it shuts down), the writes happen then. Without this
/// layer nothing changes; with it and neither `PerfLayer` nor `#[instrument_lambda]`, it does
/// nothing. (A handler under `#[instrument_lambda]` goes to
/// `Runtime::new(service_fn(handler))`, and this layer is added to it the same way.)
///
/// ```no_run
/// use lambda_perf_core::{PerfLayer, PerfRuntimeLayer};
/// use lambda_runtime::{Error, LambdaEvent, Runtime};
/// use serde_json::Value;
/// use tower::ServiceBuilder;
///
/// async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
///     Ok(event.payload)
/// }
///
/// #[tokio::main]
/// async fn main() -> Result<(), Error> {
///     let service = ServiceBuilder::new()
///         .layer(PerfLayer::from_env())
///         .service_fn(handler);
///     Runtime::new(service).layer(PerfRuntimeLayer::new()).run().await
/// }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct PerfRuntimeLayer {
    _private: (),
}

impl PerfRuntimeLayer {
    /// The companion layer.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> Layer<S> for PerfRuntimeLayer {
    type Service = PerfRuntimeService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PerfRuntimeService { inner }
    }
}

/// The runtime's invocation service wrapped by [`PerfRuntimeLayer`]; `Response` and `Error`
/// are the inner service's.
#[derive(Clone, Debug)]
pub struct PerfRuntimeService<S> {
    inner: S,
}

impl<S> PerfRuntimeService<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S> Service<LambdaInvocation> for PerfRuntimeService<S>
where
    S: Service<LambdaInvocation>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = PerfRuntimeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, invocation: LambdaInvocation) -> Self::Future {
        // Open before the inner call: the handler's invocation may begin inside it.
        let window = Window::open(&invocation.context.request_id);
        PerfRuntimeFuture {
            inner: self.inner.call(invocation),
            window: Some(window),
        }
    }
}

pin_project! {
    /// The future of [`PerfRuntimeService`]: the runtime's handling of one invocation (the
    /// handler, then the response's POST), then the invocation's telemetry. Its output is the
    /// inner future's, unchanged.
    pub struct PerfRuntimeFuture<F> {
        #[pin]
        inner: F,
        window: Option<Window>,
    }
}

impl<F> fmt::Debug for PerfRuntimeFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PerfRuntimeFuture").finish_non_exhaustive()
    }
}

impl<F: Future> Future for PerfRuntimeFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let output = std::task::ready!(this.inner.poll(cx));
        // The response is posted (or could not be): now the telemetry.
        if let Some(window) = this.window.take() {
            window.close();
        }
        Poll::Ready(output)
    }
}
