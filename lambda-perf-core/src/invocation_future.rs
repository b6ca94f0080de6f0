//! The handler's future inside its invocation, shared by [`PerfLayer`](crate::PerfLayer) and
//! `#[instrument_lambda]`.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use serde_json::Value;

use crate::capture::Failure;
use crate::facts::Outcome;
use crate::invocation::{Ending, Invocation, Scoped};

/// How a handler's `Ok` and `Err` are recorded in the trace.
pub trait Outcomes<R, E> {
    /// The response as trace metadata, or `None`.
    fn response(&self, response: &R) -> Option<Value>;
    /// The error's type and message.
    fn failure(&self, error: &E) -> Failure;
}

pin_project! {
    /// Runs the handler with its invocation as task-local state and, when it completes,
    /// sends the handler subsegment and writes the invocation's metrics. The output is the
    /// handler's, untouched; a panic is recorded and then continues to the runtime. A future
    /// dropped before completion is recorded too.
    pub struct InvocationFuture<F, O> {
        #[pin]
        inner: Scoped<F>,
        outcomes: O,
    }

    impl<F, O> PinnedDrop for InvocationFuture<F, O> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(invocation) = this.project().inner.take_value().and_then(RefCell::into_inner) {
                invocation.finish(Outcome::Cancelled, Ending::default());
            }
        }
    }
}

impl<F: Future, O> InvocationFuture<F, O> {
    /// Runs `future` inside `invocation` (`None`: uninstrumented).
    pub(crate) fn new(invocation: Option<Invocation>, future: F, outcomes: O) -> Self {
        Self {
            inner: Invocation::scope(invocation, future),
            outcomes,
        }
    }
}

impl<F, O> fmt::Debug for InvocationFuture<F, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InvocationFuture").finish_non_exhaustive()
    }
}

impl<F, O, R, E> Future for InvocationFuture<F, O>
where
    F: Future<Output = Result<R, E>>,
    O: Outcomes<R, E>,
{
    type Output = Result<R, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut inner = this.inner;
        let outcomes = this.outcomes;
        match catch_unwind(AssertUnwindSafe(|| inner.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => {
                if let Some(invocation) = inner.take_value().and_then(RefCell::into_inner) {
                    // The response's `Serialize` and the error's `Debug` are user code: a
                    // panic there must not turn the handler's answer into a panic.
                    let described = catch_unwind(AssertUnwindSafe(|| {
                        describe(&invocation, outcomes, &output)
                    }))
                    .unwrap_or_else(|panic| {
                        let failure = Failure::capture_panicked(&*panic);
                        match &output {
                            Ok(_) => (Outcome::Success, Ending::default()),
                            Err(_) => (
                                Outcome::Error,
                                Ending {
                                    response: None,
                                    failure: Some(failure),
                                },
                            ),
                        }
                    });
                    let (outcome, ending) = described;
                    invocation.finish(outcome, ending);
                }
                Poll::Ready(output)
            }
            Err(panic) => {
                if let Some(invocation) = inner.take_value().and_then(RefCell::into_inner) {
                    let ending = Ending {
                        response: None,
                        failure: Some(Failure::from_panic(&*panic)),
                    };
                    invocation.finish(Outcome::Panic, ending);
                }
                resume_unwind(panic)
            }
        }
    }
}

/// The outcome of a completed handler, with what the trace records of it.
fn describe<R, E, O: Outcomes<R, E>>(
    invocation: &Invocation,
    outcomes: &O,
    output: &Result<R, E>,
) -> (Outcome, Ending) {
    match output {
        Ok(response) => (
            Outcome::Success,
            Ending {
                response: invocation
                    .wants_response()
                    .then(|| outcomes.response(response))
                    .flatten(),
                failure: None,
            },
        ),
        Err(error) => (
            Outcome::Error,
            Ending {
                response: None,
                failure: invocation.trace.is_some().then(|| outcomes.failure(error)),
            },
        ),
    }
}
