//! [`PerfService`]: the service [`PerfLayer`](super::PerfLayer) wraps around a handler.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use lambda_runtime::LambdaEvent;
use tower::Service;

use super::PerfFuture;
use super::capture::{ResponseCapture, SerializeResponse};
use super::invocation_future;
use crate::formats::faas_trigger::FaasTrigger;
use crate::invocation::instrumentation::Instrumentation;
use crate::invocation::readiness;

/// A handler instrumented by [`PerfLayer`](super::PerfLayer). `Response` and `Error` are the
/// inner service's; `poll_ready` is the inner service's.
pub struct PerfService<S, C = SerializeResponse> {
    pub(super) inner: S,
    pub(super) instrumentation: Arc<Instrumentation>,
    _capture: PhantomData<fn() -> C>,
}

/// A clone made before the first invocation (one per worker of `run_concurrent`) is, like
/// the original, built right before the runtime asks for work.
impl<S: Clone, C> Clone for PerfService<S, C> {
    fn clone(&self) -> Self {
        readiness::mark_ready();
        Self::new(self.inner.clone(), Arc::clone(&self.instrumentation))
    }
}

impl<S: fmt::Debug, C> fmt::Debug for PerfService<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PerfService")
            .field("inner", &self.inner)
            .field("instrumentation", &self.instrumentation)
            .finish()
    }
}

impl<S, C> PerfService<S, C> {
    pub(super) fn new(inner: S, instrumentation: Arc<Instrumentation>) -> Self {
        Self {
            inner,
            instrumentation,
            _capture: PhantomData,
        }
    }

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

impl<S, T, C> Service<LambdaEvent<T>> for PerfService<S, C>
where
    S: Service<LambdaEvent<T>>,
    S::Error: fmt::Debug + 'static,
    C: ResponseCapture<S::Response>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = PerfFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    // Not inlined into the runtime's layers: inlined, the event's moves through them (the
    // runtime's response and panic layers, then this call) became long runs of copies in
    // their code, 45 more lines of code for every invocation to fetch after a pause
    // (`bench/run`'s cache lines under the runtime loop, unsampled: 194 added lines before
    // the response, 148 with this).
    #[inline(never)]
    fn call(&mut self, event: LambdaEvent<T>) -> Self::Future {
        let invocation =
            invocation_future::begin(&self.instrumentation, &event.context, FaasTrigger::Other);

        PerfFuture::start(invocation, || self.inner.call(event))
    }
}
