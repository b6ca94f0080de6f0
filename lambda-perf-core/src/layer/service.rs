//! [`PerfService`]: the service [`PerfLayer`](super::PerfLayer) wraps around a handler.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use lambda_runtime::LambdaEvent;
use tower::Service;

use super::{PerfConfig, PerfFuture};
use crate::capture::{ResponseCapture, SerializeResponse};
use crate::invocation::Invocation;

/// A handler instrumented by [`PerfLayer`](super::PerfLayer). `Response` and `Error` are the
/// inner service's; `poll_ready` is the inner service's.
pub struct PerfService<S, C = SerializeResponse> {
    pub(super) inner: S,
    pub(super) config: Arc<PerfConfig>,
    _capture: PhantomData<fn() -> C>,
}

impl<S: Clone, C> Clone for PerfService<S, C> {
    fn clone(&self) -> Self {
        Self::new(self.inner.clone(), Arc::clone(&self.config))
    }
}

impl<S: fmt::Debug, C> fmt::Debug for PerfService<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PerfService")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .finish()
    }
}

impl<S, C> PerfService<S, C> {
    pub(super) fn new(inner: S, config: Arc<PerfConfig>) -> Self {
        Self {
            inner,
            config,
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

    fn call(&mut self, event: LambdaEvent<T>) -> Self::Future {
        let invocation = Invocation::begin(&self.config, &event.context);

        PerfFuture::start(invocation, || self.inner.call(event))
    }
}
