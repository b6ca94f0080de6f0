//! The current invocation: which invocation the running code works for, and where in its
//! trace it stands.
//!
//! An invocation begins on the task `lambda_runtime` polls for it, and that task carries it:
//! its future sets it, as a scoped thread-local, while it is polled and when it is dropped (as
//! soon as it completes). Work the handler moves elsewhere carries it too when asked:
//! [`spawn`](fn@crate::spawn), [`spawn_blocking`](crate::spawn_blocking) and
//! [`in_current_invocation`](crate::InCurrentInvocation::in_current_invocation) take a
//! [`Current`] along, and a `tracing` span created inside an invocation (with
//! [`XRayLayer`] installed) carries it wherever it is entered. Each
//! carrier keeps its own current subsegment, so concurrent branches nest where they started.
//!
//! Everything is looked up here: the future being polled first, then the spans entered on
//! this thread by the running task (a span entered by another task, its guard held across an
//! `.await`, lends nothing to the tasks that run meanwhile).
//!
#![cfg_attr(feature = "tracing", doc = "[`XRayLayer`]: crate::xray::XRayLayer")]
#![cfg_attr(not(feature = "tracing"), doc = "[`XRayLayer`]: crate#feature-flags")]

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::facts::InvocationFacts;
use super::handler_span::HandlerSpan;
pub(crate) use super::lifecycle::Unavailable;
use super::lifecycle::{Invocation, State};
use super::trace::Trace;

thread_local! {
    /// What the future being polled on this thread carries (see [`Scoped`]): set only by
    /// [`set_current`], for as long as it runs; null otherwise.
    static CURRENT: Cell<*const Current> = const { Cell::new(std::ptr::null()) };
}

thread_local! {
    /// Whether [`ENTERED_SPANS`] may hold an entry: set before an entry is pushed, cleared
    /// when the last one is taken out. While it is clear, code that runs no invocation's
    /// future (the beginning of one, most often) finds none without reaching for that list.
    static SPANS_ENTERED: Cell<bool> = const { Cell::new(false) };
}

/// Restores what [`CURRENT`] held before [`set_current`], also when unwinding.
struct Restore(*const Current);

impl Drop for Restore {
    #[inline]
    fn drop(&mut self) {
        CURRENT.with(|current| current.set(self.0));
    }
}

/// Runs `f` with `current` as what this thread's running code carries.
///
/// A scoped thread-local of its own rather than `scoped_tls`'s: this one is a plain `const`
/// thread-local, which every access reads in place, where `scoped_tls` calls through its
/// key's accessor (a call per access, and one more to restore: about 100 instructions per
/// invocation, measured under the runtime companion).
#[inline]
fn set_current<R>(current: &Current, f: impl FnOnce() -> R) -> R {
    let previous = CURRENT.with(|cell| cell.replace(std::ptr::from_ref(current)));
    let _restore = Restore(previous);
    f()
}

/// `f` on what the future being polled on this thread carries; `f` back if it carries nothing.
#[inline]
fn on_own_task<R, F: FnOnce(&Current) -> R>(f: F) -> Result<R, F> {
    let current = CURRENT.with(Cell::get);
    // SAFETY: `CURRENT` is not null only inside `set_current`, which borrows the `Current`
    // for as long as it runs and restores what was there before on exit (also when
    // unwinding): it points to a live `Current`, set on this thread, and the reference
    // cannot outlive `f`'s call.
    #[allow(unsafe_code)]
    match unsafe { current.as_ref() } {
        Some(current) => Ok(f(current)),
        None => Err(f),
    }
}

thread_local! {
    /// Spans entered on this thread by code that carries no invocation of its own (a task
    /// spawned with `tokio::spawn(work.instrument(span))`), innermost last.
    static ENTERED_SPANS: RefCell<Vec<EnteredSpan>> = const { RefCell::new(Vec::new()) };
}

/// A span entered on this thread off its invocation's own task: what it carries, to the
/// code of the task that entered it.
///
/// A span's guard held across an `.await` (which `tracing` warns against, but which happens)
/// leaves the span entered while its task is suspended, and other tasks run on the thread
/// meanwhile; the task may resume on another thread and exit the span there, where this
/// entry is not. So an entry is honoured only for the task that made it (or, made outside
/// any task, for code outside any task), and one of another task whose invocation has ended
/// is dropped when it is met: it could only ever lend that invocation to code that does not
/// work for it, and would keep the invocation alive for good.
#[derive(Debug)]
struct EnteredSpan {
    span: u64,
    /// The tokio task that entered it; `None`: code outside any task.
    task: Option<tokio::task::Id>,
    current: Current,
}

impl EnteredSpan {
    /// An entry of another task, for an invocation that has ended.
    fn is_stale(&self, running: Option<tokio::task::Id>) -> bool {
        self.task != running && self.current.invocation.has_ended()
    }
}

/// The tokio task this code runs in, if any (outside a runtime, or in a runtime's
/// `block_on`, none).
fn running_task() -> Option<tokio::task::Id> {
    tokio::task::try_id()
}

/// Takes this thread's stale entries (see [`EnteredSpan`]) out of the list, to be dropped
/// after its borrow: the last hold of an invocation ends with its drop, and nothing that
/// does may find this thread's spans borrowed.
fn take_stale(spans: &mut Vec<EnteredSpan>, running: Option<tokio::task::Id>) -> Vec<EnteredSpan> {
    let mut stale = Vec::new();
    let mut index = 0;
    while index < spans.len() {
        if spans[index].is_stale(running) {
            stale.push(spans.remove(index));
        } else {
            index += 1;
        }
    }
    if spans.is_empty() {
        SPANS_ENTERED.with(|entered| entered.set(false));
    }
    stale
}

/// What one task (or one carried future) knows of the invocation it works for.
#[derive(Debug)]
pub(crate) struct Current {
    /// Taken out only by its drop.
    invocation: ManuallyDrop<Arc<Invocation>>,
    /// Whether it hands the invocation back for reuse when dropped ([`Current::owning`]).
    recycles: bool,
    /// The subsegment new ones open under and annotations go to; `None`: the handler's.
    subsegment: Cell<Option<u64>>,
    /// Spans entered while this was current, with the subsegment each replaced.
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))] // used by the `tracing` layers
    entered_spans: RefCell<Vec<(u64, Option<u64>)>>,
    /// The invocation's own span, entered while the future that carries this is polled and
    /// dropped: the handler's only, made at its first poll ([`Current::open_handler_span`]).
    /// Closed by the drop, before the invocation is handed back.
    handler_span: ManuallyDrop<HandlerSpan>,
    /// Whether [`Current::handler_span`] is still to be made: the handler's, before its
    /// first poll.
    handler_span_pending: bool,
}

impl Current {
    /// Work for `invocation`, standing in `subsegment` (`None`: the handler's).
    pub(crate) fn new(invocation: Arc<Invocation>, subsegment: Option<u64>) -> Self {
        Self {
            invocation: ManuallyDrop::new(invocation),
            recycles: false,
            subsegment: Cell::new(subsegment),
            entered_spans: RefCell::new(Vec::new()),
            handler_span: ManuallyDrop::new(HandlerSpan::none()),
            handler_span_pending: false,
        }
    }

    /// The handler's own work for `invocation`, which it ends: this hands it back for reuse
    /// when dropped, which [`Invocation::recycle`] takes only if it has ended and nothing
    /// else holds it then (a spawned task, or the runtime companion's window, may let go of
    /// it last). The handler's future holds no other `Arc` of it. Its span is made at the
    /// handler's first poll.
    pub(crate) fn owning(invocation: Arc<Invocation>) -> Self {
        let mut current = Self::new(invocation, None);
        current.recycles = true;
        current.handler_span_pending = true;
        current
    }

    /// Makes the invocation's own span, with this current (what the span carries, to the
    /// X-Ray layer), if it is still to be made: at the handler's first poll, rather than
    /// where its future is made, so that nothing comes between the making of that future
    /// (hundreds of bytes: the event) and its place, and it is not copied from one to the
    /// other.
    #[inline(always)]
    fn open_handler_span(&mut self) {
        if self.handler_span_pending {
            self.handler_span_pending = false;
            if HandlerSpan::wanted() {
                self.make_handler_span();
            }
        }
    }

    /// [`Current::open_handler_span`] where a span is wanted.
    #[cold]
    #[inline(never)]
    fn make_handler_span(&mut self) {
        let span = set_current(self, HandlerSpan::new);
        *self.handler_span = span;
    }

    pub(crate) fn invocation(&self) -> &Arc<Invocation> {
        &self.invocation
    }

    /// The current subsegment (`None`: the handler's).
    pub(crate) fn subsegment(&self) -> Option<u64> {
        self.subsegment.get()
    }

    /// Makes `id` current; returns the one it replaces, to restore on exit.
    pub(crate) fn enter(&self, id: Option<u64>) -> Option<u64> {
        self.subsegment.replace(id)
    }

    /// The same invocation, standing where this stands now: what a spawned task carries.
    pub(crate) fn fork(&self) -> Self {
        Self::new(Arc::clone(&self.invocation), self.subsegment.get())
    }

    /// The state of the invocation, for `f`; refused after the end and while already held.
    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> Result<R, Unavailable> {
        self.invocation.with_state(f)
    }
}

impl Drop for Current {
    fn drop(&mut self) {
        // SAFETY: the field is read nowhere else by value (a type with `Drop` cannot be moved
        // out of), and this is its drop: it is taken out once and not used after, and
        // `ManuallyDrop` drops nothing itself.
        #[allow(unsafe_code)]
        let invocation = unsafe { ManuallyDrop::take(&mut self.invocation) };
        // Closed first: the X-Ray layer lets go of the invocation it noted the span carries,
        // and the invocation may then be recycled.
        // SAFETY: as for the invocation: taken out once, here, and not used after.
        #[allow(unsafe_code)]
        unsafe { ManuallyDrop::take(&mut self.handler_span) }.close();
        if self.recycles {
            Invocation::recycle(invocation);
        }
    }
}

/// Runs `f` on what the running code carries: this task's invocation, or else the innermost
/// invocation-carrying span this task entered on this thread.
pub(crate) fn with_current<R>(f: impl FnOnce(&Current) -> R) -> Result<R, Unavailable> {
    let f = match on_own_task(f) {
        Ok(result) => return Ok(result),
        Err(f) => f,
    };
    if !SPANS_ENTERED.with(Cell::get) {
        return Err(Unavailable::NoInvocation);
    }
    let running = running_task();
    let found = ENTERED_SPANS
        .try_with(|spans| {
            let spans = spans.try_borrow().map_err(|_| Unavailable::Reentrant)?;
            match spans.iter().rev().find(|entry| entry.task == running) {
                Some(entry) => Ok(Ok(f(&entry.current))),
                // Entries of other tasks only: those that can serve none any more go.
                None => Ok(Err(!spans.is_empty())),
            }
        })
        .unwrap_or(Err(Unavailable::NoInvocation))?;
    match found {
        Ok(result) => Ok(result),
        Err(others) => {
            if others {
                drop_stale(running);
            }
            Err(Unavailable::NoInvocation)
        }
    }
}

/// Drops this thread's stale entries (see [`EnteredSpan`]), unless the list is in use.
#[cold]
fn drop_stale(running: Option<tokio::task::Id>) {
    let stale = ENTERED_SPANS
        .try_with(|spans| {
            let mut spans = spans.try_borrow_mut().ok()?;
            Some(take_stale(&mut spans, running))
        })
        .ok()
        .flatten();
    drop(stale);
}

impl InvocationFacts {
    /// The facts of the invocation running on this task (or carried into it by
    /// [`spawn`](fn@crate::spawn)), or `None` outside one. On work that outlived its
    /// invocation they are that invocation's, as they were when it began: the work was
    /// spawned for it, even though it has ended.
    #[must_use]
    pub fn current() -> Option<Self> {
        with_invocation(|invocation| invocation.facts().clone()).ok()
    }
}

/// Runs `f` on the current invocation.
pub(crate) fn with_invocation<R>(f: impl FnOnce(&Invocation) -> R) -> Result<R, Unavailable> {
    with_current(|current| f(&current.invocation))
}

/// Runs `f` on the current invocation's state, with the calling task's current subsegment.
pub(crate) fn with_state<R>(
    f: impl FnOnce(&mut State, Option<u64>) -> R,
) -> Result<R, Unavailable> {
    with_current(|current| {
        let subsegment = current.subsegment();
        current.with_state(|state| f(state, subsegment))
    })
    .and_then(|result| result)
}

/// Like [`with_state`], for what only adds to the trace: `None` at once for an invocation
/// without one (its state not locked), else what `f` returns, `None` when the trace is gone.
/// Inlined: the running task's own unsampled invocation (most) is answered where it is
/// asked ([`untraced_on_own_task`]), without a call.
#[inline]
pub(crate) fn with_trace<R>(
    f: impl FnOnce(&mut Trace, Option<u64>) -> R,
) -> Result<Option<R>, Unavailable> {
    if let Some(untraced) = untraced_on_own_task() {
        return untraced.map(|()| None);
    }
    with_current_trace(f)
}

/// [`with_trace`] without its inline answer for an untraced invocation: for a caller that has
/// asked [`untraced_on_own_task`] already.
pub(crate) fn with_current_trace<R>(
    f: impl FnOnce(&mut Trace, Option<u64>) -> R,
) -> Result<Option<R>, Unavailable> {
    with_current(|current| {
        let subsegment = current.subsegment();
        current
            .invocation
            .with_traced_state(|state| state.trace.as_mut().map(|trace| f(trace, subsegment)))
            .map(Option::flatten)
    })
    .and_then(|result| result)
}

/// What [`with_trace`] answers when the running task's own invocation has no trace (see
/// [`Invocation::untraced`]), found inline without a call; `None` otherwise (an invocation
/// with a trace, one carried only by a span, or none): then ask [`with_trace`].
#[inline]
pub(crate) fn untraced_on_own_task() -> Option<Result<(), Unavailable>> {
    on_own_task(|current| current.invocation.untraced())
        .ok()
        .flatten()
}

/// What work moved off this task should carry: the current invocation, standing where this
/// task stands.
pub(crate) fn carried() -> Option<Current> {
    with_current(Current::fork).ok()
}

pin_project! {
    /// A future that runs with `current` as its invocation: set while it is polled, and
    /// while it is dropped, which is as soon as it completes (so that what its drop records
    /// still belongs to the invocation, before the invocation ends).
    pub(crate) struct Scoped<F> {
        current: Current,
        // `None` once it has completed or is being dropped.
        #[pin]
        future: Option<F>,
    }

    impl<F> PinnedDrop for Scoped<F> {
        fn drop(this: Pin<&mut Self>) {
            this.drop_future();
        }
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let mut future = this.future;
        let current = this.current;
        current.open_handler_span();
        let current = &*current;
        set_current(current, || {
            current.handler_span.in_scope(|| {
                let poll = future
                    .as_mut()
                    .as_pin_mut()
                    .expect("a scoped future polled after completion")
                    .poll(cx);
                if poll.is_ready() {
                    // Dropped at once, still in scope, as a tokio task-local future does.
                    future.set(None);
                }
                poll
            })
        })
    }
}

impl<F> Scoped<F> {
    /// Drops the future now (if it has not completed), in scope: what its drop records
    /// belongs to the invocation.
    #[inline]
    pub(crate) fn drop_future(self: Pin<&mut Self>) {
        let this = self.project();
        let mut future = this.future;
        if future.is_some() {
            let current = this.current;
            set_current(current, || {
                current.handler_span.in_scope(|| future.set(None))
            });
        }
    }

    /// What the future runs with.
    pub(crate) fn current(&self) -> &Current {
        &self.current
    }
}

/// Runs `future` with `current` as its invocation.
#[inline]
pub(crate) fn scope<F: Future>(current: Current, future: F) -> Scoped<F> {
    Scoped {
        current,
        future: Some(future),
    }
}

/// Runs `f` with `current` as its invocation.
#[inline]
pub(crate) fn sync_scope<R>(current: &Current, f: impl FnOnce() -> R) -> R {
    set_current(current, f)
}

/// A span carrying `invocation` (standing in `subsegment`, its own when `opened`) was
/// entered on this thread. On a task of that invocation its own subsegment becomes current;
/// elsewhere the span carries the invocation, standing in `subsegment`, until it is exited.
#[cfg_attr(not(feature = "tracing"), allow(dead_code))] // used by the `tracing` layers
pub(crate) fn enter_span(
    span: u64,
    invocation: &Arc<Invocation>,
    subsegment: Option<u64>,
    opened: bool,
) {
    let on_own_task = on_own_task(|current| {
        if !Arc::ptr_eq(&current.invocation, invocation) {
            return false;
        }
        if let Some(id) = subsegment.filter(|_| opened) {
            let previous = current.enter(Some(id));
            current.entered_spans.borrow_mut().push((span, previous));
        }
        true
    })
    .unwrap_or(false);
    // A span made in an invocation that has ended since, entered now by other work (a
    // library's task of its own, such as a pooled connection's, whose span was made when the
    // connection was), lends it nothing: that work is no longer the invocation's.
    if !on_own_task && !invocation.has_ended() {
        let task = running_task();
        let stale = ENTERED_SPANS
            .try_with(|spans| {
                let mut spans = spans.try_borrow_mut().ok()?;
                let stale = take_stale(&mut spans, task);
                // Before the push, so that a call made meanwhile finds the list borrowed.
                SPANS_ENTERED.with(|entered| entered.set(true));
                spans.push(EnteredSpan {
                    span,
                    task,
                    current: Current::new(Arc::clone(invocation), subsegment),
                });
                Some(stale)
            })
            .ok()
            .flatten();
        drop(stale);
    }
}

/// That span was exited: what it replaced is current again (unless a span entered after it
/// is still entered: that one stays current). Exits without a matching enter change nothing.
#[cfg_attr(not(feature = "tracing"), allow(dead_code))] // used by the `tracing` layers
pub(crate) fn exit_span(span: u64, invocation: &Arc<Invocation>) {
    let on_own_task = on_own_task(|current| {
        if !Arc::ptr_eq(&current.invocation, invocation) {
            return false;
        }
        let mut entered = current.entered_spans.borrow_mut();
        if let Some(index) = entered.iter().rposition(|(id, _)| *id == span) {
            let (_, previous) = entered.remove(index);
            match entered.get_mut(index) {
                // Exited before a span entered after it (guards dropped out of order, as
                // `tracing` allows): that one stays current, and restores on its exit what
                // this one replaced.
                Some((_, later)) => *later = previous,
                None => {
                    current.enter(previous);
                }
            }
        }
        true
    })
    .unwrap_or(false);
    if !on_own_task {
        exit_span_off_task(span);
    }
}

/// Whether the future being polled on this thread carries an invocation of its own (the
/// handler's, or work handed on with [`spawn`](fn@crate::spawn)): what a span entered there
/// would lend is never asked for.
#[cfg_attr(not(feature = "tracing"), allow(dead_code))] // used by the `tracing` layers
pub(crate) fn on_a_carrying_task() -> bool {
    on_own_task(|_| ()).is_ok()
}

/// That span, entered by code that carries no invocation of its own, was exited: what
/// [`enter_span`] lent there is taken back.
#[cfg_attr(not(feature = "tracing"), allow(dead_code))] // used by the `tracing` layers
pub(crate) fn exit_span_off_task(span: u64) {
    // Taken out under the borrow, dropped after it: the last hold of an invocation (its `Arc`
    // in the `Current`) ends with its drop, and nothing it does may find this thread's spans
    // borrowed.
    let task = running_task();
    let exited = ENTERED_SPANS
        .try_with(|spans| {
            let mut spans = spans.try_borrow_mut().ok()?;
            let index = spans
                .iter()
                .rposition(|entry| entry.span == span && entry.task == task)?;
            let exited = spans.remove(index);
            if spans.is_empty() {
                SPANS_ENTERED.with(|entered| entered.set(false));
            }
            Some(exited)
        })
        .ok()
        .flatten();
    drop(exited);
}
