//! The handler's future inside its invocation, shared by [`PerfLayer`](crate::PerfLayer) and
//! `#[instrument_lambda]`.

use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::formats::faas_trigger::FaasTrigger;
use crate::formats::failure::Failure;
use crate::invocation::current::{self, Current, Scoped};
use crate::invocation::instrumentation::Instrumentation;
use crate::invocation::just_failed;
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

/// Begins the invocation of `context`, set off by `trigger` as far as the caller knows —
/// unless the caller already runs inside one. Inlined where a handler is called (one call
/// less before every handler).
#[inline(always)]
pub(crate) fn begin(
    instrumentation: &Arc<Instrumentation>,
    context: &lambda_runtime::Context,
    trigger: FaasTrigger,
) -> Begun {
    begin_with(|| Invocation::begin(instrumentation, context, trigger))
}

/// Begins an invocation with `own` — unless the caller already runs inside one, which records
/// it: `own` (and whatever it reads, a handler's configuration) is then not run.
#[inline]
pub(crate) fn begin_with(own: impl FnOnce() -> Arc<Invocation>) -> Begun {
    match current::carried() {
        Some(outer) => Begun::Nested(outer),
        None => Begun::Own(own()),
    }
}

pin_project! {
    /// Runs the handler with its invocation current and, when it completes, ends the
    /// invocation: the handler subsegment sent, the invocation's metrics written. The output
    /// is the handler's, untouched; a panic is recorded and then continues to the runtime. A
    /// future dropped before completion ends its invocation as cancelled.
    pub struct InvocationFuture<F, D> {
        // Its `Current` holds the invocation; when it is this future's own, that is the only
        // hold the future has, and it hands the invocation back for reuse as it is dropped
        // (`Current::owning`).
        #[pin]
        inner: Scoped<F>,
        // The invocation is this future's own, and not ended yet.
        to_end: bool,
        describe: D,
    }

    impl<F, D> PinnedDrop for InvocationFuture<F, D> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if std::mem::take(this.to_end) {
                cancel(this.inner);
            }
        }
    }
}

/// Ends, as cancelled, the invocation of a handler dropped before it completed: the handler's
/// future first, in scope, so that what its drop records (a client's creation it abandons, a
/// subsegment it closes) belongs to the invocation; then the invocation, also when that drop
/// panicked. Out of line: a completed invocation's drop is the check of `to_end` alone.
#[cold]
#[inline(never)]
fn cancel<F>(mut inner: Pin<&mut Scoped<F>>) {
    let dropped = panic::catch(|| inner.as_mut().drop_future());
    inner.current().invocation().finish(Outcome::Cancelled);
    if let Err(panic) = dropped {
        panic::resume(panic);
    }
}

impl<F: Future, D> InvocationFuture<F, D> {
    /// Runs `future` inside the invocation.
    #[inline]
    pub(crate) fn new(begun: Begun, future: F, describe: D) -> Self {
        match begun {
            Begun::Own(invocation) => {
                Self::running(Current::owning(invocation), true, future, describe)
            }
            Begun::Nested(outer) => Self::running(outer, false, future, describe),
        }
    }

    /// Runs `future` with `current`, ending its invocation as it completes when `to_end` (its
    /// own).
    #[inline]
    fn running(current: Current, to_end: bool, future: F, describe: D) -> Self {
        Self {
            inner: current::scope(current, future),
            to_end,
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
                if std::mem::take(this.to_end) {
                    let invocation = inner.current().invocation();
                    let outcome = if invocation.is_traced() {
                        // The response's `Serialize` and the error's `Debug` are user code: a
                        // panic there must not turn the handler's answer into a panic.
                        panic::catch(|| describe(invocation, this.describe, &output))
                            .unwrap_or_else(|panic| match &output {
                                Ok(_) => Outcome::Success(None),
                                Err(_) => {
                                    Outcome::Error(Some(Failure::describing_panicked(&*panic)))
                                }
                            })
                    } else {
                        // Without a trace, neither is recorded (what `describe` finds too),
                        // and no user code runs: answered here, without a call.
                        match &output {
                            Ok(_) => Outcome::Success(None),
                            Err(_) => Outcome::Error(None),
                        }
                    };
                    invocation.finish(outcome);
                    if output.is_err() {
                        just_failed::hold(invocation);
                    }
                }
                Poll::Ready(output)
            }
            Err(panic) => {
                if std::mem::take(this.to_end) {
                    end_in_panic(inner.current().invocation(), &*panic);
                }
                panic::resume(panic)
            }
        }
    }
}

/// Ends `invocation`, whose handler panicked with `panic`, and holds it for the runtime's
/// line about that panic (`just_failed`).
fn end_in_panic(invocation: &Arc<Invocation>, panic: &(dyn std::any::Any + Send)) {
    invocation.finish(Outcome::Panic(Failure::from_panic(panic)));
    just_failed::hold(invocation);
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

/// Begins running a handler: `call` creates its future inside `invocation` (so that what
/// `call` itself records — a span opened around the handler, say — belongs to it). A panic
/// while creating it (a hand-written `Service::call`) ends the invocation, then continues.
///
/// The invocation's future is handed to `wrap` as soon as it is made, so that what wraps it
/// (the [`PerfFuture`](super::PerfFuture)) is built in place rather than moved into: the
/// handler's future holds its event, hundreds of bytes that every move copies.
#[inline]
pub(crate) fn start<F: Future, D, W>(
    begun: Begun,
    call: impl FnOnce() -> F,
    describe: D,
    wrap: impl FnOnce(InvocationFuture<F, D>) -> W,
) -> W {
    let invocation = match begun {
        Begun::Own(invocation) => invocation,
        nested @ Begun::Nested(_) => return wrap(InvocationFuture::new(nested, call(), describe)),
    };
    // The same `Current` is set while `call` runs and carried by the future after: the
    // future's only hold of its invocation. Its span (what `tracing::Span::current()` is in
    // the handler) is entered while the future is polled, not around `call`, which, for a
    // handler's `async fn`, runs none of its code.
    let current = Current::owning(invocation);
    // Left in place, and called through a reference: moved into the closures that catch a
    // panic and set the scope, `call` (and the event it holds) would be copied into each.
    let mut call = ManuallyDrop::new(call);
    let created = current::sync_scope(&current, || {
        panic::catch(|| {
            // SAFETY: `catch` takes this closure as `FnOnce`, so `call` is taken out at most
            // once; nothing reads it after, and `ManuallyDrop` does not drop it. Were the
            // closure never run, `call` would only leak.
            #[allow(unsafe_code)]
            let call = unsafe { ManuallyDrop::take(&mut call) };
            call()
        })
    });
    match created {
        Ok(future) => wrap(InvocationFuture::running(current, true, future, describe)),
        Err(panic) => {
            // Ended, then handed back for reuse as `current` is dropped.
            end_in_panic(current.invocation(), &*panic);
            panic::resume(panic)
        }
    }
}
