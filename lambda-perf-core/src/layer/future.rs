//! [`PerfFuture`]: the handler's future, run inside its invocation.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::capture::{Failure, ResponseCapture};
use crate::facts::Outcome;
use crate::invocation::{Ending, Scoped};

pin_project! {
    /// The future of [`PerfService`](super::PerfService): runs the handler with its invocation
    /// as task-local state and, when it completes, sends the handler subsegment and writes the
    /// invocation's metrics. The output is the handler's, untouched; a panic is recorded and
    /// then continues to the runtime. A future dropped before completion is recorded too.
    pub struct PerfFuture<F, C> {
        #[pin]
        inner: Scoped<F>,
        _capture: PhantomData<fn() -> C>,
    }

    impl<F, C> PinnedDrop for PerfFuture<F, C> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(invocation) = this.project().inner.take_value() {
                invocation.into_inner().finish(Outcome::Cancelled, Ending::default());
            }
        }
    }
}

impl<F, C> PerfFuture<F, C> {
    pub(super) fn new(inner: Scoped<F>) -> Self {
        Self {
            inner,
            _capture: PhantomData,
        }
    }
}

impl<F, C> fmt::Debug for PerfFuture<F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PerfFuture").finish_non_exhaustive()
    }
}

impl<F, C, R, E> Future for PerfFuture<F, C>
where
    F: Future<Output = Result<R, E>>,
    C: ResponseCapture<R>,
    E: fmt::Debug + 'static,
{
    type Output = Result<R, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut inner = self.project().inner;
        match catch_unwind(AssertUnwindSafe(|| inner.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => {
                if let Some(invocation) = inner.take_value() {
                    let invocation = invocation.into_inner();
                    let (outcome, ending) = match &output {
                        Ok(response) => (
                            Outcome::Success,
                            Ending {
                                response: invocation
                                    .wants_response()
                                    .then(|| C::capture(response))
                                    .flatten(),
                                failure: None,
                            },
                        ),
                        Err(error) => (
                            Outcome::Error,
                            Ending {
                                response: None,
                                failure: invocation
                                    .trace
                                    .is_some()
                                    .then(|| Failure::from_error(error)),
                            },
                        ),
                    };
                    invocation.finish(outcome, ending);
                }
                Poll::Ready(output)
            }
            Err(panic) => {
                if let Some(invocation) = inner.take_value() {
                    let ending = Ending {
                        response: None,
                        failure: Some(Failure::from_panic(&*panic)),
                    };
                    invocation.into_inner().finish(Outcome::Panic, ending);
                }
                resume_unwind(panic)
            }
        }
    }
}
