//! `tracing`'s levels as the log format's, and back.

use tracing::Level;
use tracing_subscriber::filter::LevelFilter as TracingLevelFilter;

use crate::formats::log::{LevelFilter, LogLevel};

pub(crate) fn from_tracing(level: &Level) -> LogLevel {
    match *level {
        Level::ERROR => LogLevel::Error,
        Level::WARN => LogLevel::Warn,
        Level::INFO => LogLevel::Info,
        Level::DEBUG => LogLevel::Debug,
        _ => LogLevel::Trace,
    }
}

pub(crate) fn filter_from_tracing(filter: TracingLevelFilter) -> LevelFilter {
    filter.into_level().as_ref().map(from_tracing)
}

pub(crate) fn filter_to_tracing(filter: LevelFilter) -> TracingLevelFilter {
    match filter {
        None => TracingLevelFilter::OFF,
        Some(LogLevel::Error) => TracingLevelFilter::ERROR,
        Some(LogLevel::Warn) => TracingLevelFilter::WARN,
        Some(LogLevel::Info) => TracingLevelFilter::INFO,
        Some(LogLevel::Debug) => TracingLevelFilter::DEBUG,
        Some(LogLevel::Trace) => TracingLevelFilter::TRACE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for filter in [
            TracingLevelFilter::OFF,
            TracingLevelFilter::ERROR,
            TracingLevelFilter::WARN,
            TracingLevelFilter::INFO,
            TracingLevelFilter::DEBUG,
            TracingLevelFilter::TRACE,
        ] {
            assert_eq!(filter_to_tracing(filter_from_tracing(filter)), filter);
        }
    }
}
