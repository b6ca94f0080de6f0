//! [`PerfFuture`]: the handler's future, run inside its invocation.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::capture::{JsonText, ResponseCapture};
use super::invocation_future::{self, Begun, DescribeResult, InvocationFuture};
use crate::formats::failure::Failure;

/// Records responses with `C` and errors by their type and message.
pub(crate) struct CaptureWith<C>(PhantomData<fn() -> C>);

impl<R, E: fmt::Debug + 'static, C: ResponseCapture<R>> DescribeResult<R, E> for CaptureWith<C> {
    fn write_response(&self, response: &R, out: &mut Vec<u8>) -> bool {
        C::write_json(response, JsonText(out))
    }

    fn failure(&self, error: &E) -> Failure {
        Failure::from_error(error)
    }
}

pin_project! {
    /// The future of [`PerfService`](super::PerfService): runs the handler with its invocation
    /// current and, when it completes, sends the handler subsegment and writes the
    /// invocation's metrics. The output is the handler's, untouched; a panic is recorded and
    /// then continues to the runtime. A future dropped before completion is recorded too.
    pub struct PerfFuture<F, C> {
        #[pin]
        inner: InvocationFuture<F, CaptureWith<C>>,
    }
}

impl<F: Future, C> PerfFuture<F, C> {
    /// Creates the handler's future with `call`, inside the invocation.
    #[inline]
    pub(super) fn start(begun: Begun, call: impl FnOnce() -> F) -> Self {
        invocation_future::start(begun, call, CaptureWith(PhantomData), |inner| Self {
            inner,
        })
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
        self.project().inner.poll(cx)
    }
}
