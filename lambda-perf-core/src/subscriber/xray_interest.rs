//! What the X-Ray layer needs to see, as a per-layer filter: spans up to its level, the spans
//! the log layer sees (which carry the invocation to the lines written inside them, whatever
//! their level), each invocation's own span around its handler (whatever the levels: what
//! `tracing::Span::current()` is in a handler), and `ERROR` events (which fault the
//! subsegment they happen in). Given to the registry, this lets it switch off every callsite
//! no layer wants — hyper's `TRACE` events cost nothing — while the X-Ray layer itself is
//! unchanged.

use tracing::subscriber::Interest;
use tracing::{Level, Metadata};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Filter};

use crate::invocation::handler_span;
use crate::logs::LogFilter;

#[derive(Clone, Debug)]
pub(super) struct XRayInterest {
    /// The layer's most verbose level recorded; `None`: it records nothing, and only carries
    /// the invocation in the spans the log layer sees.
    pub(super) max_level: Option<Level>,
    /// The log layer's filter: a span it sees is made anyway, and carries the invocation.
    pub(super) logs: LogFilter,
}

impl XRayInterest {
    /// Whether the layer records the span or event whatever the log layer sees.
    fn records(&self, metadata: &Metadata<'_>) -> bool {
        let Some(max_level) = self.max_level else {
            return false;
        };
        if metadata.is_span() {
            *metadata.level() <= max_level
        } else {
            *metadata.level() == Level::ERROR
        }
    }
}

impl<S> Filter<S> for XRayInterest {
    fn enabled(&self, metadata: &Metadata<'_>, cx: &Context<'_, S>) -> bool {
        self.records(metadata)
            || (metadata.is_span()
                && (handler_span::is_handler_span(metadata)
                    || Filter::<S>::enabled(&self.logs, metadata, cx)))
    }

    fn callsite_enabled(&self, metadata: &'static Metadata<'static>) -> Interest {
        if self.records(metadata) || (metadata.is_span() && handler_span::is_handler_span(metadata))
        {
            Interest::always()
        } else if metadata.is_span() {
            Filter::<S>::callsite_enabled(&self.logs, metadata)
        } else {
            Interest::never()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        let recorded = self
            .max_level
            .map_or(LevelFilter::OFF, LevelFilter::from_level);
        let logged = Filter::<S>::max_level_hint(&self.logs).unwrap_or(LevelFilter::OFF);
        // The handler span's level, so that `tracing` does not skip it before asking.
        Some(recorded.max(logged).max(LevelFilter::INFO))
    }
}
