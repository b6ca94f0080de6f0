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
pub(crate) use self::own_task::{by_its_own_task, noted_by};

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
    /// What its own task's enters, exits and close are marked with (see [`own_task`]).
    #[cfg(feature = "tracing")]
    mark: own_task::Mark,
}

impl HandlerSpan {
    /// Makes the span; to be called with the invocation current, which the X-Ray layer notes
    /// as what the span carries. Asked only where a `tracing` subscriber was set
    /// ([`HandlerSpan::wanted`]).
    #[inline]
    pub(crate) fn new() -> Self {
        #[cfg(feature = "tracing")]
        let (span, mark) = own_task::noting(|| tracing::info_span!(target: TARGET, NAME));
        Self {
            #[cfg(feature = "tracing")]
            span: Some(span),
            #[cfg(feature = "tracing")]
            mark,
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
            #[cfg(feature = "tracing")]
            mark: own_task::NO_MARK,
        }
    }

    /// Closes the span, if there is one (its last handle, unless work handed on holds one).
    #[inline]
    pub(crate) fn close(self) {
        #[cfg(feature = "tracing")]
        if let Some(span) = self.span {
            own_task::close(span, self.mark);
        }
    }

    /// Runs `f` inside the span, on the task that carries its invocation.
    #[inline]
    pub(crate) fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        #[cfg(feature = "tracing")]
        let _entered = self
            .span
            .as_ref()
            .map(|span| own_task::Entered::enter(span, self.mark));
        f()
    }
}

/// The span entered and exited by its invocation's own task, around each poll of the
/// handler's future, and closed by it: the X-Ray layer that noted what the span carries, which
/// would look the span up to learn that it lends nothing there (the task carries its
/// invocation already), or that it is a handler span, is told so without the look-up.
///
/// The mark names that layer as well as the span: a span id means something only in the
/// registry that gave it out, and while the span is entered other layers may enter spans of
/// another registry (a layer that mirrors spans into a second one), whose X-Ray layer must
/// not take such a span with the same id for this one. Where no X-Ray layer, or more than one,
/// noted the span, nothing is marked, and each looks the span up as for any other.
#[cfg(feature = "tracing")]
mod own_task {
    use std::cell::Cell;

    /// A handler span (its id) and the one X-Ray layer that noted what it carries; or
    /// [`NO_MARK`].
    pub(super) type Mark = (u64, usize);

    /// No span: 0 is no span's id.
    pub(super) const NO_MARK: Mark = (0, 0);

    /// Which X-Ray layers noted the handler span being made on this thread now.
    #[derive(Clone, Copy)]
    enum Noted {
        Nobody,
        By(usize),
        Several,
    }

    thread_local! {
        /// The handler span its own task is entering, exiting or closing on this thread now,
        /// with the layer that noted it; [`NO_MARK`] otherwise.
        static BY_ITS_OWN_TASK: Cell<Mark> = const { Cell::new(NO_MARK) };
        /// While a handler span is made on this thread: the X-Ray layers that noted it.
        static NOTED: Cell<Noted> = const { Cell::new(Noted::Nobody) };
    }

    /// Whether span `id`, met by the X-Ray layer `layer`, is a handler span that the task
    /// carrying its invocation is entering, exiting or closing, now.
    #[inline]
    pub(crate) fn by_its_own_task(layer: usize, id: u64) -> bool {
        BY_ITS_OWN_TASK.with(Cell::get) == (id, layer)
    }

    /// The X-Ray layer `layer` noted what the handler span being made carries.
    #[inline]
    pub(crate) fn noted_by(layer: usize) {
        NOTED.with(|noted| {
            noted.set(match noted.get() {
                Noted::Nobody => Noted::By(layer),
                Noted::By(same) if same == layer => Noted::By(layer),
                Noted::By(_) | Noted::Several => Noted::Several,
            });
        });
    }

    /// Makes a handler span with `make`, with what its own task marks it with: nothing unless
    /// exactly one X-Ray layer noted it.
    #[inline]
    pub(super) fn noting(make: impl FnOnce() -> tracing::Span) -> (tracing::Span, Mark) {
        /// Puts back what was noted before, also when a layer panics.
        struct Restore(Noted);
        impl Drop for Restore {
            #[inline]
            fn drop(&mut self) {
                NOTED.with(|noted| noted.set(self.0));
            }
        }
        let _restore = Restore(NOTED.with(|noted| noted.replace(Noted::Nobody)));
        let span = make();
        let mark = match (span.id(), NOTED.with(Cell::get)) {
            (Some(id), Noted::By(layer)) => (id.into_u64(), layer),
            _ => NO_MARK,
        };
        (span, mark)
    }

    /// Runs `f`, which enters, exits or closes the span `mark` names, marked as its own task's
    /// doing for the layer that noted it.
    #[inline]
    fn marked<R>(mark: Mark, f: impl FnOnce() -> R) -> R {
        /// Puts back what the mark replaced, also when a layer panics.
        struct Unmark(Mark);
        impl Drop for Unmark {
            #[inline]
            fn drop(&mut self) {
                BY_ITS_OWN_TASK.with(|mark| mark.set(self.0));
            }
        }
        let _unmark = Unmark(BY_ITS_OWN_TASK.with(|current| current.replace(mark)));
        f()
    }

    /// Drops the task's handle on `span`: closes it, unless work handed on holds another.
    #[inline]
    pub(super) fn close(span: tracing::Span, mark: Mark) {
        marked(mark, || drop(span));
    }

    /// The span entered by its own task, until dropped.
    pub(super) struct Entered<'a> {
        mark: Mark,
        /// `None` only while it is dropped.
        guard: Option<tracing::span::Entered<'a>>,
    }

    impl<'a> Entered<'a> {
        #[inline]
        pub(super) fn enter(span: &'a tracing::Span, mark: Mark) -> Self {
            Self {
                mark,
                guard: Some(marked(mark, || span.enter())),
            }
        }
    }

    impl Drop for Entered<'_> {
        #[inline]
        fn drop(&mut self) {
            let guard = self.guard.take();
            marked(self.mark, || drop(guard));
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
    /// that met it (its instance: several registries may give out the same span ids) and the
    /// span's id.
    /// As many as invocations in progress: its memory, once grown, serves every later one.
    static CARRIED: Mutex<Vec<Carried>> = Mutex::new(Vec::new());

    struct Carried {
        layer: usize,
        span: u64,
        invocation: Arc<Invocation>,
    }

    /// Whether `metadata` is the handler span's.
    #[inline]
    pub(crate) fn is_handler_span(metadata: &Metadata<'_>) -> bool {
        metadata.name() == NAME && metadata.target() == TARGET
    }

    /// The handler span `span`, met by the X-Ray layer `layer`, carries `invocation`.
    pub(crate) fn carried_by(layer: usize, span: u64, invocation: Arc<Invocation>) {
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
    pub(crate) fn invocation_of(layer: usize, span: u64) -> Option<Arc<Invocation>> {
        CARRIED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .rfind(|carried| carried.layer == layer && carried.span == span)
            .map(|carried| Arc::clone(&carried.invocation))
    }

    /// The handler span `span` closed: it carries nothing any more.
    pub(crate) fn closed(layer: usize, span: u64) {
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
    use tracing::span::{Attributes, Id};
    use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

    use super::{HandlerSpan, by_its_own_task, noted_by};

    /// A layer that, as the X-Ray layer does, notes the handler spans it meets (as `layer`;
    /// unless it is one that `notes` nothing), and keeps what it was told, in order, each with
    /// whether it was marked as the handler span's own task's doing for it.
    #[derive(Clone)]
    struct Marks {
        layer: usize,
        notes: bool,
        told: Arc<Mutex<Vec<(&'static str, bool)>>>,
    }

    impl Marks {
        fn new(layer: usize) -> Self {
            Self {
                layer,
                notes: true,
                told: Arc::default(),
            }
        }

        /// A layer that did not note the span.
        fn noting_nothing(layer: usize) -> Self {
            Self {
                notes: false,
                ..Self::new(layer)
            }
        }

        fn note(&self, what: &'static str, id: &Id) {
            self.told
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((what, by_its_own_task(self.layer, id.into_u64())));
        }

        fn taken(&self) -> Vec<(&'static str, bool)> {
            std::mem::take(&mut self.told.lock().unwrap_or_else(PoisonError::into_inner))
        }
    }

    impl<S: Subscriber> Layer<S> for Marks {
        fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
            if self.notes && super::is_handler_span(attrs.metadata()) {
                noted_by(self.layer);
            }
        }

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

    /// The span's own enter, exit and close are marked for the layer that noted it; the same
    /// span entered or closed by other code (the handler's `Span::current().in_scope(..)`,
    /// work handed a clone) is not.
    #[test]
    fn only_the_task_that_carries_the_span_marks_its_enter_exit_and_close() {
        let marks = Marks::new(7);
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

    /// The mark is for the one layer that noted the span: another layer (of another registry,
    /// whose span ids may be the same numbers) is not told that its span with that id is the
    /// handler's; and where two layers noted it, nothing is marked.
    #[test]
    fn the_mark_names_the_one_layer_that_noted_the_span() {
        let noting = Marks::new(1);
        let other = Marks::noting_nothing(2);
        let subscriber = tracing_subscriber::registry()
            .with(noting.clone())
            .with(other.clone());
        tracing::subscriber::with_default(subscriber, enter_and_close);
        assert_eq!(
            noting.taken(),
            [("enter", true), ("exit", true), ("close", true)]
        );
        let unmarked = [("enter", false), ("exit", false), ("close", false)];
        assert_eq!(other.taken(), unmarked);

        let first = Marks::new(1);
        let second = Marks::new(2);
        let subscriber = tracing_subscriber::registry()
            .with(first.clone())
            .with(second.clone());
        tracing::subscriber::with_default(subscriber, enter_and_close);
        assert_eq!(first.taken(), unmarked);
        assert_eq!(second.taken(), unmarked);
    }

    /// A handler span made, entered and closed by its own task.
    fn enter_and_close() {
        let span = HandlerSpan::new();
        span.in_scope(|| {});
        span.close();
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
        let subscriber = tracing_subscriber::registry()
            .with(Marks::new(3))
            .with(PanicsOnEnter);
        tracing::subscriber::with_default(subscriber, || {
            let span = HandlerSpan::new();
            let id = span
                .span
                .as_ref()
                .and_then(tracing::Span::id)
                .expect("a span under a subscriber");
            let entered = catch_unwind(AssertUnwindSafe(|| span.in_scope(|| ())));
            assert!(entered.is_err());
            assert!(!by_its_own_task(3, id.into_u64()));
        });
    }
}
