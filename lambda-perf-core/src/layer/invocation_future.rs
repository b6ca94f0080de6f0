//! The handler's future inside its invocation, shared by [`PerfLayer`](crate::PerfLayer) and
//! `#[instrument_lambda]`.

use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
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
    // The same `Current` is set while `call` runs and carried by the future after.
    let current = Current::new(Arc::clone(&invocation), None);
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

#[cfg(all(test, feature = "test-util"))]
mod tests {
    /// The state is refused to the thread holding it (not a deadlock), free again once it
    /// let go, and waited for by another thread while held.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_state_is_refused_to_its_holder_and_waited_for_elsewhere() {
        use crate::invocation::current::{self, Unavailable};
        use crate::test_util::{Recorder, event};

        let handler = lambda_runtime::service_fn(|_: lambda_runtime::LambdaEvent<()>| async {
            let carried = current::carried().expect("in an invocation");
            let (nested, elsewhere) = current::with_state(|_, _| {
                let nested = current::with_state(|_, _| ());
                let elsewhere = std::thread::spawn(move || {
                    current::sync_scope(&carried, || current::with_state(|_, _| ()))
                });
                // Still held: the other thread waits for it.
                std::thread::sleep(std::time::Duration::from_millis(20));
                (nested, elsewhere)
            })
            .expect("the state, once");
            assert_eq!(nested, Err(Unavailable::Reentrant));
            assert_eq!(elsewhere.join().expect("no panic"), Ok(()));
            assert_eq!(current::with_state(|_, _| ()), Ok(()), "free again");
            Ok::<_, lambda_runtime::Error>("done")
        });
        let recorder = Recorder::new();
        assert_eq!(recorder.run(handler, event(())).await.unwrap(), "done");
    }

    /// Under a runtime-level companion, a handler's future kept past its window (by a service
    /// in between, say) still hands its invocation back for the next one: whichever of the
    /// window's writes and the future lets go last recycles it.
    #[tokio::test(flavor = "current_thread")]
    async fn a_future_kept_past_its_window_still_recycles_its_invocation() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};

        use tower::{Layer, Service};

        use crate::invocation::current;
        use crate::invocation::deferral::Window;
        use crate::invocation::lifecycle::Invocation;
        use crate::test_util::{Recorder, event};

        static SEEN: AtomicUsize = AtomicUsize::new(0);
        let recorder = Recorder::new();
        let mut service = recorder.layer().layer(lambda_runtime::service_fn(
            |_: lambda_runtime::LambdaEvent<()>| async {
                let carried = current::carried().expect("in an invocation");
                SEEN.store(Arc::as_ptr(carried.invocation()).addr(), Ordering::SeqCst);
                Ok::<_, lambda_runtime::Error>("done")
            },
        ));
        let event = event(());
        let window = Window::open(&event.context.request_id);
        let mut future = Box::pin(service.call(event));
        assert_eq!(future.as_mut().await.unwrap(), "done");
        assert!(
            recorder.xray().documents().is_empty(),
            "the trace deferred to the window"
        );
        // The writes run while the finished future still holds the invocation.
        window.close();
        assert!(
            !recorder.xray().documents().is_empty(),
            "the trace written once the window closed"
        );
        drop(future);
        let kept = Invocation::take_kept().map(|kept| Arc::as_ptr(&kept).addr());
        assert_eq!(
            kept,
            Some(SEEN.load(Ordering::SeqCst)),
            "the invocation is kept for the next one"
        );
    }
}
