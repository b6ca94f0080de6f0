//! The current invocation: which invocation the running code works for, and where in its
//! trace it stands.
//!
//! An invocation begins on the task `lambda_runtime` polls for it, and that task carries it
//! (a tokio task-local). Work the handler moves elsewhere carries it too when asked:
//! [`spawn`](crate::spawn), [`spawn_blocking`](crate::spawn_blocking) and
//! [`in_current_invocation`](crate::InCurrentInvocation::in_current_invocation) take a
//! [`Current`] along, and a `tracing` span created inside an invocation (with
//! [`XRayLayer`](crate::xray::XRayLayer) installed) carries it wherever it is entered. Each
//! carrier keeps its own current subsegment, so concurrent branches nest where they started.
//!
//! Everything is looked up here: a task-local first, then the spans entered on this thread.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::sync::Arc;

use tokio::task::futures::TaskLocalFuture;

use super::facts::InvocationFacts;
pub(crate) use super::lifecycle::Unavailable;
use super::lifecycle::{Invocation, State};
use super::trace::Trace;

tokio::task_local! {
    static CURRENT: Current;
}

thread_local! {
    /// Spans entered on this thread by code that carries no invocation of its own (a task
    /// spawned with `tokio::spawn(work.instrument(span))`): (span id, what it carries).
    static ENTERED_SPANS: RefCell<Vec<(u64, Current)>> = const { RefCell::new(Vec::new()) };
}

/// What one task (or one carried future) knows of the invocation it works for.
#[derive(Debug)]
pub(crate) struct Current {
    invocation: Arc<Invocation>,
    /// The subsegment new ones open under and annotations go to; `None`: the handler's.
    subsegment: Cell<Option<u64>>,
    /// Spans entered while this was current, with the subsegment each replaced.
    entered_spans: RefCell<Vec<(u64, Option<u64>)>>,
}

impl Current {
    /// Work for `invocation`, standing in `subsegment` (`None`: the handler's).
    pub(crate) fn new(invocation: Arc<Invocation>, subsegment: Option<u64>) -> Self {
        Self {
            invocation,
            subsegment: Cell::new(subsegment),
            entered_spans: RefCell::new(Vec::new()),
        }
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

/// Runs `f` on what the running code carries: this task's invocation, or else the innermost
/// invocation-carrying span entered on this thread.
pub(crate) fn with_current<R>(f: impl FnOnce(&Current) -> R) -> Result<R, Unavailable> {
    let mut f = Some(f);
    if let Ok(result) = CURRENT.try_with(|current| f.take().map(|f| f(current))) {
        return result.ok_or(Unavailable::NoInvocation);
    }
    ENTERED_SPANS
        .try_with(|spans| {
            let spans = spans.try_borrow().map_err(|_| Unavailable::Reentrant)?;
            match (spans.last(), f.take()) {
                (Some((_, current)), Some(f)) => Ok(f(current)),
                _ => Err(Unavailable::NoInvocation),
            }
        })
        .unwrap_or(Err(Unavailable::NoInvocation))
}

impl InvocationFacts {
    /// The facts of the invocation running on this task (or carried into it by
    /// [`spawn`](crate::spawn)), or `None` outside one.
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

/// What work moved off this task should carry: the current invocation, standing where this
/// task stands.
/// Like [`with_state`], for what only adds to the trace: `None` at once for an invocation
/// without one (its state not locked), else what `f` returns, `None` when the trace is gone.
pub(crate) fn with_trace<R>(
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

pub(crate) fn carried() -> Option<Current> {
    with_current(Current::fork).ok()
}

/// A future that runs with `current` as its invocation.
pub(crate) type Scoped<F> = TaskLocalFuture<Current, F>;

/// Runs `future` with `current` as its invocation.
#[inline]
pub(crate) fn scope<F: Future>(current: Current, future: F) -> Scoped<F> {
    CURRENT.scope(current, future)
}

/// Runs `f` with `current` as its invocation.
#[inline]
pub(crate) fn sync_scope<R>(current: Current, f: impl FnOnce() -> R) -> R {
    CURRENT.sync_scope(current, f)
}

/// A span carrying `invocation` (standing in `subsegment`) was entered on this thread.
/// On a task of that invocation the subsegment becomes current; elsewhere the span carries
/// the invocation until it is exited.
pub(crate) fn enter_span(span: u64, invocation: &Arc<Invocation>, subsegment: Option<u64>) {
    let on_own_task = CURRENT
        .try_with(|current| {
            if !Arc::ptr_eq(&current.invocation, invocation) {
                return false;
            }
            if let Some(id) = subsegment {
                let previous = current.enter(Some(id));
                current.entered_spans.borrow_mut().push((span, previous));
            }
            true
        })
        .unwrap_or(false);
    if !on_own_task {
        let _ = ENTERED_SPANS.try_with(|spans| {
            if let Ok(mut spans) = spans.try_borrow_mut() {
                spans.push((span, Current::new(Arc::clone(invocation), subsegment)));
            }
        });
    }
}

/// That span was exited: what it replaced is current again. Exits without a matching enter
/// change nothing.
pub(crate) fn exit_span(span: u64, invocation: &Arc<Invocation>) {
    let on_own_task = CURRENT
        .try_with(|current| {
            if !Arc::ptr_eq(&current.invocation, invocation) {
                return false;
            }
            let mut entered = current.entered_spans.borrow_mut();
            if let Some(index) = entered.iter().rposition(|(id, _)| *id == span) {
                let (_, previous) = entered.remove(index);
                current.enter(previous);
            }
            true
        })
        .unwrap_or(false);
    if !on_own_task {
        let _ = ENTERED_SPANS.try_with(|spans| {
            if let Ok(mut spans) = spans.try_borrow_mut() {
                if let Some(index) = spans.iter().rposition(|(id, _)| *id == span) {
                    spans.remove(index);
                }
            }
        });
    }
}
