//! [`PerfService`]: the service [`PerfLayer`](super::PerfLayer) wraps around a handler.

use std::fmt;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::task::{Context, Poll};

use lambda_runtime::LambdaEvent;
use tower::Service;

use super::{PerfConfig, PerfFuture};
use crate::capture::{Failure, ResponseCapture, SerializeResponse};
use crate::config::trace_header_from_env;
use crate::facts::{InvocationFacts, Outcome};
use crate::invocation::{Ending, Invocation};
use crate::metrics::cold_start;

/// A handler instrumented by [`PerfLayer`](super::PerfLayer). `Response` and `Error` are the
/// inner service's; `poll_ready` is the inner service's.
pub struct PerfService<S, C = SerializeResponse> {
    inner: S,
    config: Arc<PerfConfig>,
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
        let config = &self.config;
        let start = config.tracker.begin(config.initialization_type);
        let context = &event.context;
        let facts = InvocationFacts::new(start, context.request_id.clone(), context.deadline);
        cold_start::write_line(config, &facts, &context.env_config.function_name);
        // The invocation's own header; the process-wide variable only for runtimes that set it
        // and send none (in concurrent mode Lambda sets no variable at all).
        let env_header;
        let header = match &context.xray_trace_id {
            Some(header) => Some(header.as_str()),
            None if config.trace_disabled => None,
            None => {
                env_header = trace_header_from_env();
                env_header.as_deref()
            }
        };
        let invocation = Invocation::new(Arc::clone(config), facts, header);

        // A panic while creating the future (a hand-written `call`) still flushes.
        match catch_unwind(AssertUnwindSafe(|| self.inner.call(event))) {
            Ok(future) => PerfFuture::new(invocation.scope(future)),
            Err(panic) => {
                let ending = Ending {
                    response: None,
                    failure: Some(Failure::from_panic(&*panic)),
                };
                invocation.finish(Outcome::Panic, ending);
                resume_unwind(panic)
            }
        }
    }
}
