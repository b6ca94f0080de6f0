//! What the X-Ray layer needs to see, as a per-layer filter: spans up to its level, and
//! `ERROR` events (which fault the subsegment they happen in). Given to the registry, this
//! lets it switch off every callsite no layer wants — hyper's `TRACE` events cost nothing —
//! while the X-Ray layer itself is unchanged.

use tracing::subscriber::Interest;
use tracing::{Level, Metadata};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Filter};

#[derive(Clone, Copy, Debug)]
pub(super) struct XRayInterest {
    pub(super) max_level: Level,
}

impl XRayInterest {
    fn wants(&self, metadata: &Metadata<'_>) -> bool {
        if metadata.is_span() {
            *metadata.level() <= self.max_level
        } else {
            *metadata.level() == Level::ERROR
        }
    }
}

impl<S> Filter<S> for XRayInterest {
    fn enabled(&self, metadata: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        self.wants(metadata)
    }

    fn callsite_enabled(&self, metadata: &'static Metadata<'static>) -> Interest {
        if self.wants(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::from_level(self.max_level))
    }
}
