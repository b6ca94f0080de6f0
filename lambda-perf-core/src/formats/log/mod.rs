//! Log lines: what a `tracing` event becomes on stdout — one flat JSON object with
//! Powertools Logger's keys, or one line of readable text — and the pure pieces that decide
//! which events are written: levels, `RUST_LOG`-style directives, per-invocation sampling.
//! Nothing here knows `tracing` or an invocation; the facade (`logs`) feeds it values.

pub(crate) mod directives;
mod escape;
pub(crate) mod fields;
pub(crate) mod indented;
mod level;
pub(crate) mod line;
pub(crate) mod line_cap;
pub(crate) mod sampling;
mod timestamp;

pub(crate) use self::level::{LevelFilter, LogLevel, filter_name};

/// How log lines are written (`LAMBDA_PERF_LOG_FORMAT`).
///
/// ```
/// use lambda_perf_core::logs::LogFormat;
///
/// assert_eq!(LogFormat::parse("text"), Some(LogFormat::Text));
/// assert_eq!(LogFormat::parse("JSON"), Some(LogFormat::Json));
/// assert_eq!(LogFormat::parse("yaml"), None);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogFormat {
    /// One flat JSON object per line, with Powertools Logger's keys (the default).
    #[default]
    Json,
    /// Readable text: `timestamp<TAB>request id<TAB>LEVEL<TAB>target: message key=value …`.
    Text,
}

impl LogFormat {
    /// `JSON` or `Text`, in any case (as Lambda spells its log formats).
    #[must_use]
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "json" => Some(Self::Json),
            "text" => Some(Self::Text),
            _ => None,
        }
    }
}
