//! One-time warnings on stderr.
//!
//! The failure policy: bad input and broken environments cost one warning, never a panic and
//! never a silent drop. Each [`WarnOnce`] prints the first time it is triggered and is silent
//! afterwards, so a bad call in a hot loop cannot flood the function's logs.

use std::fmt::{self, Write as _};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// A warning that is written to stderr at most once per process.
pub(crate) struct WarnOnce(AtomicBool);

impl WarnOnce {
    /// A warning that has not fired yet.
    pub(crate) const fn new() -> Self {
        Self(AtomicBool::new(false))
    }

    /// Writes `message` on the first call and returns `true`; later calls return `false`.
    pub(crate) fn warn(&self, message: impl fmt::Display) -> bool {
        if self.0.load(Ordering::Relaxed) || self.0.swap(true, Ordering::Relaxed) {
            return false;
        }
        write_warning(message);
        true
    }
}

/// Writes one warning line on stderr, at most [`MAX_WARNING_BYTES`] of it; a closed stderr is
/// ignored.
pub(crate) fn write_warning(message: impl fmt::Display) {
    let line = warning_line(message);
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// The longest message a warning shows, in bytes: a refused name or value quoted in one is as
/// long as the caller made it, and a line of megabytes helps no one reading the logs.
const MAX_WARNING_BYTES: usize = 2048;

/// The warning line of `message`, cut at [`MAX_WARNING_BYTES`] (at a character's start), with
/// how much was cut.
fn warning_line(message: impl fmt::Display) -> String {
    let mut text = format!("lambda-perf: warning: {message}");
    if text.len() > MAX_WARNING_BYTES {
        let mut cut = MAX_WARNING_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let more = text.len() - cut;
        text.truncate(cut);
        let _ = write!(text, "… ({more} more bytes not shown)");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_once() {
        let warning = WarnOnce::new();
        assert!(warning.warn("first"));
        assert!(!warning.warn("second"));
        assert!(!warning.warn("third"));
    }

    #[test]
    fn a_long_warning_is_cut_at_a_character_and_says_how_much_is_not_shown() {
        let name = "é".repeat(100_000);
        let line = warning_line(format_args!("invalid metric name {name:?}: too long"));
        let shown = line.strip_suffix(" more bytes not shown)").unwrap();
        let (shown, more) = shown.rsplit_once("… (").unwrap();
        assert!(shown.len() <= MAX_WARNING_BYTES && shown.len() > MAX_WARNING_BYTES - 4);
        assert!(shown.starts_with("lambda-perf: warning: invalid metric name \"éé"));
        let whole = "lambda-perf: warning: invalid metric name \"\": too long".len() + name.len();
        assert_eq!(shown.len() + more.parse::<usize>().unwrap(), whole);
        assert_eq!(warning_line("short"), "lambda-perf: warning: short");
    }
}
