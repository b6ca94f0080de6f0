//! Log levels, from the least verbose to the most, and what switches them all off.

/// The level of one log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

/// The most verbose level written; `None` writes nothing (`off`).
pub(crate) type LevelFilter = Option<LogLevel>;

/// A filter as warnings name it: its level, or `OFF`.
pub(crate) fn filter_name(filter: LevelFilter) -> &'static str {
    filter.map_or("OFF", LogLevel::as_str)
}

impl LogLevel {
    /// As log lines spell it: `ERROR`, `WARN`, `INFO`, `DEBUG`, `TRACE`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Error => "ERROR",
            Self::Warn => "WARN",
            Self::Info => "INFO",
            Self::Debug => "DEBUG",
            Self::Trace => "TRACE",
        }
    }

    /// Whether a filter lets a line of this level through.
    pub(crate) fn passes(self, filter: LevelFilter) -> bool {
        filter.is_some_and(|most_verbose| self <= most_verbose)
    }

    /// A level as Lambda (`AWS_LAMBDA_LOG_LEVEL`: `TRACE DEBUG INFO WARN ERROR FATAL`),
    /// Powertools (`POWERTOOLS_LOG_LEVEL`: also `WARNING` and `CRITICAL`) and `RUST_LOG`
    /// (also `OFF` and the digits `0`–`5`) spell it, in any case. `FATAL` and `CRITICAL`
    /// are `ERROR`: nothing is more severe here. Powertools for TypeScript's `SILENT` is
    /// `OFF`.
    pub(crate) fn parse_filter(value: &str) -> Option<LevelFilter> {
        Self::parse_filter_name(value).or_else(|| {
            Some(match value.trim() {
                "0" => None,
                "1" => Some(Self::Error),
                "2" => Some(Self::Warn),
                "3" => Some(Self::Info),
                "4" => Some(Self::Debug),
                "5" => Some(Self::Trace),
                _ => return None,
            })
        })
    }

    /// A level as Lambda and Powertools name it (and `OFF`), in any case, without the digits
    /// of `RUST_LOG`: to Powertools a level is a name (Python refuses `0` as an unknown
    /// level, and its number 0 would be `NOTSET`, every line, not `OFF`).
    pub(crate) fn parse_filter_name(value: &str) -> Option<LevelFilter> {
        Some(match value.trim().to_ascii_lowercase().as_str() {
            "off" | "silent" => None,
            "error" | "fatal" | "critical" => Some(Self::Error),
            "warn" | "warning" => Some(Self::Warn),
            "info" => Some(Self::Info),
            "debug" => Some(Self::Debug),
            "trace" => Some(Self::Trace),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_lambda_powertools_and_rust_log_parses() {
        for (text, filter) in [
            ("TRACE", Some(LogLevel::Trace)),
            ("debug", Some(LogLevel::Debug)),
            ("Info", Some(LogLevel::Info)),
            ("WARN", Some(LogLevel::Warn)),
            ("WARNING", Some(LogLevel::Warn)),
            ("ERROR", Some(LogLevel::Error)),
            ("FATAL", Some(LogLevel::Error)),
            ("CRITICAL", Some(LogLevel::Error)),
            ("off", None),
            ("4", Some(LogLevel::Debug)),
        ] {
            assert_eq!(LogLevel::parse_filter(text), Some(filter), "{text}");
        }
        assert_eq!(LogLevel::parse_filter("loud"), None);
    }

    #[test]
    fn a_filter_passes_its_level_and_the_less_verbose_ones() {
        let info = Some(LogLevel::Info);
        assert!(LogLevel::Error.passes(info));
        assert!(LogLevel::Info.passes(info));
        assert!(!LogLevel::Debug.passes(info));
        assert!(!LogLevel::Error.passes(None));
    }
}
