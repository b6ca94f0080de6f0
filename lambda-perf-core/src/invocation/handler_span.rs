//! The invocation's own `tracing` span, entered while the handler's future is polled and
//! dropped, so that `tracing::Span::current()` in a handler is a span of its invocation, not
//! one made before the invocation began (`lambda_runtime`'s `Lambda runtime invoke`): work
//! handed on with `tokio::spawn(work.instrument(tracing::Span::current()))` carries the
//! invocation, as it does with a span the handler made itself.
//!
//! It has no fields and opens no subsegment. An X-Ray layer notes which invocation it carries
//! here, by the span's id, rather than in the span's extensions, where any value is a new
//! allocation: a warm invocation allocates nothing for it, under a subscriber or without one.

#[cfg(feature = "tracing")]
pub(crate) use self::carried::{carried_by, closed, invocation_of, is_handler_span};
#[cfg(feature = "tracing")]
pub(crate) use self::own_task::by_its_own_task;

/// The span's target.
#[cfg(feature = "tracing")]
const TARGET: &str = "lambda_perf";
/// The span's name.
#[cfg(feature = "tracing")]
const NAME: &str = "invocation";

/// The invocation's span, or nothing (no `tracing`, no subscriber that makes it, or a
/// handler inside another instrumentation, whose span is the outer one's; work handed on,
/// which runs in the spans it was given).
#[derive(Debug)]
pub(crate) struct HandlerSpan {
    /// `None` rather than `Span::none()`, whose drop is not free.
    #[cfg(feature = "tracing")]
    span: Option<tracing::Span>,
}

impl HandlerSpan {
    /// Makes the span; to be called with the invocation current, which the X-Ray layer notes
    /// as what the span carries. Asked only where a `tracing` subscriber was set
    /// ([`HandlerSpan::wanted`]).
    #[inline]
    pub(crate) fn new() -> Self {
        Self {
            #[cfg(feature = "tracing")]
            span: Some(tracing::info_span!(target: TARGET, NAME)),
        }
    }

    /// Whether a span is worth making: not where no `tracing` subscriber was ever set, where
    /// making one is work for nothing (`tracing`'s `log` feature would even describe it to
    /// the `log` crate).
    #[inline]
    pub(crate) fn wanted() -> bool {
        #[cfg(feature = "tracing")]
        return tracing::dispatcher::has_been_set();
        #[cfg(not(feature = "tracing"))]
        false
    }

    /// No span.
    #[inline]
    pub(crate) const fn none() -> Self {
        Self {
            #[cfg(feature = "tracing")]
            span: None,
        }
    }

    /// Closes the span, if there is one (its last handle, unless work handed on holds one).
    #[inline]
    pub(crate) fn close(self) {
        #[cfg(feature = "tracing")]
        if let Some(span) = self.span {
            own_task::close(span);
        }
    }

    /// Runs `f` inside the span, on the task that carries its invocation.
    #[inline]
    pub(crate) fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        #[cfg(feature = "tracing")]
        let _entered = self.span.as_ref().map(own_task::Entered::enter);
        f()
    }
}

/// The span entered and exited by its invocation's own task, around each poll of the
/// handler's future, and closed by it: the X-Ray layer, which would look the span up to learn
/// that it lends nothing there (the task carries its invocation already), or that it is a
/// handler span, is told so without the look-up.
#[cfg(feature = "tracing")]
mod own_task {
    use std::cell::Cell;

    thread_local! {
        /// The id of the handler span its own task is entering, exiting or closing on this
        /// thread now; 0 (no span's id) otherwise.
        static BY_ITS_OWN_TASK: Cell<u64> = const { Cell::new(0) };
    }

    /// Whether span `id` is a handler span that the task carrying its invocation is entering,
    /// exiting or closing, now.
    #[inline]
    pub(crate) fn by_its_own_task(id: u64) -> bool {
        BY_ITS_OWN_TASK.with(Cell::get) == id
    }

    /// Runs `f`, which enters, exits or closes `span`, marked as its own task's doing.
    #[inline]
    fn marked<R>(id: Option<tracing::Id>, f: impl FnOnce() -> R) -> R {
        /// Puts back what the mark replaced, also when a layer panics.
        struct Unmark(u64);
        impl Drop for Unmark {
            #[inline]
            fn drop(&mut self) {
                BY_ITS_OWN_TASK.with(|mark| mark.set(self.0));
            }
        }
        let id = id.map_or(0, |id| id.into_u64());
        let _unmark = Unmark(BY_ITS_OWN_TASK.with(|mark| mark.replace(id)));
        f()
    }

    /// Drops the task's handle on `span`: closes it, unless work handed on holds another.
    #[inline]
    pub(super) fn close(span: tracing::Span) {
        let id = span.id();
        marked(id, || drop(span));
    }

    /// The span entered by its own task, until dropped.
    pub(super) struct Entered<'a> {
        span: &'a tracing::Span,
        /// `None` only while it is dropped.
        guard: Option<tracing::span::Entered<'a>>,
    }

    impl<'a> Entered<'a> {
        #[inline]
        pub(super) fn enter(span: &'a tracing::Span) -> Self {
            Self {
                span,
                guard: Some(marked(span.id(), || span.enter())),
            }
        }
    }

    impl Drop for Entered<'_> {
        #[inline]
        fn drop(&mut self) {
            let guard = self.guard.take();
            marked(self.span.id(), || drop(guard));
        }
    }
}

#[cfg(feature = "tracing")]
mod carried {
    use std::sync::{Arc, Mutex, PoisonError};

    use tracing::Metadata;

    use super::{NAME, TARGET};
    use crate::invocation::lifecycle::Invocation;

    /// The handler spans open now, each with the invocation it carries, by the X-Ray layer
    /// that met it (several registries may give out the same span ids) and the span's id.
    /// As many as invocations in progress: its memory, once grown, serves every later one.
    static CARRIED: Mutex<Vec<Carried>> = Mutex::new(Vec::new());

    struct Carried {
        layer: u64,
        span: u64,
        invocation: Arc<Invocation>,
    }

    /// Whether `metadata` is the handler span's.
    #[inline]
    pub(crate) fn is_handler_span(metadata: &Metadata<'_>) -> bool {
        metadata.name() == NAME && metadata.target() == TARGET
    }

    /// The handler span `span`, met by the X-Ray layer `layer`, carries `invocation`.
    pub(crate) fn carried_by(layer: u64, span: u64, invocation: Arc<Invocation>) {
        CARRIED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Carried {
                layer,
                span,
                invocation,
            });
    }

    /// The invocation the handler span `span` carries, as the X-Ray layer `layer` noted it.
    pub(crate) fn invocation_of(layer: u64, span: u64) -> Option<Arc<Invocation>> {
        CARRIED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .rfind(|carried| carried.layer == layer && carried.span == span)
            .map(|carried| Arc::clone(&carried.invocation))
    }

    /// The handler span `span` closed: it carries nothing any more.
    pub(crate) fn closed(layer: u64, span: u64) {
        let removed = {
            let mut carried = CARRIED.lock().unwrap_or_else(PoisonError::into_inner);
            carried
                .iter()
                .rposition(|carried| carried.layer == layer && carried.span == span)
                .map(|index| carried.swap_remove(index))
        };
        // Dropped once the list is free again: it may be the invocation's last hold.
        drop(removed);
    }
}

#[cfg(all(test, feature = "tracing"))]
mod tests {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::sync::{Arc, Mutex, PoisonError};

    use tracing::Subscriber;
    use tracing::span::Id;
    use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

    use super::{HandlerSpan, by_its_own_task};

    /// What a layer was told, in order, each with whether it was marked as the handler span's
    /// own task's doing.
    #[derive(Clone, Default)]
    struct Marks(Arc<Mutex<Vec<(&'static str, bool)>>>);

    impl Marks {
        fn note(&self, what: &'static str, id: &Id) {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((what, by_its_own_task(id.into_u64())));
        }

        fn taken(&self) -> Vec<(&'static str, bool)> {
            std::mem::take(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
        }
    }

    impl<S: Subscriber> Layer<S> for Marks {
        fn on_enter(&self, id: &Id, _: Context<'_, S>) {
            self.note("enter", id);
        }

        fn on_exit(&self, id: &Id, _: Context<'_, S>) {
            self.note("exit", id);
        }

        fn on_close(&self, id: Id, _: Context<'_, S>) {
            self.note("close", &id);
        }
    }

    /// The span's own enter, exit and close are marked; the same span entered or closed by
    /// other code (the handler's `Span::current().in_scope(..)`, work handed a clone) is not.
    #[test]
    fn only_the_task_that_carries_the_span_marks_its_enter_exit_and_close() {
        let marks = Marks::default();
        let subscriber = tracing_subscriber::registry().with(marks.clone());
        tracing::subscriber::with_default(subscriber, || {
            let span = HandlerSpan::new();
            span.in_scope(|| tracing::Span::current().in_scope(|| {}));
            assert_eq!(
                marks.taken(),
                [
                    ("enter", true),
                    ("enter", false),
                    ("exit", false),
                    ("exit", true)
                ]
            );

            // Work handed a clone holds it open: the last handle closes it, unmarked.
            let clone = span.span.clone().expect("a span under a subscriber");
            span.close();
            clone.in_scope(|| {});
            drop(clone);
            assert_eq!(
                marks.taken(),
                [("enter", false), ("exit", false), ("close", false)]
            );

            HandlerSpan::new().close();
            assert_eq!(marks.taken(), [("close", true)]);
        });
    }

    /// A layer that panics as the span is entered leaves nothing marked behind.
    #[test]
    fn a_layer_that_panics_on_enter_leaves_no_mark() {
        struct PanicsOnEnter;
        impl<S: Subscriber> Layer<S> for PanicsOnEnter {
            fn on_enter(&self, _: &Id, _: Context<'_, S>) {
                panic!("a layer panicked");
            }
        }
        let subscriber = tracing_subscriber::registry().with(PanicsOnEnter);
        tracing::subscriber::with_default(subscriber, || {
            let span = HandlerSpan::new();
            let id = span
                .span
                .as_ref()
                .and_then(tracing::Span::id)
                .expect("a span under a subscriber");
            let entered = catch_unwind(AssertUnwindSafe(|| span.in_scope(|| ())));
            assert!(entered.is_err());
            assert!(!by_its_own_task(id.into_u64()));
        });
    }
}
