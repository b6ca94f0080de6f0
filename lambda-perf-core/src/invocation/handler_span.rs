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

    /// Closes the span, if there is one.
    #[inline]
    pub(crate) fn close(self) {
        #[cfg(feature = "tracing")]
        if let Some(span) = self.span {
            drop(span);
        }
    }

    /// Runs `f` inside the span.
    #[inline]
    pub(crate) fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        #[cfg(feature = "tracing")]
        let _entered = self.span.as_ref().map(tracing::Span::enter);
        f()
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
