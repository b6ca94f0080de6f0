//! [`LogFilter`]: which events the log layer writes — by target and level, and, in an
//! invocation sampled for debugging, `DEBUG` too. A per-layer filter: it decides for the log
//! layer alone, so the X-Ray layer and any layer of the user's still see every span.

use tracing::Metadata;
use tracing::subscriber::Interest;
use tracing_subscriber::filter::LevelFilter as TracingLevelFilter;
use tracing_subscriber::layer::{Context, Filter};

use super::event::EVENT_TARGET;
use super::level::{filter_to_tracing, from_tracing};
use crate::formats::log::LogLevel;
use crate::formats::log::directives::TargetLevels;
use crate::formats::log::sampling::Sampling;
use crate::invocation::current;

/// The level a sampled invocation raises the default level to, as Powertools does.
const SAMPLED_LEVEL: LogLevel = LogLevel::Debug;

/// Levels by target, and per-invocation sampling.
#[derive(Clone, Debug)]
pub(crate) struct LogFilter {
    pub(crate) levels: TargetLevels,
    pub(crate) sampling: Option<Sampling>,
    /// Whether the incoming event's line is written.
    pub(crate) log_event: bool,
}

/// Whether a callsite is written always, never, or depending on the invocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Decision {
    Always,
    Never,
    IfSampled,
}

impl LogFilter {
    fn decide(&self, metadata: &Metadata<'_>) -> Decision {
        let level = from_tracing(metadata.level());
        let target = metadata.target();
        if target == EVENT_TARGET && !self.log_event {
            Decision::Never
        } else if level.passes(self.levels.level_for(target, None)) {
            Decision::Always
        } else if self.sampling.is_some()
            && level.passes(self.levels.level_for(target, Some(SAMPLED_LEVEL)))
        {
            Decision::IfSampled
        } else {
            Decision::Never
        }
    }

    /// Whether the invocation the running code carries is sampled; outside one, no.
    fn current_is_sampled(&self) -> bool {
        let Some(sampling) = &self.sampling else {
            return false;
        };
        current::with_invocation(|invocation| sampling.samples(invocation.facts().request_id()))
            .unwrap_or(false)
    }
}

impl<S> Filter<S> for LogFilter {
    fn enabled(&self, metadata: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        match self.decide(metadata) {
            Decision::Always => true,
            Decision::Never => false,
            Decision::IfSampled => self.current_is_sampled(),
        }
    }

    fn callsite_enabled(&self, metadata: &'static Metadata<'static>) -> Interest {
        match self.decide(metadata) {
            Decision::Always => Interest::always(),
            Decision::Never => Interest::never(),
            Decision::IfSampled => Interest::sometimes(),
        }
    }

    fn max_level_hint(&self) -> Option<TracingLevelFilter> {
        let boosted = self.sampling.map(|_| SAMPLED_LEVEL);
        Some(filter_to_tracing(self.levels.most_verbose(boosted)))
    }
}
