//! [`PerfFuture`]: the handler's future, run inside its invocation.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::facts::Outcome;
use crate::invocation::Scoped;

pin_project! {
    /// The future of [`PerfService`](super::PerfService): runs the handler with its invocation
    /// as task-local state and, when it completes, writes the invocation's metrics. The output
    /// is the handler's, untouched; a panic is flushed and then continues to the runtime. A
    /// future dropped before completion flushes too.
    pub struct PerfFuture<F> {
        #[pin]
        inner: Scoped<F>,
    }

    impl<F> PinnedDrop for PerfFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(invocation) = this.project().inner.take_value() {
                invocation.into_inner().finish(Outcome::Cancelled);
            }
        }
    }
}

impl<F> PerfFuture<F> {
    pub(super) fn new(inner: Scoped<F>) -> Self {
        Self { inner }
    }
}

impl<F, R, E> Future for PerfFuture<F>
where
    F: Future<Output = Result<R, E>>,
{
    type Output = Result<R, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut inner = self.project().inner;
        match catch_unwind(AssertUnwindSafe(|| inner.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => {
                let outcome = if output.is_ok() {
                    Outcome::Success
                } else {
                    Outcome::Error
                };
                if let Some(invocation) = inner.take_value() {
                    invocation.into_inner().finish(outcome);
                }
                Poll::Ready(output)
            }
            Err(panic) => {
                if let Some(invocation) = inner.take_value() {
                    invocation.into_inner().finish(Outcome::Panic);
                }
                resume_unwind(panic)
            }
        }
    }
}
