//! [`PerfService`]: the service [`PerfLayer`](super::PerfLayer) wraps around a handler.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::task::{Context, Poll};

use lambda_runtime::LambdaEvent;
use tower::Service;

use super::{PerfConfig, PerfFuture};
use crate::facts::{InvocationFacts, Outcome};
use crate::invocation::Invocation;
use crate::metrics::cold_start;

/// A handler instrumented by [`PerfLayer`](super::PerfLayer). `Response` and `Error` are the
/// inner service's; `poll_ready` is the inner service's.
#[derive(Clone, Debug)]
pub struct PerfService<S> {
    inner: S,
    config: Arc<PerfConfig>,
}

impl<S> PerfService<S> {
    pub(super) fn new(inner: S, config: Arc<PerfConfig>) -> Self {
        Self { inner, config }
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

impl<S, T> Service<LambdaEvent<T>> for PerfService<S>
where
    S: Service<LambdaEvent<T>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = PerfFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, event: LambdaEvent<T>) -> Self::Future {
        let config = &self.config;
        let start = config.tracker.begin(config.initialization_type);
        let context = &event.context;
        let facts = InvocationFacts::new(start, context.request_id.clone(), context.deadline);
        cold_start::write_line(config, &facts, &context.env_config.function_name);
        let invocation = Invocation::new(Arc::clone(config), facts);

        // A panic while creating the future (a hand-written `call`) still flushes.
        match catch_unwind(AssertUnwindSafe(|| self.inner.call(event))) {
            Ok(future) => PerfFuture::new(invocation.scope(future)),
            Err(panic) => {
                invocation.finish(Outcome::Panic);
                resume_unwind(panic)
            }
        }
    }
}
