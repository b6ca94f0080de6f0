//! The handler's future inside its invocation, shared by [`PerfLayer`](crate::PerfLayer) and
//! `#[instrument_lambda]`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::formats::failure::Failure;
use crate::invocation::current::{self, Current, Scoped};
use crate::invocation::instrumentation::Instrumentation;
use crate::invocation::lifecycle::Invocation;
use crate::invocation::outcome::Outcome;
use crate::invocation::panic;

/// How a handler's `Ok` and `Err` are described for the records.
pub trait DescribeResult<R, E> {
    /// Appends the response as JSON (trace metadata) to `out`; returns whether it did:
    /// `false` records none.
    fn write_response(&self, response: &R, out: &mut Vec<u8>) -> bool;
    /// The error's type and message.
    fn failure(&self, error: &E) -> Failure;
}

/// An invocation this instrumentation began, or the one it runs inside.
#[derive(Debug)]
pub(crate) enum Begun {
    /// Begun here: ended by the handler's future.
    Own(Arc<Invocation>),
    /// Already begun by an instrumentation around this one (a `PerfLayer` around an
    /// `#[instrument_lambda]` handler, a test's recorder): that one records the invocation,
    /// once.
    Nested(Current),
}

/// Begins the invocation of `context` — unless the caller already runs inside one.
pub(crate) fn begin(
    instrumentation: &Arc<Instrumentation>,
    context: &lambda_runtime::Context,
) -> Begun {
    match current::carried() {
        Some(outer) => Begun::Nested(outer),
        None => Begun::Own(Invocation::begin(instrumentation, context)),
    }
}

pin_project! {
    /// Runs the handler with its invocation current and, when it completes, ends the
    /// invocation: the handler subsegment sent, the invocation's metrics written. The output
    /// is the handler's, untouched; a panic is recorded and then continues to the runtime. A
    /// future dropped before completion ends its invocation as cancelled.
    pub struct InvocationFuture<F, D> {
        #[pin]
        inner: Scoped<F>,
        invocation: Option<Arc<Invocation>>,
        // Dropped after `inner`, which holds the invocation too.
        ended: Ended,
        describe: D,
    }

    impl<F, D> PinnedDrop for InvocationFuture<F, D> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(invocation) = this.invocation.take() {
                invocation.finish(Outcome::Cancelled);
                this.ended.0 = Some(invocation);
            }
        }
    }
}

/// The invocation once ended, handed back for reuse when the future is dropped.
#[derive(Default)]
struct Ended(Option<Arc<Invocation>>);

impl Drop for Ended {
    fn drop(&mut self) {
        if let Some(invocation) = self.0.take() {
            Invocation::recycle(invocation);
        }
    }
}

impl<F: Future, D> InvocationFuture<F, D> {
    /// Runs `future` inside the invocation.
    #[inline]
    pub(crate) fn new(begun: Begun, future: F, describe: D) -> Self {
        match begun {
            Begun::Own(invocation) => {
                let current = Current::new(Arc::clone(&invocation), None);
                Self::running(current, Some(invocation), future, describe)
            }
            Begun::Nested(outer) => Self::running(outer, None, future, describe),
        }
    }

    /// Runs `future` with `current`, ending `invocation` (when it is its own) as it completes.
    #[inline]
    fn running(
        current: Current,
        invocation: Option<Arc<Invocation>>,
        future: F,
        describe: D,
    ) -> Self {
        Self {
            inner: current::scope(current, future),
            invocation,
            ended: Ended::default(),
            describe,
        }
    }
}

impl<F, D> fmt::Debug for InvocationFuture<F, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InvocationFuture").finish_non_exhaustive()
    }
}

impl<F, D, R, E> Future for InvocationFuture<F, D>
where
    F: Future<Output = Result<R, E>>,
    D: DescribeResult<R, E>,
{
    type Output = Result<R, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut inner = this.inner;
        match panic::catch(|| inner.as_mut().poll(cx)) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => {
                if let Some(invocation) = this.invocation.take() {
                    // The response's `Serialize` and the error's `Debug` are user code: a
                    // panic there must not turn the handler's answer into a panic.
                    let outcome = panic::catch(|| describe(&invocation, this.describe, &output))
                        .unwrap_or_else(|panic| match &output {
                            Ok(_) => Outcome::Success(None),
                            Err(_) => Outcome::Error(Some(Failure::describing_panicked(&*panic))),
                        });
                    invocation.finish(outcome);
                    this.ended.0 = Some(invocation);
                }
                Poll::Ready(output)
            }
            Err(panic) => {
                if let Some(invocation) = this.invocation.take() {
                    invocation.finish(Outcome::Panic(Failure::from_panic(&*panic)));
                }
                panic::resume(panic)
            }
        }
    }
}

/// How a completed handler ended, with what the records keep of it.
fn describe<R, E, D: DescribeResult<R, E>>(
    invocation: &Invocation,
    describe: &D,
    output: &Result<R, E>,
) -> Outcome {
    match output {
        Ok(response) => Outcome::Success(invocation.response_buffer().and_then(|mut out| {
            if describe.write_response(response, &mut out) {
                Some(out)
            } else {
                invocation.give_back_response_buffer(out);
                None
            }
        })),
        Err(error) => Outcome::Error(invocation.is_recording().then(|| describe.failure(error))),
    }
}

/// Begins the invocation of `event` (unless the caller already runs inside one) and runs a
/// handler: `call` creates its future from `event` inside the invocation (so that what `call`
/// itself records — a span opened around the handler, say — belongs to it). `context` finds
/// the event's Lambda context (a default one stands in where it has none). A panic while
/// creating the future (a hand-written `Service::call`) ends the invocation, then continues.
///
/// The invocation's future is handed to `wrap` as soon as it is made, so that what wraps it
/// (the [`PerfFuture`](super::PerfFuture)) is built in place rather than moved into: the
/// handler's future holds its event, hundreds of bytes that every move copies. For the same
/// reason the event stays where the caller put it, and is read out of it once, by `call`:
/// moved after the beginning was given a reference into it, it would be copied (the compiler
/// cannot tell that the beginning kept no such reference), and so would it into a closure that
/// held it, or a `ManuallyDrop`. `call` holds only a reference to the service.
#[inline]
pub(crate) fn start<E, F: Future, D, W>(
    instrumentation: &Arc<Instrumentation>,
    event: E,
    context: impl FnOnce(&E) -> Option<&lambda_runtime::Context>,
    call: impl FnOnce(E) -> F,
    describe: D,
    wrap: impl FnOnce(InvocationFuture<F, D>) -> W,
) -> W {
    let begun = match context(&event) {
        Some(context) => begin(instrumentation, context),
        None => begin(instrumentation, &lambda_runtime::Context::default()),
    };
    let invocation = match begun {
        Begun::Own(invocation) => invocation,
        nested @ Begun::Nested(_) => {
            return wrap(InvocationFuture::new(nested, call(event), describe));
        }
    };
    // The same `Current` is set while `call` runs and carried by the future after.
    let current = Current::new(Arc::clone(&invocation), None);
    let created = current::sync_scope(&current, || {
        panic::catch(|| {
            // SAFETY: `event` is read once, here (`catch` runs this `FnOnce` at most once), and
            // forgotten after the catch without being dropped: only this copy is dropped (by
            // `call`, or the future it makes). Nothing between this read and the `forget` can
            // unwind: `catch` returns whatever `call` does, and leaving the scope only sets a
            // thread-local `Cell`. Were this closure never run, the event would only leak.
            #[allow(unsafe_code)]
            let event = unsafe { std::ptr::read(&event) };
            call(event)
        })
    });
    // Read above: dropping it too would drop the event twice.
    std::mem::forget(event);
    match created {
        Ok(future) => wrap(InvocationFuture::running(
            current,
            Some(invocation),
            future,
            describe,
        )),
        Err(panic) => {
            invocation.finish(Outcome::Panic(Failure::from_panic(&*panic)));
            panic::resume(panic)
        }
    }
}
