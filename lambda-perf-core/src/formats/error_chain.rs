//! An error with what caused it: its message, then each of its sources' (`source()`).

use std::error::Error;
use std::fmt;

/// The most sources written after an error's own message: enough for any real chain, and a
/// bound for one whose `source()` never ends (an error that is its own source).
const MOST_SOURCES: usize = 16;

/// What comes before each source's message.
const SEPARATOR: &str = ": ";

/// Writes an error's message followed by each source's, every one after `": "`, as
/// `anyhow`'s `{:#}` and the AWS SDK's `DisplayErrorContext` write a chain: the message of an
/// error that wraps another (the SDK's `service error`, an `anyhow` context turned into a
/// `lambda_runtime::Error` by `?`) is seldom the useful part. A source whose message is empty,
/// or that the text already ends with after `": "` (`#[error("read failed: {0}")]` over its
/// source), is not written again; past [`MOST_SOURCES`] sources the text ends with `: …`.
///
/// Each message is the error's own `Display`, user code: one that returns an error makes this
/// return it (never a panic, as `to_string` would); one that panics panics here, so a caller
/// that must not panic writes this through its guard for user formatting, as for any other
/// value.
pub(crate) struct ErrorChain<'a>(pub(crate) &'a (dyn Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write as _;
        let mut written = String::new();
        write!(written, "{}", self.0)?;
        let mut source = self.0.source();
        let mut sources = 0;
        let mut message = String::new();
        while let Some(cause) = source {
            if sources == MOST_SOURCES {
                written.push_str(SEPARATOR);
                written.push('…');
                break;
            }
            message.clear();
            write!(message, "{cause}")?;
            if !already_said(&written, &message) {
                written.push_str(SEPARATOR);
                written.push_str(&message);
            }
            source = cause.source();
            sources += 1;
        }
        f.write_str(&written)
    }
}

/// Whether `written` already ends with `message` as a chain would put it: after `": "`, or as
/// the whole text (a source's message that merely ends like it, `key` after `no such key`, is
/// written).
fn already_said(written: &str, message: &str) -> bool {
    message.is_empty()
        || written
            .strip_suffix(message)
            .is_some_and(|before| before.is_empty() || before.ends_with(SEPARATOR))
}

/// Whether `chain` is what [`ErrorChain`] writes of an error whose own message is `message`:
/// that message, alone or followed by its sources'. (So a failure described by its message
/// alone, a nested subsegment's, is the same as one described with its sources, the
/// handler's.)
pub(crate) fn begins_with_message(chain: &str, message: &str) -> bool {
    chain
        .strip_prefix(message)
        .is_some_and(|sources| sources.is_empty() || sources.starts_with(SEPARATOR))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error with a message and, perhaps, a source.
    #[derive(Debug)]
    struct Wrapping {
        message: String,
        source: Option<Box<dyn Error + Send + Sync + 'static>>,
    }

    impl Wrapping {
        fn new(message: &str, source: Option<Box<dyn Error + Send + Sync + 'static>>) -> Self {
            Self {
                message: message.to_owned(),
                source,
            }
        }
    }

    impl fmt::Display for Wrapping {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.message)
        }
    }

    impl Error for Wrapping {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.source
                .as_deref()
                .map(|source| source as &(dyn Error + 'static))
        }
    }

    /// An error that is its own source, for ever, its message counting how deep it is.
    #[derive(Debug)]
    struct OwnSource(std::cell::Cell<usize>);

    impl fmt::Display for OwnSource {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.0.set(self.0.get() + 1);
            write!(f, "{}", self.0.get())
        }
    }

    impl Error for OwnSource {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(self)
        }
    }

    fn chain(error: &(dyn Error + 'static)) -> String {
        ErrorChain(error).to_string()
    }

    #[test]
    fn an_error_without_a_source_is_its_message() {
        assert_eq!(chain(&Wrapping::new("card expired", None)), "card expired");
    }

    #[test]
    fn each_source_follows_the_message() {
        let refused = Wrapping::new("connection refused", None);
        let dispatch = Wrapping::new("dispatch failure", Some(Box::new(refused)));
        let service = Wrapping::new("service error", Some(Box::new(dispatch)));
        assert_eq!(
            chain(&service),
            "service error: dispatch failure: connection refused"
        );
    }

    #[test]
    fn a_source_the_message_already_ends_with_is_not_repeated() {
        let refused = Wrapping::new("connection refused", None);
        let read = Wrapping::new("read failed: connection refused", Some(Box::new(refused)));
        assert_eq!(chain(&read), "read failed: connection refused");
        let key = Wrapping::new("key", None);
        let missing = Wrapping::new("no such key", Some(Box::new(key)));
        assert_eq!(chain(&missing), "no such key: key");
        let empty = Wrapping::new("", None);
        let timed_out = Wrapping::new("timed out", Some(Box::new(empty)));
        assert_eq!(chain(&timed_out), "timed out");
    }

    /// A source whose `Display` returns an error.
    #[derive(Debug)]
    struct FailingDisplay;

    impl fmt::Display for FailingDisplay {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("half")?;
            Err(fmt::Error)
        }
    }

    impl Error for FailingDisplay {}

    #[test]
    fn a_display_that_fails_fails_the_chain_without_a_panic() {
        let wrapping = Wrapping::new("service error", Some(Box::new(FailingDisplay)));
        let mut text = String::new();
        assert!(fmt::write(&mut text, format_args!("{}", ErrorChain(&wrapping))).is_err());
        text.clear();
        assert!(fmt::write(&mut text, format_args!("{}", ErrorChain(&FailingDisplay))).is_err());
    }

    #[test]
    fn a_chain_begins_with_its_errors_own_message() {
        let service = Wrapping::new(
            "service error",
            Some(Box::new(Wrapping::new("NoSuchKey", None))),
        );
        let chain = chain(&service);
        assert!(begins_with_message(&chain, "service error"));
        assert!(begins_with_message("service error", "service error"));
        assert!(!begins_with_message("service errors", "service error"));
        assert!(!begins_with_message(&chain, "NoSuchKey"));
    }

    #[test]
    fn an_endless_chain_is_cut() {
        let text = chain(&OwnSource(std::cell::Cell::new(0)));
        let messages: Vec<String> = (1..=MOST_SOURCES + 1).map(|n| n.to_string()).collect();
        assert_eq!(text, format!("{}: …", messages.join(": ")));
    }

    #[test]
    fn a_boxed_error_gives_its_sources() {
        let io = std::io::Error::other(Wrapping::new(
            "reading the order",
            Some(Box::new(Wrapping::new("no such key", None))),
        ));
        let error: lambda_runtime::Error = Box::new(io);
        assert_eq!(chain(&*error), "reading the order: no such key");
    }
}
